//! KIP-996 pre-vote, both ways: with `pre_vote` a voter whose timeout
//! expires is Prospective in its epoch until a majority grants it a
//! pre-vote; without it (3.x) it is a Candidate of the next epoch at once.

use super::*;

fn pre_vote_config() -> RaftConfig {
    RaftConfig {
        pre_vote: true,
        ..RaftConfig::default()
    }
}

/// Voter `id` of 1..=3 booted from the given files with `config`.
fn booted_with(
    id: u32,
    state: Option<&[u8]>,
    log: Option<&[u8]>,
    config: RaftConfig,
) -> (RaftClient, Vec<RaftOutput>) {
    let mut client = RaftClient::recover(id, vec![1, 2, 3], state, log).with_config(config);
    let mut out = Vec::new();
    client.start(0, &mut rng(), &mut out);
    for token in fsync_tokens(&out) {
        client.on_fsync(0, token, &mut Vec::new());
    }
    (client, out)
}

fn pre_vote_request(candidate: u32, epoch: u32, last_epoch: u32, last_offset: u64) -> RaftMessage {
    RaftMessage::VoteRequest {
        candidate_epoch: epoch,
        candidate_id: candidate,
        last_offset_epoch: last_epoch,
        last_offset,
        pre_vote: NewFlag(true),
    }
}

fn granted(response: &RaftMessage) -> bool {
    matches!(
        response,
        RaftMessage::VoteResponse {
            vote_granted: true,
            ..
        }
    )
}

fn quorum_state_writes(out: &[RaftOutput]) -> usize {
    out.iter()
        .filter(|o| matches!(o.view(), View::Write { file, .. } if file == QUORUM_STATE_FILE))
        .count()
}

/// Voter 1 following voter 3 in epoch 2, its fetch timeout fired.
fn timed_out_follower(config: RaftConfig) -> (RaftClient, Vec<RaftOutput>) {
    let state = state_bytes(2, None, Some(3));
    let (mut client, out) = booted_with(1, Some(&state), None, config);
    let fetch_timeout = timer(&out, RaftTimerKind::FetchTimeout).expect("fetch timer");
    let mut out = Vec::new();
    client.on_timer(2_000_000_000, &mut rng(), fetch_timeout, &mut out);
    (client, out)
}

#[test]
fn a_timed_out_follower_is_prospective_in_its_epoch_and_asks_for_pre_votes() {
    let (client, out) = timed_out_follower(pre_vote_config());
    assert!(matches!(
        client.state(),
        EpochState::Prospective {
            epoch: 2,
            leader_id: Some(3),
            voted_id: None,
            ..
        }
    ));
    assert_eq!(client.epoch(), 2, "the epoch is not bumped");
    assert_eq!(quorum_state_writes(&out), 0, "nothing is persisted");
    assert_eq!(
        sends(&out),
        vec![
            (2, pre_vote_request(1, 2, 0, 0)),
            (3, pre_vote_request(1, 2, 0, 0))
        ]
    );
    assert!(out.contains(&RaftOutput::Transition {
        epoch: 2,
        state: StateKind::Prospective,
        leader_id: Some(3)
    }));
    // Without pre-vote (3.x): a Candidate of epoch 3 at once.
    let (client, _) = timed_out_follower(RaftConfig::default());
    assert!(matches!(
        client.state(),
        EpochState::Candidate { epoch: 3, .. }
    ));
}

#[test]
fn a_majority_of_pre_votes_makes_a_candidate_of_the_next_epoch() {
    let (mut client, _) = timed_out_follower(pre_vote_config());
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 2, vote_response(2, true), &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Candidate { epoch: 3, .. }
    ));
    assert_eq!(quorum_state_writes(&out), 1, "the candidacy is persisted");
    let mut after = Vec::new();
    for token in fsync_tokens(&out) {
        client.on_fsync(0, token, &mut after);
    }
    assert_eq!(
        sends(&after),
        vec![(2, vote_request(1, 3, 0, 0)), (3, vote_request(1, 3, 0, 0))],
        "standard votes of epoch 3"
    );
}

#[test]
fn a_prospective_refused_by_a_majority_follows_its_leader_again() {
    let (mut client, _) = timed_out_follower(pre_vote_config());
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 2, vote_response(2, false), &mut out);
    assert!(matches!(client.state(), EpochState::Prospective { .. }));
    client.on_message(0, &mut rng(), 3, vote_response(2, false), &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Follower {
            epoch: 2,
            leader_id: 3,
            has_fetched_from_leader: false,
            ..
        }
    ));
    assert_eq!(sends(&out), vec![(3, fetch(1, 2, 0, 0))]);
}

#[test]
fn a_prospective_times_out_back_to_unattached_in_the_same_epoch() {
    let state = state_bytes(1, None, None);
    let (mut client, out) = booted_with(1, Some(&state), None, pre_vote_config());
    let election = timer(&out, RaftTimerKind::ElectionTimeout).expect("election timer");
    let mut out = Vec::new();
    client.on_timer(0, &mut rng(), election, &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Prospective { epoch: 1, .. }
    ));
    let election = timer(&out, RaftTimerKind::ElectionTimeout).expect("election timer");
    let mut out = Vec::new();
    client.on_timer(0, &mut rng(), election, &mut out);
    assert!(matches!(
        client.state(),
        EpochState::Unattached { epoch: 1 }
    ));
    assert!(sends(&out).is_empty());
}

