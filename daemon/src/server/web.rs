//! The built-in web chat client (`daemon/web/`), embedded in the binary and
//! served at `GET /` with its assets under `/web/<version>/`.
//!
//! `<version>` is a digest of every file, so an asset URL names exactly one
//! content: assets are cached for a year as immutable, and the page itself
//! (which names the version) is revalidated on every load, so a new binary
//! reaches every browser on its next page load.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::http::{self, Method, RequestHead};

/// The client's files: name, Content-Type, bytes.
const ASSETS: [(&str, &str, &[u8]); 9] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
    ("app.js", JS, include_bytes!("../../web/app.js")),
    ("api.js", JS, include_bytes!("../../web/api.js")),
    ("media.js", JS, include_bytes!("../../web/media.js")),
    ("render.js", JS, include_bytes!("../../web/render.js")),
    ("socket.js", JS, include_bytes!("../../web/socket.js")),
    ("store.js", JS, include_bytes!("../../web/store.js")),
    ("sync.js", JS, include_bytes!("../../web/sync.js")),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../web/favicon.svg"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../../web/index.html");
const VERSION_MARK: &str = "{{VERSION}}";

/// Headers every client file carries. Scripts and styles come only from
/// this origin (no inline code, so injected markup cannot run); images and
/// media that messages point at may come from any http(s) URL.
const SECURITY: &str = "X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
Cross-Origin-Opener-Policy: same-origin\r\n";

/// A digest of all client files: the asset directory name.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(INDEX.as_bytes());
        for (name, _, bytes) in ASSETS {
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// `index.html` pointing at this build's asset directory.
fn index() -> &'static [u8] {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    PAGE.get_or_init(|| INDEX.replace(VERSION_MARK, version()).into_bytes())
}

/// `host` when it is a plain `name[:port]` or `[v6]:port` that can go into a
/// CSP source expression unchanged; anything else could break out of it.
fn csp_host(host: Option<&str>) -> Option<&str> {
    host.filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}

/// The Content-Security-Policy line for a page served to `host`.
fn csp(host: Option<&str>) -> String {
    // 'self' covers ws(s) to the same host in CSP level 3; the explicit
    // sources are for browsers that predate that rule.
    let ws = csp_host(host)
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' http: https:; media-src http: https:; connect-src 'self'{ws}; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
    )
}

/// Answers `/`, `/index.html` and `/web/...`, or `None` for other paths.
pub fn answer(head: &RequestHead, keep_alive: bool) -> Option<Vec<u8>> {
    let path = head.path.as_str();
    let asset = path.strip_prefix("/web/");
    if path != "/" && path != "/index.html" && asset.is_none() {
        return None;
    }
    if head.method != Method::Get {
        return Some(http::json_error(405, "use GET", keep_alive));
    }
    let Some(asset) = asset else {
        let extra = format!(
            "Cache-Control: no-cache\r\n{SECURITY}{}",
            csp(head.host.as_deref())
        );
        return Some(http::with_headers(
            200,
            "text/html; charset=utf-8",
            extra.as_bytes(),
            index(),
            keep_alive,
        ));
    };
    let found = asset
        .split_once('/')
        .filter(|(v, _)| *v == version())
        .and_then(|(_, name)| ASSETS.iter().find(|(n, _, _)| *n == name));
    Some(match found {
        Some((_, content_type, bytes)) => {
            let extra = format!("Cache-Control: public, max-age=31536000, immutable\r\n{SECURITY}");
            http::with_headers(200, content_type, extra.as_bytes(), bytes, keep_alive)
        }
        // Also an old version's URL: the page that asked is stale and a
        // reload fetches the current one.
        None => http::json_error(404, "no such web client file", keep_alive),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_names_the_current_asset_directory() {
        let page = std::str::from_utf8(index()).unwrap();
        assert!(!page.contains(VERSION_MARK));
        assert!(page.contains(&format!("/web/{}/app.js", version())));
        assert_eq!(version().len(), 12);
    }

    #[test]
    fn every_module_import_is_embedded() {
        for (name, _, bytes) in ASSETS {
            let text = std::str::from_utf8(bytes).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let file = line
                    .rsplit("'./")
                    .next()
                    .and_then(|s| s.split('\'').next())
                    .unwrap_or_else(|| panic!("{name}: unexpected import {line}"));
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == file),
                    "{name} imports {file}, which is not embedded"
                );
            }
        }
    }

    #[test]
    fn csp_host_refuses_what_could_end_the_directive() {
        assert_eq!(csp_host(Some("127.0.0.1:8080")), Some("127.0.0.1:8080"));
        assert_eq!(csp_host(Some("[::1]:80")), Some("[::1]:80"));
        assert_eq!(csp_host(Some("a.example; script-src *")), None);
        assert_eq!(csp_host(Some("")), None);
        assert!(!csp(Some("x y")).contains("ws://"));
        assert!(csp(Some("chat.example"))
            .contains("connect-src 'self' ws://chat.example wss://chat.example;"));
    }
}
