//! Where a message goes. A user lives on core `core_of(uid)`; a group's
//! sequence is kept on core `core_of(gid)`. Every connection of a user is on
//! its core, so routing to a user needs no directory.

/// The core owning user or group id `id` among `cores` cores.
pub fn core_of(id: i64, cores: usize) -> usize {
    // Fibonacci hashing spreads sequential ids; the high bits are the best mixed.
    let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h >> 32) % cores as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_evenly() {
        let mut count = [0usize; 4];
        for uid in 1..=10_000 {
            count[core_of(uid, 4)] += 1;
        }
        assert!(
            count.iter().all(|&c| (2_300..=2_700).contains(&c)),
            "{count:?}"
        );
        assert!((1..100).all(|u| core_of(u, 1) == 0));
    }
}
