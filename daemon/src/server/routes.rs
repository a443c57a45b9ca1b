//! Plain HTTP endpoints served beside `/chat`.

use std::net::IpAddr;

use super::core::Core;
use crate::http::{self, Method, RequestHead};

/// The response to a plain (non-upgrade) request from `peer`.
pub async fn answer(
    core: &Core,
    head: &RequestHead,
    body: &[u8],
    peer: IpAddr,
    keep_alive: bool,
) -> Vec<u8> {
    match super::api::answer(core, head, body, peer, keep_alive).await {
        Some(response) => response,
        None => plain(core, head, keep_alive),
    }
}

fn plain(core: &Core, head: &RequestHead, keep_alive: bool) -> Vec<u8> {
    if let Some(page) = super::web::answer(head, keep_alive) {
        return page;
    }
    let get = head.method == Method::Get;
    match head.path.as_str() {
        "/healthz" if get => {
            if core.shared.draining() {
                http::json_error(503, "draining", keep_alive)
            } else {
                http::json_ok(200, br#"{"code":0,"msg":"","data":"ok"}"#, keep_alive)
            }
        }
        "/metrics" if get => {
            let text = core.shared.metrics.render();
            http::text(
                200,
                "text/plain; version=0.0.4",
                text.as_bytes(),
                keep_alive,
            )
        }
        "/healthz" | "/metrics" => http::json_error(405, "method not allowed", keep_alive),
        _ => http::json_error(404, "no such path", keep_alive),
    }
}
