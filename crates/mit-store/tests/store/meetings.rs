//! The last-host rule: two hosts demoting or removing themselves at once leave one host.

use mit_api::server::models::ParticipantRole;
use mit_domain::paging::PageRequest;
use mit_domain::ports::MeetingStore;
use mit_domain::ports::meetings::ParticipantChange;
use mit_store::PgStore;
use uuid::Uuid;

use crate::fixture::TestStore;
use crate::{PAIRS, ROUNDS, Step, race, sole_winner};

async fn apply(store: PgStore, meeting: Uuid, user: Uuid, step: Step) -> ParticipantChange {
    let outcome = match step {
        Step::Demote => store.change_participant_role(meeting, user, ParticipantRole::Participant, user).await,
        Step::Remove => store.remove_participant(meeting, user, user).await,
    };
    outcome.expect("a participant change")
}

/// Fails unless `outcome` is what `step` does when it wins.
fn assert_won(outcome: &ParticipantChange, user: Uuid, step: Step) {
    match (step, outcome) {
        (Step::Demote, ParticipantChange::Done(Some(participant))) => {
            assert_eq!((participant.user.id, participant.role), (user, ParticipantRole::Participant), "the winner is demoted");
        }
        (Step::Remove, ParticipantChange::Done(None)) => {}
        _ => panic!("{step:?} of {user} should have won, got {outcome:?}"),
    }
}

async fn hosts(store: &PgStore, meeting: Uuid) -> Vec<Uuid> {
    let participants = store.participants(meeting, PageRequest::new(1, 10)).await.expect("participants");
    participants.items.iter().filter(|p| p.role == ParticipantRole::Host).map(|p| p.user.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_stepping_down_at_once_leave_one_host() {
    let store = TestStore::new().await;
    let users = [store.user("First").await, store.user("Second").await];
    for round in 0..ROUNDS {
        let meeting = store.meeting_hosted_by(users[0], users[1]).await;
        let steps = PAIRS[round % PAIRS.len()];
        let outcomes = race(apply(store.handle(), meeting, users[0], steps[0]), apply(store.handle(), meeting, users[1], steps[1])).await;
        let (won, outcome) = sole_winner(round, &outcomes, |o| *o == ParticipantChange::LastHost);
        assert_won(outcome, users[won], steps[won]);
        assert_eq!(hosts(&store, meeting).await, [users[1 - won]], "round {round}: the refused host is the one host left");
    }
}
