//! Rebuilding a voter from its two files.

use std::collections::BTreeMap;

use super::*;

#[test]
fn recovery_rebuilds_from_bytes_and_cuts_a_torn_tail() {
    let (mut leader, out) = leader_of_epoch_3(RaftMutations::default());
    let mut out2 = Vec::new();
    assert_eq!(leader.propose(b"x".to_vec(), &mut out2), Some(4));
    let mut files = BTreeMap::from([
        (METADATA_LOG_FILE.to_owned(), log_bytes(&[1, 1, 2])),
        (QUORUM_STATE_FILE.to_owned(), state_bytes(2, None, Some(2))),
    ]);
    apply_writes(&mut files, &out);
    apply_writes(&mut files, &out2);
    let whole = files[METADATA_LOG_FILE].len();
    files
        .get_mut(METADATA_LOG_FILE)
        .expect("log")
        .truncate(whole - 1);
    let mut client = RaftClient::recover(
        1,
        vec![1, 2, 3],
        Some(&files[QUORUM_STATE_FILE]),
        Some(&files[METADATA_LOG_FILE]),
    );
    assert_eq!(client.log().end_offset(), 4, "the torn proposal is gone");
    assert_eq!(client.epoch(), 3);
    assert!(matches!(client.state(), EpochState::Resigned { epoch: 3 }));
    let mut out = Vec::new();
    client.start(0, &mut rng(), &mut out);
    let cut = out.iter().find_map(|o| match o.view() {
        View::Truncate { file, len } if file == METADATA_LOG_FILE => Some(len),
        _ => None,
    });
    assert_eq!(cut, Some(client.log().bytes_len()));
}

#[test]
fn recovery_follows_kafkas_initial_states() {
    let log = log_bytes(&[1, 4]);
    let kind = |state: Option<&[u8]>, log: Option<&[u8]>| {
        let client = RaftClient::recover(2, vec![1, 2, 3], state, log);
        (client.state().kind(), client.epoch())
    };
    assert_eq!(kind(None, None), (StateKind::Unattached, 0));
    assert_eq!(
        kind(Some(&state_bytes(3, Some(1), None)), Some(&log)),
        (StateKind::Unattached, 4),
        "the log's newer epoch wins"
    );
    let state = state_bytes(5, Some(2), Some(2));
    assert_eq!(kind(Some(&state), None), (StateKind::Resigned, 5));
    let state = state_bytes(5, None, Some(3));
    assert_eq!(kind(Some(&state), None), (StateKind::Follower, 5));
    let state = state_bytes(5, Some(2), None);
    assert_eq!(kind(Some(&state), None), (StateKind::Candidate, 5));
    let state = state_bytes(5, Some(1), None);
    assert_eq!(kind(Some(&state), None), (StateKind::Voted, 5));
}
