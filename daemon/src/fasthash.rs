//! Hash maps for the per-message paths: keyed by uids, gids, logs and slab
//! keys, looked up several times per delivered message. std's SipHash
//! showed as about 2% of a core's samples in the chat benchmark; foldhash
//! is several times cheaper and still seeded per process, so keys chosen by
//! clients (a `dstid`) cannot be aimed at one bucket.

/// A `HashMap` with foldhash's seeded fast hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash's seeded fast hasher.
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
