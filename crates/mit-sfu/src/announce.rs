//! What the server's candidates say. webrtc-rs names a connection's host candidate after the
//! socket it bound for it (an ephemeral port, see [`crate::mux::runtime`]); peers must send to
//! the node's one UDP port instead, and behind 1:1 NAT to the public address (webrtc-rs 0.21.1
//! keeps `SettingEngine::with_nat_1to1_ips` but never applies it). So the SFU rewrites the host
//! candidates and connection lines it sends; ICE inside webrtc-rs still matches by its own
//! address, since the port hands every datagram to the right connection.

use std::net::SocketAddr;

/// The address webrtc-rs put in a connection's candidates, and the one peers must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The candidate's address inside webrtc-rs.
    pub internal: SocketAddr,
    /// The node's port (on the public address behind 1:1 NAT).
    pub announced: SocketAddr,
}

/// `sdp` with every host candidate and connection line moved to the announced address.
pub fn announce_sdp(sdp: &str, announcement: &Announcement) -> String {
    let internal_ip = announcement.internal.ip().to_string();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (content, ending) = split_ending(line);
        if content.starts_with("a=candidate:") {
            out.push_str(&announce_candidate(content, announcement));
        } else if let Some(address) = content.strip_prefix("c=IN IP4 ").or_else(|| content.strip_prefix("c=IN IP6 ")) {
            if address == internal_ip {
                let public = announcement.announced.ip();
                let family = if public.is_ipv4() { "IP4" } else { "IP6" };
                out.push_str(&format!("c=IN {family} {public}"));
            } else {
                out.push_str(content);
            }
        } else {
            out.push_str(content);
        }
        out.push_str(ending);
    }
    out
}

/// One candidate attribute (`a=candidate:…` or a bare `candidate:…`) moved, if it names the
/// internal address.
pub fn announce_candidate(candidate: &str, announcement: &Announcement) -> String {
    let mut fields: Vec<String> = candidate.split(' ').map(str::to_string).collect();
    // foundation component transport priority ADDRESS PORT typ …
    let names_internal = fields.get(4).is_some_and(|ip| *ip == announcement.internal.ip().to_string())
        && fields.get(5).is_some_and(|port| *port == announcement.internal.port().to_string());
    if names_internal {
        fields[4] = announcement.announced.ip().to_string();
        fields[5] = announcement.announced.port().to_string();
    }
    fields.join(" ")
}

fn split_ending(line: &str) -> (&str, &str) {
    if let Some(content) = line.strip_suffix("\r\n") {
        (content, "\r\n")
    } else if let Some(content) = line.strip_suffix('\n') {
        (content, "\n")
    } else {
        (line, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behind_nat() -> Announcement {
        Announcement { internal: "10.0.0.5:53211".parse().expect("addr"), announced: "198.51.100.7:40000".parse().expect("addr") }
    }

    #[test]
    fn host_candidates_and_connection_lines_move_to_the_nodes_port_and_public_address() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 2130706431 10.0.0.5 53211 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 53211\r\na=mid:0\r\n";
        assert_eq!(
            announce_sdp(sdp, &behind_nat()),
            "v=0\r\nc=IN IP4 198.51.100.7\r\na=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 53211\r\na=mid:0\r\n"
        );
    }

    #[test]
    fn trickled_candidates_move_too_and_others_stay() {
        let candidate = "candidate:1 1 udp 2130706431 10.0.0.5 53211 typ host";
        assert_eq!(announce_candidate(candidate, &behind_nat()), "candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host");
        let other = "candidate:1 1 udp 2130706431 10.0.0.6 53211 typ host";
        assert_eq!(announce_candidate(other, &behind_nat()), other);
    }

    #[test]
    fn without_nat_only_the_port_changes() {
        let local =
            Announcement { internal: "127.0.0.1:53211".parse().expect("addr"), announced: "127.0.0.1:40000".parse().expect("addr") };
        let candidate = "candidate:1 1 udp 2130706431 127.0.0.1 53211 typ host";
        assert_eq!(announce_candidate(candidate, &local), "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host");
    }
}
