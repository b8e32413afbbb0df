//! The room's rules, driven with made-up instants: no socket, task or clock.

use std::time::{Duration, Instant};

use mit_api::server::models::ParticipantRole;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::Ending;
use mit_domain::realtime::{Admission, Refusal};
use uuid::Uuid;

use super::super::super::messages::{LeftReason, ServerMessage};
use super::{Effect, Entry, Exit, RoomRules, RoomState, SessionId};

const GRACE: Duration = Duration::from_secs(10);
const EMPTY: Duration = Duration::from_secs(60);

fn room(capacity: usize) -> RoomState {
    RoomState::new(RoomRules { capacity, grace: GRACE, empty_timeout: Some(EMPTY) })
}

fn admission(name: &str) -> Admission {
    Admission { meeting_id: Uuid::nil(), user_id: Uuid::new_v4(), name: name.into(), role: ParticipantRole::Participant }
}

fn enter(room: &mut RoomState, who: &Admission) -> (SessionId, Vec<Effect>) {
    let mut effects = Vec::new();
    let (session, _) = room.enter(who, &mut effects).expect("a seat");
    (session, effects)
}

fn step(f: impl FnOnce(&mut Vec<Effect>)) -> Vec<Effect> {
    let mut effects = Vec::new();
    f(&mut effects);
    effects
}

fn sorted(sessions: &[SessionId]) -> Vec<SessionId> {
    let mut sessions = sessions.to_vec();
    sessions.sort_unstable();
    sessions
}

fn left(effects: &[Effect]) -> Vec<(Uuid, LeftReason)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Deliver(_, ServerMessage::UserLeft { user_id, reason }) => Some((*user_id, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_seat_is_held_for_a_full_grace_period_from_the_latest_drop() {
    let t0 = Instant::now();
    let mut room = room(5);
    let ada = admission("Ada");
    let (first, _) = enter(&mut room, &ada);
    let effects = step(|e| room.exit(ada.user_id, first, Exit::Dropped, t0, e));
    assert!(effects.contains(&Effect::WakeAt(t0 + GRACE)));
    let (second, _) = enter(&mut room, &ada);
    step(|e| room.exit(ada.user_id, second, Exit::Dropped, t0 + Duration::from_secs(8), e));

    let first_timer = step(|e| room.tick(t0 + GRACE, e));
    assert!(left(&first_timer).is_empty(), "the first drop's timer must not take the seat: {first_timer:?}");
    assert_eq!(room.occupants(), vec![ada.user_id]);

    let second_timer = step(|e| room.tick(t0 + Duration::from_secs(18), e));
    assert_eq!(left(&second_timer), vec![(ada.user_id, LeftReason::Timeout)]);
    assert!(second_timer.contains(&Effect::Presence(ada.user_id, false)));
    assert!(room.occupants().is_empty());
}

#[test]
fn a_resumed_seat_is_not_taken_when_its_old_timer_fires() {
    let t0 = Instant::now();
    let mut room = room(5);
    let ada = admission("Ada");
    let (first, _) = enter(&mut room, &ada);
    step(|e| room.exit(ada.user_id, first, Exit::Dropped, t0, e));
    let mut effects = Vec::new();
    let (_, entry) = room.enter(&ada, &mut effects).expect("the seat back");
    assert_eq!(entry, Entry::Resumed);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Deliver(_, ServerMessage::UserJoined { .. }))), "no second user-joined");
    assert!(left(&step(|e| room.tick(t0 + GRACE * 3, e))).is_empty());
}

#[test]
fn an_empty_room_completes_only_after_staying_empty_for_the_whole_timeout() {
    let t0 = Instant::now();
    let mut room = room(5);
    let ada = admission("Ada");
    let (session, _) = enter(&mut room, &ada);
    let effects = step(|e| room.exit(ada.user_id, session, Exit::Left, t0, e));
    assert!(effects.contains(&Effect::WakeAt(t0 + EMPTY)));

    let bob = admission("Bob");
    let (session, _) = enter(&mut room, &bob);
    let later = t0 + Duration::from_secs(40);
    let effects = step(|e| room.exit(bob.user_id, session, Exit::Left, later, e));
    assert!(effects.contains(&Effect::WakeAt(later + EMPTY)));

    assert!(!step(|e| room.tick(t0 + EMPTY, e)).contains(&Effect::CompleteUnattended), "empty for 20 s only");
    assert_eq!(step(|e| room.tick(later + EMPTY, e)), vec![Effect::CompleteUnattended]);
    assert!(step(|e| room.tick(later + EMPTY * 2, e)).is_empty(), "asked once");
}

