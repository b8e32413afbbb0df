//! `ChatStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::chat::{ChatRecord, ChatStore};
use uuid::Uuid;

use super::schema::{chat_messages, users};
use super::{PgStore, store_error};

type ChatRow = (Uuid, Uuid, Uuid, String, String, DateTime<Utc>);

fn record((id, meeting_id, user_id, user_name, text, created_at): ChatRow) -> ChatRecord {
    ChatRecord { id, meeting_id, user_id, user_name, text, created_at }
}

#[async_trait]
impl ChatStore for PgStore {
    async fn messages(&self, meeting: Uuid, page: PageRequest) -> Result<Page<ChatRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total =
            chat_messages::table.filter(chat_messages::meeting_id.eq(meeting)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<ChatRow> = chat_messages::table
            .inner_join(users::table)
            .filter(chat_messages::meeting_id.eq(meeting))
            .order((chat_messages::created_at.desc(), chat_messages::id.desc()))
            .offset(page.offset())
            .limit(page.limit())
            .select((chat_messages::id, chat_messages::meeting_id, users::id, users::name, chat_messages::text, chat_messages::created_at))
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(record).collect(), total })
    }

    async fn post_message(&self, id: Uuid, meeting: Uuid, user: Uuid, text: String, now: DateTime<Utc>) -> Result<ChatRecord, StoreError> {
        let mut conn = self.connection().await?;
        diesel::insert_into(chat_messages::table)
            .values((
                chat_messages::id.eq(id),
                chat_messages::meeting_id.eq(meeting),
                chat_messages::user_id.eq(user),
                chat_messages::text.eq(&text),
                chat_messages::created_at.eq(now),
            ))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        let name: String = users::table.find(user).select(users::name).first(&mut conn).await.map_err(store_error)?;
        Ok(ChatRecord { id, meeting_id: meeting, user_id: user, user_name: name, text, created_at: now })
    }
}
