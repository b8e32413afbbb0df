//! The meeting state machine (SPEC §2): `scheduled → in_progress` (start), `scheduled →
//! cancelled`, `in_progress → completed` (end), `in_progress → cancelled`. Nothing else.

use mit_api::server::models::MeetingStatus;

/// A host's request to move a meeting along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Begin a scheduled meeting.
    Start,
    /// Finish a running meeting.
    End,
    /// Call off a scheduled or running meeting.
    Cancel,
}

impl Transition {
    /// The states it may start from.
    pub fn from(self) -> &'static [MeetingStatus] {
        match self {
            Self::Start => &[MeetingStatus::Scheduled],
            Self::End => &[MeetingStatus::InProgress],
            Self::Cancel => &[MeetingStatus::Scheduled, MeetingStatus::InProgress],
        }
    }

    /// The state it leads to.
    pub fn to(self) -> MeetingStatus {
        match self {
            Self::Start => MeetingStatus::InProgress,
            Self::End => MeetingStatus::Completed,
            Self::Cancel => MeetingStatus::Cancelled,
        }
    }

    /// Whether it is allowed from `current`.
    pub fn allowed_from(self, current: MeetingStatus) -> bool {
        self.from().contains(&current)
    }
}

/// Whether a meeting in `status` is over (no more edits, joins or participants).
pub fn is_over(status: MeetingStatus) -> bool {
    matches!(status, MeetingStatus::Completed | MeetingStatus::Cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MeetingStatus::*;

    #[test]
    fn exactly_the_four_specified_transitions_are_allowed() {
        let mut allowed = Vec::new();
        for transition in [Transition::Start, Transition::End, Transition::Cancel] {
            for status in MeetingStatus::ALL {
                if transition.allowed_from(*status) {
                    allowed.push((*status, transition.to()));
                }
            }
        }
        assert_eq!(allowed, [(Scheduled, InProgress), (InProgress, Completed), (Scheduled, Cancelled), (InProgress, Cancelled)]);
    }

    #[test]
    fn completed_and_cancelled_are_final() {
        assert!(is_over(Completed) && is_over(Cancelled));
        assert!(!is_over(Scheduled) && !is_over(InProgress));
    }
}
