//! Availability levels shown on every size button.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Out,
    Low,
    Medium,
    High,
}

/// The only place that maps a stock count to a level.
const LOW_FROM: i32 = 1;
const MEDIUM_FROM: i32 = 150;
const HIGH_FROM: i32 = 500;

impl Level {
    pub fn for_count(count: i32) -> Level {
        match count {
            c if c >= HIGH_FROM => Level::High,
            c if c >= MEDIUM_FROM => Level::Medium,
            c if c >= LOW_FROM => Level::Low,
            _ => Level::Out,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Out => "out",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    /// What a shopper reads under the size.
    pub fn label(self) -> &'static str {
        match self {
            Level::Out => "Sold out",
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
        }
    }

    pub fn is_out(self) -> bool {
        self == Level::Out
    }
}

/// Open pages hear about a stock move only when the level changes, and always when it is `out`
/// (so a page that missed the last step still converges on a sold-out size).
pub fn should_announce(old: Level, new: Level) -> bool {
    old != new || new == Level::Out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_at_every_threshold() {
        assert_eq!(Level::for_count(-1), Level::Out);
        assert_eq!(Level::for_count(0), Level::Out);
        assert_eq!(Level::for_count(1), Level::Low);
        assert_eq!(Level::for_count(149), Level::Low);
        assert_eq!(Level::for_count(150), Level::Medium);
        assert_eq!(Level::for_count(499), Level::Medium);
        assert_eq!(Level::for_count(500), Level::High);
        assert_eq!(Level::for_count(100_000), Level::High);
    }

    #[test]
    fn announces_level_changes_and_every_out() {
        assert!(should_announce(Level::High, Level::Medium));
        assert!(should_announce(Level::Low, Level::Out));
        assert!(should_announce(Level::Out, Level::Out));
        assert!(!should_announce(Level::High, Level::High));
        assert!(!should_announce(Level::Low, Level::Low));
    }

    #[test]
    fn names_are_the_wire_names() {
        for (level, name) in [
            (Level::Out, "\"out\""),
            (Level::Low, "\"low\""),
            (Level::Medium, "\"medium\""),
            (Level::High, "\"high\""),
        ] {
            assert_eq!(serde_json::to_string(&level).ok().as_deref(), Some(name));
            assert_eq!(format!("\"{}\"", level.as_str()), name);
        }
    }
}
