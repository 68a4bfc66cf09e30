//! The one way every bench reports: a [`Report`] of labelled figures with units, printed as
//! aligned text or as one JSON line (`--json`). Also percentiles ([`Summary`]), the units' text,
//! progress bars, and notes (progress lines go to stderr, so stdout holds only the report).

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

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
        samples.sort_unstable();
        let max = *samples.last()?;
        Some(Summary {
            p50: percentile(samples, 0.50)?,
            p99: percentile(samples, 0.99)?,
            max,
            count: samples.len(),
        })
    }

    /// `p50 1.20 ms p99 3.40 ms max 5.00 ms`.
    pub fn line(&self) -> String {
        format!(
            "p50 {} p99 {} max {}",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `p` of the
/// samples at or below it (for an odd count, p50 is the median).
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

pub fn line_or_none(summary: Option<Summary>) -> String {
    summary.map_or_else(|| "no samples".to_string(), |s| s.line())
}

pub fn ms(duration: Duration) -> String {
    number(duration.as_secs_f64() * 1000.0, Unit::Ms)
}

pub fn secs(duration: Duration) -> String {
    number(duration.as_secs_f64(), Unit::Secs)
}

pub fn bytes(n: f64) -> String {
    number(n, Unit::Bytes)
}

/// `count` per second of `elapsed`, if any time passed.
pub fn per_sec(count: usize, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0).then(|| count as f64 / secs)
}

/// What a figure counts in. In JSON a figure is a plain number in this unit, its key ending
/// in the unit's suffix (`_ms`, `_bytes`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Micros,
    Secs,
    Bytes,
    PerSec,
    Count,
    /// A ratio of two figures: `2.50×`.
    Times,
    /// 100 is one core busy, or all of something.
    Percent,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Ms => "_ms",
            Unit::Micros => "_us",
            Unit::Secs => "_s",
            Unit::Bytes => "_bytes",
            Unit::PerSec => "_per_s",
            Unit::Percent => "_pct",
            Unit::Count | Unit::Times => "",
        }
    }
}

/// A number in its unit, for people.
pub fn number(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if value < 10.0 => format!("{value:.2} ms"),
        Unit::Ms if value < 1000.0 => format!("{value:.1} ms"),
        Unit::Ms => format!("{value:.0} ms"),
        Unit::Micros => format!("{value:.1} µs"),
        Unit::Secs => format!("{value:.2} s"),
        Unit::Bytes => {
            const KIB: f64 = 1024.0;
            let scaled = [(KIB * KIB * KIB, "GiB"), (KIB * KIB, "MiB"), (KIB, "KiB")]
                .into_iter()
                .find(|(size, _)| value.abs() >= *size);
            match scaled {
                Some((size, unit)) => format!("{:.1} {unit}", value / size),
                None => format!("{value:.0} B"),
            }
        }
        Unit::PerSec => format!("{value:.0}/s"),
        Unit::Count if value.fract() == 0.0 => format!("{value:.0}"),
        Unit::Count => format!("{value:.2}"),
        Unit::Times => format!("{value:.2}×"),
        Unit::Percent => format!("{value:.0}%"),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// `None`: not measured (the text says `unknown`, JSON `null`).
    Number(Option<f64>, Unit),
    Text(String),
}

/// Labelled figures with units, in the order they were added.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    bench: &'static str,
    title: String,
    figures: Vec<(String, Value)>,
}

impl Report {
    /// `bench` names it in JSON (`"bench":"fanout"`); `title` is its first line.
    pub fn new(bench: &'static str, title: impl Into<String>) -> Report {
        Report {
            bench,
            title: title.into(),
            figures: Vec::new(),
        }
    }

    pub fn number(&mut self, label: impl Into<String>, value: Option<f64>, unit: Unit) {
        self.figures.push((
            label.into(),
            Value::Number(value.filter(|v| v.is_finite()), unit),
        ));
    }

    pub fn count(&mut self, label: impl Into<String>, value: usize) {
        self.number(label, Some(value as f64), Unit::Count);
    }

    pub fn duration(&mut self, label: impl Into<String>, value: Option<Duration>) {
        self.number(label, value.map(|d| d.as_secs_f64() * 1000.0), Unit::Ms);
    }

    /// `<label> p50`, `<label> p99` and `<label> max`.
    pub fn summary(&mut self, label: &str, summary: Option<Summary>) {
        self.duration(format!("{label} p50"), summary.map(|s| s.p50));
        self.duration(format!("{label} p99"), summary.map(|s| s.p99));
        self.duration(format!("{label} max"), summary.map(|s| s.max));
    }

    pub fn text(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.figures.push((label.into(), Value::Text(value.into())));
    }

    /// The title, then one aligned `label  value` line per figure.
    pub fn to_text(&self) -> String {
        let width = self.figures.iter().map(|(l, _)| l.chars().count()).max();
        let mut out = self.title.clone();
        for (label, value) in &self.figures {
            let value = match value {
                Value::Number(Some(v), unit) => number(*v, *unit),
                Value::Number(None, _) => "unknown".to_string(),
                Value::Text(text) => text.clone(),
            };
            let _ = write!(out, "\n  {label:<w$}  {value}", w = width.unwrap_or(0));
        }
        out
    }

