//! One connection to the store: a single Redis server or a Redis Cluster,
//! with connect and response timeouts so a dead or unreachable Redis costs
//! a bounded wait, never a hang.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{Cmd, ConnectionLike, FromRedisValue, RedisError, RedisResult, Script, Value};

use super::scripts;

/// Where the store is.
#[derive(Clone)]
pub enum Target {
    /// One server (`redis://…`).
    Single(redis::Client),
    /// A Redis Cluster, found from its seed nodes.
    Cluster(ClusterClient),
}

/// How long a connection may wait.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To open a TCP connection (and authenticate).
    pub connect: Duration,
    /// For one answer (a command or a whole pipeline).
    pub response: Duration,
}

impl Target {
    /// A single server at `url`.
    pub fn single(url: &str) -> RedisResult<Target> {
        Ok(Target::Single(redis::Client::open(url)?))
    }

    /// A cluster known by the seed node URLs `nodes`.
    pub fn cluster(nodes: &[String], t: Timeouts) -> RedisResult<Target> {
        let client = ClusterClient::builder(nodes.to_vec())
            .connection_timeout(t.connect)
            .response_timeout(t.response)
            // Slot moves are followed a few times; beyond that the cluster
            // is reported unavailable rather than waited for.
            .retries(3)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()?;
        Ok(Target::Cluster(client))
    }

    /// Opens a connection.
    pub fn connect(&self, t: Timeouts) -> RedisResult<Conn> {
        match self {
            Target::Single(c) => {
                let conn = c.get_connection_with_timeout(t.connect)?;
                conn.set_read_timeout(Some(t.response))?;
                conn.set_write_timeout(Some(t.response))?;
                Ok(Conn::Single(conn))
            }
            Target::Cluster(c) => {
                let conn = c.get_connection()?;
                conn.set_read_timeout(Some(t.response))?;
                conn.set_write_timeout(Some(t.response))?;
                Ok(Conn::Cluster(Box::new(conn)))
            }
        }
    }
}

/// An open connection of either kind.
pub enum Conn {
    /// To a single server.
    Single(redis::Connection),
    /// To a cluster (one socket per node, opened as slots are used).
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => &mut **c,
        }
    }

    /// Runs one command.
    pub fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        cmd.query(self.like())
    }

    /// Runs a script (EVALSHA, loading it on NOSCRIPT).
    pub fn script<T: FromRedisValue>(
        &mut self,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> RedisResult<T> {
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(*a);
        }
        inv.invoke(self.like())
    }

    /// Sends `cmds` in one pipeline (per node, for a cluster) and returns
    /// their answers in order. A server error in any answer fails the whole
    /// call: commands meant to be judged one by one answer with values.
    pub fn pipeline(&mut self, cmds: &[Cmd]) -> RedisResult<Vec<Value>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Conn::Single(c) => {
                let mut p = redis::pipe();
                for cmd in cmds {
                    p.add_command(cmd.clone());
                }
                p.query(c)
            }
            Conn::Cluster(c) => {
                let mut p = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    p.add_command(cmd.clone());
                }
                p.query(c)
            }
        }
    }

    /// Loads every script (on every master of a cluster), so EVALSHA in a
    /// pipeline finds them.
    pub fn load_scripts(&mut self) -> RedisResult<()> {
        for s in [&*scripts::APPEND, &*scripts::READ, &*scripts::CLAIM_ACCOUNT] {
            s.prepare_invoke().load(self.like())?;
        }
        Ok(())
    }
}

/// Whether `e` means the connection (or Redis) is gone, as opposed to a
/// refusal of one command by a healthy server.
pub fn broken(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_cluster_error()
        || e.is_unrecoverable_error()
}

/// Whether `e` is a system call interrupted before it moved any data. A
/// thread that also drives an io_uring gets these from blocking socket
/// calls when the kernel runs the ring's task work; the call is simply
/// made again (on a fresh connection, so no half-read answer is left).
pub fn interrupted(e: &RedisError) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted)
}
