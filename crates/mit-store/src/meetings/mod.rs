//! `MeetingStore` on PostgreSQL. State changes are single conditional `UPDATE`s, so of two
//! concurrent transitions exactly one matches; participants are keyed by (meeting, user), so
//! concurrent adds of one person leave one row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{MeetingStatus, ParticipantRole};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::meetings::{
    Addition, Creation, Guarded, MeetingChange, MeetingFilter, MeetingRecord, MeetingStore, MeetingView, NewMeeting, ParticipantChange,
    ParticipantRecord, RecordingFlag,
};
use uuid::Uuid;

mod views;

use super::review::reviewers::ReviewerChange;
use super::rows::{ParticipantRow, convert, parse_enum};
use super::schema::{meetings, participants, users};
use super::teams::to_diesel;
use super::{PgStore, store_error};

const PARTICIPANT_COLUMNS: &str = "SELECT u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar,
        p.role, p.added_at, p.joined_at, p.left_at
     FROM participants p JOIN users u ON u.id = p.user_id";

#[derive(QueryableByName)]
struct RecordingRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Timestamptz>)]
    recording_started_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    recording_version: i64,
}

#[derive(AsChangeset)]
#[diesel(table_name = meetings)]
struct MeetingChangeRow {
    title: Option<String>,
    description: Option<Option<String>>,
    scheduled_at: Option<Option<DateTime<Utc>>>,
    auto_record: Option<bool>,
    updated_at: DateTime<Utc>,
}

