//! The meeting room's chat history (messages are sent over the signalling socket).

use mit_api::server::ChatApi;
use mit_api::server::models::{ChatMessage, ChatMessagePage};
use mit_api::server::ops::list_chat_messages;
use mit_api::server::runtime::Json;

use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::chat::ChatRecord;
use crate::{Caller, Mit};

impl ChatApi for Mit {
    async fn list_chat_messages(&self, caller: &Caller, request: list_chat_messages::Request) -> ApiResult<list_chat_messages::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.chat.messages(view.meeting.id, paging).await.map_err(DomainError::from)?;
        Ok(list_chat_messages::Response::Ok(Json(ChatMessagePage {
            items: page.items.into_iter().map(chat_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }
}

/// A chat message as the contract shows it.
pub fn chat_model(message: ChatRecord) -> ChatMessage {
    ChatMessage {
        id: message.id,
        meeting_id: message.meeting_id,
        user_id: message.user_id,
        user_name: message.user_name,
        text: message.text,
        created_at: message.created_at,
    }
}
