use std::sync::atomic::Ordering::Relaxed;

use super::*;
use crate::cluster::wire::{DropReason, Target};
use crate::cluster::Ring;

#[derive(Default)]
struct Got {
    frames: Vec<DeliverItem>,
    presence: Vec<(NodeId, Presence)>,
    submits: Vec<(NodeId, Submit)>,
    replies: Vec<Reply>,
}

impl Inbound for Got {
    fn deliver(&mut self, item: DeliverItem) {
        self.frames.push(item);
    }
    fn presence(&mut self, from: NodeId, record: Presence) {
        self.presence.push((from, record));
    }
    fn membership(&mut self, _: NodeId, _: Membership) {}
    fn submit(&mut self, from: NodeId, s: Submit) {
        self.submits.push((from, s));
    }
    fn reply(&mut self, r: Reply) {
        self.replies.push(r);
    }
}

struct Node {
    engine: Engine,
    view: Arc<View>,
    stats: Arc<Stats>,
}

const TIMING: Timing = Timing {
    heartbeat_ms: 100,
    misses: 3,
};

fn node(me: usize) -> Node {
    let ring = Ring::parse(&["127.0.0.1:9001", "127.0.0.1:9002"]).unwrap();
    let view = Arc::new(View::new(ring, vec![1, 2], me));
    let stats = Arc::new(Stats::new(&[1, 2]));
    let settings = Settings {
        max_delay_ms: 0,
        ..Settings::default()
    };
    let key = Key::new(b"cluster-secret-0123456789").unwrap();
    let engine = Engine::new(
        key,
        settings,
        1_000 + me as u64,
        42,
        TIMING,
        view.clone(),
        stats.clone(),
    )
    .unwrap();
    Node {
        engine,
        view,
        stats,
    }
}

fn frame(n: u8) -> Item {
    Item::Deliver(DeliverItem {
        target: Target::User(7),
        frame: Bytes::from(vec![0x81, 1, n]),
    })
}

/// Hands every datagram of `out` to `to`, returning what `to` answers.
fn carry(out: Vec<Datagram>, to: &mut Node, now: u64, got: &mut Got) -> Vec<Datagram> {
    let mut answer = Vec::new();
    for d in out {
        to.engine.receive(d.bytes, now, &mut answer, got);
    }
    answer
}

#[test]
fn heartbeats_bring_peers_up_and_silence_takes_them_down() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    assert!(!b.view.is_up(1));
    let mut out = Vec::new();
    a.engine.tick(0, &mut out);
    assert_eq!(out.len(), 1, "one heartbeat for the one peer");
    assert!(carry(out, &mut b, 0, &mut got).is_empty());
    assert!(b.view.is_up(1), "b sees a up after its heartbeat");
    let mut out = Vec::new();
    b.engine.tick(300, &mut out);
    assert!(b.view.is_up(1), "3 intervals of silence: still up");
    b.engine.tick(301, &mut out);
    assert!(!b.view.is_up(1), "past 3 intervals: down");
    assert_eq!(b.stats.view_changes.load(Relaxed), 2);
    assert_eq!(b.stats.config_mismatches.load(Relaxed), 0);
}

#[test]
fn a_lost_datagram_is_nacked_and_resent() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    let mut out = Vec::new();
    for n in 1..=3 {
        a.engine.push(2, frame(n), 0, &mut out);
        a.engine.due(0, &mut out);
    }
    assert_eq!(out.len(), 3);
    let lost = out.remove(1);
    let nacks = carry(out, &mut b, 0, &mut got);
    assert_eq!(nacks.len(), 1, "the gap is NACKed at once");
    assert_eq!(b.stats.nacks_sent.load(Relaxed), 1);
    let resent = carry(nacks, &mut a, 0, &mut Got::default());
    assert_eq!(resent.len(), 1);
    assert_eq!(
        resent[0].bytes, lost.bytes,
        "the same datagram, from the history"
    );
    assert_eq!(a.stats.resends.load(Relaxed), 1);
    assert_eq!(a.stats.nacks_answered.load(Relaxed), 1);
    assert!(carry(resent, &mut b, 0, &mut got).is_empty());
    let mut order: Vec<u8> = got.frames.iter().map(|f| f.frame[2]).collect();
    order.sort_unstable();
    assert_eq!(order, vec![1, 2, 3]);
    assert_eq!(b.stats.items_in.load(Relaxed), 3);
    // Nothing is missing any more: the tick sends only a heartbeat.
    let mut out = Vec::new();
    b.engine.tick(10, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn a_gap_still_open_is_nacked_again_on_the_tick() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    let mut out = Vec::new();
    for n in 1..=3 {
        a.engine.push(2, frame(n), 0, &mut out);
        a.engine.due(0, &mut out);
    }
    out.remove(1);
    let first = carry(out, &mut b, 0, &mut got);
    assert_eq!(first.len(), 1, "NACK sent, and lost");
    let mut out = Vec::new();
    b.engine.tick(100, &mut out);
    assert_eq!(out.len(), 2, "a heartbeat and the NACK again");
    let resent = carry(out, &mut a, 100, &mut Got::default());
    // The resend, and a's own NACK for b's lost first NACK (a gap too).
    assert_eq!(resent.len(), 2);
    assert_eq!(a.stats.nacks_sent.load(Relaxed), 1);
    carry(resent, &mut b, 100, &mut got);
    assert_eq!(got.frames.len(), 3);
}

