//! One simulated user as its core sees it: its connection (if any), what it
//! has in flight, and the server sequences it has seen.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::rc::Rc;

use monoio::net::TcpStream;

use crate::account::SeqSet;
use crate::proto::Dst;

/// The state of a user's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not connected (yet, or any more).
    Down,
    /// Connected and upgraded.
    Live,
    /// Reconnected after a drop; waiting for the cmd 31 of sync `id`.
    Syncing {
        /// The sync request's id.
        id: i64,
    },
}

/// A message waiting for its ack (imedge) or its deliveries (peer max mode).
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// The envelope id (0 for peers).
    pub id: i64,
    /// Its stream's destination.
    pub dst: Dst,
    /// Its stream sequence.
    pub seq: u32,
    /// Send time, unix microseconds.
    pub sent_us: u64,
    /// Peer max mode: deliveries still to come before the slot frees.
    pub remaining: u32,
}

/// What a user had seen when its connection was dropped on purpose.
#[derive(Debug, Clone, Copy)]
pub struct DropMark {
    /// When it was dropped.
    pub at_us: u64,
    /// Inbox sequences seen then.
    pub inbox_seen: u64,
    /// Group sequences seen then.
    pub group_seen: u64,
}

/// One simulated user.
#[derive(Debug)]
pub struct User {
    /// Its id.
    pub uid: i64,
    /// Its index in the plan.
    pub index: usize,
    /// The open socket, or -1.
    pub fd: RawFd,
    /// The open stream (shared with the connection task and the flusher).
    pub stream: Option<Rc<TcpStream>>,
    /// Connection state.
    pub link: Link,
    /// Bumped at every new connection, so a flusher of an old one stops.
    pub generation: u32,
    /// Bytes not yet accepted by the socket (normally empty).
    pub out: Vec<u8>,
    /// A flusher task is draining `out`.
    pub flushing: bool,
    /// Last envelope id used.
    pub next_id: i64,
    /// Messages in flight, oldest first.
    pub pending: VecDeque<Pending>,
    /// Inbox sequences seen (imedge).
    pub inbox: SeqSet,
    /// The user's group and the group sequences seen (its own messages
    /// included, from their acks).
    pub group: Option<(i64, SeqSet)>,
    /// Set while a storm drop waits to be recovered.
    pub dropped: Option<DropMark>,
    /// Reconnect when the connection ends (storm).
    pub reconnect: bool,
    /// Whether it sends in this scenario.
    pub sender: bool,
    /// Its first sync, which only learns where the server's logs stand, is
    /// under way.
    pub baseline: bool,
}

impl User {
    /// A user that is not connected yet.
    pub fn new(uid: i64, index: usize, group: Option<i64>, sender: bool) -> User {
        User {
            uid,
            index,
            fd: -1,
            stream: None,
            link: Link::Down,
            generation: 0,
            out: Vec::new(),
            flushing: false,
            next_id: 0,
            pending: VecDeque::new(),
            inbox: SeqSet::default(),
            group: group.map(|g| (g, SeqSet::default())),
            dropped: None,
            reconnect: false,
            sender,
            baseline: false,
        }
    }

    /// Whether messages can be sent now.
    pub fn is_up(&self) -> bool {
        self.fd >= 0 && self.link != Link::Down
    }

    /// The server-sequence set for a delivery to `dst` (`None`: a group
    /// this user is not in).
    pub fn log_mut(&mut self, dst: crate::proto::Dst) -> Option<&mut SeqSet> {
        match dst {
            Dst::User(_) => Some(&mut self.inbox),
            Dst::Group(g) => match &mut self.group {
                Some((gid, set)) if *gid == g => Some(set),
                _ => None,
            },
        }
    }
}
