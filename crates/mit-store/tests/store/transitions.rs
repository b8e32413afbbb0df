//! Racing state changes of one meeting: the guarded `UPDATE` lets exactly one through, and the
//! other sees the state the winner left.

use chrono::Utc;
use mit_api::server::models::MeetingStatus;
use mit_domain::meetings::lifecycle::Transition;
use mit_domain::ports::MeetingStore;
use mit_domain::ports::meetings::{Guarded, MeetingRecord};
use mit_store::PgStore;
use uuid::Uuid;

use crate::fixture::TestStore;
use crate::{ROUNDS, race, sole_winner};

async fn apply(store: PgStore, meeting: Uuid, transition: Transition) -> Guarded<MeetingRecord> {
    store.transition(meeting, transition.from(), transition.to(), Utc::now()).await.expect("a transition")
}

/// Races `a` against `b` on `meeting`; returns the winner's transition, after checking that
/// the loser saw exactly the state the winner left.
async fn one_wins(store: &TestStore, round: usize, meeting: Uuid, [a, b]: [Transition; 2]) -> Transition {
    let outcomes = race(apply(store.handle(), meeting, a), apply(store.handle(), meeting, b)).await;
    let (won, outcome) = sole_winner(round, &outcomes, |o| matches!(o, Guarded::WrongState(_)));
    let (winner, lost) = if won == 0 { (a, &outcomes.1) } else { (b, &outcomes.0) };
    match outcome {
        Guarded::Applied(record) => assert_eq!(record.status, winner.to(), "round {round}: the winner's state"),
        other => panic!("round {round}: {winner:?} should have applied, got {other:?}"),
    }
    assert_eq!(*lost, Guarded::WrongState(winner.to()), "round {round}: the loser sees the winner's state");
    winner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_starts_of_one_meeting_start_it_once() {
    let store = TestStore::new().await;
    let host = store.user("Host").await;
    for round in 0..ROUNDS {
        let meeting = store.meeting(host).await;
        one_wins(&store, round, meeting, [Transition::Start, Transition::Start]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_and_cancelling_a_running_meeting_at_once_does_one_of_them() {
    let store = TestStore::new().await;
    let host = store.user("Host").await;
    for round in 0..ROUNDS {
        let meeting = store.meeting(host).await;
        let started = apply(store.handle(), meeting, Transition::Start).await;
        assert!(matches!(&started, Guarded::Applied(m) if m.status == MeetingStatus::InProgress), "start: {started:?}");
        let winner = one_wins(&store, round, meeting, [Transition::End, Transition::Cancel]).await;
        let ended = store.meeting_for(meeting, host).await.expect("the meeting").expect("visible to its host").meeting;
        assert_eq!(ended.status, winner.to(), "round {round}: the stored state is the winner's");
    }
}
