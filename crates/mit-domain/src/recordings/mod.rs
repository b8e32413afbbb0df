//! Server-side recordings: who may see and fetch them, and turning recording on and off. The
//! recorder itself (files, uploads, crash recovery) is the server's; here are the rules.

pub mod range;

use std::ops::RangeInclusive;

use mit_api::server::RecordingsApi;
use mit_api::server::models::{DownloadUrl, Recording, RecordingPage, RecordingState, RecordingStatus};
use mit_api::server::ops::{
    download_recording, download_recording_file, get_recording, get_recording_download_url, get_recording_state, list_recordings,
    start_recording, stop_recording,
};
use mit_api::server::runtime::{FileBody, Json, MediaTypes, Uri};
use uuid::Uuid;

use crate::auth::tokens::FileGrant;
use crate::error::{ApiResult, DomainError};
use crate::meetings::require_host;
use crate::paging::PageRequest;
use crate::ports::meetings::{Guarded, MeetingView, RecordingFlag};
use crate::ports::recordings::{FileError, FileReader, RecordingRecord};
use crate::users::user_ref_model;
use crate::{Caller, Mit};

/// `Accept-Ranges` on every download.
const ACCEPT_RANGES: &str = "bytes";

impl RecordingsApi for Mit {
    async fn list_recordings(&self, caller: &Caller, request: list_recordings::Request) -> ApiResult<list_recordings::Response> {
        let view = self.participant_view(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.recordings.recordings(view.meeting.id, paging).await.map_err(DomainError::from)?;
        Ok(list_recordings::Response::Ok(Json(RecordingPage {
            items: page.items.into_iter().map(recording_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn get_recording(&self, caller: &Caller, request: get_recording::Request) -> ApiResult<get_recording::Response> {
        let recording = self.participant_recording(request.meeting_id, request.recording_id, caller.user_id).await?;
        Ok(get_recording::Response::Ok(Json(recording_model(recording))))
    }

    async fn download_recording(&self, caller: &Caller, request: download_recording::Request) -> ApiResult<download_recording::Response> {
        let recording = self.participant_recording(request.meeting_id, request.recording_id, caller.user_id).await?;
        let size = ready_size(&recording)?;
        let part = self.read_part(&recording, size, request.range.as_deref()).await?;
        Ok(match part {
            Part::Whole(body) => download_recording::Response::Ok(body, ACCEPT_RANGES.into()),
            Part::Range(body, content_range) => download_recording::Response::PartialContent(body, ACCEPT_RANGES.into(), content_range),
        })
    }

    async fn get_recording_download_url(
        &self,
        caller: &Caller,
        request: get_recording_download_url::Request,
    ) -> ApiResult<get_recording_download_url::Response> {
        let recording = self.participant_recording(request.meeting_id, request.recording_id, caller.user_id).await?;
        ready_size(&recording)?;
        let ttl = self.config.recordings.link_ttl;
        let now = self.ports.clock.now();
        let (url, expires_at) = match self.ports.files.presigned_url(&recording.storage_key, ttl) {
            Some(url) => (url, now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::zero())),
            None => {
                let grant = FileGrant { meeting_id: recording.meeting_id, recording_id: recording.id };
                let issued = self.keys.issue_file(grant, ttl, now)?;
                (format!("{}/api/v1/recording-files/{}", self.config.public_url, issued.token), issued.expires_at)
            }
        };
        let url = Uri::parse(&url).map_err(|e| DomainError::Internal(format!("a download URL does not parse: {e}")))?;
        Ok(get_recording_download_url::Response::Ok(Json(DownloadUrl { url, expires_at })))
    }

    async fn download_recording_file(&self, request: download_recording_file::Request) -> ApiResult<download_recording_file::Response> {
        // Whatever is wrong with the link, the answer is the same 404: a probe learns nothing.
        let grant = self.keys.verify_file(&request.token).map_err(|_| DomainError::NotFound("recording"))?;
        let recording = self.ports.recordings.recording(grant.meeting_id, grant.recording_id).await.map_err(DomainError::from)?;
        let recording = recording.filter(|r| r.status == RecordingStatus::Ready).ok_or(DomainError::NotFound("recording"))?;
        let size = stored_size(&recording);
        let part = self.read_part(&recording, size, request.range.as_deref()).await?;
        Ok(match part {
            Part::Whole(body) => download_recording_file::Response::Ok(body, ACCEPT_RANGES.into()),
            Part::Range(body, content_range) => {
                download_recording_file::Response::PartialContent(body, ACCEPT_RANGES.into(), content_range)
            }
        })
    }

    async fn get_recording_state(
        &self,
        caller: &Caller,
        request: get_recording_state::Request,
    ) -> ApiResult<get_recording_state::Response> {
        let view = self.visible_meeting(request.meeting_id, caller.user_id).await?;
        Ok(get_recording_state::Response::Ok(Json(state_model(view.meeting.recording))))
    }

    async fn start_recording(&self, caller: &Caller, request: start_recording::Request) -> ApiResult<start_recording::Response> {
        let recording = self.set_recording(request.meeting_id, caller.user_id, true).await?;
        Ok(start_recording::Response::Ok(Json(state_model(recording))))
    }

    async fn stop_recording(&self, caller: &Caller, request: stop_recording::Request) -> ApiResult<stop_recording::Response> {
        let recording = self.set_recording(request.meeting_id, caller.user_id, false).await?;
        Ok(stop_recording::Response::Ok(Json(state_model(recording))))
    }
}

/// A download: the whole file, or one range with its `Content-Range`.
enum Part<M> {
    Whole(FileBody<M>),
    Range(FileBody<M>, String),
}

impl Mit {
    /// The meeting, if the caller takes part in it (403 for someone who only sees it).
    async fn participant_view(&self, meeting: Uuid, user: Uuid) -> Result<MeetingView, DomainError> {
        let view = self.visible_meeting(meeting, user).await?;
        if view.my_role.is_none() {
            return Err(DomainError::Forbidden("only participants of the meeting may see its recordings".into()));
        }
        Ok(view)
    }

    /// One recording of a meeting the caller takes part in.
    async fn participant_recording(&self, meeting: Uuid, recording: Uuid, user: Uuid) -> Result<RecordingRecord, DomainError> {
        let view = self.participant_view(meeting, user).await?;
        self.ports.recordings.recording(view.meeting.id, recording).await?.ok_or(DomainError::NotFound("recording"))
    }

    /// A host turns recording on or off; the room hears about it.
    async fn set_recording(&self, meeting: Uuid, user: Uuid, on: bool) -> Result<RecordingFlag, DomainError> {
        let view = self.visible_meeting(meeting, user).await?;
        require_host(&view)?;
        let now = self.ports.clock.now();
        let recording = match self.ports.meetings.set_recording(meeting, on, now).await? {
            Guarded::Applied(recording) => recording,
            Guarded::WrongState(current) => return Err(DomainError::transition(current.as_str(), "recording")),
            Guarded::Missing => return Err(DomainError::NotFound("meeting")),
        };
        self.ports.rooms.set_recording(meeting, recording).await;
        Ok(recording)
    }

    async fn read_part<M: MediaTypes>(&self, recording: &RecordingRecord, size: u64, range: Option<&str>) -> Result<Part<M>, DomainError> {
        let media_type = recording.media_type.clone();
        match range::byte_range(range, size)? {
            None => {
                let reader = self.read(recording, 0..=size.saturating_sub(1), size).await?;
                Ok(Part::Whole(FileBody::streamed(media_type, reader, size)))
            }
            Some(range) => {
                let content_range = format!("bytes {}-{}/{size}", range.start(), range.end());
                let length = range.end() - range.start() + 1;
                let reader = self.read(recording, range, size).await?;
                Ok(Part::Range(FileBody::streamed(media_type, reader, length), content_range))
            }
        }
    }

    async fn read(&self, recording: &RecordingRecord, range: RangeInclusive<u64>, size: u64) -> Result<FileReader, DomainError> {
        if size == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        self.ports.files.read(&recording.storage_key, range).await.map_err(|error| match error {
            FileError::Unavailable(message) => DomainError::Unavailable(message),
            FileError::Missing(key) => DomainError::Internal(format!("recording {} is ready but object {key} is missing", recording.id)),
        })
    }
}

/// The size of a ready recording; 409 `not_ready` for any other.
fn ready_size(recording: &RecordingRecord) -> Result<u64, DomainError> {
    if recording.status != RecordingStatus::Ready {
        return Err(DomainError::Conflict {
            code: "not_ready",
            message: format!("the recording is {}; it can be fetched once it is ready", recording.status.as_str()),
            details: vec![("status", recording.status.as_str().into())],
        });
    }
    Ok(stored_size(recording))
}

/// The file size a recording's row states.
fn stored_size(recording: &RecordingRecord) -> u64 {
    recording.size_bytes.and_then(|size| u64::try_from(size).ok()).unwrap_or(0)
}

fn state_model(recording: RecordingFlag) -> RecordingState {
    RecordingState { active: recording.since.is_some(), started_at: recording.since }
}

fn recording_model(recording: RecordingRecord) -> Recording {
    Recording {
        id: recording.id,
        meeting_id: recording.meeting_id,
        participant: user_ref_model(recording.participant),
        kind: recording.kind,
        source: recording.source,
        media_type: recording.media_type,
        status: recording.status,
        started_at: recording.started_at,
        ended_at: recording.ended_at,
        duration_ms: recording.duration_ms,
        size_bytes: recording.size_bytes,
        failure_reason: recording.failure_reason,
    }
}
