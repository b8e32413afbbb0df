//! The forwarder driven without sockets and on a fake clock: real `rtc` client connections in
//! memory talk to a room on an engine worker whose inputs the test hands over itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::forwarder::Forwarder;
use super::{EngineInbox, Input, PeerId};
use crate::metrics::SfuMetrics;
use crate::mux::{Datagram, NodePorts};
use crate::peer::{ConnectionState, MediaPeer, PeerEvent};
use crate::room::MediaRoom;
use crate::workers::Workers;
use crate::{SfuConfig, Shared};

/// One participant's side: an `rtc` connection as a client would drive it.
struct Client {
    user: Uuid,
    connection: RTCPeerConnection,
    address: SocketAddr,
    peer: MediaPeer,
    slot: PeerId,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    received: Vec<rtp::Packet>,
    states: Vec<ConnectionState>,
}

/// A room on one engine worker, the forwarder the test drives, and a fake clock.
struct Bench {
    room: Arc<MediaRoom>,
    forwarder: Forwarder,
    inputs: mpsc::UnboundedReceiver<Input>,
    now: Instant,
    clients: Vec<Client>,
    /// Whether datagrams reach their destination (false: the network is cut).
    linked: bool,
}

fn client_connection(now: Instant, address: SocketAddr) -> RTCPeerConnection {
    let mut engine = super::connection::media_engine().expect("codecs");
    let registry = rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors(
        rtc::interceptor::Registry::new(),
        &mut engine,
    )
    .expect("interceptors");
    let mut connection = rtc::peer_connection::RTCPeerConnectionBuilder::new()
        .with_configuration(rtc::peer_connection::configuration::RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .build(now)
        .expect("a client connection");
    let host = super::connection::host_candidate(address, rtc::ice::tcp_type::TcpType::Unspecified).expect("a host candidate");
    connection.add_local_candidate(host).expect("candidate");
    connection
}

fn microphone(ssrc: u32) -> MediaStreamTrack {
    let encoding = RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
        codec: crate::opus(),
        ..Default::default()
    };
    MediaStreamTrack::new("mic".into(), "mic-track".into(), "mic".into(), RtpCodecKind::Audio, vec![encoding])
}

impl Bench {
    async fn new() -> Self {
        let mut config = SfuConfig::new(std::net::IpAddr::from([127, 0, 0, 1]), 0);
        config.ice_disconnected_timeout = Duration::from_secs(2);
        config.ice_failed_timeout = Duration::from_secs(4);
        let ports = NodePorts::bind(SocketAddr::from(([127, 0, 0, 1], 0)), None).expect("ports");
        let udp_port = ports.udp_addr().expect("bound").port();
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        let (datagrams, _unused) = mpsc::channel::<Datagram>(1);
        let (streams, _unused) = mpsc::channel(1);
        let workers = Workers::with_engine(EngineInbox { inputs: inputs_tx, datagrams, streams });
        let shared = Arc::new(Shared { config, ports, udp_port, tcp_port: None, metrics: Arc::new(SfuMetrics::new()), workers });
        let room = MediaRoom::new(Uuid::new_v4(), shared, None);
        Self { room, forwarder: Forwarder::default(), inputs, now: Instant::now(), clients: Vec::new(), linked: true }
    }

    /// A participant joins; its client offers what `prepare` adds to its connection.
    async fn join(&mut self, prepare: impl FnOnce(&mut RTCPeerConnection)) -> usize {
        let index = self.clients.len();
        let address = SocketAddr::from(([10, 0, 0, 2 + index as u8], 5000));
        let mut connection = client_connection(self.now, address);
        prepare(&mut connection);
        let (events_tx, events) = mpsc::unbounded_channel();
        let user = Uuid::new_v4();
        let peer = self.room.connect(user, events_tx).expect("a connection");
        let slot = self.take_inputs().expect("the connection opened on the worker");
        let offer = connection.create_offer(None).expect("offer");
        connection.set_local_description(self.now, offer.clone()).expect("local offer");
        peer.offer(offer.sdp);
        self.clients.push(Client { user, connection, address, peer, slot, events, received: Vec::new(), states: Vec::new() });
        index
    }

