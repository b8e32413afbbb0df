//! Live events: the outbox relay, this node's fan-out, and the `/ws/events` socket
//! (`api-contract/events.yaml`).

pub mod hub;
pub mod messages;
pub mod relay;
mod session;

use std::collections::HashMap;
use std::sync::Arc;

use mit_api::server::runtime::ApiError;
use mit_domain::Mit;
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};

pub use hub::EventHub;

/// What the events endpoint needs.
pub struct EventsPlane {
    /// The domain.
    pub mit: Arc<Mit>,
    /// This node's fan-out.
    pub hub: EventHub,
}

/// `GET /ws/events?ticket=<ticket>`: upgrades, then checks the ticket (a refusal is a close code).
#[handler]
pub async fn events_socket(
    Query(query): Query<HashMap<String, String>>,
    socket: poem::Result<WebSocket>,
    Data(plane): Data<&Arc<EventsPlane>>,
) -> Response {
    let Ok(socket) = socket else {
        return ApiError::malformed("this endpoint speaks WebSocket: send an Upgrade request").into_response();
    };
    let (mit, hub) = (plane.mit.clone(), plane.hub.clone());
    let ticket = query.get("ticket").cloned();
    // Frames beyond this close the socket outright; smaller ones over the limit get an `error`.
    let config = WebSocketConfig::default()
        .max_message_size(Some(4 * messages::MAX_MESSAGE_BYTES))
        .max_frame_size(Some(4 * messages::MAX_MESSAGE_BYTES))
        // tungstenite zero-fills its whole read buffer on every read attempt, and the socket's
        // loop reads again after every event it forwards: at the default 128 KiB that memset was
        // 62% of a node's CPU under fan-out (`perf`, `cargo xtask bench events`).
        .read_buffer_size(messages::MAX_MESSAGE_BYTES);
    socket.config(config).on_upgrade(move |stream| session::serve(mit, hub, ticket, stream)).into_response()
}
