//! Fetch, divergence, the high watermark, check-quorum and fencing.

use super::*;

#[test]
fn the_high_watermark_waits_for_a_majority_past_the_leaders_epoch_start() {
    let (mut leader, out) = leader_of_epoch_3(RaftMutations::default());
    let mut out2 = Vec::new();
    for token in fsync_tokens(&out) {
        leader.on_fsync(0, token, &mut out2);
    }
    assert!(
        committed(&out2).is_empty(),
        "the leader alone is no majority"
    );
    // Voter 2 has the old entries: a majority at 3, which is the epoch start.
    let mut out3 = Vec::new();
    leader.on_message(1, &mut rng(), 2, fetch(2, 3, 3, 2), &mut out3);
    assert!(committed(&out3).is_empty());
    assert_eq!(leader.high_watermark(), 0);
    let records = match &sends(&out3)[0].1 {
        RaftMessage::FetchResponse { records, .. } => records.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(records.len(), 1);
    // Voter 2 has the LeaderChange: everything to 4 is committed.
    let mut out4 = Vec::new();
    leader.on_message(2, &mut rng(), 2, fetch(2, 3, 4, 3), &mut out4);
    assert_eq!(committed(&out4), vec![4]);
    // A voter reporting less never lowers it.
    leader.on_message(3, &mut rng(), 2, fetch(2, 3, 4, 3), &mut Vec::new());
    assert_eq!(leader.high_watermark(), 4);
}

#[test]
fn commit_on_minority_commits_on_the_leaders_fsync_alone() {
    let mutated = RaftMutations {
        commit_on_minority: true,
        ..RaftMutations::default()
    };
    let (mut leader, out) = leader_of_epoch_3(mutated);
    let mut after = Vec::new();
    for token in fsync_tokens(&out) {
        leader.on_fsync(0, token, &mut after);
    }
    assert_eq!(committed(&after), vec![4]);
}

#[test]
fn a_diverging_follower_truncates_fsyncs_and_refetches() {
    let (mut leader, _) = leader_of_epoch_3(RaftMutations::default());
    // Voter 3 has epoch-2 entries the leader never had beyond offset 3.
    let follower_log = log_bytes(&[1, 1, 2, 2, 2]);
    let state = state_bytes(3, None, Some(1));
    let mut follower = RaftClient::recover(3, vec![1, 2, 3], Some(&state), Some(&follower_log));
    let mut out = Vec::new();
    follower.start(0, &mut rng(), &mut out);
    for token in fsync_tokens(&out) {
        follower.on_fsync(0, token, &mut out);
    }
    let request = sends(&out).pop().expect("a fetch").1;
    assert_eq!(request, fetch(3, 3, 5, 2));
    let mut at_leader = Vec::new();
    leader.on_message(1, &mut rng(), 3, request, &mut at_leader);
    let response = sends(&at_leader).pop().expect("a response").1;
    let RaftMessage::FetchResponse {
        diverging_epoch, ..
    } = &response
    else {
        panic!("{response:?}");
    };
    assert_eq!(
        *diverging_epoch,
        Some(OffsetAndEpoch {
            offset: 3,
            epoch: 2
        })
    );
    let mut at_follower = Vec::new();
    follower.on_message(2, &mut rng(), 1, response, &mut at_follower);
    let mut files = BTreeMap::from([(METADATA_LOG_FILE.to_owned(), follower_log.clone())]);
    apply_writes(&mut files, &at_follower);
    assert_eq!(files[METADATA_LOG_FILE], log_bytes(&[1, 1, 2]));
    assert_eq!(sends(&at_follower), vec![(1, fetch(3, 3, 3, 2))]);
    // The LeaderChange arrives; the next fetch waits for its fsync.
    let mut at_leader = Vec::new();
    leader.on_message(3, &mut rng(), 3, fetch(3, 3, 3, 2), &mut at_leader);
    let mut out = Vec::new();
    follower.on_message(4, &mut rng(), 1, sends(&at_leader)[0].1.clone(), &mut out);
    assert!(sends(&out).is_empty());
    let mut after = Vec::new();
    follower.on_fsync(
        0,
        *fsync_tokens(&out).last().expect("log fsync"),
        &mut after,
    );
    assert_eq!(sends(&after), vec![(1, fetch(3, 3, 4, 3))]);
}

#[test]
fn a_leader_without_a_fetching_majority_resigns_and_stale_timers_are_ignored() {
    let (mut leader, out) = leader_of_epoch_3(RaftMutations::default());
    let check = timer(&out, RaftTimerKind::CheckQuorum).expect("check-quorum timer");
    let stale = RaftTimer {
        generation: check.generation - 1,
        ..check
    };
    let mut out = Vec::new();
    leader.on_timer(10, &mut rng(), stale, &mut out);
    assert!(out.is_empty());
    leader.on_message(1, &mut rng(), 2, fetch(2, 3, 3, 2), &mut Vec::new());
    let timeout_ns = leader.config.check_quorum_timeout_ns();
    leader.on_timer(timeout_ns, &mut rng(), check, &mut out);
    assert!(leader.is_leader(), "voter 2 fetched in time");
    let check = timer(&out, RaftTimerKind::CheckQuorum).expect("rescheduled");
    let mut out = Vec::new();
    leader.on_timer(3 * timeout_ns, &mut rng(), check, &mut out);
    assert!(matches!(leader.state(), EpochState::Resigned { epoch: 3 }));
    let ends: Vec<u32> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m, RaftMessage::EndQuorumEpoch { .. }))
        .map(|(to, _)| to)
        .collect();
    assert_eq!(ends, vec![2, 3]);
    assert_eq!(leader.propose(b"late".to_vec(), &mut Vec::new()), None);
}

#[test]
fn requests_from_an_old_epoch_are_fenced_and_end_quorum_epoch_shortens_the_wait() {
    let state = state_bytes(4, None, Some(3));
    let mut client = booted(1, Some(&state), None, RaftMutations::default());
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 2, fetch(2, 3, 0, 0), &mut out);
    assert_eq!(
        sends(&out),
        vec![(
            2,
            RaftMessage::FetchResponse {
                epoch: 4,
                leader_id: Some(3),
                error: Some(RaftError::FencedLeaderEpoch),
                high_watermark: 0,
                diverging_epoch: None,
                records: Vec::new(),
            }
        )]
    );
    let mut out = Vec::new();
    let end = RaftMessage::EndQuorumEpoch {
        leader_epoch: 4,
        leader_id: 3,
        preferred_successors: vec![1, 2],
    };
    client.on_message(0, &mut rng(), 3, end, &mut out);
    let View::SetTimer {
        at: after_ns,
        timer,
    } = out[0].view()
    else {
        panic!("{out:?}");
    };
    assert_eq!(timer.kind, RaftTimerKind::FetchTimeout);
    assert!(
        after_ns < 1_000_000_000 / 3,
        "first successor waits at most a third of the backoff"
    );
}
