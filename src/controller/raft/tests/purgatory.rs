//! The leader's fetch purgatory: a Fetch with nothing to return waits for
//! new entries, a higher high watermark (KIP-1166), a step-down or
//! `MAX_FETCH_WAIT_MS`.

use super::*;

/// A Fetch from voter `replica` at `fetch_offset` (last epoch 3) knowing
/// high watermark `hw` (None: sent without it, as before Kafka 4.1).
fn fetch_knowing(replica: u32, fetch_offset: u64, hw: Option<u64>) -> RaftMessage {
    RaftMessage::FetchRequest {
        replica_id: replica,
        current_leader_epoch: 3,
        fetch_offset,
        last_fetched_epoch: 3,
        high_watermark: hw,
    }
}

/// Delivers a Fetch the leader must park (it answers nothing); returns
/// the leader's outputs.
fn parked(
    leader: &mut RaftClient,
    at_ns: u64,
    replica: u32,
    fetch_offset: u64,
    hw: Option<u64>,
) -> Vec<RaftOutput> {
    let mut out = Vec::new();
    let fetch = fetch_knowing(replica, fetch_offset, hw);
    leader.on_message(at_ns, &mut rng(), replica, fetch, &mut out);
    assert!(sends(&out).is_empty(), "parked: {out:?}");
    out
}

/// The leader of epoch 3, fsynced, with its LeaderChange (offset 3)
/// committed by voter 2's Fetch at 4.
fn committed_leader() -> RaftClient {
    let (mut leader, out) = leader_of_epoch_3(RaftMutations::default());
    for token in fsync_tokens(&out) {
        leader.on_fsync(0, token, &mut Vec::new());
    }
    let mut out = Vec::new();
    leader.on_message(0, &mut rng(), 2, fetch_knowing(2, 4, Some(0)), &mut out);
    assert_eq!(leader.high_watermark(), 4);
    // Voter 2 knew an older high watermark: answered at once.
    assert_eq!(sends(&out).len(), 1);
    leader
}

/// [`committed_leader`] with an entry at offset 4, fsynced: its log end
/// is 5 and its high watermark still 4.
fn leader_with_an_entry_at_4() -> RaftClient {
    let mut leader = committed_leader();
    let mut out = Vec::new();
    leader.propose(b"x".to_vec(), &mut out);
    for token in fsync_tokens(&out) {
        leader.on_fsync(0, token, &mut Vec::new());
    }
    assert_eq!((leader.log().end_offset(), leader.high_watermark()), (5, 4));
    leader
}

