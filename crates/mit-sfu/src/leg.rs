//! A subscriber leg: one publication delivered to one participant on one of its connection's
//! [outlets](crate::outlet::Outlet). Packets queue from the moment the subscriber was chosen
//! and are released to the outlet once the subscriber has the description that names the
//! publication, so a newly subscribed participant misses nothing and a recycled m-line never
//! carries the new publisher's media under the old publisher's name.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::outlet::Outlet;
use crate::publication::{Publication, Subscription};

/// One publication flowing to one subscriber.
pub(crate) struct Leg {
    publication: Arc<Publication>,
    subscription_id: u64,
    /// Queued packets until released to the outlet.
    packets: Option<mpsc::Receiver<rtc::rtp::Packet>>,
    outlet: Option<Outlet>,
    /// An offer or answer that names this leg has been sent.
    pub(crate) described: bool,
}

impl Leg {
    /// `publication` on `outlet` (already carrying it), fed by `subscription`.
    pub(crate) fn new(publication: Arc<Publication>, subscription: Subscription, outlet: Outlet) -> Self {
        Self { publication, subscription_id: subscription.id, packets: Some(subscription.packets), outlet: Some(outlet), described: false }
    }

    /// The outlet it is on.
    pub(crate) fn outlet(&self) -> Option<&Outlet> {
        self.outlet.as_ref()
    }

    /// Hands the queued packets to the outlet once the payload type is negotiated (does nothing
    /// before the leg was described, or once released).
    pub(crate) async fn release(&mut self) {
        if !self.described {
            return;
        }
        let (Some(packets), Some(outlet)) = (self.packets.take(), self.outlet.as_ref()) else { return };
        if let Err(packets) = outlet.release(packets, &self.publication.codec().mime_type).await {
            self.packets = Some(packets);
        }
    }

    /// Stops the subscription and returns the outlet, quiet, for the next publication.
    pub(crate) async fn finish(mut self) -> Option<Outlet> {
        self.publication.unsubscribe(self.subscription_id);
        let outlet = self.outlet.take()?;
        outlet.quiet().await;
        Some(outlet)
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        self.publication.unsubscribe(self.subscription_id);
    }
}
