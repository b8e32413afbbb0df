//! Event topics: what a socket subscribes to.

use std::fmt;

use uuid::Uuid;

/// A stream of events with its own sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `review:<meeting id>`: the meeting's review.
    Review(Uuid),
    /// `knowledge:<team id>`: the team's facts and branches.
    Knowledge(Uuid),
}

impl Topic {
    /// Parses `review:<uuid>`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "review" => Some(Topic::Review(id)),
            "knowledge" => Some(Topic::Knowledge(id)),
            _ => None,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Review(meeting) => write!(f, "review:{}", meeting.as_hyphenated()),
            Topic::Knowledge(team) => write!(f, "knowledge:{}", team.as_hyphenated()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_unknown_kinds_are_refused() {
        let id = Uuid::now_v7();
        let topic = Topic::Review(id);
        assert_eq!(Topic::parse(&topic.to_string()), Some(topic));
        assert_eq!(Topic::parse(&format!("knowledge:{id}")), Some(Topic::Knowledge(id)));
        assert_eq!(Topic::parse(&format!("minutes:{id}")), None);
        assert_eq!(Topic::parse("review:nope"), None);
        assert_eq!(Topic::parse("review"), None);
    }
}
