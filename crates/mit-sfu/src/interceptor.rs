//! Routes subscribers' keyframe requests (PLI, FIR) to the publication on the m-line they name.
//! Without it `rtc` consumes all inbound RTCP inside its interceptor chain and the SFU never
//! hears a subscriber ask for a keyframe. The route is by the SSRC the request names, not by
//! track id: an outlet (`crate::engine::outlet`) keeps its SSRC while the publication it
//! carries, and so its track id, changes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;

use crate::publication::Publication;

/// The slot after every built-in interceptor, so reports and NACKs are handled first.
pub const SLOT: usize = 14_000;

/// Which publication each outgoing SSRC of one connection carries now.
#[derive(Default)]
pub(crate) struct KeyframeRoutes {
    by_ssrc: Mutex<HashMap<u32, Weak<Publication>>>,
}

impl KeyframeRoutes {
    /// Keyframe requests for `ssrc` go to `publication` from now on.
    pub(crate) fn set(&self, ssrc: u32, publication: &Arc<Publication>) {
        if let Ok(mut routes) = self.by_ssrc.lock() {
            routes.insert(ssrc, Arc::downgrade(publication));
        }
    }

    /// Keyframe requests for `ssrc` go nowhere.
    pub(crate) fn remove(&self, ssrc: u32) {
        if let Ok(mut routes) = self.by_ssrc.lock() {
            routes.remove(&ssrc);
        }
    }

    fn request(&self, ssrc: u32) {
        let publication = self.by_ssrc.lock().ok().and_then(|routes| routes.get(&ssrc).and_then(Weak::upgrade));
        if let Some(publication) = publication {
            publication.request_keyframe();
        }
    }
}

/// Turns PLI/FIR into keyframe requests of the routed publication; passes all RTCP on unchanged.
pub(crate) struct KeyframeRequestRouter {
    routes: Arc<KeyframeRoutes>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl KeyframeRequestRouter {
    pub(crate) fn new(routes: Arc<KeyframeRoutes>) -> Self {
        Self { routes, read: VecDeque::new(), write: VecDeque::new() }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestRouter {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            for packet in packets {
                let any = packet.as_any();
                if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                    self.routes.request(pli.media_ssrc);
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    for entry in &fir.fir {
                        self.routes.request(entry.ssrc);
                    }
                }
            }
        }
        self.read.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestRouter {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
