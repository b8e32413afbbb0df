//! The receiving transceivers a client offer needs, and the direction of m-lines the server has
//! nothing to send on: the rules of [`crate::peer::receivers`] (whose module doc says why),
//! applied to an `rtc` connection.

use std::collections::HashSet;

use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverId};

use crate::peer::receivers::{client_sends_on, idle_direction, new_lines, spares_needed};

/// Adds the receiving transceivers `offer` needs and returns them for [`settle`].
pub(super) fn provide(connection: &mut RTCPeerConnection, offer: &RTCSessionDescription) -> Vec<RTCRtpTransceiverId> {
    let Ok(parsed) = offer.unmarshal() else { return Vec::new() };
    let (known, pending) = local_lines(connection);
    let mut spares = Vec::new();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let lines = new_lines(&parsed.media_descriptions, kind, &known);
        let pending_legs = pending.iter().filter(|k| **k == kind).count();
        for _ in 0..spares_needed(lines, pending_legs) {
            let spare = match connection.add_transceiver_from_kind(kind, None) {
                Ok(spare) => spare,
                Err(error) => {
                    tracing::warn!(%error, "cannot prepare a receiving transceiver");
                    continue;
                }
            };
            if let Some(mut transceiver) = connection.rtp_transceiver(spare) {
                transceiver.set_direction(RTCRtpTransceiverDirection::Sendrecv);
            }
            spares.push(spare);
        }
    }
    spares
}

/// After the offer was applied (or refused): an unpaired spare stops, a paired one only receives.
pub(super) fn settle(connection: &mut RTCPeerConnection, spares: Vec<RTCRtpTransceiverId>) {
    for spare in spares {
        let Some(mut transceiver) = connection.rtp_transceiver(spare) else { continue };
        if transceiver.mid().is_none() {
            if let Err(error) = transceiver.stop() {
                tracing::debug!(%error, "settling a receiving transceiver");
            }
        } else if transceiver.direction() == RTCRtpTransceiverDirection::Sendrecv {
            transceiver.set_direction(RTCRtpTransceiverDirection::Recvonly);
        }
    }
}

/// Before answering: m-lines without a subscriber leg answer `recvonly` or `inactive`.
pub(super) fn quiet_idle_lines(connection: &mut RTCPeerConnection, offer: &RTCSessionDescription, legs: &HashSet<RTCRtpTransceiverId>) {
    let Ok(parsed) = offer.unmarshal() else { return };
    let ids: Vec<RTCRtpTransceiverId> = connection.get_transceivers().collect();
    for id in ids {
        if legs.contains(&id) {
            continue;
        }
        let Some(mut transceiver) = connection.rtp_transceiver(id) else { continue };
        let Some(mid) = transceiver.mid().clone() else { continue };
        let Some(client_sends) = client_sends_on(&parsed.media_descriptions, &mid) else { continue };
        let wanted = idle_direction(client_sends);
        if transceiver.direction() != wanted {
            transceiver.set_direction(wanted);
        }
    }
}

/// The mids the server already knows, and the kinds of its send-only m-lines not yet negotiated.
fn local_lines(connection: &mut RTCPeerConnection) -> (HashSet<String>, Vec<RtpCodecKind>) {
    let mut known = HashSet::new();
    let mut pending = Vec::new();
    let ids: Vec<RTCRtpTransceiverId> = connection.get_transceivers().collect();
    for id in ids {
        let Some(transceiver) = connection.rtp_transceiver(id) else { continue };
        match transceiver.mid().clone() {
            Some(mid) => {
                known.insert(mid);
            }
            None if transceiver.direction() == RTCRtpTransceiverDirection::Sendonly => {
                if let Some(sender) = transceiver.sender() {
                    pending.push(sender);
                }
            }
            None => {}
        }
    }
    let kinds = pending.into_iter().filter_map(|sender| connection.rtp_sender(sender).map(|s| s.track().kind())).collect();
    (known, kinds)
}
