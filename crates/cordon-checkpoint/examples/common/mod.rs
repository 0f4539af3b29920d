//! What the checkpoint examples share.

/// `bytes` of content for file `i` of a workspace built with `seed`: xorshift64, distinct per
/// file and per seed, so nothing deduplicates by accident.
pub fn content(seed: u64, i: u64, bytes: usize) -> Vec<u8> {
    let mut x = (i ^ seed.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
