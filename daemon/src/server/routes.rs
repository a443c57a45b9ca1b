//! Plain HTTP endpoints served beside `/chat`.

use super::api::Answer;
use super::core::Core;
use crate::http::{self, Method, RequestHead};

/// The response to a plain (non-upgrade) request.
pub fn answer(core: &Core, head: &RequestHead, body: &[u8], keep_alive: bool) -> Answer {
    if let Some(answer) = super::api::answer(core, head, body, keep_alive) {
        return answer;
    }
    Answer {
        response: plain(core, head, keep_alive),
        wait: None,
    }
}

fn plain(core: &Core, head: &RequestHead, keep_alive: bool) -> Vec<u8> {
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
