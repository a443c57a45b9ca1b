//! The rules a [`Config`] must meet before the daemon starts.

use super::secret::MIN_SECRET_BYTES;
use super::{Config, ConfigError};

/// Upper bound of `threads`, far above any machine, to catch typos.
const MAX_THREADS: usize = 1024;
/// Range of `max_message_bytes`: below 1 KiB a sync request with a few
/// groups no longer fits; above 64 MiB one message is a memory attack.
const MESSAGE_BYTES: std::ops::RangeInclusive<usize> = 1024..=64 * 1024 * 1024;
/// Range of `retention_messages`: at least the newest message; the top
/// catches typos (a log that long is a disk, not an inbox).
const RETENTION_MESSAGES: std::ops::RangeInclusive<usize> = 1..=10_000_000;
/// Upper bound of `retention_days` (a century), to catch typos.
const MAX_RETENTION_DAYS: u32 = 36_500;

impl Config {
    /// Checks every field's rule; the error names the first field that
    /// breaks one, and the rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        rule(self.threads <= MAX_THREADS, "threads", || {
            format!(
                "must be 0 (one per core) or at most {MAX_THREADS}, got {}",
                self.threads
            )
        })?;
        if let Some(secret) = &self.secret {
            rule(secret.expose().len() >= MIN_SECRET_BYTES, "secret", || {
                format!(
                    "must be at least {MIN_SECRET_BYTES} bytes; leave it out to have one generated in {}",
                    self.data_dir.join("secret").display()
                )
            })?;
        }
        rule(!self.data_dir.as_os_str().is_empty(), "data_dir", || {
            "must not be empty".into()
        })?;
        self.store_spec()?;
        rule(
            RETENTION_MESSAGES.contains(&self.retention_messages),
            "retention_messages",
            || {
                format!(
                    "must be from {} to {}, got {}",
                    RETENTION_MESSAGES.start(),
                    RETENTION_MESSAGES.end(),
                    self.retention_messages
                )
            },
        )?;
        rule(
            self.retention_days <= MAX_RETENTION_DAYS,
            "retention_days",
            || {
                format!(
                    "must be 0 (no age limit) to {MAX_RETENTION_DAYS}, got {}",
                    self.retention_days
                )
            },
        )?;
        rule(
            MESSAGE_BYTES.contains(&self.max_message_bytes),
            "max_message_bytes",
            || {
                format!(
                    "must be from {} to {}, got {}",
                    MESSAGE_BYTES.start(),
                    MESSAGE_BYTES.end(),
                    self.max_message_bytes
                )
            },
        )?;
        rule(
            self.handshake_timeout_ms > 0,
            "handshake_timeout_ms",
            || "must be above 0".into(),
        )?;
        rule(self.ping_interval_ms > 0, "ping_interval_ms", || {
            "must be above 0".into()
        })?;
        rule(
            self.idle_timeout_ms > self.ping_interval_ms,
            "idle_timeout_ms",
            || {
                format!(
                    "must exceed ping_interval_ms ({}) so a pinged peer can answer, got {}",
                    self.ping_interval_ms, self.idle_timeout_ms
                )
            },
        )?;
        rule(self.max_connections > 0, "max_connections", || {
            "must be above 0".into()
        })?;
        for origin in &self.allowed_origins {
            rule(valid_origin(origin), "allowed_origins", || {
                format!("`{origin}` is not `scheme://host[:port]` (no path, no trailing slash)")
            })?;
        }
        rule(self.rate_limit > 0, "rate_limit", || {
            "must be above 0".into()
        })?;
        rule(self.rate_burst > 0, "rate_burst", || {
            "must be above 0".into()
        })?;
        rule(
            self.outbound_queue_bytes >= 2 * self.max_message_bytes,
            "outbound_queue_bytes",
            || {
                format!(
                    "must be at least 2 × max_message_bytes ({}) so a largest message fits, got {}",
                    2 * self.max_message_bytes,
                    self.outbound_queue_bytes
                )
            },
        )?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(ConfigError::Invalid {
                field: "log",
                rule: format!("`{}`: {e}", self.log),
            });
        }
        match &self.cluster {
            Some(cluster) => cluster.validate(self.secret.as_ref()),
            None => Ok(()),
        }
    }
}

fn rule(ok: bool, field: &'static str, rule: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field,
            rule: rule(),
        })
    }
}

/// `scheme://host[:port]` as an `Origin` header carries it. Anything more
/// (a path, a trailing slash) could never equal a real header, so the entry
/// would silently lock everyone out.
fn valid_origin(s: &str) -> bool {
    let Some((scheme, authority)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_end = match authority.strip_prefix('[') {
        Some(v6) => v6.find(']').map(|i| i + 2),
        None => Some(authority.rfind(':').unwrap_or(authority.len())),
    };
    let Some(host_end) = host_end.filter(|&i| i > 0 && i <= authority.len()) else {
        return false;
    };
    let (host, port) = authority.split_at(host_end);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            !v6.is_empty()
                && v6
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        }
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .is_some_and(|p| p > 0);
    scheme_ok && host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::valid_origin;

    #[test]
    fn origins() {
        for ok in [
            "https://im.example.com",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "https://[::1]:8443",
            "https://[::1]",
            "chrome-extension://abcdef",
        ] {
            assert!(valid_origin(ok), "{ok}");
        }
        for bad in [
            "",
            "im.example.com",
            "https://",
            "https://im.example.com/",
            "https://im.example.com/chat",
            "https://im.example.com:",
            "https://im.example.com:0",
            "https://im.example.com:https",
            "https://user@im.example.com",
            "https://im.example.com?x",
            "https://[::1",
            "null",
            "*",
            "1http://a",
            "http://a:b:80",
            "http://[]",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
    }
}