    /// One line: `{"bench":"fanout","title":"...","store_last_client_p50_ms":12.3,...}`.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"bench\":{},\"title\":{}",
            json_string(self.bench),
            json_string(&self.title)
        );
        for (label, value) in &self.figures {
            let (key, value) = match value {
                Value::Number(v, unit) => (
                    format!("{}{}", slug(label), unit.suffix()),
                    v.map_or_else(|| "null".to_string(), json_number),
                ),
                Value::Text(text) => (slug(label), json_string(text)),
            };
            let _ = write!(out, ",{}:{value}", json_string(&key));
        }
        out.push('}');
        out
    }

    /// On stdout: the text, or the JSON line.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.to_json());
        } else {
            println!("{}", self.to_text());
        }
    }
}

/// Whole numbers without a fraction (`5000`, not `5000.0`).
fn json_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 2f64.powi(53) {
        format!("{}", value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or_else(|| "null".to_string(), |n| n.to_string())
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `store/floor last client p50` -> `store_floor_last_client_p50`.
fn slug(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A line about the run as it goes (on stderr: stdout is the report's).
pub fn note(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}

/// A progress bar (on stderr) for `len` steps of `what` (connecting, tokens, events, ...).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!(
        "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} · {{per_sec}} · {{elapsed}} {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(&mut samples).expect("100 samples");
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.count, 100);
        let mut one = vec![Duration::from_millis(7)];
        let s = Summary::of(&mut one).expect("one sample");
        assert_eq!((s.p50, s.p99, s.max), (one[0], one[0], one[0]));
        assert!(Summary::of(&mut []).is_none());
        // An odd count: p50 is the median.
        let mut odd: Vec<Duration> = [5, 1, 4, 2, 3].map(Duration::from_millis).to_vec();
        let s = Summary::of(&mut odd).expect("five samples");
        assert_eq!(s.p50, Duration::from_millis(3));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn numbers_with_units() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(ms(Duration::from_micros(12345)), "12.3 ms");
        assert_eq!(ms(Duration::from_millis(12190)), "12190 ms");
        assert_eq!(secs(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(6.5 * 1024.0), "6.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(bytes(-2048.0), "-2.0 KiB");
        assert_eq!(number(2000.0, Unit::PerSec), "2000/s");
        assert_eq!(number(12.0, Unit::Count), "12");
        assert_eq!(number(0.5, Unit::Count), "0.50");
        assert_eq!(number(2.5, Unit::Times), "2.50×");
        assert_eq!(number(3.25, Unit::Micros), "3.2 µs");
        assert_eq!(number(61.4, Unit::Percent), "61%");
        assert_eq!(per_sec(1000, Duration::from_millis(500)), Some(2000.0));
        assert_eq!(per_sec(1000, Duration::ZERO), None);
    }

    fn sample() -> Report {
        let mut report = Report::new("fanout", "fanout: 3 clients");
        report.duration("store last client p50", Some(Duration::from_micros(12_500)));
        report.number("store/floor last client p50", Some(2.5), Unit::Times);
        report.number("server memory per connection", None, Unit::Bytes);
        report.count("lost clients", 0);
        report.text("trigger", "admin \"sell\"");
        report
    }

    #[test]
    fn prints_aligned_labelled_figures() {
        assert_eq!(
            sample().to_text(),
            "fanout: 3 clients\n\
             \x20 store last client p50         12.5 ms\n\
             \x20 store/floor last client p50   2.50×\n\
             \x20 server memory per connection  unknown\n\
             \x20 lost clients                  0\n\
             \x20 trigger                       admin \"sell\""
        );
    }

    #[test]
    fn prints_one_json_line_keyed_by_label_and_unit() {
        let line = sample().to_json();
        assert!(!line.contains('\n'));
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed["bench"], "fanout");
        assert_eq!(parsed["title"], "fanout: 3 clients");
        assert_eq!(parsed["store_last_client_p50_ms"], 12.5);
        assert_eq!(parsed["store_floor_last_client_p50"], 2.5);
        assert!(parsed["server_memory_per_connection_bytes"].is_null());
        assert_eq!(parsed["lost_clients"], 0);
        assert!(line.contains("\"lost_clients\":0,"));
        assert_eq!(parsed["trigger"], "admin \"sell\"");
        // In the order the figures were added.
        let bench = line.find("\"bench\"");
        let last = line.find("\"trigger\"");
        assert!(bench < last);
    }

    #[test]
    fn slugs_labels() {
        assert_eq!(
            slug("store/floor last client p50"),
            "store_floor_last_client_p50"
        );
        assert_eq!(slug("  Node B: CPU  "), "node_b_cpu");
        assert_eq!(number(f64::NAN, Unit::Ms), "NaN ms");
        let mut report = Report::new("x", "t");
        report.number("nan", Some(f64::NAN), Unit::Ms);
        assert!(report.to_json().contains("\"nan_ms\":null"));
    }
}
