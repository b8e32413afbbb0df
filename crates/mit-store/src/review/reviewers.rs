//! A change to a meeting's participants can change who reviews its minutes, and so whether the
//! review is approved; the transaction making it announces that like any other review change.

use chrono::Utc;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use mit_domain::ports::review::Act;
use mit_domain::review::rules::ReviewState;
use uuid::Uuid;

use super::state::{self, ReviewRow};
use super::{Announce, TxError};
use crate::teams::to_diesel;

/// The review as it was before the participants changed (nothing when there is no review).
pub struct ReviewerChange {
    before: Option<(ReviewRow, ReviewState)>,
}

fn to_query(error: TxError) -> diesel::result::Error {
    match error {
        TxError::Db(error) => error,
        TxError::Failed(failure) => to_diesel(mit_domain::ports::StoreError::Other(failure.to_string())),
    }
}

impl ReviewerChange {
    /// Locks the meeting's review, if it has one, and notes its state.
    pub async fn begin(conn: &mut AsyncPgConnection, meeting: Uuid) -> QueryResult<Self> {
        let Some(row) = state::lock_if_any(conn, meeting).await? else { return Ok(Self { before: None }) };
        let before = state::state(conn, &row).await.map_err(to_query)?;
        Ok(Self { before: Some((row, before)) })
    }

    /// Announces the status change the participants' change caused, if any; whether it did.
    pub async fn finish(self, conn: &mut AsyncPgConnection, meeting: Uuid, actor: Uuid) -> QueryResult<bool> {
        let Some((row, before)) = self.before else { return Ok(false) };
        let after = state::state(conn, &row).await.map_err(to_query)?;
        let changed = before.status() != after.status();
        let act = Act { meeting, actor, now: Utc::now() };
        Announce::new(act, &row, &before).commit(conn, &after).await?;
        Ok(changed)
    }
}
