//! UTF-8 validation: of a whole payload, and of a text message that arrives
//! in fragments.
//!
//! RFC 6455 8.1 lets an endpoint fail a connection as soon as the bytes seen
//! so far cannot begin valid UTF-8 (Autobahn section 6 checks that it does),
//! so each fragment is checked on arrival. A code point may straddle two
//! fragments: its first bytes are carried over to the next one.

use simdutf8::compat::from_utf8;

/// Payloads shorter than this that are pure ASCII skip the validator: a
/// chat message is mostly short ASCII JSON, and for it an OR over the bytes
/// beats `simdutf8` (which hands inputs under 64 bytes to `std`).
const ASCII_FAST_PATH: usize = 64;

/// Whether `bytes` is valid UTF-8 (a whole text message or close reason).
pub(super) fn is_valid(bytes: &[u8]) -> bool {
    if bytes.len() < ASCII_FAST_PATH && bytes.iter().fold(0, |acc, b| acc | b) < 0x80 {
        return true;
    }
    simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Streaming validator for one fragmented text message.
#[derive(Debug, Default)]
pub(super) struct Utf8Stream {
    /// The start of a code point cut off by the end of the last fragment.
    carry: [u8; 4],
    /// How many bytes of `carry` are in use (0-3).
    carried: usize,
}

/// The bytes seen so far are not a prefix of any valid UTF-8 text.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Invalid;

impl Utf8Stream {
    /// Starts a new message.
    pub(super) fn reset(&mut self) {
        self.carried = 0;
    }

    /// Validates the next fragment of the message.
    pub(super) fn feed(&mut self, mut data: &[u8]) -> Result<(), Invalid> {
        if self.carried > 0 {
            // Finish the carried code point with up to 4 bytes: any definite
            // error in this window is an error in the message.
            let take = data.len().min(4 - self.carried);
            let mut window = self.carry;
            window[self.carried..self.carried + take].copy_from_slice(&data[..take]);
            let window = &window[..self.carried + take];
            match from_utf8(window) {
                Ok(_) => data = &data[take..],
                Err(e) if e.error_len().is_some() => return Err(Invalid),
                // Still incomplete: the whole fragment went into the window.
                Err(e) if e.valid_up_to() == 0 => {
                    self.carry[..window.len()].copy_from_slice(window);
                    self.carried = window.len();
                    return Ok(());
                }
                Err(e) => data = &data[e.valid_up_to() - self.carried..],
            }
            self.carried = 0;
        }
        match from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(Invalid),
            Err(e) => {
                let tail = &data[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carried = tail.len();
                Ok(())
            }
        }
    }

    /// Ends the message: valid only if no code point is left unfinished.
    pub(super) fn finish(&mut self) -> Result<(), Invalid> {
        let complete = self.carried == 0;
        self.carried = 0;
        if complete {
            Ok(())
        } else {
            Err(Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the parts in order, then ends the message.
    fn stream(parts: &[&[u8]]) -> Result<(), Invalid> {
        let mut s = Utf8Stream::default();
        for p in parts {
            s.feed(p)?;
        }
        s.finish()
    }

    #[test]
    fn whole_payloads_short_and_long() {
        assert!(is_valid(b"") && is_valid(b"{\"cmd\":1}"));
        assert!(is_valid("h\u{e9}llo".as_bytes()));
        assert!(!is_valid(b"caf\xc3\x28"));
        assert!(!is_valid(b"\xff"));
        let mut long = vec![b'a'; 200];
        assert!(is_valid(&long));
        long[150] = 0x80;
        assert!(!is_valid(&long));
    }

    #[test]
    fn every_split_of_valid_text_is_accepted() {
        let text = "a€𝄞é\u{10FFFF}z".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let parts = [&text[..i], &text[i..j], &text[j..]];
                assert_eq!(stream(&parts), Ok(()), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn single_bytes_of_a_four_byte_code_point() {
        let cp = "𝄞".as_bytes();
        assert_eq!(stream(&[&cp[..1], &cp[1..2], &cp[2..3], &cp[3..]]), Ok(()));
        assert_eq!(stream(&[&cp[..1], &[], &cp[1..2], &[], &cp[2..]]), Ok(()));
    }

    #[test]
    fn fails_on_the_fragment_that_breaks_the_text() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.feed(b"hello \xce"), Ok(()));
        assert_eq!(s.feed(b"\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), Ok(()));
        assert_eq!(s.feed(b"\xf4\x90\x80\x80"), Err(Invalid)); // above U+10FFFF
    }

    #[test]
    fn fails_fast_inside_a_carried_code_point() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.feed(b"\xed"), Ok(()));
        assert_eq!(s.feed(b"\xa0"), Err(Invalid)); // a UTF-16 surrogate
        let mut s = Utf8Stream::default();
        assert_eq!(s.feed(b"\xe2\x82"), Ok(()));
        assert_eq!(s.feed(b"a"), Err(Invalid));
    }

    #[test]
    fn an_unfinished_code_point_at_the_end_is_invalid() {
        assert_eq!(stream(&[b"ok", b"\xe2\x82"]), Err(Invalid));
        assert_eq!(stream(&[b"\xf0", b"\x9d", b"\x84"]), Err(Invalid));
    }

    #[test]
    fn reset_drops_a_carried_prefix() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.feed(b"\xe2"), Ok(()));
        s.reset();
        assert_eq!(s.feed(b"plain"), Ok(()));
        assert_eq!(s.finish(), Ok(()));
    }
}
