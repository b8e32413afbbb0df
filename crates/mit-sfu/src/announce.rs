//! Announcing a public address for the server's candidates behind 1:1 NAT. webrtc-rs 0.21.1
//! keeps `SettingEngine::with_nat_1to1_ips` but never applies it, so the SFU rewrites the host
//! candidates it sends: peers then send to the public address, the NAT delivers to the bound one,
//! and ICE matches by socket, not by the address the packet was sent to.

use std::net::IpAddr;

/// `sdp` with every candidate and connection line on `bound` moved to `public`.
pub fn announce_sdp(sdp: &str, bound: IpAddr, public: IpAddr) -> String {
    let bound_text = bound.to_string();
    let public_text = public.to_string();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (content, ending) = split_ending(line);
        if content.starts_with("a=candidate:") {
            out.push_str(&announce_candidate(content, &bound_text, &public_text));
        } else if let Some(address) = content.strip_prefix("c=IN IP4 ").or_else(|| content.strip_prefix("c=IN IP6 ")) {
            if address == bound_text {
                let family = if public.is_ipv4() { "IP4" } else { "IP6" };
                out.push_str(&format!("c=IN {family} {public_text}"));
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

/// One candidate attribute (`a=candidate:…` or a bare `candidate:…`) with its address moved.
pub fn announce_candidate(candidate: &str, bound: &str, public: &str) -> String {
    let mut fields: Vec<&str> = candidate.split(' ').collect();
    // foundation component transport priority ADDRESS port typ …
    if fields.get(4) == Some(&bound) {
        fields[4] = public;
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

    #[test]
    fn host_candidates_and_connection_lines_move_to_the_public_address() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 40000\r\na=mid:0\r\n";
        let announced = announce_sdp(sdp, "10.0.0.5".parse().expect("ip"), "198.51.100.7".parse().expect("ip"));
        assert_eq!(
            announced,
            "v=0\r\nc=IN IP4 198.51.100.7\r\na=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host\r\na=candidate:2 1 udp 1 203.0.113.9 5000 typ srflx raddr 10.0.0.5 rport 40000\r\na=mid:0\r\n"
        );
    }

    #[test]
    fn trickled_candidates_move_too() {
        let candidate = "candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host";
        assert_eq!(announce_candidate(candidate, "10.0.0.5", "198.51.100.7"), "candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host");
        assert_eq!(announce_candidate(candidate, "10.0.0.6", "198.51.100.7"), candidate);
    }
}