#[test]
fn forged_and_replayed_datagrams_are_counted_by_reason() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    let mut out = Vec::new();
    a.engine.push(2, frame(1), 0, &mut out);
    a.engine.due(0, &mut out);
    let good = out[0].bytes.clone();
    let mut forged = good.to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let mut answer = Vec::new();
    b.engine
        .receive(Bytes::from(forged), 0, &mut answer, &mut got);
    b.engine.receive(good.clone(), 0, &mut answer, &mut got);
    b.engine.receive(good, 0, &mut answer, &mut got);
    assert_eq!(b.stats.drops(DropReason::Mac), 1);
    assert_eq!(b.stats.drops(DropReason::Replay), 1);
    assert_eq!(got.frames.len(), 1, "only the genuine copy is delivered");
    assert!(!b.view.is_up(3));
}

#[test]
fn presence_records_reach_the_inbound_hook_with_their_sender() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    let mut out = Vec::new();
    let p = Presence {
        target: crate::cluster::wire::Target::Group(9),
        core: 1,
        online: true,
    };
    a.engine.push(2, Item::Presence(p), 0, &mut out);
    a.engine.due(0, &mut out);
    carry(out, &mut b, 0, &mut got);
    assert_eq!(got.presence, vec![(1, p)]);
}

#[test]
fn a_submit_and_its_reply_reach_the_other_side_and_a_large_submit_arrives_whole() {
    let (mut a, mut b) = (node(0), node(1));
    let conn = crate::cluster::wire::ConnTag {
        core: 1,
        key: 5,
        id: 77,
        message: 12,
    };
    let submit = Submit {
        sender: 11,
        conn,
        payload: Bytes::from_static(br#"{"cmd":10,"dstid":12,"id":1}"#),
    };
    let mut out = Vec::new();
    a.engine.push(2, Item::Submit(submit.clone()), 0, &mut out);
    a.engine.due(0, &mut out);
    let mut got = Got::default();
    carry(out, &mut b, 0, &mut got);
    assert_eq!(got.submits, vec![(1, submit)]);
    let reply = Reply {
        conn,
        frame: Bytes::from_static(b"\x81\x02{}"),
    };
    let mut out = Vec::new();
    b.engine.push(1, Item::Reply(reply.clone()), 0, &mut out);
    b.engine.due(0, &mut out);
    let mut got = Got::default();
    carry(out, &mut a, 0, &mut got);
    assert_eq!(got.replies, vec![reply]);

    let big = Submit {
        sender: 11,
        conn,
        payload: Bytes::from(vec![b' '; 5_000]),
    };
    let mut out = Vec::new();
    a.engine.push(2, Item::Submit(big.clone()), 0, &mut out);
    a.engine.due(0, &mut out);
    assert!(out.len() > 3, "fragmented, not truncated");
    let mut got = Got::default();
    carry(out, &mut b, 0, &mut got);
    assert_eq!(got.submits, vec![(1, big)]);
    assert_eq!(a.stats.send_errors.load(Relaxed), 0);
}

#[test]
fn the_view_settles_after_the_start_up_silence_and_reports_unheard_peers_down() {
    let mut a = node(0);
    let mut out = Vec::new();
    a.engine.tick(0, &mut out);
    assert!(!a.view.settled());
    assert!(a.engine.take_events().is_empty());
    a.engine.tick(299, &mut out);
    assert!(!a.view.settled(), "3 intervals of 100 ms have not passed");
    a.engine.tick(300, &mut out);
    assert!(a.view.settled());
    assert_eq!(
        a.engine.take_events(),
        vec![Change { peer: 2, up: false }],
        "node 2 was never heard: its users move, and everyone must re-announce"
    );
    a.engine.tick(400, &mut out);
    assert!(a.engine.take_events().is_empty(), "settled once");
}

#[test]
fn a_peer_heard_and_restarted_is_reported_down_then_up() {
    let (mut a, mut b) = (node(0), node(1));
    let mut got = Got::default();
    let mut out = Vec::new();
    b.engine.push(1, frame(1), 0, &mut out);
    b.engine.due(0, &mut out);
    carry(out, &mut a, 0, &mut got);
    assert_eq!(a.engine.take_events(), vec![Change { peer: 2, up: true }]);
    // Node 2 starts again: a later incarnation.
    let mut b2 = node(1);
    b2.engine = {
        let ring = Ring::parse(&["127.0.0.1:9001", "127.0.0.1:9002"]).unwrap();
        let view = Arc::new(View::new(ring, vec![1, 2], 1));
        let key = Key::new(b"cluster-secret-0123456789").unwrap();
        let settings = Settings {
            max_delay_ms: 0,
            ..Settings::default()
        };
        Engine::new(key, settings, 5_000, 42, TIMING, view, b2.stats.clone()).unwrap()
    };
    let mut out = Vec::new();
    b2.engine.push(1, frame(2), 10, &mut out);
    b2.engine.due(10, &mut out);
    carry(out, &mut a, 10, &mut got);
    assert_eq!(
        a.engine.take_events(),
        vec![Change { peer: 2, up: false }, Change { peer: 2, up: true }]
    );
}
