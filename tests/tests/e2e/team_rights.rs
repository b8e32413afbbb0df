//! An admin's rights are checked again inside the write: a demotion that commits while the
//! admin's request is in flight wins, however the two interleave. The demotion is held open in
//! a transaction of the test's own, so the interleaving is forced rather than hoped for.

use std::time::Duration;

use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_client::types::{self, TeamRole};
use mit_tests::{TestApp, TestUser};

use crate::expect_error;

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// A team of `owner` with `admin` as admin and `member` as member.
async fn team(owner: &TestUser, admin: &TestUser, member: &TestUser) -> uuid::Uuid {
    let team = owner.client.create_team().body(types::CreateTeamRequest::builder().name("Rights")).send().await.expect("team").into_inner();
    for (who, role) in [(admin, TeamRole::Admin), (member, TeamRole::Member)] {
        let body = types::AddTeamMemberRequest::builder().email(who.email.as_str()).role(Some(role));
        owner.client.add_team_member().team_id(team.id).body(body).send().await.expect("add");
    }
    team.id
}

/// Demotes `admin` in a transaction left open; returns the connection holding it.
async fn begin_demotion(app: &TestApp, team: uuid::Uuid, admin: uuid::Uuid) -> AsyncPgConnection {
    let mut conn = AsyncPgConnection::establish(&app.database_url).await.expect("connect");
    sql_query("BEGIN").execute(&mut conn).await.expect("begin");
    sql_query("UPDATE team_members SET role = 'member' WHERE team_id = $1 AND user_id = $2")
        .bind::<SqlUuid, _>(team)
        .bind::<SqlUuid, _>(admin)
        .execute(&mut conn)
        .await
        .expect("demote");
    conn
}

/// Waits until some statement of the server waits on a row lock, or `request` finished first
/// (which, with the demotion uncommitted, means the write did not look at the admin's row).
async fn wait_for_lock_or_finish<T>(app: &TestApp, request: &tokio::task::JoinHandle<T>) {
    let mut watcher = AsyncPgConnection::establish(&app.database_url).await.expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !request.is_finished() {
        let waiting: Waiting =
            sql_query("SELECT count(*) AS count FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
                .get_result(&mut watcher)
                .await
                .expect("activity");
        if waiting.count > 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the request neither finished nor waited on a lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `admin`'s demotion, sends `request` while it is open, commits it, and expects the
/// request to be refused with 403.
async fn refused_once_demoted<T>(
    app: &TestApp,
    team: uuid::Uuid,
    admin: uuid::Uuid,
    request: impl Future<Output = Result<T, mit_client::Error<types::ErrorResponse>>> + Send + 'static,
) where
    T: std::fmt::Debug + Send + 'static,
{
    let demotion = begin_demotion(app, team, admin).await;
    let request = tokio::spawn(request);
    wait_for_lock_or_finish(app, &request).await;
    commit(demotion).await;
    expect_error(request.await.expect("task"), 403, "forbidden");
}

async fn commit(mut conn: AsyncPgConnection) {
    sql_query("COMMIT").execute(&mut conn).await.expect("commit");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demotion_committed_during_an_admins_write_wins() {
    let app = TestApp::spawn().await;
    let (owner, admin, member, outsider) =
        (app.register("Owner").await, app.register("Admin").await, app.register("Member").await, app.register("Outsider").await);

    let team_id = team(&owner, &admin, &member).await;
    let (client, email) = (admin.client.clone(), outsider.email.clone());
    refused_once_demoted(&app, team_id, admin.id, async move {
        let body = types::AddTeamMemberRequest::builder().email(email.as_str()).role(Some(TeamRole::Member));
        client.add_team_member().team_id(team_id).body(body).send().await.map(|r| r.into_inner())
    })
    .await;

    let team_id = team(&owner, &admin, &member).await;
    let (client, member_id) = (admin.client.clone(), member.id);
    refused_once_demoted(&app, team_id, admin.id, async move {
        client.remove_team_member().team_id(team_id).user_id(member_id).send().await.map(|r| r.into_inner())
    })
    .await;

    let team_id = team(&owner, &admin, &member).await;
    let client = admin.client.clone();
    refused_once_demoted(&app, team_id, admin.id, async move {
        let body = types::UpdateTeamRequest::builder().name(Some("Taken over".try_into().expect("name")));
        client.update_team().team_id(team_id).body(body).send().await.map(|r| r.into_inner())
    })
    .await;
    let seen = owner.client.get_team().team_id(team_id).send().await.expect("team").into_inner();
    assert_eq!(seen.name.as_str(), "Rights", "the rename must not land");
}
