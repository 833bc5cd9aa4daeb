//! Unit tests of `RaftClient`, each rule with its exact outcome, and the
//! helpers they share.

mod election;
mod pre_vote;
mod purgatory;
mod recovery;
mod replication;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

/// Applies the file effects of `out` to `files`.
fn apply_writes(files: &mut BTreeMap<String, Vec<u8>>, out: &[RaftOutput]) {
    for o in out {
        match o.view() {
            View::Write {
                file,
                offset,
                bytes,
            } => {
                let f = files.entry(file.to_owned()).or_default();
                let end = offset as usize + bytes.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[offset as usize..end].copy_from_slice(&bytes);
            }
            View::Truncate { file, len } => {
                files
                    .entry(file.to_owned())
                    .or_default()
                    .truncate(len as usize);
            }
            _ => {}
        }
    }
}

fn sends(out: &[RaftOutput]) -> Vec<(u32, RaftMessage)> {
    out.iter()
        .filter_map(|o| match o.view() {
            View::Send { to, msg } => Some((to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn fsync_tokens(out: &[RaftOutput]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o.view() {
            View::Fsync { token } => Some(token),
            _ => None,
        })
        .collect()
}

fn timer(out: &[RaftOutput], kind: RaftTimerKind) -> Option<RaftTimer> {
    out.iter().rev().find_map(|o| match o.view() {
        View::SetTimer { timer, .. } if timer.kind == kind => Some(timer),
        _ => None,
    })
}

/// Log bytes with one entry per epoch in `epochs`.
fn log_bytes(epochs: &[u32]) -> Vec<u8> {
    let mut log = RaftLog::default();
    let mut bytes = Vec::new();
    for (i, &epoch) in epochs.iter().enumerate() {
        let record = Record::Data(vec![i as u8]);
        bytes.extend(
            log.append(LogEntry {
                offset: i as u64,
                epoch,
                record,
            })
            .1,
        );
    }
    bytes
}

fn state_bytes(epoch: u32, voted_id: Option<u32>, leader_id: Option<u32>) -> Vec<u8> {
    ElectionState {
        epoch,
        voted_id,
        leader_id,
    }
    .encode()
}

/// Voter `id` of 1..=3 booted from the given files, all startup fsyncs done.
fn booted(
    id: u32,
    state: Option<&[u8]>,
    log: Option<&[u8]>,
    mutations: RaftMutations,
) -> RaftClient {
    let mut client = RaftClient::recover(id, vec![1, 2, 3], state, log).with_mutations(mutations);
    let mut out = Vec::new();
    client.start(0, &mut rng(), &mut out);
    for token in fsync_tokens(&out) {
        client.on_fsync(0, token, &mut Vec::new());
    }
    client
}

fn vote_request(candidate: u32, epoch: u32, last_epoch: u32, last_offset: u64) -> RaftMessage {
    RaftMessage::VoteRequest {
        candidate_epoch: epoch,
        candidate_id: candidate,
        last_offset_epoch: last_epoch,
        last_offset,
        pre_vote: NewFlag(false),
    }
}

/// Delivers a vote request, completes the fsyncs it asked for, returns the response.
fn vote(client: &mut RaftClient, request: RaftMessage) -> (Vec<RaftOutput>, RaftMessage) {
    let RaftMessage::VoteRequest { candidate_id, .. } = request else {
        panic!("a vote request");
    };
    let mut out = Vec::new();
    client.on_message(0, &mut rng(), candidate_id, request, &mut out);
    let mut after = Vec::new();
    for token in fsync_tokens(&out) {
        assert!(
            sends(&out).is_empty(),
            "nothing is sent before the vote is durable"
        );
        client.on_fsync(0, token, &mut after);
    }
    let mut all = sends(&out);
    all.extend(sends(&after));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, candidate_id);
    (out, all.remove(0).1)
}

fn vote_response(epoch: u32, vote_granted: bool) -> RaftMessage {
    RaftMessage::VoteResponse {
        epoch,
        leader_id: None,
        vote_granted,
    }
}

/// Voter 1 leading epoch 3 over a log with entries of epochs 1, 1, 2.
fn leader_of_epoch_3(mutations: RaftMutations) -> (RaftClient, Vec<RaftOutput>) {
    let log = log_bytes(&[1, 1, 2]);
    let state = state_bytes(2, None, Some(2));
    let mut client = booted(1, Some(&state), Some(&log), mutations);
    let mut out = Vec::new();
    client.become_candidate(3, &mut rng(), &mut out);
    client.on_message(0, &mut rng(), 2, vote_response(3, true), &mut out);
    assert!(client.is_leader());
    assert_eq!(client.log().end_offset(), 4, "LeaderChange at offset 3");
    // The election state is durable; the log fsync is left to the test.
    for token in fsync_tokens(&out).into_iter().filter(|t| t & 1 == 0) {
        client.on_fsync(0, token, &mut out);
    }
    (client, out)
}

fn fetch(replica: u32, epoch: u32, fetch_offset: u64, last_fetched_epoch: u32) -> RaftMessage {
    RaftMessage::FetchRequest {
        replica_id: replica,
        current_leader_epoch: epoch,
        fetch_offset,
        last_fetched_epoch,
        high_watermark: Some(0),
    }
}

fn committed(out: &[RaftOutput]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Committed { upto_offset } => Some(*upto_offset),
            _ => None,
        })
        .collect()
}
