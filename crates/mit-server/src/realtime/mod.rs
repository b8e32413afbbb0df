//! Realtime: the signalling WebSocket (`/ws/room/{meeting_id}`) and the live rooms behind it.

pub mod messages;
pub mod registry;
pub mod room;
mod session;
pub(crate) mod throttle;

use std::collections::HashMap;
use std::sync::Arc;

use mit_api::server::runtime::ApiError;
use mit_domain::Mit;
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use uuid::Uuid;

pub use registry::RoomRegistry;

/// The socket's initial read buffer: most client messages (ICE candidates, media state) fit.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// What the signalling endpoint needs.
pub struct Realtime {
    /// The domain.
    pub mit: Arc<Mit>,
    /// The rooms on this node.
    pub rooms: Arc<RoomRegistry>,
    /// Which node hosts each room.
    pub directory: Arc<crate::cluster::Directory>,
}

/// `GET /ws/room/{meeting_id}?token=<room_token>`: upgrades, then admits or refuses with a close
/// code (a refusal before the upgrade would reach a browser as a bare HTTP 403).
#[handler]
pub async fn room_socket(
    Path(meeting): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    socket: poem::Result<WebSocket>,
    Data(realtime): Data<&Arc<Realtime>>,
) -> Response {
    let Ok(socket) = socket else {
        return ApiError::malformed("this endpoint speaks WebSocket: send an Upgrade request").into_response();
    };
    let realtime = Arc::clone(realtime);
    let meeting = meeting.parse::<Uuid>().ok();
    let token = query.get("token").cloned();
    // Frames beyond this close the socket outright; smaller ones over the protocol's limit get an
    // `error` and the socket stays up.
    let config = WebSocketConfig::default()
        .max_message_size(Some(4 * messages::MAX_MESSAGE_BYTES))
        .max_frame_size(Some(4 * messages::MAX_MESSAGE_BYTES))
        // tungstenite zero-fills its whole read buffer on every read attempt, and the loop reads
        // again after every message it sends; larger messages (SDP) grow the buffer as needed.
        .read_buffer_size(READ_BUFFER_BYTES);
    socket.config(config).on_upgrade(move |stream| session::serve(realtime, meeting, token, stream)).into_response()
}