#[async_trait]
impl MeetingStore for PgStore {
    async fn create_meeting(&self, meeting: NewMeeting) -> Result<Creation, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            if !meeting.participants.is_empty() {
                let known: Vec<Uuid> = users::table
                    .filter(users::id.eq_any(&meeting.participants))
                    .filter(users::deleted_at.is_null())
                    .select(users::id)
                    .load(conn)
                    .await?;
                let unknown: Vec<Uuid> = meeting.participants.iter().filter(|id| !known.contains(id)).copied().collect();
                if !unknown.is_empty() {
                    return Ok(Creation::UnknownUsers(unknown));
                }
            }
            diesel::insert_into(meetings::table)
                .values((
                    meetings::id.eq(meeting.id),
                    meetings::team_id.eq(meeting.team_id),
                    meetings::title.eq(&meeting.title),
                    meetings::description.eq(&meeting.description),
                    meetings::status.eq(MeetingStatus::Scheduled.as_str()),
                    meetings::scheduled_at.eq(meeting.scheduled_at),
                    meetings::creator_id.eq(meeting.creator),
                    meetings::auto_record.eq(meeting.auto_record),
                    meetings::created_at.eq(meeting.now),
                    meetings::updated_at.eq(meeting.now),
                ))
                .execute(conn)
                .await?;
            // The host's row alone is a fixed-shape statement diesel keeps prepared; a batch of
            // rows is a new statement for every size, so only the invited use one.
            diesel::insert_into(participants::table)
                .values((
                    participants::meeting_id.eq(meeting.id),
                    participants::user_id.eq(meeting.creator),
                    participants::role.eq(ParticipantRole::Host.as_str()),
                    participants::added_at.eq(meeting.now),
                ))
                .execute(conn)
                .await?;
            if !meeting.participants.is_empty() {
                let invited: Vec<_> = meeting
                    .participants
                    .iter()
                    .map(|user| {
                        (
                            participants::meeting_id.eq(meeting.id),
                            participants::user_id.eq(*user),
                            participants::role.eq(ParticipantRole::Participant.as_str()),
                            participants::added_at.eq(meeting.now),
                        )
                    })
                    .collect();
                diesel::insert_into(participants::table).values(invited).execute(conn).await?;
            }
            let view = views::view_of(conn, meeting.id, meeting.creator).await?;
            view.map(|v| Creation::Created(Box::new(v))).ok_or(diesel::result::Error::NotFound)
        })
        .await
        .map_err(store_error)
    }

    async fn list_meetings(&self, viewer: Uuid, filter: MeetingFilter, page: PageRequest) -> Result<Page<MeetingView>, StoreError> {
        let mut conn = self.connection().await?;
        views::visible_page(&mut conn, viewer, &filter, page).await.map_err(store_error)
    }

    async fn exists(&self, meeting: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.connection().await?;
        let count: i64 = meetings::table.find(meeting).count().get_result(&mut conn).await.map_err(store_error)?;
        Ok(count > 0)
    }

    async fn meeting_for(&self, meeting: Uuid, viewer: Uuid) -> Result<Option<MeetingView>, StoreError> {
        let mut conn = self.connection().await?;
        views::visible_view(&mut conn, meeting, viewer).await.map_err(store_error)
    }

    async fn update_meeting(&self, meeting: Uuid, change: MeetingChange, now: DateTime<Utc>) -> Result<Guarded<MeetingRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let row = MeetingChangeRow {
            title: change.title,
            description: change.description,
            scheduled_at: change.scheduled_at,
            auto_record: change.auto_record,
            updated_at: now,
        };
        let open = [MeetingStatus::Scheduled.as_str(), MeetingStatus::InProgress.as_str()];
        let updated = diesel::update(meetings::table.find(meeting).filter(meetings::status.eq_any(open)))
            .set(&row)
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        guarded(&mut conn, meeting, updated).await
    }

    async fn transition(
        &self,
        meeting: Uuid,
        from: &[MeetingStatus],
        to: MeetingStatus,
        now: DateTime<Utc>,
    ) -> Result<Guarded<MeetingRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let updated = diesel::sql_query(
            "UPDATE meetings SET status = $2,
                started_at = CASE WHEN $2 = 'in_progress' THEN $3 ELSE started_at END,
                ended_at = CASE WHEN $2 IN ('completed', 'cancelled') THEN $3 ELSE ended_at END,
                recording_started_at = CASE WHEN $2 = 'in_progress' AND auto_record THEN $3 ELSE NULL END,
                recording_version = recording_version + 1,
                updated_at = $3
             WHERE id = $1 AND status = ANY($4)",
        )
        .bind::<SqlUuid, _>(meeting)
        .bind::<Text, _>(to.as_str())
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<Array<Text>, _>(&from)
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        guarded(&mut conn, meeting, updated).await
    }

    async fn set_recording(&self, meeting: Uuid, on: bool, now: DateTime<Utc>) -> Result<Guarded<RecordingFlag>, StoreError> {
        let mut conn = self.connection().await?;
        // Starting keeps an earlier start and needs a meeting in progress; stopping always works
        // (a meeting that is over is not being recorded anyway). Every call counts as a change,
        // and RETURNING gives the flag as this very update left it.
        let sql = if on {
            "UPDATE meetings SET recording_started_at = coalesce(recording_started_at, $2), recording_version = recording_version + 1
             WHERE id = $1 AND status = 'in_progress' RETURNING recording_started_at, recording_version"
        } else {
            "UPDATE meetings SET recording_started_at = NULL, recording_version = recording_version + 1
             WHERE id = $1 AND $2 IS NOT NULL RETURNING recording_started_at, recording_version"
        };
        let updated: Option<RecordingRow> = diesel::sql_query(sql)
            .bind::<SqlUuid, _>(meeting)
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        if let Some(row) = updated {
            return Ok(Guarded::Applied(RecordingFlag { since: row.recording_started_at, version: row.recording_version }));
        }
        Ok(match record(&mut conn, meeting).await? {
            Some(current) => Guarded::WrongState(current.status),
            None => Guarded::Missing,
        })
    }

    async fn participants(&self, meeting: Uuid, page: PageRequest) -> Result<Page<ParticipantRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total =
            participants::table.filter(participants::meeting_id.eq(meeting)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<ParticipantRow> = diesel::sql_query(format!(
            "{PARTICIPANT_COLUMNS} WHERE p.meeting_id = $1 ORDER BY CASE p.role WHEN 'host' THEN 0 ELSE 1 END, u.name, u.id OFFSET $2 LIMIT $3"
        ))
        .bind::<SqlUuid, _>(meeting)
        .bind::<BigInt, _>(page.offset())
        .bind::<BigInt, _>(page.limit())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn participant(&self, meeting: Uuid, user: Uuid) -> Result<Option<ParticipantRecord>, StoreError> {
        let mut conn = self.connection().await?;
        participant(&mut conn, meeting, user).await.map_err(store_error)?.map(ParticipantRecord::try_from).transpose()
    }

    async fn add_participant(&self, meeting: Uuid, user: Uuid, role: ParticipantRole, now: DateTime<Utc>) -> Result<Addition, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let status: String = meetings::table.find(meeting).select(meetings::status).for_share().first(conn).await?;
            let status: MeetingStatus = parse_enum("meeting status", &status).map_err(to_diesel)?;
            if matches!(status, MeetingStatus::Completed | MeetingStatus::Cancelled) {
                return Ok(Addition::Closed(status));
            }
            let exists = users::table.find(user).filter(users::deleted_at.is_null()).count().get_result::<i64>(conn).await? > 0;
            if !exists {
                return Ok(Addition::UnknownUser);
            }
            let inserted = diesel::insert_into(participants::table)
                .values((
                    participants::meeting_id.eq(meeting),
                    participants::user_id.eq(user),
                    participants::role.eq(role.as_str()),
                    participants::added_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok(Addition::AlreadyThere);
            }
            let row = participant(conn, meeting, user).await?.ok_or(diesel::result::Error::NotFound)?;
            ParticipantRecord::try_from(row).map(Addition::Added).map_err(to_diesel)
        })
        .await
        .map_err(store_error)
    }

    async fn change_participant_role(
        &self,
        meeting: Uuid,
        user: Uuid,
        role: ParticipantRole,
        actor: Uuid,
    ) -> Result<ParticipantChange, StoreError> {
        let mut conn = self.connection().await?;
        let change = conn
            .transaction(async |conn| {
                let Some(current) = locked_role(conn, meeting, user).await? else { return Ok(ParticipantChange::NotParticipant) };
                if current == ParticipantRole::Host.as_str() && role != ParticipantRole::Host && host_count(conn, meeting).await? <= 1 {
                    return Ok(ParticipantChange::LastHost);
                }
                let reviewers = ReviewerChange::begin(conn, meeting).await?;
                diesel::update(participants::table.find((meeting, user))).set(participants::role.eq(role.as_str())).execute(conn).await?;
                reviewers.finish(conn, meeting, actor).await?;
                let row = participant(conn, meeting, user).await?;
                Ok(ParticipantChange::Done(row.map(ParticipantRecord::try_from).transpose().map_err(to_diesel)?))
            })
            .await
            .map_err(store_error)?;
        self.outbox_written.notify_one();
        Ok(change)
    }

    async fn remove_participant(&self, meeting: Uuid, user: Uuid, actor: Uuid) -> Result<ParticipantChange, StoreError> {
        let mut conn = self.connection().await?;
        let change = conn
            .transaction(async |conn| {
                let Some(current) = locked_role(conn, meeting, user).await? else { return Ok(ParticipantChange::NotParticipant) };
                if current == ParticipantRole::Host.as_str() && host_count(conn, meeting).await? <= 1 {
                    return Ok(ParticipantChange::LastHost);
                }
                let reviewers = ReviewerChange::begin(conn, meeting).await?;
                diesel::delete(participants::table.find((meeting, user))).execute(conn).await?;
                reviewers.finish(conn, meeting, actor).await?;
                Ok(ParticipantChange::Done(None))
            })
            .await
            .map_err(store_error)?;
        self.outbox_written.notify_one();
        Ok(change)
    }

    async fn mark_presence(&self, meeting: Uuid, user: Uuid, present: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        let target = participants::table.find((meeting, user));
        let updated = if present {
            diesel::update(target).set(participants::joined_at.eq(now)).execute(&mut conn).await
        } else {
            diesel::update(target).set(participants::left_at.eq(now)).execute(&mut conn).await
        };
        updated.map(|_| ()).map_err(store_error)
    }
}

