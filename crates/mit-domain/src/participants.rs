//! Who takes part in a meeting, and as what. Only hosts change it; the last host stays.

use mit_api::server::ParticipantsApi;
use mit_api::server::models::{Participant, ParticipantPage, ParticipantRole};
use mit_api::server::ops::{add_participant, list_participants, remove_participant, update_participant};
use mit_api::server::runtime::Json;

use crate::error::{ApiResult, DomainError};
use crate::meetings::{immutable, require_host};
use crate::paging::PageRequest;
use crate::ports::meetings::{Addition, ParticipantChange, ParticipantRecord};
use crate::ports::rooms::Departure;
use crate::users::user_ref_model;
use crate::{Caller, Mit};

impl ParticipantsApi for Mit {
    async fn list_participants(&self, caller: &Caller, request: list_participants::Request) -> ApiResult<list_participants::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.meetings.participants(view.meeting.id, paging).await.map_err(DomainError::from)?;
        Ok(list_participants::Response::Ok(Json(ParticipantPage {
            items: page.items.into_iter().map(participant_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn add_participant(&self, caller: &Caller, request: add_participant::Request) -> ApiResult<add_participant::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        require_host(&view)?;
        let role = request.body.role.unwrap_or(ParticipantRole::Participant);
        let now = self.ports.clock.now();
        match self.ports.meetings.add_participant(view.meeting.id, request.body.user_id, role, now).await.map_err(DomainError::from)? {
            Addition::Added(participant) => Ok(add_participant::Response::Created(Json(participant_model(participant)))),
            Addition::AlreadyThere => Err(DomainError::conflict("already_exists", "this user already takes part").into()),
            Addition::UnknownUser => Err(DomainError::unknown("user_id", "no such user").into()),
            Addition::Closed(status) => Err(immutable(status).into()),
        }
    }

    async fn update_participant(&self, caller: &Caller, request: update_participant::Request) -> ApiResult<update_participant::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        require_host(&view)?;
        let change = self.ports.meetings.change_participant_role(view.meeting.id, request.user_id, request.body.role, caller.user_id).await;
        match change.map_err(DomainError::from)? {
            ParticipantChange::Done(Some(participant)) => Ok(update_participant::Response::Ok(Json(participant_model(participant)))),
            ParticipantChange::Done(None) | ParticipantChange::NotParticipant => Err(DomainError::NotFound("participant").into()),
            ParticipantChange::LastHost => Err(last_host().into()),
        }
    }

    async fn remove_participant(&self, caller: &Caller, request: remove_participant::Request) -> ApiResult<remove_participant::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        require_host(&view)?;
        match self.ports.meetings.remove_participant(view.meeting.id, request.user_id, caller.user_id).await.map_err(DomainError::from)? {
            ParticipantChange::Done(_) => {
                self.ports.rooms.remove(view.meeting.id, request.user_id, Departure::Kicked).await;
                Ok(remove_participant::Response::NoContent)
            }
            ParticipantChange::NotParticipant => Err(DomainError::NotFound("participant").into()),
            ParticipantChange::LastHost => Err(last_host().into()),
        }
    }
}

fn last_host() -> DomainError {
    DomainError::conflict("last_host", "a meeting needs a host: make someone else host first")
}

fn participant_model(participant: ParticipantRecord) -> Participant {
    Participant {
        in_room: participant.in_room(),
        user: user_ref_model(participant.user),
        role: participant.role,
        added_at: participant.added_at,
        joined_at: participant.joined_at,
        left_at: participant.left_at,
    }
}
