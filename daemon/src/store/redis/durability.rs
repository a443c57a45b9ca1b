//! What a cmd 20 ack promises with Redis, by its persistence settings. The
//! ack is sent once Redis has answered the append script, so it means
//! "Redis has applied it"; whether it survives a Redis restart depends on
//! Redis alone:
//!
//! | Redis settings | an acked message survives |
//! |----------------|---------------------------|
//! | `appendonly yes`, `appendfsync always` | a Redis crash or restart, and a power loss of its host (fsync before the answer) |
//! | `appendonly yes`, `appendfsync everysec` | a Redis crash or restart; a power loss may drop about the last second |
//! | `appendonly yes`, `appendfsync no` | a Redis crash or restart; a power loss may drop what the OS had not flushed (~30 s) |
//! | `appendonly no` with `save` snapshots (RDB) | only up to the last snapshot: a restart loses minutes of acked messages |
//! | `appendonly no`, no `save` | nothing: a restart loses every message |
//!
//! Replication to Redis replicas is asynchronous: a failover to a replica
//! may lose the last acked writes whatever the settings. Eviction must be
//! off (`maxmemory-policy noeviction`): an evicted seq counter would let a
//! log number messages from the start again. The daemon checks these at
//! start and logs a warning when they cannot keep acked messages.

use super::conn::Conn;

/// How far an acknowledged message is kept, by the Redis settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// AOF fsynced before each answer.
    Always,
    /// AOF fsynced every second.
    EverySecond,
    /// AOF written before the answer, flushed when the OS decides.
    OsFlush,
    /// RDB snapshots only.
    Snapshots,
    /// No persistence.
    Nothing,
}

impl Durability {
    /// The level given by `appendonly`, `appendfsync` and `save` values.
    pub fn judge(appendonly: &str, appendfsync: &str, save: &str) -> Durability {
        if appendonly.eq_ignore_ascii_case("yes") {
            match appendfsync.to_ascii_lowercase().as_str() {
                "always" => Durability::Always,
                "no" => Durability::OsFlush,
                _ => Durability::EverySecond,
            }
        } else if save.trim().is_empty() {
            Durability::Nothing
        } else {
            Durability::Snapshots
        }
    }

    /// Whether acked messages survive a Redis restart.
    pub fn survives_restart(self) -> bool {
        matches!(
            self,
            Durability::Always | Durability::EverySecond | Durability::OsFlush
        )
    }
}

/// Reads one setting with CONFIG GET (None: CONFIG refused or unknown).
fn setting(conn: &mut Conn, name: &str) -> Option<String> {
    let pair: Vec<String> = conn.query(redis::cmd("CONFIG").arg("GET").arg(name)).ok()?;
    pair.get(1).cloned()
}

/// Reads the settings of the server behind `conn` and logs what an ack
/// means there (a warning when acked messages would not survive a restart
/// or could be evicted). Returns the level, None when CONFIG is refused.
pub fn check(conn: &mut Conn, node: &str) -> Option<Durability> {
    let Some(appendonly) = setting(conn, "appendonly") else {
        tracing::warn!(
            node,
            "cannot read the redis persistence settings (CONFIG GET refused); \
             make sure appendonly is yes or acked messages may be lost on a redis restart"
        );
        return None;
    };
    let fsync = setting(conn, "appendfsync").unwrap_or_default();
    let save = setting(conn, "save").unwrap_or_default();
    let level = Durability::judge(&appendonly, &fsync, &save);
    if level.survives_restart() {
        tracing::info!(node, ?level, "redis persistence");
    } else {
        tracing::warn!(
            node,
            ?level,
            "redis runs without appendonly: acknowledged messages will be lost when redis \
             restarts (set appendonly yes, appendfsync everysec or always)"
        );
    }
    match setting(conn, "maxmemory-policy") {
        Some(p) if p != "noeviction" => tracing::warn!(
            node,
            policy = %p,
            "redis may evict keys: an evicted sequence counter makes a log reuse seqs \
             (set maxmemory-policy noeviction)"
        ),
        _ => {}
    }
    Some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_settings() {
        assert_eq!(Durability::judge("yes", "always", ""), Durability::Always);
        assert_eq!(
            Durability::judge("yes", "everysec", "3600 1"),
            Durability::EverySecond
        );
        assert_eq!(Durability::judge("YES", "no", ""), Durability::OsFlush);
        assert_eq!(
            Durability::judge("no", "always", "3600 1 300 100"),
            Durability::Snapshots
        );
        assert_eq!(Durability::judge("no", "everysec", ""), Durability::Nothing);
        assert!(Durability::OsFlush.survives_restart());
        assert!(!Durability::Snapshots.survives_restart());
        assert!(!Durability::Nothing.survives_restart());
    }
}