/// The meeting after a conditional update that changed `updated` rows.
async fn guarded(conn: &mut AsyncPgConnection, meeting: Uuid, updated: usize) -> Result<Guarded<MeetingRecord>, StoreError> {
    match record(conn, meeting).await? {
        None => Ok(Guarded::Missing),
        Some(record) if updated > 0 => Ok(Guarded::Applied(record)),
        Some(record) => Ok(Guarded::WrongState(record.status)),
    }
}

async fn record(conn: &mut AsyncPgConnection, meeting: Uuid) -> Result<Option<MeetingRecord>, StoreError> {
    Ok(views::view_of(conn, meeting, Uuid::nil()).await.map_err(store_error)?.map(|v| v.meeting))
}

async fn participant(conn: &mut AsyncPgConnection, meeting: Uuid, user: Uuid) -> QueryResult<Option<ParticipantRow>> {
    diesel::sql_query(format!("{PARTICIPANT_COLUMNS} WHERE p.meeting_id = $1 AND p.user_id = $2"))
        .bind::<SqlUuid, _>(meeting)
        .bind::<SqlUuid, _>(user)
        .get_result(conn)
        .await
        .optional()
}

/// Locks the meeting's host rows in a fixed order, then the target's row; returns its role.
async fn locked_role(conn: &mut AsyncPgConnection, meeting: Uuid, user: Uuid) -> QueryResult<Option<String>> {
    participants::table
        .filter(participants::meeting_id.eq(meeting))
        .filter(participants::role.eq(ParticipantRole::Host.as_str()))
        .order(participants::user_id)
        .select(participants::user_id)
        .for_update()
        .load::<Uuid>(conn)
        .await?;
    participants::table.find((meeting, user)).select(participants::role).for_update().first(conn).await.optional()
}

async fn host_count(conn: &mut AsyncPgConnection, meeting: Uuid) -> QueryResult<i64> {
    participants::table
        .filter(participants::meeting_id.eq(meeting))
        .filter(participants::role.eq(ParticipantRole::Host.as_str()))
        .count()
        .get_result(conn)
        .await
}
