//! What the server's candidates say. webrtc-rs names a connection's host candidates after the
//! sockets it bound for it (ephemeral ports, see [`crate::mux::runtime`]); peers must use the
//! node's one UDP port (and TCP port) instead, and behind 1:1 NAT the public address (webrtc-rs
//! 0.21.1 keeps `SettingEngine::with_nat_1to1_ips` but never applies it). So the SFU rewrites
//! the host candidates and connection lines it sends; ICE inside webrtc-rs still matches by its
//! own addresses, since the ports hand everything to the right connection. The server is only
//! ever the passive end of ICE over TCP (it never dials out), so its active TCP candidates are
//! not sent at all.

use std::net::SocketAddr;

/// The addresses webrtc-rs put in a connection's candidates, and the ones peers must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The UDP candidate's address inside webrtc-rs.
    pub internal: SocketAddr,
    /// The node's UDP port (on the public address behind 1:1 NAT).
    pub announced: SocketAddr,
    /// The passive TCP candidate's address inside webrtc-rs, and the node's TCP port.
    pub tcp: Option<(SocketAddr, SocketAddr)>,
}

impl Announcement {
    /// Where a candidate on `transport` naming `address` must point instead, if it names one of
    /// ours.
    fn moved(&self, transport: &str, address: &str, port: &str) -> Option<SocketAddr> {
        let names = |internal: SocketAddr| address == internal.ip().to_string() && port == internal.port().to_string();
        match transport.to_ascii_lowercase().as_str() {
            "udp" if names(self.internal) => Some(self.announced),
            "tcp" => self.tcp.filter(|(internal, _)| names(*internal)).map(|(_, announced)| announced),
            _ => None,
        }
    }
}

/// `sdp` with every host candidate and connection line moved to the announced addresses.
pub fn announce_sdp(sdp: &str, announcement: &Announcement) -> String {
    let internal_ip = announcement.internal.ip().to_string();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (content, ending) = split_ending(line);
        if content.starts_with("a=candidate:") {
            let Some(candidate) = announce_candidate(content, announcement) else { continue };
            out.push_str(&candidate);
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

/// One candidate attribute (`a=candidate:…` or a bare `candidate:…`) moved, if it names one of
/// the internal addresses; `None` for an active TCP candidate, which is not sent.
pub fn announce_candidate(candidate: &str, announcement: &Announcement) -> Option<String> {
    if candidate.split(' ').collect::<Vec<_>>().windows(2).any(|pair| pair == ["tcptype", "active"]) {
        return None;
    }
    let mut fields: Vec<String> = candidate.split(' ').map(str::to_string).collect();
    // foundation component TRANSPORT priority ADDRESS PORT typ …
    let moved = match (fields.get(2), fields.get(4), fields.get(5)) {
        (Some(transport), Some(address), Some(port)) => announcement.moved(transport, address, port),
        _ => None,
    };
    if let Some(to) = moved {
        fields[4] = to.ip().to_string();
        fields[5] = to.port().to_string();
    }
    Some(fields.join(" "))
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
        Announcement {
            internal: "10.0.0.5:53211".parse().expect("addr"),
            announced: "198.51.100.7:40000".parse().expect("addr"),
            tcp: Some(("10.0.0.5:53999".parse().expect("addr"), "198.51.100.7:40001".parse().expect("addr"))),
        }
    }

    #[test]
    fn host_candidates_and_connection_lines_move_to_the_nodes_ports_and_public_address() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 2130706431 10.0.0.5 53211 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 53211\r\na=mid:0\r\n";
        assert_eq!(
            announce_sdp(sdp, &behind_nat()),
            "v=0\r\nc=IN IP4 198.51.100.7\r\na=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 53211\r\na=mid:0\r\n"
        );
    }

    #[test]
    fn trickled_candidates_move_too_and_others_stay() {
        let announcement = behind_nat();
        let candidate = "candidate:1 1 udp 2130706431 10.0.0.5 53211 typ host";
        assert_eq!(
            announce_candidate(candidate, &announcement).as_deref(),
            Some("candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host")
        );
        let other = "candidate:1 1 udp 2130706431 10.0.0.6 53211 typ host";
        assert_eq!(announce_candidate(other, &announcement).as_deref(), Some(other));
    }

    #[test]
    fn the_passive_tcp_candidate_moves_to_the_tcp_port_and_the_active_one_is_not_sent() {
        let announcement = behind_nat();
        let passive = "candidate:3 1 tcp 1518280447 10.0.0.5 53999 typ host tcptype passive";
        assert_eq!(
            announce_candidate(passive, &announcement).as_deref(),
            Some("candidate:3 1 tcp 1518280447 198.51.100.7 40001 typ host tcptype passive")
        );
        let active = "candidate:4 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active";
        assert_eq!(announce_candidate(active, &announcement), None);
        let sdp = format!("a=mid:0\r\na={active}\r\na=end-of-candidates\r\n");
        assert_eq!(announce_sdp(&sdp, &announcement), "a=mid:0\r\na=end-of-candidates\r\n");
        let udp_port_on_tcp = "candidate:5 1 tcp 1518280447 10.0.0.5 53211 typ host tcptype passive";
        assert_eq!(announce_candidate(udp_port_on_tcp, &announcement).as_deref(), Some(udp_port_on_tcp));
    }
}
