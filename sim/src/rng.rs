//! One seeded random source per run, split into independent named streams.
//!
//! Every stream uses the run's seed as its ChaCha8 key and a stable hash of its
//! name as the ChaCha stream number, so streams never overlap and adding draws
//! to one (say, a new fault) never shifts the draws of another (the workload).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random streams of one run, all derived from its seed.
#[derive(Clone, Debug)]
pub struct Streams {
    seed: u64,
}

/// A seed made of `seed` and `suffix` (splitmix64 of both): a future of
/// the run that branches from its history (see `Sim::reseed`).
pub fn mix(seed: u64, suffix: u64) -> u64 {
    let mut z = seed ^ suffix.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x0062_6c61_6d65;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Streams {
    /// The streams of the run seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The seed every stream derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A fresh generator for the stream called `name` (same name, same draws).
    pub fn stream(&self, name: &str) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream_number(name));
        rng
    }
}

/// FNV-1a of the name: stable across platforms, builds and Rust versions.
fn stream_number(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn draws(rng: &mut ChaCha8Rng) -> Vec<u64> {
        (0..8).map(|_| rng.random()).collect()
    }

    #[test]
    fn same_seed_and_name_give_same_draws() {
        let a = draws(&mut Streams::new(42).stream("workload"));
        let b = draws(&mut Streams::new(42).stream("workload"));
        assert_eq!(a, b);
    }

    #[test]
    fn streams_are_independent_of_each_other() {
        let streams = Streams::new(42);
        let workload_alone = draws(&mut streams.stream("workload"));
        // Draining the fault stream first must not move the workload stream.
        let mut faults = streams.stream("faults");
        for _ in 0..1000 {
            let _: u64 = faults.random();
        }
        assert_eq!(draws(&mut streams.stream("workload")), workload_alone);
        assert_ne!(draws(&mut streams.stream("faults")), workload_alone);
    }

    #[test]
    fn different_seeds_differ() {
        let a = draws(&mut Streams::new(1).stream("network"));
        let b = draws(&mut Streams::new(2).stream("network"));
        assert_ne!(a, b);
    }
}
