//! Participants: host powers, the last host (also when two hosts step down at once), and
//! concurrent adds.

use mit_client::types::{self, ErrorResponse, ParticipantRole};
use mit_client::{Client, Error};
use mit_tests::{TestApp, TestUser};
use serde_json::json;
use uuid::Uuid;

use crate::meetings::meeting;
use crate::{expect_error, expect_raw_error, http, race};

/// Rounds of every race here: one round proves little about a race.
pub(crate) const ROUNDS: usize = 24;

fn add_body(user: uuid::Uuid, role: Option<ParticipantRole>) -> types::builder::AddParticipantRequest {
    types::AddParticipantRequest::builder().user_id(user).role(role)
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_add_promote_and_remove_participants() {
    let app = TestApp::spawn().await;
    let (host, guest, late) = (app.register("Host").await, app.register("Guest").await, app.register("Late").await);
    let m = meeting(&host, "M", &[&guest]).await;
    let added = host.client.add_participant().meeting_id(m.id).body(add_body(late.id, None)).send().await.expect("add");
    assert_eq!(added.status().as_u16(), 201);
    let added = added.into_inner();
    assert_eq!((added.user.id, added.role, added.in_room), (late.id, ParticipantRole::Participant, false));
    expect_error(host.client.add_participant().meeting_id(m.id).body(add_body(late.id, None)).send().await, 409, "already_exists");
    let list = guest.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner();
    assert_eq!(list.total, 3);
    assert_eq!(list.items[0].role, ParticipantRole::Host, "hosts first");
    let promoted = host
        .client
        .update_participant()
        .meeting_id(m.id)
        .user_id(guest.id)
        .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Host))
        .send()
        .await
        .expect("promote")
        .into_inner();
    assert_eq!(promoted.role, ParticipantRole::Host);
    guest.client.remove_participant().meeting_id(m.id).user_id(late.id).send().await.expect("the new host removes");
    expect_error(late.client.get_meeting().meeting_id(m.id).send().await, 404, "not_found");
    expect_error(host.client.remove_participant().meeting_id(m.id).user_id(late.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn participants_without_host_role_change_nothing() {
    let app = TestApp::spawn().await;
    let (host, guest, other) = (app.register("Host").await, app.register("Guest").await, app.register("Other").await);
    let m = meeting(&host, "M", &[&guest]).await;
    expect_error(guest.client.add_participant().meeting_id(m.id).body(add_body(other.id, None)).send().await, 403, "forbidden");
    expect_error(
        guest
            .client
            .update_participant()
            .meeting_id(m.id)
            .user_id(guest.id)
            .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Host))
            .send()
            .await,
        403,
        "forbidden",
    );
    expect_error(guest.client.remove_participant().meeting_id(m.id).user_id(host.id).send().await, 403, "forbidden");
    expect_error(other.client.list_participants().meeting_id(m.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_host_stays() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[&guest]).await;
    let demote = host
        .client
        .update_participant()
        .meeting_id(m.id)
        .user_id(host.id)
        .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Participant))
        .send()
        .await;
    expect_error(demote, 409, "last_host");
    expect_error(host.client.remove_participant().meeting_id(m.id).user_id(host.id).send().await, 409, "last_host");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_users_and_finished_meetings_are_refused() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[]).await;
    let response = http()
        .post(app.url(&format!("/api/v1/meetings/{}/participants", m.id)))
        .bearer_auth(&host.access_token)
        .json(&json!({"user_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .expect("request");
    assert_eq!(expect_raw_error(response, 404, "not_found").await["details"]["field"], "user_id");
    host.client.cancel_meeting().meeting_id(m.id).send().await.expect("cancel");
    expect_error(host.client.add_participant().meeting_id(m.id).body(add_body(guest.id, None)).send().await, 409, "immutable");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_adds_of_one_person_make_one_row() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[]).await;
    for round in 0..ROUNDS {
        let attempts = (0..8).map(|_| host.client.add_participant().meeting_id(m.id).body(add_body(guest.id, None)).send());
        let outcomes = futures::future::join_all(attempts).await;
        let created = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(created, 1, "round {round}: {outcomes:?}");
        for outcome in outcomes.into_iter().filter(|o| o.is_err()) {
            expect_error(outcome, 409, "already_exists");
        }
        assert_eq!(host.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner().total, 2, "round {round}");
        // Out again, so the next round adds the same person afresh.
        host.client.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("remove the guest");
    }
}

/// One host's part in a race to step down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Step {
    /// Make `target` a plain participant.
    Demote,
    /// Take `target` out of the meeting.
    Remove,
}

/// Who each host's step is aimed at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Aim {
    /// Each host steps down themselves.
    Themselves,
    /// Each host demotes or removes the other.
    EachOther,
}

/// Every combination, each a pair of steps taken at once.
pub(crate) const RACES: [(Aim, [Step; 2]); 8] = [
    (Aim::Themselves, [Step::Demote, Step::Demote]),
    (Aim::Themselves, [Step::Remove, Step::Remove]),
    (Aim::Themselves, [Step::Demote, Step::Remove]),
    (Aim::Themselves, [Step::Remove, Step::Demote]),
    (Aim::EachOther, [Step::Demote, Step::Demote]),
    (Aim::EachOther, [Step::Remove, Step::Remove]),
    (Aim::EachOther, [Step::Demote, Step::Remove]),
    (Aim::EachOther, [Step::Remove, Step::Demote]),
];

