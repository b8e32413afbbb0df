//! The event outbox and the events socket's tickets on PostgreSQL. [`append`] runs inside the
//! transaction of the change it announces; the topic's row orders concurrent writers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::events::Topic;
use mit_domain::events::TopicEvent;
use mit_domain::ports::StoreError;
use mit_domain::ports::events::{EventStore, StoredEvent};
use uuid::Uuid;

use super::{PgStore, store_error};

#[derive(QueryableByName)]
struct SeqRow {
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    topic: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    message: String,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> Self {
        Self { id: row.id, topic: row.topic, seq: row.seq, message: row.message }
    }
}

/// Appends `event` to `topic`'s stream, numbered after its last one. Its time is taken here,
/// under the topic's lock, so times rise with `seq` (the request's own clock reading may not).
pub async fn append<E: TopicEvent + Sync>(conn: &mut AsyncPgConnection, topic: &Topic, event: &E, actor: Uuid) -> QueryResult<()> {
    let now = Utc::now();
    let name = topic.to_string();
    let seq: SeqRow = diesel::sql_query(
        "INSERT INTO event_topics (topic, last_seq) VALUES ($1, 1)
         ON CONFLICT (topic) DO UPDATE SET last_seq = event_topics.last_seq + 1 RETURNING last_seq",
    )
    .bind::<Text, _>(&name)
    .get_result(conn)
    .await?;
    diesel::sql_query("INSERT INTO events (topic, seq, message, created_at) VALUES ($1, $2, $3, $4)")
        .bind::<Text, _>(&name)
        .bind::<BigInt, _>(seq.last_seq)
        .bind::<Text, _>(event.message(topic, seq.last_seq, actor, now))
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl EventStore for PgStore {
    async fn issue_ticket(&self, hash: Vec<u8>, user: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        diesel::sql_query("INSERT INTO event_tickets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind::<Bytea, _>(hash)
            .bind::<SqlUuid, _>(user)
            .bind::<Timestamptz, _>(expires_at)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn redeem_ticket(&self, hash: Vec<u8>, now: DateTime<Utc>) -> Result<Option<Uuid>, StoreError> {
        let mut conn = self.connection().await?;
        // Expired tickets go on the way; the one presented is spent whether or not it expired.
        diesel::sql_query("DELETE FROM event_tickets WHERE expires_at < $1 - interval '1 hour'")
            .bind::<Timestamptz, _>(now)
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        let row: Option<TicketRow> =
            diesel::sql_query("DELETE FROM event_tickets WHERE token_hash = $1 RETURNING user_id, expires_at > $2 AS valid")
                .bind::<Bytea, _>(hash)
                .bind::<Timestamptz, _>(now)
                .get_result(&mut conn)
                .await
                .optional()
                .map_err(store_error)?;
        Ok(row.filter(|t| t.valid).map(|t| t.user_id))
    }

    async fn last_seq(&self, topic: &str) -> Result<i64, StoreError> {
        let mut conn = self.connection().await?;
        let row: Option<SeqRow> = diesel::sql_query("SELECT last_seq FROM event_topics WHERE topic = $1")
            .bind::<Text, _>(topic)
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        Ok(row.map_or(0, |r| r.last_seq))
    }

    async fn events_after(&self, topic: &str, since: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.connection().await?;
        let rows: Vec<EventRow> =
            diesel::sql_query("SELECT id, topic, seq, message FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind::<Text, _>(topic)
                .bind::<BigInt, _>(since)
                .bind::<BigInt, _>(limit)
                .load(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }

    async fn unrelayed(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.connection().await?;
        let rows: Vec<EventRow> =
            diesel::sql_query("SELECT id, topic, seq, message FROM events WHERE relayed_at IS NULL ORDER BY id LIMIT $1")
                .bind::<BigInt, _>(limit)
                .load(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }

    async fn mark_relayed(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        diesel::sql_query("UPDATE events SET relayed_at = now() WHERE id = ANY($1)")
            .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn prune(&self, before: DateTime<Utc>, keep: i64) -> Result<u64, StoreError> {
        let mut conn = self.connection().await?;
        let deleted = diesel::sql_query(
            "DELETE FROM events e WHERE e.relayed_at IS NOT NULL AND (e.created_at < $1
               OR e.seq <= (SELECT t.last_seq - $2 FROM event_topics t WHERE t.topic = e.topic))",
        )
        .bind::<Timestamptz, _>(before)
        .bind::<BigInt, _>(keep)
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(deleted as u64)
    }
}

#[derive(QueryableByName)]
struct TicketRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    valid: bool,
}
