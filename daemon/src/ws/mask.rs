//! Payload masking (RFC 6455 5.3): XOR with a 4-byte key, in place.
//!
//! The codec's only loop over every payload byte. It XORs 8-byte words
//! against the key repeated twice, in 64-byte blocks the compiler turns into
//! SIMD, all in safe code: measured by `benches/benches/ws_codec.rs`
//! (`ws_unmask`) at ~44 GiB/s on a 64 KiB payload against ~3.9 GiB/s for a
//! byte-at-a-time loop; that is why `ws` can stay `#![forbid(unsafe_code)]`.
//! (Building the key pattern bytewise in a stack array was twice as slow on
//! small frames: the byte stores stall the vector loads that follow.)

/// Bytes per block of the main loop: enough words for the compiler to use
/// vector registers, and a multiple of 4 so the key phase never shifts.
const BLOCK: usize = 64;

/// XORs `buf` with `mask`, where `buf[0]` is byte `offset` of the payload
/// (so a payload split across calls unmasks the same as a whole one).
/// Masking twice with the same key and offset restores the input.
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let key = rotated(mask, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for w in block.chunks_exact_mut(8) {
            xor_word(w, word);
        }
    }
    // Small frames (most chat messages) are all remainder: words, then bytes.
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for w in &mut words {
        xor_word(w, word);
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// XORs an 8-byte chunk with `word` (native byte order on both sides, so
/// the key bytes line up with the chunk bytes).
#[inline(always)]
fn xor_word(chunk: &mut [u8], word: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
}

/// The key as seen from payload byte `offset`: `mask[(i + offset) % 4]`.
fn rotated(mask: [u8; 4], offset: usize) -> [u8; 4] {
    let o = offset % 4;
    [
        mask[o],
        mask[(o + 1) % 4],
        mask[(o + 2) % 4],
        mask[(o + 3) % 4],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], mask: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= mask[(i + offset) % 4];
        }
    }

    #[test]
    fn matches_the_bytewise_definition_at_every_length_and_offset() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        for len in (0..200).chain([1000, 4099]) {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let (mut fast, mut slow) = (data.clone(), data);
                apply_mask(&mut fast, mask, offset);
                naive(&mut slow, mask, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn unaligned_slices_mask_the_same() {
        let mask = [1, 2, 3, 4];
        let mut data = vec![0u8; 300];
        for start in 0..9 {
            let mut want = data[start..].to_vec();
            naive(&mut want, mask, 0);
            apply_mask(&mut data[start..], mask, 0);
            assert_eq!(data[start..], want[..], "start {start}");
            apply_mask(&mut data[start..], mask, 0);
        }
    }

    #[test]
    fn split_payload_unmasks_like_a_whole_one() {
        let mask = [0xde, 0xad, 0xbe, 0xef];
        let mut whole: Vec<u8> = (0..=255).collect();
        let mut split = whole.clone();
        apply_mask(&mut whole, mask, 0);
        let (a, b) = split.split_at_mut(67);
        apply_mask(a, mask, 0);
        apply_mask(b, mask, 67);
        assert_eq!(whole, split);
    }

    #[test]
    fn rfc_5_7_masked_hello() {
        let mut p = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&p, b"Hello");
    }
}
