//! The connection's event handler. Its methods run inside the connection's driver, so each one
//! only hands the event to the peer's actor.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState};

use super::Command;

/// Forwards connection events to the actor.
pub struct Handler {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) gathered: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.commands.send(Command::TrackArrived(track));
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(candidate) = event.candidate.to_json() {
            let _ = self.commands.send(Command::LocalCandidate(candidate));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.gathered.send(state == RTCIceGatheringState::Complete);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.commands.send(Command::ConnectionState(state));
    }
}
