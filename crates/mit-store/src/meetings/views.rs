//! Meetings as a viewer sees them, read with diesel's query builder rather than raw SQL: its
//! statements are prepared once per connection and reused, where a `sql_query` is parsed and
//! planned by PostgreSQL at every call (most of a GET's database time before).

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::meetings::{MeetingFilter, MeetingRecord, MeetingView, RecordingFlag};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use crate::rows::parse_enum;
use crate::schema::{meetings, participants, team_members, users};
use crate::teams::to_diesel;

diesel::alias!(participants as viewer_seat: ViewerSeat, meetings as team_meeting: TeamMeeting);

define_sql_function!(
    /// `coalesce(scheduled_at, created_at)`: the order meetings are listed in (indexed).
    fn coalesce(scheduled: Nullable<Timestamptz>, created: Timestamptz) -> Timestamptz
);

/// Team roles that see every meeting of their team.
const TEAM_ADMINS: [&str; 2] = ["owner", "admin"];

/// One meeting with its creator and the viewer's role, in select order.
#[derive(Queryable)]
struct ViewRow {
    id: Uuid,
    team_id: Option<Uuid>,
    title: String,
    description: Option<String>,
    status: String,
    scheduled_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    auto_record: bool,
    recording_started_at: Option<DateTime<Utc>>,
    recording_version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    creator_id: Uuid,
    creator_name: String,
    creator_avatar: Option<String>,
    my_role: Option<String>,
    participant_count: i64,
}

/// Meetings `$viewer` may see: those they take part in, and those of teams they own or
/// administer. One `IN (… UNION …)` rather than an `OR` of two, so PostgreSQL starts from the
/// viewer's own rows (cost follows what they may see, not the whole table) and sorts those.
macro_rules! visible_to {
    ($viewer:expr) => {
        meetings::id.eq_any(
            participants::table.filter(participants::user_id.eq($viewer)).select(participants::meeting_id).union(
                team_meeting
                    .filter(
                        team_meeting.field(meetings::team_id).eq_any(
                            team_members::table
                                .filter(team_members::user_id.eq($viewer))
                                .filter(team_members::role.eq_any(TEAM_ADMINS))
                                .select(team_members::team_id.nullable()),
                        ),
                    )
                    .select(team_meeting.field(meetings::id)),
            ),
        )
    };
}

/// Meetings with their creator and the role of `$viewer`, selecting a [`ViewRow`].
macro_rules! view_query {
    ($viewer:expr) => {
        meetings::table
            .inner_join(users::table.on(users::id.eq(meetings::creator_id)))
            .left_join(
                viewer_seat.on(viewer_seat
                    .field(participants::meeting_id)
                    .eq(meetings::id)
                    .and(viewer_seat.field(participants::user_id).eq($viewer))),
            )
            .select((
                meetings::id,
                meetings::team_id,
                meetings::title,
                meetings::description,
                meetings::status,
                meetings::scheduled_at,
                meetings::started_at,
                meetings::ended_at,
                meetings::auto_record,
                meetings::recording_started_at,
                meetings::recording_version,
                meetings::created_at,
                meetings::updated_at,
                users::id,
                users::name,
                users::avatar_url,
                viewer_seat.field(participants::role).nullable(),
                participants::table.filter(participants::meeting_id.eq(meetings::id)).count().single_value().assume_not_null(),
            ))
    };
}

/// The meeting as `viewer` sees it, whether or not they may (`None` only if it does not exist).
pub async fn view_of(conn: &mut AsyncPgConnection, meeting: Uuid, viewer: Uuid) -> QueryResult<Option<MeetingView>> {
    let row: Option<ViewRow> = view_query!(viewer).filter(meetings::id.eq(meeting)).first(conn).await.optional()?;
    row.map(into_view).transpose().map_err(to_diesel)
}

/// The meeting if `viewer` may see it: a participant, or an owner or admin of its team.
pub async fn visible_view(conn: &mut AsyncPgConnection, meeting: Uuid, viewer: Uuid) -> QueryResult<Option<MeetingView>> {
    let administers = exists(
        team_members::table
            .filter(team_members::team_id.nullable().eq(meetings::team_id))
            .filter(team_members::user_id.eq(viewer))
            .filter(team_members::role.eq_any(TEAM_ADMINS)),
    );
    let row: Option<ViewRow> = view_query!(viewer)
        .filter(meetings::id.eq(meeting))
        .filter(viewer_seat.field(participants::user_id).nullable().is_not_null().or(administers))
        .first(conn)
        .await
        .optional()?;
    row.map(into_view).transpose().map_err(to_diesel)
}

/// One page of the meetings `viewer` may see, newest first, with the total over all pages.
pub async fn visible_page(
    conn: &mut AsyncPgConnection,
    viewer: Uuid,
    filter: &MeetingFilter,
    page: PageRequest,
) -> QueryResult<Page<MeetingView>> {
    // Optional filters as `(bind IS NULL OR column = bind)`, so the statement is the same
    // whatever is given and stays prepared.
    let status = filter.status.map(|status| status.as_str());
    let status_matches = status.into_sql::<Nullable<Text>>().is_null().or(meetings::status.nullable().eq(status));
    let team_matches = filter.team_id.into_sql::<Nullable<SqlUuid>>().is_null().or(meetings::team_id.eq(filter.team_id));
    // The total is a second statement: a window count in the page's would make PostgreSQL build
    // every visible row (head counts and joins included) before taking the page.
    let rows: Vec<ViewRow> = view_query!(viewer)
        .filter(visible_to!(viewer))
        .filter(status_matches)
        .filter(team_matches)
        .order((coalesce(meetings::scheduled_at, meetings::created_at).desc(), meetings::id.desc()))
        .offset(page.offset())
        .limit(page.limit())
        .load(conn)
        .await?;
    let total: i64 =
        meetings::table.filter(visible_to!(viewer)).filter(status_matches).filter(team_matches).count().get_result(conn).await?;
    let items = rows.into_iter().map(into_view).collect::<Result<_, _>>().map_err(to_diesel)?;
    Ok(Page { items, total })
}

fn into_view(row: ViewRow) -> Result<MeetingView, StoreError> {
    let my_role = row.my_role.as_deref().map(|r| parse_enum("participant role", r)).transpose()?;
    let meeting = MeetingRecord {
        id: row.id,
        team_id: row.team_id,
        title: row.title,
        description: row.description,
        status: parse_enum("meeting status", &row.status)?,
        scheduled_at: row.scheduled_at,
        started_at: row.started_at,
        ended_at: row.ended_at,
        creator: UserRef { id: row.creator_id, name: row.creator_name, avatar_url: row.creator_avatar },
        auto_record: row.auto_record,
        recording: RecordingFlag { since: row.recording_started_at, version: row.recording_version },
        participant_count: row.participant_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    Ok(MeetingView { meeting, my_role })
}