    /// A participant joins to listen: its client offers one receive-only audio m-line.
    async fn join_listening(&mut self) -> usize {
        self.join(|c| {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, streams: vec![], send_encodings: vec![] };
            c.add_transceiver_from_kind(RtpCodecKind::Audio, Some(init)).expect("a receiving m-line");
        })
        .await
    }

    /// Hands every pending input to the forwarder; the slot of a connection that opened.
    fn take_inputs(&mut self) -> Option<PeerId> {
        let mut opened = None;
        while let Ok(input) = self.inputs.try_recv() {
            if let Input::Open(peer) = &input {
                opened = Some(peer.id);
            }
            super::apply_at(&mut self.forwarder, self.now, input);
        }
        self.forwarder.pump(self.now);
        opened
    }

    /// Moves inputs, signalling and datagrams until nothing moves.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            self.take_inputs();
            let outgoing: Vec<TaggedBytesMut> = self.forwarder.outgoing().collect();
            for datagram in outgoing {
                moved = true;
                let Some(client) = self.clients.iter_mut().find(|c| c.address == datagram.transport.peer_addr) else { continue };
                if self.linked {
                    let transport = TransportContext {
                        local_addr: client.address,
                        peer_addr: datagram.transport.local_addr,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    };
                    let _ = client.connection.handle_read(TaggedBytesMut { now: self.now, transport, message: datagram.message });
                }
            }
            for index in 0..self.clients.len() {
                moved |= self.client_step(index);
            }
            if !moved && self.inputs.is_empty() {
                return;
            }
        }
    }

    /// One client: answers the server, reads media, sends what it has; true if anything moved.
    fn client_step(&mut self, index: usize) -> bool {
        let now = self.now;
        let client = &mut self.clients[index];
        let mut moved = false;
        while let Ok(event) = client.events.try_recv() {
            moved = true;
            match event {
                PeerEvent::Answer(sdp) => {
                    let answer = RTCSessionDescription::answer(sdp).expect("an answer");
                    client.connection.set_remote_description(now, answer).expect("the server's answer applies");
                }
                PeerEvent::Offer(sdp) => {
                    let offer = RTCSessionDescription::offer(sdp).expect("an offer");
                    client.connection.set_remote_description(now, offer).expect("the server's offer applies");
                    let answer = client.connection.create_answer(None).expect("answer");
                    client.connection.set_local_description(now, answer.clone()).expect("local answer");
                    client.peer.answer(answer.sdp);
                }
                PeerEvent::Connection(state) => client.states.push(state),
                PeerEvent::Rejected { .. } => {}
            }
        }
        while client.connection.poll_event().is_some() {}
        while let Some(message) = client.connection.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message.message {
                client.received.push(packet);
            }
        }
        while let Some(datagram) = self.clients[index].connection.poll_write() {
            moved = true;
            if self.linked {
                let (slot, from) = (self.clients[index].slot, self.clients[index].address);
                self.forwarder.datagram(now, Datagram { slot, from, data: datagram.message, tcp: false });
            }
        }
        moved
    }

    /// Advances the fake clock by `step`, running every due timer on both sides.
    fn advance(&mut self, step: Duration) {
        self.now += step;
        self.forwarder.timeout(self.now);
        for client in &mut self.clients {
            if client.connection.poll_timeout().is_some_and(|at| at <= self.now) {
                let _ = client.connection.handle_timeout(self.now);
            }
        }
        self.settle();
    }

    /// Runs the clock in 10 ms steps for `duration`.
    fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.advance(Duration::from_millis(10));
        }
    }
}

fn send_audio(connection: &mut RTCPeerConnection, sender: RTCRtpSenderId, now: Instant, sequence: u16) {
    let mut sender = connection.rtp_sender(sender).expect("the microphone's sender");
    let header = rtp::header::Header {
        version: 2,
        payload_type: 111,
        sequence_number: sequence,
        timestamp: u32::from(sequence) * 960,
        ssrc: 1111,
        ..Default::default()
    };
    sender.write_rtp(now, rtp::Packet { header, payload: Bytes::from_static(&[0xfc, 1, 2, 3]) }).expect("a packet written");
}

