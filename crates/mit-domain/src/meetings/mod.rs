//! Meetings: listing, scheduling, editing, the life cycle, and entering the room.

pub mod ice;
pub mod lifecycle;

use mit_api::server::MeetingsApi;
use mit_api::server::models::{JoinMeetingResponse, Meeting, MeetingPage, MeetingStatus, ParticipantRole};
use mit_api::server::ops::{
    cancel_meeting, create_meeting, end_meeting, get_meeting, join_meeting, leave_meeting, list_meetings, start_meeting, update_meeting,
};
use mit_api::server::runtime::{Json, MaybeUndefined};
use uuid::Uuid;

use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::meetings::{Creation, Guarded, MeetingChange, MeetingFilter, MeetingRecord, MeetingView, NewMeeting};
use crate::ports::rooms::{Departure, Ending};
use crate::users::user_ref_model;
use crate::{Caller, Mit};
use lifecycle::{Transition, is_over};

impl MeetingsApi for Mit {
    async fn list_meetings(&self, caller: &Caller, request: list_meetings::Request) -> ApiResult<list_meetings::Response> {
        let paging = PageRequest::new(request.page, request.limit);
        let filter = MeetingFilter { status: request.status, team_id: request.team_id };
        let page = self.ports.meetings.list_meetings(caller.user_id, filter, paging).await.map_err(DomainError::from)?;
        Ok(list_meetings::Response::Ok(Json(MeetingPage {
            items: page.items.into_iter().map(meeting_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_meeting(&self, caller: &Caller, request: create_meeting::Request) -> ApiResult<create_meeting::Response> {
        let body = request.body;
        if let Some(team) = body.team_id
            && self.ports.teams.role_of(team, caller.user_id).await.map_err(DomainError::from)?.is_none()
        {
            return Err(DomainError::unknown("team_id", "no team of yours has this id").into());
        }
        let mut participants: Vec<Uuid> = body.participant_ids.unwrap_or_default();
        participants.retain(|id| *id != caller.user_id);
        participants.sort_unstable();
        participants.dedup();
        let meeting = NewMeeting {
            id: Uuid::now_v7(),
            team_id: body.team_id,
            title: clean_title(&body.title)?,
            description: body.description,
            scheduled_at: body.scheduled_at,
            auto_record: body.auto_record.unwrap_or(true),
            creator: caller.user_id,
            participants,
            now: self.ports.clock.now(),
        };
        match self.ports.meetings.create_meeting(meeting).await.map_err(DomainError::from)? {
            Creation::Created(view) => Ok(create_meeting::Response::Created(Json(meeting_model(*view)))),
            Creation::UnknownUsers(ids) => Err(DomainError::Unknown {
                field: "participant_ids",
                message: format!("{} of the participant ids are not users", ids.len()),
                details: vec![("unknown_ids", ids.iter().map(ToString::to_string).collect::<Vec<_>>().into())],
            }
            .into()),
        }
    }

    async fn get_meeting(&self, caller: &Caller, request: get_meeting::Request) -> ApiResult<get_meeting::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        Ok(get_meeting::Response::Ok(Json(meeting_model(view))))
    }

    async fn update_meeting(&self, caller: &Caller, request: update_meeting::Request) -> ApiResult<update_meeting::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        require_host(&view)?;
        let body = request.body;
        let change = MeetingChange {
            title: body.title.as_deref().map(clean_title).transpose()?,
            description: clearable(body.description),
            scheduled_at: clearable(body.scheduled_at),
            auto_record: body.auto_record,
        };
        let now = self.ports.clock.now();
        let meeting = match self.ports.meetings.update_meeting(view.meeting.id, change, now).await.map_err(DomainError::from)? {
            Guarded::Applied(meeting) => meeting,
            Guarded::WrongState(current) => return Err(immutable(current).into()),
            Guarded::Missing => return Err(DomainError::NotFound("meeting").into()),
        };
        Ok(update_meeting::Response::Ok(Json(meeting_model(MeetingView { meeting, my_role: view.my_role }))))
    }

    async fn start_meeting(&self, caller: &Caller, request: start_meeting::Request) -> ApiResult<start_meeting::Response> {
        let view = self.transition(request.meeting_id, caller.user_id, Transition::Start).await?;
        Ok(start_meeting::Response::Ok(Json(meeting_model(view))))
    }

    async fn end_meeting(&self, caller: &Caller, request: end_meeting::Request) -> ApiResult<end_meeting::Response> {
        let view = self.transition(request.meeting_id, caller.user_id, Transition::End).await?;
        Ok(end_meeting::Response::Ok(Json(meeting_model(view))))
    }

    async fn cancel_meeting(&self, caller: &Caller, request: cancel_meeting::Request) -> ApiResult<cancel_meeting::Response> {
        let view = self.transition(request.meeting_id, caller.user_id, Transition::Cancel).await?;
        Ok(cancel_meeting::Response::Ok(Json(meeting_model(view))))
    }

    async fn join_meeting(&self, caller: &Caller, request: join_meeting::Request) -> ApiResult<join_meeting::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let role = view.my_role.ok_or_else(|| DomainError::Forbidden("only participants may enter the meeting room".into()))?;
        match view.meeting.status {
            MeetingStatus::InProgress => {}
            MeetingStatus::Scheduled if role == ParticipantRole::Host => {}
            MeetingStatus::Scheduled => {
                return Err(DomainError::conflict("meeting_not_started", "the host has not started the meeting yet").into());
            }
            MeetingStatus::Completed | MeetingStatus::Cancelled => {
                return Err(DomainError::conflict("meeting_ended", "the meeting is over").into());
            }
        }
        // Placed before a host's join starts the meeting, so a join answered 503 changes nothing.
        let node = self.ports.directory.place(view.meeting.id).await.map_err(|e| DomainError::Unavailable(e.to_string()))?;
        let meeting = match view.meeting.status {
            MeetingStatus::Scheduled => self.start_for_join(&view.meeting).await?,
            _ => view.meeting,
        };
        if !self.ports.rooms.has_seat_for(meeting.id, caller.user_id).await {
            return Err(DomainError::Conflict {
                code: "room_full",
                message: "the meeting room is full".into(),
                details: vec![("capacity", self.config.room.capacity.into())],
            }
            .into());
        }
        let now = self.ports.clock.now();
        let token = self.keys.issue_room(caller.user_id, meeting.id, now)?;
        Ok(join_meeting::Response::Ok(Json(JoinMeetingResponse {
            room_token: token.token,
            signaling_url: format!("{node}/ws/room/{}", meeting.id),
            ice_servers: ice::ice_servers(&self.config.room.ice, caller.user_id, now),
            expires_at: token.expires_at,
        })))
    }

    async fn leave_meeting(&self, caller: &Caller, request: leave_meeting::Request) -> ApiResult<leave_meeting::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        self.ports.rooms.remove(view.meeting.id, caller.user_id, Departure::Left).await;
        Ok(leave_meeting::Response::NoContent)
    }
}

impl Mit {
    /// The meeting as `user` sees it, or 404 when it does not exist or is invisible to them.
    pub(crate) async fn visible_meeting(&self, meeting: Uuid, user: Uuid) -> Result<MeetingView, DomainError> {
        self.ports.meetings.meeting_for(meeting, user).await?.ok_or(DomainError::NotFound("meeting"))
    }

    /// Applies a host's state change; of concurrent callers exactly one succeeds.
    async fn transition(&self, meeting: Uuid, user: Uuid, transition: Transition) -> Result<MeetingView, DomainError> {
        let view = self.visible_meeting(meeting, user).await?;
        require_host(&view)?;
        let now = self.ports.clock.now();
        let meeting = match self.ports.meetings.transition(meeting, transition.from(), transition.to(), now).await? {
            Guarded::Applied(meeting) => meeting,
            Guarded::WrongState(current) => return Err(DomainError::transition(current.as_str(), transition.to().as_str())),
            Guarded::Missing => return Err(DomainError::NotFound("meeting")),
        };
        if is_over(meeting.status) {
            let ending = if meeting.status == MeetingStatus::Cancelled { Ending::Cancelled } else { Ending::Completed };
            self.ports.rooms.close(meeting.id, ending).await;
        }
        Ok(MeetingView { meeting, my_role: view.my_role })
    }

    /// A host entering a scheduled meeting starts it (someone else may have just done so).
    async fn start_for_join(&self, meeting: &MeetingRecord) -> Result<MeetingRecord, DomainError> {
        let now = self.ports.clock.now();
        match self.ports.meetings.transition(meeting.id, Transition::Start.from(), Transition::Start.to(), now).await? {
            Guarded::Applied(started) => Ok(started),
            Guarded::WrongState(MeetingStatus::InProgress) => Ok(MeetingRecord { status: MeetingStatus::InProgress, ..meeting.clone() }),
            Guarded::WrongState(_) => Err(DomainError::conflict("meeting_ended", "the meeting is over")),
            Guarded::Missing => Err(DomainError::NotFound("meeting")),
        }
    }
}

/// 403 unless the caller hosts the meeting.
pub(crate) fn require_host(view: &MeetingView) -> Result<(), DomainError> {
    match view.my_role {
        Some(ParticipantRole::Host) => Ok(()),
        _ => Err(DomainError::Forbidden("only a host of the meeting may do this".into())),
    }
}

/// 409 `immutable` for a meeting that is over.
pub(crate) fn immutable(current: MeetingStatus) -> DomainError {
    DomainError::Conflict {
        code: "immutable",
        message: format!("the meeting is {current} and can no longer be changed"),
        details: vec![("current", current.as_str().into())],
    }
}

fn clean_title(title: &str) -> Result<String, DomainError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(DomainError::invalid("title", "the title must not be blank"));
    }
    Ok(title.to_string())
}

pub(crate) fn clearable<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

/// A meeting as the contract shows it to one caller.
pub(crate) fn meeting_model(view: MeetingView) -> Meeting {
    let m = view.meeting;
    Meeting {
        id: m.id,
        team_id: m.team_id,
        title: m.title,
        description: m.description,
        status: m.status,
        scheduled_at: m.scheduled_at,
        started_at: m.started_at,
        ended_at: m.ended_at,
        creator: user_ref_model(m.creator),
        auto_record: m.auto_record,
        recording_active: m.recording.since.is_some(),
        participant_count: m.participant_count,
        my_role: view.my_role,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}
