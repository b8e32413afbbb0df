//! The last-owner rule: two owners stepping down (demoting or removing themselves) at once leave
//! one owner.

use mit_api::server::models::TeamRole;
use mit_domain::paging::PageRequest;
use mit_domain::ports::TeamStore;
use mit_domain::ports::teams::MembershipChange;
use mit_store::PgStore;
use uuid::Uuid;

use crate::fixture::TestStore;
use crate::{PAIRS, ROUNDS, Step, race, sole_winner};

async fn apply(store: PgStore, team: Uuid, user: Uuid, step: Step) -> MembershipChange {
    let outcome = match step {
        Step::Demote => store.change_role(team, user, user, TeamRole::Member).await,
        Step::Remove => store.remove_member(team, user, user).await,
    };
    outcome.expect("a membership change")
}

/// Fails unless `outcome` is what `step` does when it wins.
fn assert_won(outcome: &MembershipChange, user: Uuid, step: Step) {
    match (step, outcome) {
        (Step::Demote, MembershipChange::Done(Some(member))) => {
            assert_eq!((member.user.id, member.role), (user, TeamRole::Member), "the winner is demoted");
        }
        (Step::Remove, MembershipChange::Done(None)) => {}
        _ => panic!("{step:?} of {user} should have won, got {outcome:?}"),
    }
}

async fn owners(store: &PgStore, team: Uuid) -> Vec<Uuid> {
    let members = store.members(team, PageRequest::new(1, 10)).await.expect("members");
    members.items.iter().filter(|m| m.role == TeamRole::Owner).map(|m| m.user.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_stepping_down_at_once_leave_one_owner() {
    let store = TestStore::new().await;
    let users = [store.user("First").await, store.user("Second").await];
    for round in 0..ROUNDS {
        let team = store.team_owned_by(users[0], users[1]).await;
        let steps = PAIRS[round % PAIRS.len()];
        let outcomes = race(apply(store.handle(), team, users[0], steps[0]), apply(store.handle(), team, users[1], steps[1])).await;
        let (won, outcome) = sole_winner(round, &outcomes, |o| *o == MembershipChange::LastOwner);
        assert_won(outcome, users[won], steps[won]);
        assert_eq!(owners(&store, team).await, [users[1 - won]], "round {round}: the refused owner is the one owner left");
    }
}
