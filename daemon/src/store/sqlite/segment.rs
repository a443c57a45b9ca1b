//! A segment: the consecutive messages one commit stored for one log, kept
//! as one row. Its blob is each frame prefixed by its length (4 bytes, big
//! endian); the seqs are implied, from the row's `first_seq` up.
//!
//! Under load a commit holds several messages of each busy log, and
//! SQLite's cost is per row and per index entry, not per byte (measured on
//! 2 vCPUs, `chat --users 2000 --max` for 10 s: 14 messages per row; store
//! thread 3.02/3.01/2.84 to 1.43/1.19/1.41 µs per message and 138,000/
//! 140,000/147,000 to 203,000/236,000/201,000 acknowledged messages a
//! second, 3 interleaved rounds against the row-per-message binary). A
//! quiet log gets segments of one message, as a row per message was.

use bytes::Bytes;

use crate::store::Stored;

/// Bytes of the length before each frame.
const PREFIX: usize = 4;

/// Makes `blob` the blob of `frames`, in order (the caller reuses one
/// buffer across segments: SQLite copies a bound blob).
pub fn encode_into(blob: &mut Vec<u8>, frames: &[Bytes]) {
    blob.clear();
    for f in frames {
        blob.extend_from_slice(&(f.len() as u32).to_be_bytes());
        blob.extend_from_slice(f);
    }
}

/// The messages of a segment that starts at `first_seq`, each frame a
/// slice of `blob` (no copy). Err when the blob does not split into whole
/// frames: the database is damaged.
pub fn decode(first_seq: u64, blob: Bytes) -> Result<Vec<Stored>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < blob.len() {
        let Some(len) = blob.get(at..at + PREFIX) else {
            return Err(format!(
                "segment at seq {first_seq}: a cut length at byte {at}"
            ));
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let start = at + PREFIX;
        if blob.len() - start < len {
            return Err(format!(
                "segment at seq {first_seq}: a frame of {len} bytes at byte {at} runs past its end"
            ));
        }
        out.push(Stored {
            seq: first_seq + out.len() as u64,
            frame: blob.slice(start..start + len),
        });
        at = start + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh blob, through a buffer that held something before.
    fn encode(frames: &[Bytes]) -> Vec<u8> {
        let mut blob = vec![0xEE; 3];
        encode_into(&mut blob, frames);
        blob
    }

    #[test]
    fn frames_come_back_whole_in_order_with_their_seqs() {
        let frames = [
            Bytes::from_static(b"first"),
            Bytes::new(),
            Bytes::from(vec![7u8; 70_000]),
        ];
        let got = decode(41, Bytes::from(encode(&frames))).unwrap();
        assert_eq!(got.iter().map(|m| m.seq).collect::<Vec<_>>(), [41, 42, 43]);
        let back: Vec<Bytes> = got.into_iter().map(|m| m.frame).collect();
        assert_eq!(back, frames);
    }

    #[test]
    fn a_damaged_blob_is_an_error_not_a_short_read() {
        let blob = encode(&[Bytes::from_static(b"abcdef")]);
        for cut in 1..blob.len() {
            let e = decode(1, Bytes::copy_from_slice(&blob[..cut])).unwrap_err();
            assert!(e.contains("seq 1"), "{e}");
        }
        assert!(decode(1, Bytes::new()).unwrap().is_empty());
    }

    #[test]
    fn one_frame_is_a_segment_of_one_with_nothing_left_of_the_buffer() {
        let got = decode(9, Bytes::from(encode(&[Bytes::from_static(b"x")]))).unwrap();
        assert_eq!(
            got,
            [Stored {
                seq: 9,
                frame: Bytes::from_static(b"x")
            }]
        );
    }
}
