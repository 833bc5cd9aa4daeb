//! Determinism rechecks of a sweep (FoundationDB's UnseedMismatch): a
//! deterministic sample of the seeds runs a second time on a fresh worker
//! thread, and any trace hash that differs is a bug in the simulator
//! itself. Where two more runs of such a seed part is found by writing
//! both traces and comparing them event by event.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Whether `seed` is in the recheck sample of `percent` percent: a fixed
/// hash of the seed, so the sample does not depend on the job count or on
/// the order seeds finish in.
pub fn sampled(seed: u64, percent: u8) -> bool {
    // splitmix64's finaliser.
    let mut z = seed ^ 0x7265_6368_6563_6b00;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z % 100 < u64::from(percent)
}

/// Where the traces of two more runs of a nondeterministic seed first differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Divergence {
    /// The event's position in the trace (1 = the first event after the
    /// trace's header line).
    pub event: u64,
    /// That event as the first run's trace has it (None: its trace ended).
    pub first: Option<String>,
    /// That event as the second run's trace has it (None: its trace ended).
    pub second: Option<String>,
}

/// A seed whose recheck gave another trace hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Nondeterministic {
    /// The seed.
    pub seed: u64,
    /// The sweep's run's trace hash.
    pub trace_hash: String,
    /// The recheck's trace hash.
    pub recheck_trace_hash: String,
    /// The two traces written to find where runs part.
    pub traces: [String; 2],
    /// Where those two traces part (None: they did not part this time).
    pub divergence: Option<Divergence>,
}

/// The first line where two trace files differ (the header line, which
/// names the run, is line 0 and skipped). None when they are the same.
pub fn first_difference(a: &Path, b: &Path) -> std::io::Result<Option<Divergence>> {
    let mut a = BufReader::new(std::fs::File::open(a)?).lines();
    let mut b = BufReader::new(std::fs::File::open(b)?).lines();
    let mut event = 0u64;
    loop {
        let (x, y) = (a.next().transpose()?, b.next().transpose()?);
        if x.is_none() && y.is_none() {
            return Ok(None);
        }
        if event > 0 && x != y {
            return Ok(Some(Divergence {
                event,
                first: x,
                second: y,
            }));
        }
        event += 1;
    }
}

/// The two trace files of a nondeterministic seed, under `dir`.
pub fn trace_paths(dir: &Path, seed: u64) -> [PathBuf; 2] {
    [
        dir.join(format!("nondeterministic-seed-{seed}-a.jsonl")),
        dir.join(format!("nondeterministic-seed-{seed}-b.jsonl")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_about_the_percentage_and_fixed() {
        let n = (0..10_000).filter(|&s| sampled(s, 5)).count();
        assert!((400..600).contains(&n), "{n} of 10000 at 5%");
        assert_eq!((0..1000).filter(|&s| sampled(s, 0)).count(), 0);
        assert_eq!((0..1000).filter(|&s| sampled(s, 100)).count(), 1000);
        let again: Vec<u64> = (0..200).filter(|&s| sampled(s, 5)).collect();
        assert_eq!(
            again,
            (0..200).filter(|&s| sampled(s, 5)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn traces_part_at_the_first_different_event() {
        let dir = std::env::temp_dir().join(format!("ksim-recheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "{\"seed\":1}\nx\ny\nz\n").unwrap();
        std::fs::write(&b, "{\"seed\":1}\nx\nq\nz\n").unwrap();
        let d = first_difference(&a, &b).unwrap().expect("they part");
        assert_eq!(d.event, 2);
        assert_eq!(
            (d.first.as_deref(), d.second.as_deref()),
            (Some("y"), Some("q"))
        );
        std::fs::write(&b, "{\"seed\":1}\nx\ny\n").unwrap();
        let d = first_difference(&a, &b).unwrap().expect("one is shorter");
        assert_eq!((d.event, d.second), (3, None));
        std::fs::write(&b, "{\"seed\":1}\nx\ny\nz\n").unwrap();
        assert_eq!(first_difference(&a, &b).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
