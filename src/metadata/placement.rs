//! Replica placement for new topics: round-robin over the usable brokers.

use crate::errors::Errors;

/// Replicas of each of `partitions` partitions, `replication_factor` each,
/// over `usable` brokers (ascending ids): partition `p` starts at broker
/// `(start + p) % n` and its further replicas follow round the ring, so the
/// first replica, the preferred leader, rotates across brokers.
/// INVALID_REPLICATION_FACTOR when there are fewer usable brokers than replicas.
pub fn place_replicas(
    usable: &[u32],
    start: usize,
    partitions: u32,
    replication_factor: u32,
) -> Result<Vec<Vec<u32>>, Errors> {
    let n = usable.len();
    if replication_factor == 0 || (replication_factor as usize) > n {
        return Err(Errors::InvalidReplicationFactor);
    }
    Ok((0..partitions as usize)
        .map(|p| {
            (0..replication_factor as usize)
                .map(|j| usable[(start + p + j) % n])
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_leaders_rotate_round_the_ring() {
        let placed = place_replicas(&[1, 2, 3], 0, 4, 2).unwrap();
        assert_eq!(placed, vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![1, 2]]);
        let shifted = place_replicas(&[1, 2, 3], 1, 1, 3).unwrap();
        assert_eq!(shifted, vec![vec![2, 3, 1]]);
        assert_eq!(
            place_replicas(&[1, 2], 0, 1, 3),
            Err(Errors::InvalidReplicationFactor)
        );
    }
}