#[tokio::test]
async fn a_publishers_packets_reach_a_listener_through_the_forwarder_on_a_fake_clock() {
    let mut bench = Bench::new().await;
    let mut microphone_sender = None;
    let speaker = bench.join(|c| microphone_sender = Some(c.add_track(microphone(1111)).expect("a microphone"))).await;
    let listener = bench.join_listening().await;
    bench.settle();
    bench.run_for(Duration::from_secs(2));
    for client in &bench.clients {
        assert_eq!(client.states.first(), Some(&ConnectionState::Connected), "connected within 2 s of fake time");
    }
    let sender = microphone_sender.expect("the speaker's sender");
    for sequence in 1..=100u16 {
        let now = bench.now;
        send_audio(&mut bench.clients[speaker].connection, sender, now, sequence);
        bench.advance(Duration::from_millis(20));
    }
    let received = &bench.clients[listener].received;
    assert!(received.len() >= 95, "the listener got {} of 100 packets", received.len());
    let ssrcs: std::collections::HashSet<u32> = received.iter().map(|p| p.header.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one outgoing SSRC: {ssrcs:?}");
    assert!(!ssrcs.contains(&1111), "rewritten onto the outlet's own SSRC");
    let sequences: Vec<u16> = received.iter().map(|p| p.header.sequence_number).collect();
    assert!(sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "one continuous sequence: {sequences:?}");
}

#[tokio::test]
async fn a_listener_whose_network_goes_away_is_disconnected_then_failed_by_the_clock_alone() {
    let mut bench = Bench::new().await;
    let listener = bench.join_listening().await;
    bench.settle();
    bench.run_for(Duration::from_secs(2));
    assert_eq!(bench.clients[listener].states, [ConnectionState::Connected]);
    bench.linked = false;
    // The configured timeouts are 2 s to disconnected and 4 s more to failed.
    bench.run_for(Duration::from_secs(4));
    assert_eq!(bench.clients[listener].states, [ConnectionState::Connected, ConnectionState::Disconnected]);
    bench.run_for(Duration::from_secs(6));
    assert_eq!(bench.clients[listener].states, [ConnectionState::Connected, ConnectionState::Disconnected, ConnectionState::Failed]);
}

/// The m-lines of `client`'s current remote description (the server's view of the session).
fn m_lines(client: &Client) -> usize {
    client.connection.remote_description().map_or(0, |description| description.sdp.matches("\r\nm=").count())
}

#[tokio::test]
async fn a_departed_speakers_m_line_carries_the_next_speaker_on_the_same_ssrc() {
    let mut bench = Bench::new().await;
    let listener = bench.join_listening().await;
    bench.settle();
    bench.run_for(Duration::from_secs(1));
    let mut ssrcs = Vec::new();
    let mut lines = Vec::new();
    for (round, ssrc) in [(0u16, 2001u32), (1, 2002), (2, 2003)] {
        let mut sender = None;
        let speaker = bench.join(|c| sender = Some(c.add_track(microphone(ssrc)).expect("a microphone"))).await;
        bench.settle();
        bench.run_for(Duration::from_secs(1));
        let sender = sender.expect("the speaker's sender");
        bench.clients[listener].received.clear();
        for sequence in 1..=50u16 {
            let now = bench.now;
            let mut writer = bench.clients[speaker].connection.rtp_sender(sender).expect("a sender");
            let header = rtp::header::Header { version: 2, payload_type: 111, sequence_number: sequence, ssrc, ..Default::default() };
            writer.write_rtp(now, rtp::Packet { header, payload: Bytes::from_static(&[0xfc, 1]) }).expect("written");
            bench.advance(Duration::from_millis(20));
        }
        let received = &bench.clients[listener].received;
        assert!(received.len() >= 45, "round {round}: the listener got {} of 50 packets", received.len());
        ssrcs.push(received[0].header.ssrc);
        lines.push(m_lines(&bench.clients[listener]));
        let user = bench.clients[speaker].user;
        bench.room.leave(user);
        bench.settle();
        bench.run_for(Duration::from_secs(1));
    }
    assert!(ssrcs.windows(2).all(|w| w[0] == w[1]), "every speaker on the first one's outlet: {ssrcs:x?}");
    assert!(lines.windows(2).all(|w| w[0] == w[1]), "no m-line added per speaker: {lines:?}");
}
