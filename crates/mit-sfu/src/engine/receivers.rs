//! Every audio and video m-line a client opens must be able to carry media to the server later.
//!
//! `rtc` 0.21 gives a transceiver a receiver when it is created with a receiving direction, or
//! never. An m-line the client opens receive-only would get a send-only transceiver on the
//! server, so when the client later turns on a microphone the way browsers do (`addTrack` reuses
//! an audio m-line that has sent nothing yet and makes it sendrecv), its packets would never
//! surface as a track. Before a client offer is applied, the server therefore provides
//! transceivers that have a receiver for exactly the new m-lines `rtc` would otherwise create
//! on its own; applying the offer pairs them with those m-lines.
//!
//! And an m-line the server has nothing to send on answers `recvonly` or `inactive`, never
//! `sendonly` without a track (browsers would fire `ontrack` for it: a frontend's empty tile).

use std::collections::HashSet;

use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverId};

use rtc::sdp::description::media::MediaDescription;

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

/// New audio or video m-lines of one kind in a client offer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct NewLines {
    /// Receive-only from the client's side: paired with a pending subscriber leg first.
    receiving: usize,
    /// Sending and receiving: paired with a send-and-receive transceiver.
    both: usize,
}

/// Whether the offer's m-line `mid` sends media (`None`: the offer has no such m-line).
fn client_sends_on(media: &[MediaDescription], mid: &str) -> Option<bool> {
    let section = media.iter().find(|m| matches!(m.attribute("mid"), Some(Some(found)) if found == mid))?;
    Some(!section.has_attribute("recvonly") && !section.has_attribute("inactive"))
}

/// The direction of an m-line the server has nothing to send on.
fn idle_direction(client_sends: bool) -> RTCRtpTransceiverDirection {
    if client_sends { RTCRtpTransceiverDirection::Recvonly } else { RTCRtpTransceiverDirection::Inactive }
}

fn new_lines(media: &[MediaDescription], kind: RtpCodecKind, known: &HashSet<String>) -> NewLines {
    let mut lines = NewLines::default();
    for section in media.iter().filter(|m| RtpCodecKind::from(m.media_name.media.as_str()) == kind) {
        let Some(Some(mid)) = section.attribute("mid") else { continue };
        if known.contains(mid) {
            continue;
        }
        if section.has_attribute("recvonly") {
            lines.receiving += 1;
        } else if !section.has_attribute("sendonly") && !section.has_attribute("inactive") {
            lines.both += 1;
        }
    }
    lines
}

/// webrtc-rs pairs a new receive-only m-line with a pending send-only leg first, then with a
/// send-and-receive transceiver; a new sendrecv m-line takes a send-and-receive one too, so those
/// count (or they would take the spares meant for receive-only lines). Send-only and inactive
/// m-lines get receiving transceivers of webrtc-rs's own making.
fn spares_needed(lines: NewLines, pending_legs: usize) -> usize {
    lines.receiving.saturating_sub(pending_legs) + lines.both
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(sections: &[(&str, &str, &str)]) -> Vec<MediaDescription> {
        let mut sdp = String::from("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
        for (kind, mid, direction) in sections {
            sdp.push_str(&format!("m={kind} 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na={direction}\r\n"));
        }
        let parsed = rtc::sdp::description::session::SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes()));
        parsed.map(|d| d.media_descriptions).unwrap_or_default()
    }

    #[test]
    fn only_new_lines_of_the_kind_count() {
        let media =
            offer(&[("audio", "0", "recvonly"), ("audio", "1", "sendrecv"), ("video", "2", "recvonly"), ("audio", "3", "sendonly")]);
        assert_eq!(media.len(), 4);
        let known = HashSet::from(["1".to_string()]);
        assert_eq!(new_lines(&media, RtpCodecKind::Audio, &known), NewLines { receiving: 1, both: 0 });
        assert_eq!(new_lines(&media, RtpCodecKind::Video, &known), NewLines { receiving: 1, both: 0 });
        assert_eq!(new_lines(&media, RtpCodecKind::Audio, &HashSet::new()), NewLines { receiving: 1, both: 1 });
    }

    #[test]
    fn an_idle_line_receives_what_the_client_sends_and_is_otherwise_inactive() {
        let media =
            offer(&[("audio", "0", "recvonly"), ("audio", "1", "sendrecv"), ("video", "2", "sendonly"), ("video", "3", "inactive")]);
        let directions: Vec<Option<RTCRtpTransceiverDirection>> =
            ["0", "1", "2", "3", "9"].iter().map(|mid| client_sends_on(&media, mid).map(idle_direction)).collect();
        use RTCRtpTransceiverDirection::{Inactive, Recvonly};
        assert_eq!(directions, [Some(Inactive), Some(Recvonly), Some(Recvonly), Some(Inactive), None]);
    }

    #[test]
    fn pending_legs_take_receive_only_lines_first() {
        assert_eq!(spares_needed(NewLines { receiving: 2, both: 1 }, 1), 2);
        assert_eq!(spares_needed(NewLines { receiving: 1, both: 0 }, 3), 0);
        assert_eq!(spares_needed(NewLines { receiving: 0, both: 2 }, 3), 2);
    }
}
