//! Comments on review lines: threaded by `parent_id`, edited by their authors, deleted into
//! placeholders.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::events::review::ReviewEventKind;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::people::UserRef;
use mit_domain::ports::review::{Act, CommentRecord, ReviewFailure};
use mit_domain::review::rules;
use uuid::Uuid;

use crate::rows::CountRow;

use super::state::{self, ReviewRow};
use super::{Announce, TxError};
use crate::{PgStore, store_error};

#[derive(QueryableByName)]
struct CommentRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    line_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    parent_id: Option<Uuid>,
    #[diesel(sql_type = SqlUuid)]
    author_id: Uuid,
    #[diesel(sql_type = Text)]
    author_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    author_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    edited_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl From<CommentRow> for CommentRecord {
    fn from(row: CommentRow) -> Self {
        Self {
            id: row.id,
            line_id: row.line_id,
            parent_id: row.parent_id,
            author: UserRef { id: row.author_id, name: row.author_name, avatar_url: row.author_avatar },
            content: row.content,
            edited_at: row.edited_at,
            created_at: row.created_at,
        }
    }
}

const COMMENT_COLUMNS: &str = "SELECT c.id, c.line_id, c.parent_id, u.id AS author_id, u.name AS author_name,
        u.avatar_url AS author_avatar, c.content, c.edited_at, c.created_at
     FROM review_comments c JOIN users u ON u.id = c.author_id";

/// Whether `line` is a line of `review`.
pub(super) async fn line_of(conn: &mut AsyncPgConnection, review: Uuid, line: Uuid) -> QueryResult<bool> {
    let found: CountRow = diesel::sql_query("SELECT count(*) AS count FROM review_lines WHERE id = $1 AND review_id = $2")
        .bind::<SqlUuid, _>(line)
        .bind::<SqlUuid, _>(review)
        .get_result(conn)
        .await?;
    Ok(found.count > 0)
}

async fn one(conn: &mut AsyncPgConnection, review: Uuid, comment: Uuid) -> QueryResult<Option<CommentRow>> {
    diesel::sql_query(format!("{COMMENT_COLUMNS} WHERE c.id = $1 AND c.review_id = $2"))
        .bind::<SqlUuid, _>(comment)
        .bind::<SqlUuid, _>(review)
        .get_result(conn)
        .await
        .optional()
}

/// A page of a line's comments, placeholders included.
pub(super) async fn list(store: &PgStore, meeting: Uuid, line: Uuid, page: PageRequest) -> Result<Option<Page<CommentRecord>>, StoreError> {
    let mut conn = store.connection().await?;
    let Some(review) = state::find(&mut conn, meeting).await.map_err(store_error)? else { return Ok(None) };
    if !line_of(&mut conn, review.id, line).await.map_err(store_error)? {
        return Ok(None);
    }
    let rows: Vec<CommentRow> =
        diesel::sql_query(format!("{COMMENT_COLUMNS} WHERE c.line_id = $1 ORDER BY c.created_at, c.id OFFSET $2 LIMIT $3"))
            .bind::<SqlUuid, _>(line)
            .bind::<BigInt, _>(page.offset())
            .bind::<BigInt, _>(page.limit())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
    let total: CountRow = diesel::sql_query("SELECT count(*) AS count FROM review_comments WHERE line_id = $1")
        .bind::<SqlUuid, _>(line)
        .get_result(&mut conn)
        .await
        .map_err(store_error)?;
    Ok(Some(Page { items: rows.into_iter().map(CommentRecord::from).collect(), total: total.count }))
}

pub(super) async fn create(
    conn: &mut AsyncPgConnection,
    act: Act,
    line: Uuid,
    parent: Option<Uuid>,
    content: String,
) -> Result<CommentRecord, TxError> {
    let row = state::lock(conn, act.meeting).await?;
    if !line_of(conn, row.id, line).await? {
        return Err(TxError::missing("line"));
    }
    let before = state::state(conn, &row).await?;
    rules::comment(&before, act.actor)?;
    if let Some(parent) = parent {
        match one(conn, row.id, parent).await? {
            Some(p) if p.line_id != line => return Err(ReviewFailure::UnknownParent.into()),
            None => return Err(ReviewFailure::UnknownParent.into()),
            Some(p) if p.content.is_none() => return Err(ReviewFailure::DeletedParent.into()),
            Some(_) => {}
        }
    }
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO review_comments (id, review_id, line_id, parent_id, author_id, content, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(row.id)
    .bind::<SqlUuid, _>(line)
    .bind::<Nullable<SqlUuid>, _>(parent)
    .bind::<SqlUuid, _>(act.actor)
    .bind::<Text, _>(&content)
    .bind::<Timestamptz, _>(act.now)
    .execute(conn)
    .await?;
    announce(conn, act, &row, &before, ReviewEventKind::CommentCreated, line, id, parent, Some(content)).await?;
    Ok(one(conn, row.id, id).await?.ok_or(TxError::missing("comment"))?.into())
}

pub(super) async fn edit(conn: &mut AsyncPgConnection, act: Act, comment: Uuid, content: String) -> Result<CommentRecord, TxError> {
    let row = state::lock(conn, act.meeting).await?;
    let found = one(conn, row.id, comment).await?.filter(|c| c.content.is_some()).ok_or(TxError::missing("comment"))?;
    let before = state::state(conn, &row).await?;
    rules::edit_comment(&before, act.actor, found.author_id)?;
    diesel::sql_query("UPDATE review_comments SET content = $2, edited_at = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(comment)
        .bind::<Text, _>(&content)
        .bind::<Timestamptz, _>(act.now)
        .execute(conn)
        .await?;
    announce(conn, act, &row, &before, ReviewEventKind::CommentEdited, found.line_id, comment, found.parent_id, Some(content)).await?;
    Ok(one(conn, row.id, comment).await?.ok_or(TxError::missing("comment"))?.into())
}

pub(super) async fn delete(conn: &mut AsyncPgConnection, act: Act, comment: Uuid) -> Result<(), TxError> {
    let row = state::lock(conn, act.meeting).await?;
    let found = one(conn, row.id, comment).await?.filter(|c| c.content.is_some()).ok_or(TxError::missing("comment"))?;
    let before = state::state(conn, &row).await?;
    rules::delete_comment(&before, act.actor, found.author_id)?;
    diesel::sql_query("UPDATE review_comments SET content = NULL, deleted_at = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(comment)
        .bind::<Timestamptz, _>(act.now)
        .execute(conn)
        .await?;
    announce(conn, act, &row, &before, ReviewEventKind::CommentDeleted, found.line_id, comment, found.parent_id, None).await
}

#[allow(clippy::too_many_arguments)]
async fn announce(
    conn: &mut AsyncPgConnection,
    act: Act,
    row: &ReviewRow,
    before: &rules::ReviewState,
    kind: ReviewEventKind,
    line: Uuid,
    comment: Uuid,
    parent: Option<Uuid>,
    content: Option<String>,
) -> Result<(), TxError> {
    // Comments change neither the phase, the revision, the approvals nor what is pending.
    let after = before;
    let mut announce = Announce::new(act, row, before);
    announce.push(kind, after, |mut e| {
        e.data.line_id = Some(line);
        e.data.comment_id = Some(comment);
        e.data.parent_id = parent;
        e.data.content = content;
        e
    });
    announce.commit(conn, after).await?;
    Ok(())
}
