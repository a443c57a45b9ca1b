//! The `store` field: which backend holds users, groups and messages.

use std::path::PathBuf;

/// The `store` value meaning "SQLite at `<data_dir>/imedge.db`" (the default).
pub const SQLITE_DEFAULT: &str = "sqlite";
/// File name of the default database inside `data_dir`.
pub const DEFAULT_DB_FILE: &str = "imedge.db";

/// The `fsync` field: how hard a SQLite commit pushes data to the disk
/// (`PRAGMA synchronous`; the daemon runs SQLite in WAL mode). A cmd 20 ack
/// is sent after the commit that holds its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// `synchronous = FULL`: every commit is fsynced before its acks; an
    /// acked message survives a process crash and a power loss.
    Full,
    /// `synchronous = NORMAL`: the WAL is fsynced only at checkpoints; an
    /// acked message survives a process crash (SIGKILL, panic, OOM kill),
    /// but a power loss or kernel crash may drop the last commits (never
    /// corrupts the file).
    Normal,
    /// `synchronous = OFF`: no fsync at all; an acked message survives a
    /// process crash, but a power loss may lose recent commits and may
    /// corrupt the database. For benchmarks and throwaway nodes.
    Off,
}

/// A parsed `store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: everything in this process, lost on restart.
    Memory,
    /// `sqlite:<path>`: one database file; a relative path is from the
    /// working directory.
    Sqlite(PathBuf),
    /// `redis://[user:pass@]host[:port][/db]` (or `rediss://` for TLS), the
    /// URL as given.
    Redis(String),
    /// `redis+cluster://[user:pass@]host:port,host:port,...`: a Redis
    /// Cluster found from these seed nodes, each as a `redis://` URL
    /// (credentials repeated on each).
    RedisCluster(Vec<String>),
}

const FORMS: &str = "expected `sqlite`, `sqlite:<path>`, `memory`, \
     `redis://[user:pass@]host[:port][/db]` or `redis+cluster://[user:pass@]host:port,host:port,...`";

impl std::str::FromStr for StoreSpec {
    /// The broken rule. Redis URLs may hold a password, so they are never
    /// quoted back.
    type Err = String;

    fn from_str(s: &str) -> Result<StoreSpec, String> {
        if s == "memory" {
            Ok(StoreSpec::Memory)
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                Err("`sqlite:` needs a file path, e.g. `sqlite:imedge-data/imedge.db`".to_owned())
            } else if path.starts_with("//") {
                // Not a URL: `sqlite://x` would silently mean the file `/x`.
                Err(format!("write `sqlite:<path>`, not a URL (got `{s}`)"))
            } else {
                Ok(StoreSpec::Sqlite(PathBuf::from(path)))
            }
        } else if let Some(rest) = s
            .strip_prefix("redis://")
            .or_else(|| s.strip_prefix("rediss://"))
        {
            check_redis(rest)?;
            Ok(StoreSpec::Redis(s.to_owned()))
        } else if let Some(rest) = s.strip_prefix("redis+cluster://") {
            cluster_nodes(rest).map(StoreSpec::RedisCluster)
        } else {
            let kind = s.split(':').next().unwrap_or_default();
            Err(format!("{FORMS}, got `{kind}`"))
        }
    }
}

/// The seed node URLs of `[user:pass@]host:port,host:port,...`.
fn cluster_nodes(rest: &str) -> Result<Vec<String>, String> {
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((a, h)) => (format!("{a}@"), h),
        None => (String::new(), rest),
    };
    if hosts.contains('/') {
        return Err("redis+cluster URL: Redis Cluster has no databases, drop the `/db`".to_owned());
    }
    let nodes: Vec<String> = hosts
        .split(',')
        .map(|hp| {
            let hp = hp.trim();
            if hp.is_empty() {
                return Err(format!(
                    "redis+cluster URL: an empty node in the list; {FORMS}"
                ));
            }
            check_redis(hp)?;
            Ok(format!("redis://{auth}{hp}"))
        })
        .collect::<Result<_, String>>()?;
    Ok(nodes)
}

/// Checks `[user:pass@]host[:port][/db]`: a host, a numeric port, a numeric db.
fn check_redis(rest: &str) -> Result<(), String> {
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => match v6.split_once(']') {
            Some((addr, tail)) => (addr, tail.strip_prefix(':')),
            None => return Err("redis URL: unclosed `[` in the host".to_owned()),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!("redis URL needs a host; {FORMS}"));
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
        return Err("redis URL: the port must be a number from 1 to 65535".to_owned());
    }
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err("redis URL: the database after `/` must be a number".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        assert_eq!(
            "sqlite:imedge.db".parse(),
            Ok(StoreSpec::Sqlite("imedge.db".into()))
        );
        assert_eq!(
            "sqlite:/var/lib/imedge/db".parse(),
            Ok(StoreSpec::Sqlite("/var/lib/imedge/db".into()))
        );
        for url in [
            "redis://localhost",
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379/2",
            "redis://:pw@redis.internal:6380/0",
            "redis://user:p:w@redis.internal",
            "rediss://[::1]:6379",
            "redis://[fe80::1]",
        ] {
            assert_eq!(url.parse(), Ok(StoreSpec::Redis(url.to_owned())), "{url}");
        }
    }

    #[test]
    fn refused_forms() {
        for bad in [
            "",
            "Memory",
            "mem",
            "sqlite:",
            "sqlite://imedge.db",
            "postgres://x",
            "redis://",
            "redis://:6379",
            "redis://host:port",
            "redis://host:0",
            "redis://host:70000",
            "redis://host/db",
            "redis://[::1",
            "redis://user:pw@",
        ] {
            assert!(bad.parse::<StoreSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cluster_forms() {
        assert_eq!(
            "redis+cluster://127.0.0.1:7000,127.0.0.1:7001".parse(),
            Ok(StoreSpec::RedisCluster(vec![
                "redis://127.0.0.1:7000".to_owned(),
                "redis://127.0.0.1:7001".to_owned()
            ]))
        );
        assert_eq!(
            "redis+cluster://:pw@h1:7000".parse(),
            Ok(StoreSpec::RedisCluster(vec![
                "redis://:pw@h1:7000".to_owned()
            ]))
        );
        for bad in [
            "redis+cluster://",
            "redis+cluster://h1:7000,",
            "redis+cluster://h1:7000,,h2:7001",
            "redis+cluster://h1:7000/0",
            "redis+cluster://h1:x",
            "redis+cluster://:pw@h1:70000",
        ] {
            assert!(bad.parse::<StoreSpec>().is_err(), "{bad}");
        }
        let e = "redis+cluster://u:hunter22@h1:0"
            .parse::<StoreSpec>()
            .unwrap_err();
        assert!(!e.contains("hunter22"), "{e}");
    }

    #[test]
    fn redis_errors_do_not_echo_the_password() {
        for bad in [
            "redis://user:hunter22@:0",
            "redis://user:hunter22@h/x",
            "redis:user:hunter22@h",
        ] {
            let e = bad.parse::<StoreSpec>().unwrap_err();
            assert!(!e.contains("hunter22"), "{e}");
        }
    }
}
