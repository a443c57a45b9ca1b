//! Where users connect, from which source address, with which token.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};

/// One WebSocket endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Resolved address.
    pub addr: SocketAddr,
    /// `Host` header value (`host:port` as given).
    pub host: String,
    /// Path before the query, e.g. `/chat`.
    pub path: String,
}

impl Target {
    /// Parses `ws://host[:port][/path]` (port 80 and `/chat` by default).
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("ws://")
            .with_context(|| format!("{url}: only ws:// URLs are supported"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/chat"),
        };
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_owned()
        } else {
            format!("{hostport}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("{url}: cannot resolve {with_port}"))?
            .find(SocketAddr::is_ipv4)
            .with_context(|| format!("{url}: no IPv4 address"))?;
        let path = path.split('?').next().unwrap_or("/chat").to_owned();
        Ok(Target {
            addr,
            host: hostport.to_owned(),
            path,
        })
    }
}

/// Where tokens come from.
#[derive(Debug, Clone)]
pub enum Tokens {
    /// Minted from the cluster secret, valid until `expires` (unix seconds).
    Mint {
        /// The secret.
        secret: Vec<u8>,
        /// Expiry of every token.
        expires: u64,
    },
    /// Read from a file.
    File(HashMap<i64, String>),
    /// Peers accept anything.
    Any,
}

impl Tokens {
    /// Tokens minted from `secret`, valid for a day.
    pub fn mint(secret: &str) -> Tokens {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Tokens::Mint {
            secret: secret.as_bytes().to_vec(),
            expires: now + 86_400,
        }
    }

    /// Reads a file of `<token>` or `<uid> <token>` lines (the uid of a
    /// bare token is the part before its first dot).
    pub fn from_file(path: &Path) -> anyhow::Result<Tokens> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut map = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (uid, token) = match line.split_once(char::is_whitespace) {
                Some((u, t)) => (u, t.trim()),
                None => (line.split('.').next().unwrap_or(""), line),
            };
            let uid: i64 = uid
                .parse()
                .with_context(|| format!("{}:{}: no user id", path.display(), n + 1))?;
            map.insert(uid, token.to_owned());
        }
        Ok(Tokens::File(map))
    }

    /// The token of `uid`.
    pub fn token(&self, uid: i64) -> anyhow::Result<String> {
        match self {
            Tokens::Mint { secret, expires } => Ok(imedge::auth::mint(secret, uid, *expires)),
            Tokens::File(map) => map
                .get(&uid)
                .cloned()
                .with_context(|| format!("no token for user {uid} in --tokens file")),
            Tokens::Any => Ok("x".to_owned()),
        }
    }
}

/// Parses `a.b.c.d-a.b.c.e` or a comma-separated list of addresses.
pub fn parse_src_ips(spec: &str) -> anyhow::Result<Vec<Ipv4Addr>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: Ipv4Addr = a
                    .trim()
                    .parse()
                    .with_context(|| format!("bad address {a}"))?;
                let b: Ipv4Addr = b
                    .trim()
                    .parse()
                    .with_context(|| format!("bad address {b}"))?;
                let (a, b) = (u32::from(a), u32::from(b));
                if b < a || b - a > 65_536 {
                    bail!("bad source range {part}");
                }
                out.extend((a..=b).map(Ipv4Addr::from));
            }
            None => out.push(
                part.parse()
                    .with_context(|| format!("bad address {part}"))?,
            ),
        }
    }
    if out.is_empty() {
        bail!("--src-ips is empty");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults() {
        let t = Target::parse("ws://127.0.0.1:8080/chat").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/chat")
        );
        let t = Target::parse("ws://127.0.0.1").unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/chat"));
        assert!(Target::parse("http://127.0.0.1/").is_err());
    }

    #[test]
    fn source_ranges_expand() {
        let ips = parse_src_ips("127.0.0.2-127.0.0.4,127.0.0.9").unwrap();
        assert_eq!(ips.len(), 4);
        assert_eq!(ips[3], Ipv4Addr::new(127, 0, 0, 9));
        assert!(parse_src_ips("127.0.0.4-127.0.0.2").is_err());
    }

    #[test]
    fn token_files_take_bare_tokens_and_pairs() {
        let path = std::env::temp_dir().join(format!("lg-tokens-{}", std::process::id()));
        std::fs::write(&path, "# comment\n7.99.abc\n8 other-token\n\n").unwrap();
        let t = Tokens::from_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(t.token(7).unwrap(), "7.99.abc");
        assert_eq!(t.token(8).unwrap(), "other-token");
        assert!(t.token(9).is_err());
    }

    #[test]
    fn tokens_are_minted_for_the_user() {
        let t = Tokens::mint("0123456789abcdef");
        let tok = t.token(42).unwrap();
        assert!(tok.starts_with("42."));
        assert!(imedge::auth::verify(b"0123456789abcdef", &tok, 42, 0).is_ok());
    }
}
