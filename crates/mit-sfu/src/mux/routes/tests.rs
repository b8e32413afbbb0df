//! The routing table with real STUN messages and no socket.

use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::message::{Setter, TransactionId};

use super::*;

fn crypto() -> Arc<dyn RTCCryptoProvider> {
    rtc::crypto::default_provider().expect("a crypto provider")
}

/// A binding request as a browser sends it to the server: USERNAME `<server>:<client>`,
/// MESSAGE-INTEGRITY keyed with the server's password, FINGERPRINT.
fn check(ours: &str, password: &str) -> Vec<u8> {
    let crypto = crypto();
    let mut message = Message::new();
    let setters: Vec<Box<dyn Setter + '_>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, format!("{ours}:client"))),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(password.into(), crypto.crypto())),
        Box::new(FINGERPRINT),
    ];
    message.build(&setters).expect("a binding request");
    message.raw
}

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

const MEDIA: &[u8] = &[0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];

#[test]
fn a_valid_check_binds_its_source_and_later_packets_follow_it() {
    let mut routes = Routes::new(crypto());
    routes.add(7, "ufragA".into(), "passwordA-0123456789".into());
    assert_eq!(routes.route(address(5000), MEDIA), Verdict::Drop(DropReason::UnknownSource), "media before any check");
    assert_eq!(routes.route(address(5000), &check("ufragA", "passwordA-0123456789")), Verdict::Deliver(7));
    assert_eq!(routes.route(address(5000), MEDIA), Verdict::Deliver(7));
    assert_eq!(routes.route(address(5001), MEDIA), Verdict::Drop(DropReason::UnknownSource), "another port is another remote");
}

#[test]
fn each_connection_gets_only_its_own_checks() {
    let mut routes = Routes::new(crypto());
    routes.add(1, "one".into(), "password-one-0123456".into());
    routes.add(2, "two".into(), "password-two-0123456".into());
    assert_eq!(routes.route(address(1), &check("two", "password-two-0123456")), Verdict::Deliver(2));
    assert_eq!(routes.route(address(2), &check("one", "password-one-0123456")), Verdict::Deliver(1));
    assert_eq!(routes.route(address(3), &check("three", "whatever-0123456789")), Verdict::Drop(DropReason::UnknownUfrag));
}

#[test]
fn a_check_with_the_wrong_password_moves_nothing() {
    let mut routes = Routes::new(crypto());
    routes.add(1, "one".into(), "password-one-0123456".into());
    routes.add(2, "two".into(), "password-two-0123456".into());
    routes.route(address(9), &check("one", "password-one-0123456"));
    // Someone who saw the ufrag in the clear tries to take the address over for connection two.
    assert_eq!(routes.route(address(9), &check("two", "a-guessed-password-00")), Verdict::Drop(DropReason::BadIntegrity));
    assert_eq!(routes.route(address(9), MEDIA), Verdict::Deliver(1), "the address still belongs to connection one");
}

#[test]
fn a_new_address_is_bound_after_a_valid_check_and_old_ones_age_out() {
    let mut routes = Routes::new(crypto());
    routes.add(1, "one".into(), "password-one-0123456".into());
    for port in 0..=(ADDRESSES_PER_SLOT as u16) {
        assert_eq!(routes.route(address(port), &check("one", "password-one-0123456")), Verdict::Deliver(1));
    }
    assert_eq!(routes.route(address(0), MEDIA), Verdict::Drop(DropReason::UnknownSource), "the oldest address was let go");
    assert_eq!(routes.route(address(ADDRESSES_PER_SLOT as u16), MEDIA), Verdict::Deliver(1));
}

#[test]
fn a_removed_connection_is_forgotten_entirely() {
    let mut routes = Routes::new(crypto());
    routes.add(1, "one".into(), "password-one-0123456".into());
    routes.route(address(1), &check("one", "password-one-0123456"));
    routes.remove(1);
    assert!(routes.is_empty());
    assert_eq!(routes.route(address(1), MEDIA), Verdict::Drop(DropReason::UnknownSource));
    assert_eq!(routes.route(address(1), &check("one", "password-one-0123456")), Verdict::Drop(DropReason::UnknownUfrag));
}

#[test]
fn garbage_is_dropped_without_a_trace() {
    let mut routes = Routes::new(crypto());
    let mut fake = check("one", "password-one-0123456");
    fake.truncate(24);
    for data in [&[][..], &[0u8; 19][..], &fake[..], &[0xff; 1500][..]] {
        assert!(matches!(routes.route(address(4), data), Verdict::Drop(_)));
    }
    assert!(routes.by_address.is_empty() && routes.addresses.is_empty());
}
