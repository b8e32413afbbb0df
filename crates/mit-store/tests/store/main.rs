//! The storage layer against real PostgreSQL: the rules that only the database can keep under
//! concurrency (last owner, last host, job claims, meeting transitions), each test on a freshly
//! migrated database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed expectation is the assertion")]

mod fixture;
mod jobs;
mod meetings;
mod teams;
mod transitions;

use std::fmt::Debug;
use std::sync::Arc;

/// Races of this many rounds give an interleaving bug many chances to show.
pub const ROUNDS: usize = 20;

/// Runs two futures at the same moment on separate tasks: each waits at a barrier first, so
/// neither has a head start from being spawned earlier.
pub async fn race<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: Future + Send + 'static,
    A::Output: Send + 'static,
    B: Future + Send + 'static,
    B::Output: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (first, second) = (barrier.clone(), barrier);
    let a = tokio::spawn(async move {
        first.wait().await;
        a.await
    });
    let b = tokio::spawn(async move {
        second.wait().await;
        b.await
    });
    (a.await.expect("task a"), b.await.expect("task b"))
}

/// What one of two owners (or hosts) does to their own membership.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Demote,
    Remove,
}

/// Every pairing of steps, so the rounds mix them.
pub const PAIRS: [[Step; 2]; 4] =
    [[Step::Demote, Step::Demote], [Step::Remove, Step::Remove], [Step::Demote, Step::Remove], [Step::Remove, Step::Demote]];

/// The index and outcome of the one side of a race that did not `lose`; panics unless exactly
/// one side lost.
pub fn sole_winner<T: Debug>(round: usize, outcomes: &(T, T), lost: impl Fn(&T) -> bool) -> (usize, &T) {
    match (lost(&outcomes.0), lost(&outcomes.1)) {
        (false, true) => (0, &outcomes.0),
        (true, false) => (1, &outcomes.1),
        _ => panic!("round {round}: exactly one side must lose, got {outcomes:?}"),
    }
}
