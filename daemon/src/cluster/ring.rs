//! The consistent-hash ring of nginx's `hash $key consistent`, bit for bit
//! (checked against Debian's nginx 1.22.1; see `nginx/README.md`).
//!
//! Each server adds `160 × weight` points: `crc32(HOST \0 PORT prev_le32)`,
//! chained from `prev = 0`, over the address text as written. Points are
//! sorted (stably, so on equal points the server listed first wins, as with
//! glibc's merge-sort `qsort`) and only the first of equal points is kept.
//! A key's point is the first one `>= crc32(key)`, wrapping to the start;
//! points of down servers are walked past one at a time, at most 21 of them,
//! after which nginx falls back to round robin, which nobody can predict.

use super::server_line::{Server, ServerError, MAX_WEIGHT};

/// Ring points per unit of `weight` (nginx's, and ketama's `ketama_points`).
pub const POINTS_PER_WEIGHT: u32 = 160;

/// Points nginx examines for one request before it gives up on the ring and
/// picks by round robin (`tries > 20` in `ngx_http_upstream_get_chash_peer`).
pub const MAX_TRIES: usize = 21;

/// Why a ring cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// No servers at all.
    #[error("the ring needs at least one server")]
    Empty,
    /// The same address twice: nginx would share its points between the two
    /// lines and pick one by round robin, so the owner is unpredictable.
    #[error("server `{0}` is listed twice; nginx would pick between the two by round robin")]
    Duplicate(String),
    /// A weight outside 1 to [`MAX_WEIGHT`] (only a hand-built [`Server`]
    /// can have one; parsing refuses it).
    #[error("server `{0}`: weight must be from 1 to {MAX_WEIGHT}")]
    Weight(String),
    /// An entry that does not parse as a `server`.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The ring over a list of servers, in nginx.conf order.
#[derive(Debug, Clone)]
pub struct Ring {
    servers: Vec<Server>,
    /// Sorted point values, searched on every lookup (kept apart from the
    /// owners so the binary search touches only these).
    points: Vec<u32>,
    /// Server index of each point.
    owners: Vec<u32>,
}

impl Ring {
    /// Builds the ring; the order of `servers` matters only for equal points
    /// (rare: none among 200 servers), exactly as in nginx.
    pub fn new(servers: Vec<Server>) -> Result<Ring, RingError> {
        if servers.is_empty() {
            return Err(RingError::Empty);
        }
        for (i, s) in servers.iter().enumerate() {
            if servers[..i].iter().any(|o| o.address == s.address) {
                return Err(RingError::Duplicate(s.address.clone()));
            }
            if !(1..=MAX_WEIGHT).contains(&s.weight) {
                return Err(RingError::Weight(s.address.clone()));
            }
        }
        let total: usize = servers
            .iter()
            .map(|s| (s.weight * POINTS_PER_WEIGHT) as usize)
            .sum();
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(total);
        for (index, server) in servers.iter().enumerate() {
            let (host, port) = server.host_port();
            let mut base = crc32fast::Hasher::new();
            base.update(host);
            base.update(&[0]);
            base.update(port);
            let mut prev = 0u32;
            for _ in 0..server.weight * POINTS_PER_WEIGHT {
                let mut point = base.clone();
                point.update(&prev.to_le_bytes());
                prev = point.finalize();
                pairs.push((prev, index as u32));
            }
        }
        // Stable: of equal points the earlier server's comes first and is kept.
        pairs.sort_by_key(|&(point, _)| point);
        pairs.dedup_by_key(|&mut (point, _)| point);
        let (points, owners) = pairs.into_iter().unzip();
        Ok(Ring {
            servers,
            points,
            owners,
        })
    }

    /// Parses each entry as a [`Server`] and builds the ring.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Ring, RingError> {
        let servers = entries
            .iter()
            .map(|e| e.as_ref().parse::<Server>())
            .collect::<Result<Vec<_>, _>>()?;
        Ring::new(servers)
    }

    /// The servers, in the order given; owners are indices into this.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Number of distinct points.
    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    /// The point at `index` (wrapping) and its server's index.
    pub fn point(&self, index: usize) -> (u32, usize) {
        let i = index % self.points.len();
        (self.points[i], self.owners[i] as usize)
    }

    /// Index of the key's point: the first point `>= crc32(key)`; past the
    /// last point this is `point_count()`, which wraps to 0 on use, as in
    /// nginx.
    pub fn start(&self, key: &[u8]) -> usize {
        let hash = crc32fast::hash(key);
        self.points.partition_point(|&p| p < hash)
    }

    /// The server nginx sends `key` to while every server not marked `down`
    /// is reachable; `None` when nginx would use round robin (an empty key,
    /// or 21 points in a row of down servers).
    pub fn owner(&self, key: &[u8]) -> Option<usize> {
        self.owner_with(key, |_| true)
    }

    /// As [`Ring::owner`], also walking past the servers for which `up`
    /// says false (the ones nginx sees failing).
    pub fn owner_with(&self, key: &[u8], up: impl Fn(usize) -> bool) -> Option<usize> {
        if key.is_empty() {
            return None;
        }
        let start = self.start(key);
        (start..start + MAX_TRIES)
            .map(|i| self.owners[i % self.owners.len()] as usize)
            .find(|&s| !self.servers[s].down && up(s))
    }

    /// The owner of user `uid`, hashed as its canonical decimal text, which
    /// is what nginx's validated `$arg_id` holds. Allocates nothing.
    pub fn owner_of_uid(&self, uid: u64) -> Option<usize> {
        let mut text = itoa::Buffer::new();
        self.owner(text.format(uid).as_bytes())
    }

    /// The servers nginx tries for `key`, in order, when each attempt fails
    /// and `proxy_next_upstream` retries: distinct, not down, clockwise from
    /// the key's point, within the 21-point budget that nginx shares across
    /// the retries of one request. Once that budget is spent nginx picks the
    /// remaining retries by round robin, whose order depends on the worker's
    /// earlier requests; [`Failover::spent`] tells when that happened.
    pub fn failover(&self, key: &[u8]) -> Failover<'_> {
        Failover {
            ring: self,
            index: self.start(key),
            tries: if key.is_empty() { MAX_TRIES } else { 0 },
            tried: vec![false; self.servers.len()],
        }
    }
}

/// The iterator of [`Ring::failover`].
#[derive(Debug)]
pub struct Failover<'a> {
    ring: &'a Ring,
    index: usize,
    tries: usize,
    tried: Vec<bool>,
}

impl Failover<'_> {
    /// Whether the walk ended because the point budget ran out (so nginx
    /// goes on by round robin over the untried servers) rather than because
    /// every live server was tried.
    pub fn spent(&self) -> bool {
        self.tries >= MAX_TRIES
            && (self.ring.servers.iter().zip(&self.tried)).any(|(s, &tried)| !tried && !s.down)
    }
}

impl Iterator for Failover<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        // nginx keeps the point index between retries: a retry first meets
        // the server just tried, which costs a try, and moves on.
        while self.tries < MAX_TRIES {
            let s = self.ring.owners[self.index % self.ring.owners.len()] as usize;
            if !self.tried[s] && !self.ring.servers[s].down {
                self.tried[s] = true;
                return Some(s);
            }
            self.index += 1;
            self.tries += 1;
        }
        None
    }
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
