//! A countdown to a moment (a drop, the end of a hold): the moment in UTC as text, which is
//! what a page without JavaScript shows, and `data-countdown-to` (Unix ms) for the shim to
//! count down in the visitor's local time, showing `done` at zero and saying `announce`.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// `<time data-countdown-to>`: "Sat 12 Dec, 18:00 UTC" until the shim takes over (`done`
/// once `now` is past it).
pub fn countdown(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    done: &str,
    announce: Option<&str>,
) -> Markup {
    html! {
        time.countdown__time
            datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            data-countdown-to=(at.timestamp_millis())
            data-countdown-done=(done)
            data-countdown-announce=[announce] {
            @if at > now { (utc_text(at)) } @else { (done) }
        }
    }
}

/// The moment as a shopper anywhere can read it without a script.
pub fn utc_text(at: DateTime<Utc>) -> String {
    at.format("%a %-d %b, %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn shows_the_moment_in_utc_and_hands_the_shim_its_unix_ms() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 12, 18, 0, 0)
            .single()
            .expect("a valid date");
        let before = at - chrono::Duration::hours(1);
        let html = countdown(at, before, "now", Some("It drops now")).into_string();
        assert!(html.contains("Sat 12 Dec, 18:00 UTC"), "{html}");
        assert!(html.contains(&format!(r#"data-countdown-to="{}""#, at.timestamp_millis())));
        assert!(html.contains(r#"data-countdown-announce="It drops now""#));
        let late = countdown(at, at, "now", None).into_string();
        assert!(!late.contains("data-countdown-announce"));
        assert!(
            late.contains(">now</time>"),
            "past the moment it says so: {late}"
        );
    }
}
