//! Numbers for the report: percentiles, durations and sizes with units; progress bars.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::bench_error;
use crate::cli::CliError;

/// p50, p99 and max of a sample (nearest rank), or `None` when it is empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub count: usize,
}

impl Summary {
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(Summary {
            p50: percentile(samples, 0.50),
            p99: percentile(samples, 0.99),
            max: samples[samples.len() - 1],
            count: samples.len(),
        })
    }

    pub fn line(&self) -> String {
        format!(
            "p50 {} p99 {} max {}",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn line_or_none(summary: Option<Summary>) -> String {
    summary.map_or_else(|| "no samples".to_string(), |s| s.line())
}

pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

pub fn bytes(n: f64) -> String {
    let (value, unit) = if n.abs() >= 1024.0 * 1024.0 * 1024.0 {
        (n / (1024.0 * 1024.0 * 1024.0), "GiB")
    } else if n.abs() >= 1024.0 * 1024.0 {
        (n / (1024.0 * 1024.0), "MiB")
    } else if n.abs() >= 1024.0 {
        (n / 1024.0, "KiB")
    } else {
        return format!("{n:.0} B");
    };
    format!("{value:.1} {unit}")
}

pub fn rate(count: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{:.0}", count as f64 / secs)
}

/// A progress bar for `len` steps of `what` (connecting, tokens, events, ...).
pub fn progress(len: u64, what: &str) -> Result<ProgressBar, CliError> {
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} · {{per_sec}} · {{elapsed}} {{msg}}"
    ))
    .map_err(|e| bench_error(format!("progress bar: {e}")))?
    .progress_chars("=> ");
    let bar = ProgressBar::new(len).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Ok(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        let mut one = vec![Duration::from_millis(7)];
        let s = Summary::of(&mut one).unwrap();
        assert_eq!((s.p50, s.p99, s.max), (one[0], one[0], one[0]));
        assert!(Summary::of(&mut []).is_none());
    }

    #[test]
    fn units() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(ms(Duration::from_micros(12345)), "12.3 ms");
        assert_eq!(ms(Duration::from_millis(12190)), "12190 ms");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(6.5 * 1024.0), "6.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(rate(1000, Duration::from_millis(500)), "2000");
    }
}