/// Voter 1 is cut off from its leader: with no answer, each timeout makes
/// it stand again. Without pre-vote every round bumps its epoch; with it,
/// it stays in the epoch it followed.
fn epoch_after_rounds_alone(config: RaftConfig, rounds: usize) -> u32 {
    let (mut client, mut out) = timed_out_follower(config);
    for _ in 0..rounds {
        let due = [
            RaftTimerKind::ElectionTimeout,
            RaftTimerKind::ElectionBackoff,
            RaftTimerKind::FetchTimeout,
        ]
        .into_iter()
        .filter_map(|kind| timer(&out, kind))
        .max_by_key(|t| t.generation)
        .expect("a timer is set");
        let mut next = Vec::new();
        client.on_timer(0, &mut rng(), due, &mut next);
        for token in fsync_tokens(&next) {
            client.on_fsync(0, token, &mut Vec::new());
        }
        out = next;
    }
    client.epoch()
}

#[test]
fn a_voter_cut_off_bumps_its_epoch_only_without_pre_vote() {
    assert_eq!(epoch_after_rounds_alone(pre_vote_config(), 12), 2);
    assert!(epoch_after_rounds_alone(RaftConfig::default(), 12) >= 6);
}

#[test]
fn a_follower_grants_pre_votes_until_it_has_fetched_from_its_leader() {
    let state = state_bytes(2, None, Some(3));
    let (mut client, _) = booted_with(1, Some(&state), None, pre_vote_config());
    let (out, response) = vote(&mut client, pre_vote_request(2, 2, 0, 0));
    assert!(granted(&response), "not fetched yet: {response:?}");
    assert_eq!(quorum_state_writes(&out), 0, "a pre-vote casts no vote");
    let answer = RaftMessage::FetchResponse {
        epoch: 2,
        leader_id: Some(3),
        error: None,
        high_watermark: 0,
        diverging_epoch: None,
        records: Vec::new(),
    };
    client.on_message(0, &mut rng(), 3, answer, &mut Vec::new());
    let (_, response) = vote(&mut client, pre_vote_request(2, 2, 0, 0));
    assert_eq!(
        response,
        RaftMessage::VoteResponse {
            epoch: 2,
            leader_id: Some(3),
            vote_granted: false
        }
    );
    assert!(matches!(
        client.state(),
        EpochState::Follower {
            epoch: 2,
            leader_id: 3,
            ..
        }
    ));
    // An out-of-date log is refused by anyone.
    let state = state_bytes(2, None, None);
    let log = log_bytes(&[1, 2]);
    let (mut client, _) = booted_with(1, Some(&state), Some(&log), pre_vote_config());
    assert!(!granted(&vote(&mut client, pre_vote_request(2, 2, 1, 5)).1));
    assert!(granted(&vote(&mut client, pre_vote_request(2, 2, 2, 2)).1));
    assert!(matches!(
        client.state(),
        EpochState::Unattached { epoch: 2 }
    ));
}

#[test]
fn a_leader_refuses_pre_votes_but_a_vote_of_a_newer_epoch_deposes_it() {
    let (client, _) = leader_of_epoch_3(RaftMutations::default());
    let mut leader = client.with_config(pre_vote_config());
    let (_, response) = vote(&mut leader, pre_vote_request(2, 3, 3, 4));
    assert!(!granted(&response), "an up-to-date log, but it leads");
    assert!(leader.is_leader(), "a pre-vote changes nothing");
    // What a 3.x voter cut off for a while sends: a vote of a newer epoch,
    // which the leader must take (its log is behind: refused, but the
    // leader steps down and the quorum elects again).
    let (client, _) = leader_of_epoch_3(RaftMutations::default());
    let mut leader = client;
    let (_, response) = vote(&mut leader, vote_request(2, 7, 2, 3));
    assert_eq!(response, vote_response(7, false));
    assert!(!leader.is_leader());
    assert!(matches!(
        leader.state(),
        EpochState::Unattached { epoch: 7 }
    ));
}

#[test]
fn a_resigned_leader_and_a_candidate_grant_pre_votes_to_an_up_to_date_log() {
    let (mut leader, _) = leader_of_epoch_3(RaftMutations::default());
    leader.resign(0, &mut rng(), &mut Vec::new());
    let mut resigned = leader.with_config(pre_vote_config());
    assert!(!granted(
        &vote(&mut resigned, pre_vote_request(2, 3, 2, 3)).1
    ));
    assert!(granted(
        &vote(&mut resigned, pre_vote_request(2, 3, 3, 4)).1
    ));
    assert!(matches!(
        resigned.state(),
        EpochState::Resigned { epoch: 3 }
    ));
    let (mut client, _) = timed_out_follower(pre_vote_config());
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), 2, vote_response(2, true), &mut out);
    for token in fsync_tokens(&out) {
        client.on_fsync(0, token, &mut Vec::new());
    }
    assert!(granted(&vote(&mut client, pre_vote_request(3, 3, 0, 0)).1));
    assert!(matches!(
        client.state(),
        EpochState::Candidate { epoch: 3, .. }
    ));
}

#[test]
fn a_resigned_leader_times_out_to_a_prospective_of_the_next_epoch() {
    let (leader, _) = leader_of_epoch_3(RaftMutations::default());
    let mut leader = leader.with_config(pre_vote_config());
    let mut out = Vec::new();
    leader.resign(0, &mut rng(), &mut out);
    let election = timer(&out, RaftTimerKind::ElectionTimeout).expect("election timer");
    let mut out = Vec::new();
    leader.on_timer(0, &mut rng(), election, &mut out);
    assert!(matches!(
        leader.state(),
        EpochState::Prospective {
            epoch: 4,
            leader_id: None,
            voted_id: None,
            ..
        }
    ));
    assert_eq!(quorum_state_writes(&out), 1, "Unattached in epoch 4");
}
