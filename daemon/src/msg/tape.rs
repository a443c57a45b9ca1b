//! One simd-json parse per message, without allocating once warm, and the
//! few tape reads the envelope checks need.
//!
//! simd-json needs work buffers and a tape `Vec` for every parse. Creating
//! them per call costs several allocations per message, so each thread (one
//! per core in imedge) keeps one set and reuses it. The set only grows: its
//! size follows the largest message the thread has parsed, at most a few
//! times the WebSocket message limit.

use std::cell::Cell;

use simd_json::{Buffers, Node, StaticNode, Tape};

/// Initial work-buffer size: enough for a typical chat message.
const INITIAL_INPUT: usize = 1024;

thread_local! {
    static CACHE: Cell<Option<(Buffers, Tape<'static>)>> = const { Cell::new(None) };
}

/// Parses `input` in place and hands its tape to `check`; `None` when the
/// input is not JSON.
///
/// The cache is taken out of its cell for the call, so a nested call (none
/// exists today) would only cost fresh buffers, never a panic.
pub(crate) fn with_tape<R>(input: &mut [u8], check: impl FnOnce(Option<&[Node<'_>]>) -> R) -> R {
    let (mut buffers, tape) = CACHE
        .with(Cell::take)
        .unwrap_or_else(|| (Buffers::new(INITIAL_INPUT), Tape::null()));
    let mut tape = tape.reset();
    let out = match simd_json::fill_tape(input, &mut buffers, &mut tape) {
        Ok(()) => check(Some(&tape.0)),
        Err(_) => check(None),
    };
    // `reset` empties the tape, ending its borrow of `input`.
    CACHE.with(|c| c.set(Some((buffers, tape.reset()))));
    out
}

/// Number of tape nodes the value starting with `node` occupies.
#[inline]
pub(crate) fn span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// The value as an `i64`, when it is a JSON integer in range.
#[inline]
pub(crate) fn as_i64(node: &Node<'_>) -> Option<i64> {
    match *node {
        Node::Static(StaticNode::I64(v)) => Some(v),
        Node::Static(StaticNode::U64(v)) => i64::try_from(v).ok(),
        _ => None,
    }
}

/// The value as a `u64`, when it is a non-negative JSON integer in range.
#[inline]
pub(crate) fn as_u64(node: &Node<'_>) -> Option<u64> {
    match *node {
        Node::Static(StaticNode::U64(v)) => Some(v),
        Node::Static(StaticNode::I64(v)) => u64::try_from(v).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(json: &str) -> Vec<String> {
        let mut input = json.as_bytes().to_vec();
        with_tape(&mut input, |t| {
            t.unwrap().iter().map(|n| format!("{n:?}")).collect()
        })
    }

    #[test]
    fn span_skips_nested_values_whole() {
        let mut input = br#"{"a":{"b":[1,{"c":2}]},"d":3}"#.to_vec();
        with_tape(&mut input, |t| {
            let t = t.unwrap();
            // Root, key "a", then the nested object: after it comes key "d".
            let after = 2 + span(&t[2]);
            assert_eq!(t[after], Node::String("d"));
            assert_eq!(as_i64(&t[after + 1]), Some(3));
        });
    }

    #[test]
    fn integers_are_read_within_range_only() {
        let mut input = br#"[-1, 9223372036854775807, 9223372036854775808, 1.0, "1"]"#.to_vec();
        with_tape(&mut input, |t| {
            let t = t.unwrap();
            assert_eq!(as_i64(&t[1]), Some(-1));
            assert_eq!(as_u64(&t[1]), None);
            assert_eq!(as_i64(&t[2]), Some(i64::MAX));
            assert_eq!(as_i64(&t[3]), None);
            assert_eq!(as_u64(&t[3]), Some(1 << 63));
            assert_eq!(as_i64(&t[4]), None);
            assert_eq!(as_i64(&t[5]), None);
        });
    }

    #[test]
    fn the_cache_is_reused_across_inputs() {
        assert_eq!(nodes("[1]").len(), 2);
        assert_eq!(nodes(&format!("[{}1]", "1,".repeat(5000))).len(), 5002);
        assert_eq!(nodes("{}").len(), 1);
        let mut bad = b"{\"a\":".to_vec();
        assert!(with_tape(&mut bad, |t| t.is_none()));
    }
}
