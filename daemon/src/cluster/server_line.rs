//! One nginx upstream `server` entry, as the ring needs it: the address text
//! exactly as written (nginx hashes the text, not the resolved address), its
//! `weight` and whether it is `down`.

use std::fmt;

/// Largest `weight=` accepted. nginx has no cap, but each unit of weight is
/// 160 ring points (8 bytes each here), so this bounds the ring at 12.8 MB
/// per server and catches typos.
pub const MAX_WEIGHT: u32 = 10_000;

/// An upstream server: `ADDRESS [weight=N] [down] [max_fails=N] [fail_timeout=T]`,
/// optionally written as a whole nginx line (`server ...;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The address exactly as in nginx.conf, e.g. `127.0.0.1:9001`, `[::1]:9003`
    /// or `im1.internal:9001`; this text is what the ring hashes.
    pub address: String,
    /// `weight=N`: 160 × N ring points. Default 1.
    pub weight: u32,
    /// `down`: the points stay on the ring and are walked past.
    pub down: bool,
}

/// Why a `server` entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// Nothing but blanks (or `server;`).
    #[error("empty server entry")]
    Empty,
    /// A `weight=` that is not a number from 1 to [`MAX_WEIGHT`].
    #[error("server `{line}`: weight must be a number from 1 to {MAX_WEIGHT}")]
    Weight {
        /// The whole entry.
        line: String,
    },
    /// `backup`: nginx refuses it with `hash`, or, placed before `hash`,
    /// gives it no ring points, so no node could predict its users.
    #[error("server `{line}`: `backup` cannot be used with `hash ... consistent`")]
    Backup {
        /// The whole entry.
        line: String,
    },
    /// A parameter the ring cannot mirror or does not know (`max_conns`,
    /// `resolve`, a typo).
    #[error("server `{line}`: unsupported parameter `{param}` (allowed: weight=N, down, max_fails=N, fail_timeout=T)")]
    Param {
        /// The whole entry.
        line: String,
        /// The parameter.
        param: String,
    },
}

impl std::str::FromStr for Server {
    type Err = ServerError;

    fn from_str(line: &str) -> Result<Server, ServerError> {
        let body = line.trim().trim_end_matches(';').trim();
        let body = match body.strip_prefix("server") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
            _ => body,
        };
        let mut words = body.split_whitespace();
        let address = words.next().ok_or(ServerError::Empty)?;
        let mut server = Server {
            address: address.to_owned(),
            weight: 1,
            down: false,
        };
        for word in words {
            if let Some(n) = word.strip_prefix("weight=") {
                server.weight = n
                    .parse()
                    .ok()
                    .filter(|w| (1..=MAX_WEIGHT).contains(w))
                    .ok_or_else(|| ServerError::Weight {
                        line: line.trim().to_owned(),
                    })?;
            } else if word == "down" {
                server.down = true;
            } else if word == "backup" {
                return Err(ServerError::Backup {
                    line: line.trim().to_owned(),
                });
            } else if !(word.starts_with("max_fails=") || word.starts_with("fail_timeout=")) {
                // max_fails/fail_timeout only matter while nginx sees a node
                // fail; the ring's live view covers that (see `Ring::owner_with`).
                return Err(ServerError::Param {
                    line: line.trim().to_owned(),
                    param: word.to_owned(),
                });
            }
        }
        Ok(server)
    }
}

impl fmt::Display for Server {
    /// The entry as it would appear after `server` in nginx.conf.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)?;
        if self.weight != 1 {
            write!(f, " weight={}", self.weight)?;
        }
        if self.down {
            f.write_str(" down")?;
        }
        Ok(())
    }
}

impl Server {
    /// HOST and PORT as nginx splits the address for hashing: trailing ASCII
    /// digits after a `:` are the port, otherwise the port is empty (a
    /// missing port is not replaced by 80); `unix:/path` hashes `/path`.
    /// IPv6 keeps its brackets: `[::1]:9003` is (`[::1]`, `9003`).
    pub fn host_port(&self) -> (&[u8], &[u8]) {
        split(self.address.as_bytes())
    }
}

fn split(s: &[u8]) -> (&[u8], &[u8]) {
    if s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"unix:") {
        return (&s[5..], b"");
    }
    let digits = s.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let colon = s.len() - digits;
    if colon > 0 && s[colon - 1] == b':' {
        (&s[..colon - 1], &s[colon..])
    } else {
        (s, b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Server {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parameters() {
        let s = parse("127.0.0.1:9002 weight=2 down max_fails=0 fail_timeout=10s");
        assert_eq!(s.address, "127.0.0.1:9002");
        assert_eq!((s.weight, s.down), (2, true));
        assert_eq!(s.to_string(), "127.0.0.1:9002 weight=2 down");
        assert_eq!(parse("  server [::1]:9003 ;").address, "[::1]:9003");
        assert_eq!(parse("serverhost:1").address, "serverhost:1");
        assert_eq!(parse("10.0.0.1:1").weight, 1);
    }

    #[test]
    fn bad_entries_say_why() {
        assert_eq!("".parse::<Server>(), Err(ServerError::Empty));
        assert_eq!("server ;".parse::<Server>(), Err(ServerError::Empty));
        for bad in ["a:1 weight=0", "a:1 weight=x", "a:1 weight=10001"] {
            assert!(matches!(
                bad.parse::<Server>(),
                Err(ServerError::Weight { .. })
            ));
        }
        assert!(matches!(
            "a:1 backup".parse::<Server>(),
            Err(ServerError::Backup { .. })
        ));
        let e = "a:1 max_conns=5".parse::<Server>().unwrap_err();
        assert!(e.to_string().contains("`max_conns=5`"), "{e}");
    }

    #[test]
    fn host_and_port_split_like_nginx() {
        let hp = |a: &str| {
            let (h, p) = split(a.as_bytes());
            (
                String::from_utf8_lossy(h).into_owned(),
                String::from_utf8_lossy(p).into_owned(),
            )
        };
        assert_eq!(hp("127.0.0.1:9001"), ("127.0.0.1".into(), "9001".into()));
        assert_eq!(hp("[::1]:9003"), ("[::1]".into(), "9003".into()));
        assert_eq!(hp("127.0.0.2"), ("127.0.0.2".into(), "".into()));
        assert_eq!(hp("[::1]"), ("[::1]".into(), "".into()));
        assert_eq!(hp("unix:/run/im.sock"), ("/run/im.sock".into(), "".into()));
        assert_eq!(hp("host:"), ("host".into(), "".into()));
        assert_eq!(hp(":80"), ("".into(), "80".into()));
    }
}