/// `step` on `target`, taken by the host behind `client`.
async fn take(client: Client, meeting: Uuid, target: Uuid, step: Step) -> Result<(), Error<ErrorResponse>> {
    match step {
        Step::Demote => {
            let body = types::UpdateParticipantRequest::builder().role(ParticipantRole::Participant);
            let demoted = client.update_participant().meeting_id(meeting).user_id(target).body(body).send().await?.into_inner();
            assert_eq!((demoted.user.id, demoted.role), (target, ParticipantRole::Participant), "the demoted participant is returned");
        }
        Step::Remove => {
            client.remove_participant().meeting_id(meeting).user_id(target).send().await?;
        }
    }
    Ok(())
}

/// The side of a two-way race that succeeded, and the other side's refusal as (status, code).
/// Fails the round when both or neither succeeded, or the refusal is not an error the contract
/// describes (a 500 included).
pub(crate) fn sole_winner<T: std::fmt::Debug>(
    round: &str,
    first: Result<T, Error<ErrorResponse>>,
    second: Result<T, Error<ErrorResponse>>,
) -> (usize, (u16, String)) {
    let (winner, refusal) = match (first, second) {
        (Ok(a), Ok(b)) => panic!("round {round}: both succeeded ({a:?} / {b:?})"),
        (Ok(_), Err(lost)) => (0, lost),
        (Err(lost), Ok(_)) => (1, lost),
        (Err(a), Err(b)) => panic!("round {round}: neither succeeded: {a:?} / {b:?}"),
    };
    match refusal {
        Error::ErrorResponse(response) => (winner, (response.status().as_u16(), response.into_inner().error.to_string())),
        other => panic!("round {round}: the loser got no contract error: {other:?}"),
    }
}

/// Fails the round unless `refusal` is one of `expected`.
#[track_caller]
pub(crate) fn assert_refused(round: &str, refusal: (u16, String), expected: &[(u16, &str)]) {
    let (status, code) = refusal;
    assert!(expected.contains(&(status, code.as_str())), "round {round}: the loser got {status} `{code}`, expected one of {expected:?}");
}

async fn hosts(viewer: &TestUser, meeting: Uuid) -> Vec<Uuid> {
    let participants = viewer.client.list_participants().meeting_id(meeting).send().await.expect("list").into_inner().items;
    let mut hosts: Vec<Uuid> = participants.iter().filter(|p| p.role == ParticipantRole::Host).map(|p| p.user.id).collect();
    hosts.sort();
    hosts
}

/// Two hosts step down (or demote or remove each other) at the same moment: exactly one may
/// succeed, since the other would leave the meeting without a host. Each round puts the meeting
/// back to two hosts.
#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_stepping_down_at_once_leave_exactly_one_host() {
    let app = TestApp::spawn().await;
    let users = [app.register("First").await, app.register("Second").await];
    let m = meeting(&users[0], "M", &[&users[1]]).await;
    let mut both: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    both.sort();
    make_host(&users[0], m.id, users[1].id).await;
    for round in 0..ROUNDS {
        assert_eq!(hosts(&users[0], m.id).await, both, "round {round} starts with two hosts");

        let (aim, steps) = RACES[round % RACES.len()];
        let target = |side: usize| match aim {
            Aim::Themselves => users[side].id,
            Aim::EachOther => users[1 - side].id,
        };
        let (first, second) =
            race(take(users[0].client.clone(), m.id, target(0), steps[0]), take(users[1].client.clone(), m.id, target(1), steps[1])).await;
        let label = format!("{round} ({aim:?}, {steps:?})");
        let (winner, refusal) = sole_winner(&label, first, second);
        let loser = 1 - winner;
        // The loser's request runs once the winner's step has committed. Stepping down
        // themselves, they are the last host (409 `last_host`). Aiming at the winner, they are
        // that too if their host check ran first, and otherwise no longer a host (403
        // `forbidden`) or, once removed, no longer in the meeting (404 `not_found`).
        let refusals: &[(u16, &str)] = match (aim, steps[winner]) {
            (Aim::Themselves, _) => &[(409, "last_host")],
            (Aim::EachOther, Step::Demote) => &[(409, "last_host"), (403, "forbidden")],
            (Aim::EachOther, Step::Remove) => &[(409, "last_host"), (404, "not_found")],
        };
        assert_refused(&label, refusal, refusals);
        let (stepped_down, left) = match aim {
            Aim::Themselves => (winner, loser),
            Aim::EachOther => (loser, winner),
        };
        assert_eq!(hosts(&users[left], m.id).await, [users[left].id], "round {label}: one host is left");

        // Back to two hosts: the host left brings the other one back.
        let (host, back) = (&users[left], users[stepped_down].id);
        match steps[winner] {
            Step::Demote => make_host(host, m.id, back).await,
            Step::Remove => {
                let add = add_body(back, Some(ParticipantRole::Host));
                host.client.add_participant().meeting_id(m.id).body(add).send().await.expect("add back as host");
            }
        }
    }
}

async fn make_host(host: &TestUser, meeting: Uuid, user: Uuid) {
    let promote = types::UpdateParticipantRequest::builder().role(ParticipantRole::Host);
    host.client.update_participant().meeting_id(meeting).user_id(user).body(promote).send().await.expect("promote to host");
}
