//! Notes on a meeting: participants write them, authors edit them, authors or hosts delete them.

use mit_api::server::NotesApi;
use mit_api::server::models::{Note, NotePage, ParticipantRole};
use mit_api::server::ops::{create_note, delete_note, get_note, list_notes, update_note};
use mit_api::server::runtime::Json;
use uuid::Uuid;

use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::notes::NoteRecord;
use crate::users::user_ref_model;
use crate::{Caller, Mit};

/// The most a note may hold, in bytes of UTF-8.
const MAX_NOTE_BYTES: usize = 100 * 1024;

impl NotesApi for Mit {
    async fn list_notes(&self, caller: &Caller, request: list_notes::Request) -> ApiResult<list_notes::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.notes.notes(view.meeting.id, paging).await.map_err(DomainError::from)?;
        Ok(list_notes::Response::Ok(Json(NotePage {
            items: page.items.into_iter().map(note_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_note(&self, caller: &Caller, request: create_note::Request) -> ApiResult<create_note::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        if view.my_role.is_none() {
            return Err(DomainError::Forbidden("only participants may write notes".into()).into());
        }
        let content = checked_content(request.body.content)?;
        let now = self.ports.clock.now();
        let note =
            self.ports.notes.create_note(Uuid::now_v7(), view.meeting.id, caller.user_id, content, now).await.map_err(DomainError::from)?;
        Ok(create_note::Response::Created(Json(note_model(note))))
    }

    async fn get_note(&self, caller: &Caller, request: get_note::Request) -> ApiResult<get_note::Response> {
        let note = self.visible_note(request.meeting_id, request.note_id, caller.user_id).await?.0;
        Ok(get_note::Response::Ok(Json(note_model(note))))
    }

    async fn update_note(&self, caller: &Caller, request: update_note::Request) -> ApiResult<update_note::Response> {
        let (note, _) = self.visible_note(request.meeting_id, request.note_id, caller.user_id).await?;
        if note.author.id != caller.user_id {
            return Err(DomainError::Forbidden("only its author may edit a note".into()).into());
        }
        let content = checked_content(request.body.content)?;
        let now = self.ports.clock.now();
        let updated = self.ports.notes.update_note(note.meeting_id, note.id, content, now).await.map_err(DomainError::from)?;
        let updated = updated.ok_or(DomainError::NotFound("note"))?;
        Ok(update_note::Response::Ok(Json(note_model(updated))))
    }

    async fn delete_note(&self, caller: &Caller, request: delete_note::Request) -> ApiResult<delete_note::Response> {
        let (note, role) = self.visible_note(request.meeting_id, request.note_id, caller.user_id).await?;
        if note.author.id != caller.user_id && role != Some(ParticipantRole::Host) {
            return Err(DomainError::Forbidden("only its author or a host may delete a note".into()).into());
        }
        self.ports.notes.delete_note(note.meeting_id, note.id).await.map_err(DomainError::from)?;
        Ok(delete_note::Response::NoContent)
    }
}

impl Mit {
    /// A note of a meeting the caller can see, with the caller's role in the meeting.
    async fn visible_note(&self, meeting: Uuid, note: Uuid, user: Uuid) -> Result<(NoteRecord, Option<ParticipantRole>), DomainError> {
        let view = self.visible_meeting(meeting, user).await?;
        let note = self.ports.notes.note(view.meeting.id, note).await?.ok_or(DomainError::NotFound("note"))?;
        Ok((note, view.my_role))
    }
}

/// The schema bounds characters; the rule is 100 KB of UTF-8.
fn checked_content(content: String) -> Result<String, DomainError> {
    if content.len() > MAX_NOTE_BYTES {
        return Err(DomainError::invalid(
            "content",
            format!("a note holds at most {MAX_NOTE_BYTES} bytes; this one has {}", content.len()),
        ));
    }
    Ok(content)
}

fn note_model(note: NoteRecord) -> Note {
    Note {
        id: note.id,
        meeting_id: note.meeting_id,
        author: user_ref_model(note.author),
        content: note.content,
        created_at: note.created_at,
        updated_at: note.updated_at,
    }
}
