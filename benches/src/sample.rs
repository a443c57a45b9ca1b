//! Payloads the criterion benches share, so every bench measures the same
//! messages a client would send.

/// A client envelope (cmd 10 to user 42, or cmd 11 to group 7 when `room`)
/// of exactly `len` bytes of JSON text, `content` padded to fit; `len` must
/// be at least 64.
pub fn envelope(len: usize, room: bool) -> Vec<u8> {
    let head: &[u8] = if room {
        br#"{"id":17,"cmd":11,"dstid":7,"media":1,"content":""#
    } else {
        br#"{"id":17,"cmd":10,"dstid":42,"media":1,"content":""#
    };
    assert!(
        len >= head.len() + 2,
        "an envelope needs at least {} bytes",
        head.len() + 2
    );
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(head);
    out.resize(len - 2, b'x');
    out.extend_from_slice(b"\"}");
    out
}

#[cfg(test)]
mod tests {
    use super::envelope;

    #[test]
    fn envelopes_have_the_asked_length_and_parse() {
        for (len, room) in [(64, false), (128, true), (16 * 1024, false)] {
            let e = envelope(len, room);
            assert_eq!(e.len(), len);
            let mut scratch = Vec::new();
            let env = imedge::msg::parse(&e, 5, &mut scratch).expect("valid envelope");
            assert_eq!(env.dstid, if room { 7 } else { 42 });
        }
    }
}
