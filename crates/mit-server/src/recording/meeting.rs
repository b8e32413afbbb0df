//! One meeting's recorder: a `RoomObserver` of the SFU room that starts a `TrackRecorder` for
//! each publication while recording is on, and stops it when the publication ends (a participant
//! who leaves and comes back gets a new file) or recording is turned off.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::Utc;
use mit_api::server::models::{RecordingKind, RecordingSource};
use mit_sfu::recording::{Container, TrackRecorder};
use mit_sfu::{Publication, PublicationKey, RoomObserver, Source};
use tokio::sync::oneshot;
use uuid::Uuid;

use mit_domain::ports::recorder::NewRecording;

use super::{Shared, retrying};

/// How long the row of a file being written is retried while the database is down.
const INSERT_RETRY_FOR: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
struct State {
    active: bool,
    publications: HashMap<PublicationKey, Weak<Publication>>,
    /// Tracks being written: which publication (the same key can be published anew before the
    /// old publication's end arrives) and the switch that stops its file.
    writing: HashMap<PublicationKey, (Weak<Publication>, oneshot::Sender<()>)>,
}

/// Records one meeting's publications while recording is on.
pub struct MeetingRecorder {
    meeting: Uuid,
    shared: Arc<Shared>,
    state: Mutex<State>,
}

impl MeetingRecorder {
    pub(super) fn new(meeting: Uuid, shared: Arc<Shared>) -> Self {
        Self { meeting, shared, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is a single insert, remove or flag write: a poisoned lock is consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Turns recording on (every current publication starts a file) or off (every file is
    /// finished and handed over for upload).
    pub fn set_active(&self, active: bool) {
        let mut state = self.state();
        if state.active == active {
            return;
        }
        state.active = active;
        if active {
            let live: Vec<Arc<Publication>> = state.publications.values().filter_map(Weak::upgrade).collect();
            for publication in live {
                self.begin(&mut state, &publication);
            }
        } else {
            for (_, (_, stop)) in state.writing.drain() {
                let _ = stop.send(());
            }
        }
    }

    /// Starts writing `publication`; the file's life (row, finish, hand-over) runs as a task.
    fn begin(&self, state: &mut State, publication: &Arc<Publication>) {
        let key = publication.key();
        let container = Container::for_kind(publication.kind());
        let id = Uuid::now_v7();
        let file = format!("{id}.{}", container.extension());
        let path: PathBuf = self.shared.live_root.join(self.meeting.to_string()).join(&file);
        let _on_the_server_runtime = self.shared.runtime.enter();
        // Subscribing asks the publisher for a keyframe: nothing before one is playable.
        let recorder = TrackRecorder::start(publication, path.clone());
        let (stop, stopped) = oneshot::channel();
        if let Some((_, previous)) = state.writing.insert(key, (Arc::downgrade(publication), stop)) {
            let _ = previous.send(());
        }
        let new = NewRecording {
            id,
            meeting_id: self.meeting,
            user_id: key.user,
            kind: if container == Container::OggOpus { RecordingKind::Audio } else { RecordingKind::Video },
            source: source_of(key.source),
            media_type: container.media_type(),
            node: self.shared.node.clone(),
            file_path: path.to_string_lossy().into_owned(),
            storage_key: format!("recordings/{}/{file}", self.meeting),
            started_at: Utc::now(),
        };
        self.shared.tasks.spawn(write_track(self.shared.clone(), new, container, recorder, stopped));
    }
}

impl RoomObserver for MeetingRecorder {
    fn publication_started(&self, publication: &Arc<Publication>, _resumed: bool) {
        let mut state = self.state();
        let key = publication.key();
        state.publications.insert(key, Arc::downgrade(publication));
        // A resumed publication is the same one with a new feed: its file carries on.
        let writing_it = state.writing.get(&key).is_some_and(|(written, _)| is(written, publication));
        if state.active && !writing_it {
            self.begin(&mut state, publication);
        }
    }

    fn publication_ended(&self, publication: &Arc<Publication>) {
        let key = publication.key();
        let stop = {
            let mut state = self.state();
            if state.publications.get(&key).is_some_and(|known| is(known, publication)) {
                state.publications.remove(&key);
            }
            match state.writing.get(&key) {
                Some((written, _)) if is(written, publication) => state.writing.remove(&key).map(|(_, stop)| stop),
                _ => None,
            }
        };
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }
}

/// One file from start to hand-over. The row is written first thing (so a crash after it leaves
/// something to recover); the recorder is already buffering packets meanwhile.
async fn write_track(
    shared: Arc<Shared>,
    new: NewRecording,
    container: Container,
    recorder: TrackRecorder,
    stopped: oneshot::Receiver<()>,
) {
    // The file is being written meanwhile; without its row a crash could not recover it, so the
    // database gets a long time to come back.
    let recorded = retrying("record a new recording", INSERT_RETRY_FOR, || shared.store.insert_recording(&new)).await;
    // A dropped switch (the meeting recorder is gone) stops the file too.
    let _ = stopped.await;
    let result = recorder.finish().await;
    if !recorded {
        tracing::error!(file = %new.file_path, "a recording was written but never entered in the database; it is left on disk");
        return;
    }
    shared.settle(new.id, container, Path::new(&new.file_path), result, Utc::now()).await;
}

/// Whether `weak` points at `publication`.
fn is(weak: &Weak<Publication>, publication: &Arc<Publication>) -> bool {
    std::ptr::eq(weak.as_ptr(), Arc::as_ptr(publication))
}

fn source_of(source: Source) -> RecordingSource {
    match source {
        Source::Microphone => RecordingSource::Microphone,
        Source::Camera => RecordingSource::Camera,
        Source::Screen => RecordingSource::Screen,
    }
}
