//! Which peer connection a datagram on the node's one UDP port belongs to. A remote is first
//! known by the ICE username fragment of its STUN binding request (`<our ufrag>:<theirs>`),
//! checked against that connection's ICE password (MESSAGE-INTEGRITY), and from then on by its
//! source address. An address that changes (a new network, an ICE restart) is bound the same way:
//! only after a valid check. Anything else is dropped, and nothing it carries is remembered, so
//! unknown traffic cannot grow this table.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{BINDING_REQUEST, Message};
use rtc::stun::textattrs::TextAttribute;

/// A peer connection on the port.
pub type Slot = u64;

/// Addresses one connection may be reached from at once (candidate pairs ICE keeps checking).
const ADDRESSES_PER_SLOT: usize = 8;

/// What to do with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to this connection.
    Deliver(Slot),
    /// Drop it.
    Drop(DropReason),
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// From an address no valid check came from, and not a check itself.
    UnknownSource,
    /// A binding request for a username fragment no connection has.
    UnknownUfrag,
    /// A binding request whose integrity does not verify with the connection's password.
    BadIntegrity,
}

struct Credentials {
    slot: Slot,
    password: String,
}

/// The routing table.
pub struct Routes {
    by_ufrag: HashMap<String, Credentials>,
    by_address: HashMap<SocketAddr, Slot>,
    /// Each slot's bound addresses, oldest first.
    addresses: HashMap<Slot, Vec<SocketAddr>>,
    crypto: Arc<dyn RTCCryptoProvider>,
}

impl Routes {
    /// An empty table verifying checks with `crypto`.
    pub fn new(crypto: Arc<dyn RTCCryptoProvider>) -> Self {
        Self { by_ufrag: HashMap::new(), by_address: HashMap::new(), addresses: HashMap::new(), crypto }
    }

    /// Routes checks for `ufrag` (verified with `password`) to `slot`.
    pub fn add(&mut self, slot: Slot, ufrag: String, password: String) {
        self.by_ufrag.insert(ufrag, Credentials { slot, password });
    }

    /// Forgets `slot`: its credentials and addresses.
    pub fn remove(&mut self, slot: Slot) {
        self.by_ufrag.retain(|_, credentials| credentials.slot != slot);
        for address in self.addresses.remove(&slot).unwrap_or_default() {
            self.by_address.remove(&address);
        }
    }

    /// Whether no connection is in the table.
    pub fn is_empty(&self) -> bool {
        self.by_ufrag.is_empty()
    }

    /// Where the datagram `data` from `source` goes.
    pub fn route(&mut self, source: SocketAddr, data: &[u8]) -> Verdict {
        if !is_binding_request(data) {
            return match self.by_address.get(&source) {
                Some(slot) => Verdict::Deliver(*slot),
                None => Verdict::Drop(DropReason::UnknownSource),
            };
        }
        match self.check(data) {
            Ok(slot) => {
                self.bind(source, slot);
                Verdict::Deliver(slot)
            }
            Err(reason) => Verdict::Drop(reason),
        }
    }

    /// The slot a binding request is for, if it is one and its integrity verifies (the first
    /// frame of an ICE-TCP connection is routed by this alone).
    pub fn check(&self, data: &[u8]) -> Result<Slot, DropReason> {
        if !is_binding_request(data) {
            return Err(DropReason::UnknownSource);
        }
        let mut message = Message::new();
        message.unmarshal_binary(data).map_err(|_| DropReason::UnknownUfrag)?;
        let username = TextAttribute::get_from_as(&message, ATTR_USERNAME).map_err(|_| DropReason::UnknownUfrag)?;
        let ours = username.text.split(':').next().unwrap_or_default();
        let credentials = self.by_ufrag.get(ours).ok_or(DropReason::UnknownUfrag)?;
        MessageIntegrity::check(&mut message, credentials.password.as_bytes(), self.crypto.crypto())
            .map_err(|_| DropReason::BadIntegrity)?;
        Ok(credentials.slot)
    }

    fn bind(&mut self, source: SocketAddr, slot: Slot) {
        if self.by_address.get(&source) == Some(&slot) {
            return;
        }
        if let Some(previous) = self.by_address.insert(source, slot)
            && let Some(list) = self.addresses.get_mut(&previous)
        {
            list.retain(|address| *address != source);
        }
        let list = self.addresses.entry(slot).or_default();
        list.push(source);
        if list.len() > ADDRESSES_PER_SLOT {
            let oldest = list.remove(0);
            self.by_address.remove(&oldest);
        }
    }
}

/// A STUN binding request: the first two bits zero, the magic cookie, the binding method and
/// request class (RFC 8489 §5), before anything is parsed.
fn is_binding_request(data: &[u8]) -> bool {
    data.len() >= 20
        && data[0] & 0xc0 == 0
        && data[4..8] == [0x21, 0x12, 0xa4, 0x42]
        && u16::from_be_bytes([data[0], data[1]]) == BINDING_REQUEST.value()
}

#[cfg(test)]
mod tests;
