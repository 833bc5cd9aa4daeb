//! Votes, candidacy and election timeouts.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

#[test]
fn a_vote_is_granted_to_an_up_to_date_candidate_after_it_is_fsynced() {
    let log = log_bytes(&[1, 1]);
    let mut client = booted(1, None, Some(&log), RaftMutations::default());
    let (out, response) = vote(&mut client, vote_request(2, 2, 1, 2));
    assert_eq!(response, vote_response(2, true));
    let written = out.iter().rev().find_map(|o| match o.view() {
        View::Write { file, bytes, .. } if file == QUORUM_STATE_FILE => Some(bytes),
        _ => None,
    });
    let recovered = ElectionState::recover(written.as_deref()).0;
    assert_eq!(recovered.voted_id, Some(2));
    assert_eq!(recovered.epoch, 2);
    assert!(matches!(
        client.state(),
        EpochState::Voted {
            epoch: 2,
            voted_id: 2
        }
    ));
}

#[test]
fn a_vote_is_refused_to_a_candidate_with_an_older_log() {
    let log = log_bytes(&[1, 2, 2]);
    let mut client = booted(1, None, Some(&log), RaftMutations::default());
    // Longer log but an older last epoch.
    let (_, response) = vote(&mut client, vote_request(2, 3, 1, 9));
    assert_eq!(response, vote_response(3, false));
    // Same last epoch, shorter log.
    let (_, response) = vote(&mut client, vote_request(3, 3, 2, 2));
    assert_eq!(response, vote_response(3, false));
    assert!(matches!(
        client.state(),
        EpochState::Unattached { epoch: 3 }
    ));
    // The mutation grants it.
    let mutated = RaftMutations {
        vote_without_log_check: true,
        ..RaftMutations::default()
    };
    let mut client = booted(1, None, Some(&log), mutated);
    let (_, response) = vote(&mut client, vote_request(2, 3, 1, 9));
    assert_eq!(response, vote_response(3, true));
}

#[test]
fn at_most_one_vote_per_epoch_and_none_for_an_old_epoch() {
    let mut client = booted(1, None, None, RaftMutations::default());
    assert_eq!(
        vote(&mut client, vote_request(2, 4, 0, 0)).1,
        vote_response(4, true)
    );
    assert_eq!(
        vote(&mut client, vote_request(3, 4, 0, 0)).1,
        vote_response(4, false)
    );
    assert_eq!(
        vote(&mut client, vote_request(2, 4, 0, 0)).1,
        vote_response(4, true)
    );
    assert_eq!(
        vote(&mut client, vote_request(3, 3, 0, 0)).1,
        vote_response(4, false)
    );
    // The vote survives a restart from disk.
    let state = state_bytes(4, Some(2), None);
    let mut client = booted(1, Some(&state), None, RaftMutations::default());
    assert_eq!(
        vote(&mut client, vote_request(3, 4, 0, 0)).1,
        vote_response(4, false)
    );
}

#[test]
fn a_candidate_with_a_majority_leads_and_appends_leader_change() {
    let mut client = booted(
        1,
        Some(&state_bytes(1, None, None)),
        None,
        RaftMutations::default(),
    );
    let mut out = Vec::new();
    let election = timer(&[], RaftTimerKind::ElectionTimeout);
    assert!(election.is_none());
    client.become_candidate(2, &mut rng(), &mut out);
    assert!(
        sends(&out).is_empty(),
        "vote requests wait for the self-vote fsync"
    );
    let mut after = Vec::new();
    client.on_fsync(0, *fsync_tokens(&out).last().expect("fsync"), &mut after);
    assert_eq!(
        sends(&after),
        vec![(2, vote_request(1, 2, 0, 0)), (3, vote_request(1, 2, 0, 0))]
    );
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 3, vote_response(2, false), &mut out);
    assert!(!client.is_leader());
    assert!(
        timer(&out, RaftTimerKind::ElectionBackoff).is_none(),
        "one refusal of three"
    );
    client.on_message(0, &mut rng(), 2, vote_response(2, true), &mut out);
    assert!(client.is_leader());
    assert!(out.contains(&RaftOutput::BecameLeader { epoch: 2 }));
    assert_eq!(
        client.log().entry(0).map(|e| &e.record),
        Some(&Record::LeaderChange { leader_id: 1 })
    );
}

#[test]
fn election_timeouts_are_randomised_in_one_to_two_timeouts() {
    for seed in 0..20 {
        let mut client = RaftClient::recover(1, vec![1, 2, 3], None, None);
        let mut out = Vec::new();
        client.start(0, &mut ChaCha8Rng::seed_from_u64(seed), &mut out);
        let after_ns = out.iter().find_map(|o| match o.view() {
            View::SetTimer { at, timer } if timer.kind == RaftTimerKind::ElectionTimeout => {
                Some(at)
            }
            _ => None,
        });
        let after_ns = after_ns.expect("an election timer");
        assert!(
            (1_000_000_000..2_000_000_000).contains(&after_ns),
            "{after_ns}"
        );
    }
}

#[test]
fn a_silent_leader_makes_its_follower_a_candidate_of_the_next_epoch() {
    let state = state_bytes(2, None, Some(3));
    let mut client = RaftClient::recover(1, vec![1, 2, 3], Some(&state), None);
    let mut out = Vec::new();
    client.start(0, &mut rng(), &mut out);
    let fetch_timeout = timer(&out, RaftTimerKind::FetchTimeout).expect("fetch timer");
    let mut out = Vec::new();
    client.on_timer(2_000_000_000, &mut rng(), fetch_timeout, &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Candidate { epoch: 3, .. }
    ));
    assert!(out.contains(&RaftOutput::Transition {
        epoch: 3,
        state: StateKind::Candidate,
        leader_id: None
    }));
}

#[test]
fn a_refused_candidate_waits_out_its_election_timeout_then_backs_off() {
    let mut client = booted(1, None, None, RaftMutations::default());
    let mut out = Vec::new();
    client.become_candidate(1, &mut rng(), &mut out);
    let election = timer(&out, RaftTimerKind::ElectionTimeout).expect("election timer");
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 2, vote_response(1, false), &mut out);
    client.on_message(0, &mut rng(), 3, vote_response(1, false), &mut out);
    assert!(out.is_empty(), "{out:?}");
    client.on_timer(0, &mut rng(), election, &mut out);
    let backoff = timer(&out, RaftTimerKind::ElectionBackoff).expect("backoff");
    let mut out = Vec::new();
    client.on_timer(0, &mut rng(), backoff, &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Candidate { epoch: 2, .. }
    ));
}