#[test]
fn a_room_nobody_entered_yet_does_not_complete() {
    let mut room = room(5);
    assert!(step(|e| room.tick(Instant::now() + EMPTY * 10, e)).is_empty());
}

#[test]
fn a_closed_room_refuses_everyone_and_cannot_be_reopened() {
    let mut room = room(5);
    let ada = admission("Ada");
    let (session, _) = enter(&mut room, &ada);
    let effects = step(|e| room.close(Ending::Completed, e));
    assert_eq!(effects[0], Effect::Deliver(vec![session], ServerMessage::MeetingEnded { reason: "completed" }));
    assert_eq!(effects[1], Effect::Close(session, 1000, "the meeting ended"));
    assert!(effects.contains(&Effect::Presence(ada.user_id, false)));
    assert!(effects.ends_with(&[Effect::Record(false), Effect::CloseMedia]));

    assert_eq!(room.enter(&ada, &mut Vec::new()), Err(Refusal::Ended));
    assert_eq!(room.enter(&admission("Bob"), &mut Vec::new()), Err(Refusal::Ended));
    assert!(!room.has_seat_for(ada.user_id));
    assert!(step(|e| room.close(Ending::Cancelled, e)).is_empty(), "closing twice does nothing");
    let flag = RecordingFlag { since: Some(chrono::Utc::now()), version: 1 };
    assert!(step(|e| room.apply_recording(flag, e)).is_empty());
}

#[test]
fn capacity_counts_every_seat_and_never_refuses_someone_already_seated() {
    let t0 = Instant::now();
    let mut room = room(2);
    let ada = admission("Ada");
    let bob = admission("Bob");
    let (ada_session, _) = enter(&mut room, &ada);
    enter(&mut room, &bob);
    step(|e| room.exit(ada.user_id, ada_session, Exit::Dropped, t0, e));

    let carol = admission("Carol");
    assert!(!room.has_seat_for(carol.user_id), "a dropped seat within its grace period is taken");
    assert_eq!(room.enter(&carol, &mut Vec::new()), Err(Refusal::RoomFull));
    assert!(room.has_seat_for(ada.user_id));
    assert!(room.enter(&ada, &mut Vec::new()).is_ok());

    step(|e| room.remove(bob.user_id, LeftReason::Left, t0, e));
    assert!(room.enter(&carol, &mut Vec::new()).is_ok());
}

#[test]
fn a_second_socket_replaces_the_first() {
    let mut room = room(5);
    let ada = admission("Ada");
    let (first, _) = enter(&mut room, &ada);
    let (second, effects) = enter(&mut room, &ada);
    assert_eq!(effects, vec![Effect::Close(first, 4007, "replaced by a newer connection")]);
    let effects = step(|e| room.exit(ada.user_id, first, Exit::Replaced, Instant::now(), e));
    assert_eq!(effects, vec![Effect::Release(first)]);
    // The old socket's late drop does not touch the new one's seat.
    let effects = step(|e| room.exit(ada.user_id, first, Exit::Dropped, Instant::now(), e));
    assert_eq!(effects, vec![Effect::Release(first)]);
    assert!(room.sessions_except(None).contains(&second));
}

#[test]
fn presence_is_reported_in_the_order_things_happened() {
    let mut room = room(5);
    let ada = admission("Ada");
    let (session, mut effects) = enter(&mut room, &ada);
    room.exit(ada.user_id, session, Exit::Left, Instant::now(), &mut effects);
    let presence: Vec<bool> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Presence(_, present) => Some(*present),
            _ => None,
        })
        .collect();
    assert_eq!(presence, vec![true, false]);
}

#[test]
fn a_kick_closes_with_4008_and_tells_everyone() {
    let mut room = room(5);
    let ada = admission("Ada");
    let bob = admission("Bob");
    let (ada_session, _) = enter(&mut room, &ada);
    let (bob_session, joined) = enter(&mut room, &bob);
    assert!(matches!(&joined[0], Effect::Deliver(to, ServerMessage::UserJoined { .. }) if to == &vec![ada_session]));

    let effects = step(|e| room.remove(bob.user_id, LeftReason::Kicked, Instant::now(), e));
    assert_eq!(effects[0], Effect::Close(bob_session, 4008, "removed from the meeting"));
    assert!(effects.contains(&Effect::DetachMedia(bob.user_id)));
    assert!(
        effects.contains(&Effect::Deliver(vec![ada_session], ServerMessage::UserLeft { user_id: bob.user_id, reason: LeftReason::Kicked }))
    );
    assert!(step(|e| room.remove(bob.user_id, LeftReason::Kicked, Instant::now(), e)).is_empty(), "gone already");
}