fn response_of(out: &[RaftOutput]) -> (u32, Option<RaftError>, u64, usize) {
    let sent = sends(out);
    assert_eq!(sent.len(), 1, "{sent:?}");
    match &sent[0].1 {
        RaftMessage::FetchResponse {
            error,
            high_watermark,
            records,
            ..
        } => (sent[0].0, *error, *high_watermark, records.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fetch_with_nothing_new_waits_for_the_next_entry() {
    let mut leader = committed_leader();
    let out = parked(&mut leader, 10, 2, 4, Some(4));
    let expiry = timer(&out, RaftTimerKind::FetchPurgatory).expect("its wait");
    let mut out = Vec::new();
    leader.propose(b"x".to_vec(), &mut out);
    assert_eq!(
        response_of(&out),
        (2, None, 4, 1),
        "answered with the entry"
    );
    // Its timer finds nothing left to answer.
    let mut out = Vec::new();
    leader.on_timer(
        10 + MAX_FETCH_WAIT_MS * NS_PER_MS,
        &mut rng(),
        expiry,
        &mut out,
    );
    assert!(sends(&out).is_empty(), "{out:?}");
}

#[test]
fn a_batch_of_one_operation_reaches_a_parked_fetch_whole() {
    // A CreateTopics' records split across answers would let a new leader
    // commit a topic without its partitions.
    let mut leader = committed_leader();
    parked(&mut leader, 10, 2, 4, Some(4));
    let mut out = Vec::new();
    let payloads = vec![b"topic".to_vec(), b"p0".to_vec(), b"p1".to_vec()];
    assert_eq!(leader.propose_batch(payloads, &mut out), Some(4..7));
    assert_eq!(
        response_of(&out),
        (2, None, 4, 3),
        "the three records at once"
    );
}

#[test]
fn a_parked_fetch_is_answered_empty_after_max_fetch_wait() {
    let mut leader = committed_leader();
    let out = parked(&mut leader, 10, 3, 4, Some(4));
    let at = out
        .iter()
        .find_map(|o| match o.view() {
            View::SetTimer { at, timer } if timer.kind == RaftTimerKind::FetchPurgatory => {
                Some((at, timer))
            }
            _ => None,
        })
        .expect("its wait");
    assert_eq!(at.0, 10 + MAX_FETCH_WAIT_MS * NS_PER_MS);
    let mut out = Vec::new();
    leader.on_timer(at.0, &mut rng(), at.1, &mut out);
    assert_eq!(response_of(&out), (3, None, 4, 0));
    assert_eq!(
        timer(&out, RaftTimerKind::FetchPurgatory),
        None,
        "nothing else waits"
    );
}

#[test]
fn a_higher_high_watermark_answers_only_fetches_that_sent_theirs() {
    let mut leader = leader_with_an_entry_at_4();
    // Two observers have the entry at 4: one knows high watermark 4 (the
    // leader's), the other sent none (before 4.1). Both are parked.
    let at_end = |hw| FetchFields {
        current_leader_epoch: 3,
        fetch_offset: 5,
        last_fetched_epoch: 3,
        high_watermark: hw,
    };
    let mut held = Vec::new();
    leader.observer_fetch(1, 100, at_end(Some(4)), &mut held);
    leader.observer_fetch(1, 101, at_end(None), &mut held);
    assert!(sends(&held).is_empty(), "{held:?}");
    // Voter 3's Fetch at 5 commits offset 4: the observer that sent its
    // high watermark is answered with the new one (KIP-1166), and voter 3
    // at once; the other observer waits on.
    let mut out = Vec::new();
    leader.on_message(2, &mut rng(), 3, fetch_knowing(3, 5, Some(4)), &mut out);
    assert_eq!(leader.high_watermark(), 5);
    let answered: Vec<(u32, u64)> = sends(&out)
        .into_iter()
        .map(|(to, msg)| match msg {
            RaftMessage::FetchResponse { high_watermark, .. } => (to, high_watermark),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(answered, vec![(100, 5), (3, 5)]);
}

#[test]
fn without_kip_1166_a_parked_fetch_ignores_the_high_watermark() {
    let mut leader = leader_with_an_entry_at_4();
    parked(&mut leader, 1, 2, 5, None);
    let mut out = Vec::new();
    leader.on_message(2, &mut rng(), 3, fetch_knowing(3, 5, None), &mut out);
    assert_eq!(leader.high_watermark(), 5);
    assert!(
        sends(&out).is_empty(),
        "both wait for an entry or their wait: {out:?}"
    );
}

#[test]
fn a_leader_stepping_down_answers_its_parked_fetches_with_not_leader() {
    let mut leader = committed_leader();
    parked(&mut leader, 1, 2, 4, Some(4));
    let mut out = Vec::new();
    leader.resign(2, &mut rng(), &mut out);
    // Held until the resigned state is durable, then sent first.
    let mut after = Vec::new();
    for token in fsync_tokens(&out) {
        leader.on_fsync(2, token, &mut after);
    }
    let sent: Vec<(u32, RaftMessage)> = sends(&out).into_iter().chain(sends(&after)).collect();
    let (to, msg) = &sent[0];
    assert_eq!(*to, 2);
    assert!(
        matches!(
            msg,
            RaftMessage::FetchResponse {
                error: Some(RaftError::NotLeaderOrFollower),
                ..
            }
        ),
        "{msg:?}"
    );
}

#[test]
fn a_follower_drops_a_late_answer_to_an_earlier_fetch() {
    // Voter 3 follows voter 1 in epoch 3 with entries of epochs 1, 1, 2.
    let state = state_bytes(3, None, Some(1));
    let mut follower = booted(
        3,
        Some(&state),
        Some(&log_bytes(&[1, 1, 2])),
        RaftMutations::default(),
    );
    assert!(matches!(follower.state(), EpochState::Follower { .. }));
    let response = |offset: u64| RaftMessage::FetchResponse {
        epoch: 3,
        leader_id: Some(1),
        error: None,
        high_watermark: 2,
        diverging_epoch: None,
        records: vec![LogEntry {
            offset,
            epoch: 3,
            record: Record::Data(vec![9]),
        }],
    };
    // Entries from offset 2 answer a Fetch at 2, not ours at 3: dropped,
    // and ours is still awaited.
    let mut out = Vec::new();
    follower.on_message(1, &mut rng(), 1, response(2), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(follower.log().end_offset(), 3);
    // Our answer is taken.
    follower.on_message(2, &mut rng(), 1, response(3), &mut out);
    assert_eq!(follower.log().end_offset(), 4);
}