#[test]
fn an_older_recording_report_cannot_undo_a_newer_one() {
    let mut room = room(5);
    let started = RecordingFlag { since: Some(chrono::Utc::now()), version: 2 };
    let effects = step(|e| room.apply_recording(started, e));
    assert_eq!(effects[0], Effect::Record(true));
    let stale = RecordingFlag { since: None, version: 1 };
    assert!(step(|e| room.apply_recording(stale, e)).is_empty());
    let same = RecordingFlag { since: started.since, version: 3 };
    assert!(step(|e| room.apply_recording(same, e)).is_empty(), "no change, no message");
    let stopped = RecordingFlag { since: None, version: 4 };
    assert_eq!(
        step(|e| room.apply_recording(stopped, e)),
        vec![Effect::Record(false), Effect::Deliver(vec![], ServerMessage::RecordingStopped)]
    );
}

#[test]
fn a_force_mute_holds_the_microphone_and_tells_the_target_and_everyone() {
    let mut room = room(5);
    let host = admission("Host");
    let ada = admission("Ada");
    let (host_session, _) = enter(&mut room, &host);
    let (ada_session, _) = enter(&mut room, &ada);
    let effects = step(|e| assert!(room.force_mute(host.user_id, ada.user_id, true, e)));
    assert_eq!(effects[0], Effect::PauseMicrophone(ada.user_id, true));
    assert_eq!(effects[1], Effect::Deliver(vec![ada_session], ServerMessage::ForceMuted { by: host.user_id, muted: true }));
    let everyone = ServerMessage::MediaState { user_id: ada.user_id, audio: false, video: false };
    let Effect::Deliver(to, message) = &effects[2] else { panic!("expected a delivery, got {:?}", effects[2]) };
    assert_eq!(message, &everyone);
    assert_eq!(sorted(to), sorted(&[host_session, ada_session]));
    assert!(!room.force_mute(host.user_id, Uuid::new_v4(), true, &mut Vec::new()));

    let effects = step(|e| room.set_media_state(ada.user_id, true, false, e));
    assert_eq!(effects[0], Effect::PauseMicrophone(ada.user_id, false), "turning the microphone on lifts the mute");
}

#[test]
fn stopping_a_screen_share_unpublishes_it_once() {
    let mut room = room(5);
    let ada = admission("Ada");
    enter(&mut room, &ada);
    assert!(step(|e| room.set_screen(ada.user_id, false, e)).is_empty(), "not sharing: no change");
    let started = step(|e| room.set_screen(ada.user_id, true, e));
    assert!(matches!(started[0], Effect::Deliver(_, ServerMessage::ScreenShareStarted { .. })));
    let stopped = step(|e| room.set_screen(ada.user_id, false, e));
    assert_eq!(stopped[0], Effect::UnpublishScreen(ada.user_id));
}

#[test]
fn handing_the_room_over_sends_everyone_to_join_again_without_user_left() {
    let t0 = Instant::now();
    let mut room = room(5);
    let (ada, bob, cy) = (admission("Ada"), admission("Bob"), admission("Cy"));
    let (a, _) = enter(&mut room, &ada);
    let (b, _) = enter(&mut room, &bob);
    let (c, _) = enter(&mut room, &cy);
    step(|e| room.exit(cy.user_id, c, Exit::Dropped, t0, e));

    let effects = step(|e| room.hand_over(e));
    let mut closed: Vec<SessionId> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Close(session, 4010, _) => Some(*session),
            _ => None,
        })
        .collect();
    closed.sort_unstable();
    assert_eq!(closed, sorted(&[a, b]), "every connected socket gets 4010");
    assert!(left(&effects).is_empty(), "nobody is told user-left: everyone moves together");
    let gone: Vec<Uuid> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Presence(user, false) => Some(*user),
            _ => None,
        })
        .collect();
    assert_eq!(gone.len(), 3, "every seat, the dropped one too, leaves this node: {effects:?}");
    assert!(effects.contains(&Effect::Record(false)) && effects.contains(&Effect::CloseMedia));
    assert!(room.is_closed() && room.occupants().is_empty());
    assert!(step(|e| room.hand_over(e)).is_empty(), "handing over twice does nothing");
}
