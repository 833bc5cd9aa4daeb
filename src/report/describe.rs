//! `ksim describe`: the cluster at a moment, as Kafka's tools show it
//! (`kafka-topics.sh --describe`, `kafka-consumer-groups.sh --describe`,
//! `kafka-metadata-quorum.sh describe --status` and `--replication`), each
//! followed by what only a simulator can show: every replica's log, and
//! every controller's own view.

use std::fmt::Write;

use sim::{format_nanos, MILLIS};

use crate::controller::raft::EpochState;
use crate::harness::Run;
use crate::node::controller_id;
use crate::txn::TransactionState;

/// The line that says which run and moment a view shows.
pub fn heading(file: &str, seed: u64, at_ns: u64) -> String {
    format!("# {file} --seed {seed} at {}\n", format_nanos(at_ns))
}

/// Rows as a table: columns as wide as their widest cell, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `kafka-topics.sh --describe` of the newest committed metadata, then each
/// replica's log as its broker holds it.
pub fn topics(run: &Run) -> String {
    let Some(image) = run.metadata() else {
        return "no metadata committed yet: the topics do not exist\n".to_owned();
    };
    let mut out = super::text::describe_topics(&image);
    let mut rows = vec![[
        "PARTITION",
        "BROKER",
        "PROCESS",
        "ROLE",
        "LEADER-EPOCH",
        "LOG-END-OFFSET",
        "HIGH-WATERMARK",
        "LAST-STABLE-OFFSET",
        "RECOVERY-POINT",
    ]
    .map(str::to_owned)
    .to_vec()];
    for (name, topic) in &image.topics {
        if name.starts_with("__") {
            continue;
        }
        for (&index, reg) in &topic.partitions {
            let tp = crate::protocol::TopicPartition::new(name, index);
            for &broker in &reg.replicas {
                let process = run.broker_state(broker);
                let replica = run
                    .broker(broker)
                    .map(|b| b.replica_manager())
                    .and_then(|r| r.partition(&tp));
                let row = match replica {
                    Some(p) => [
                        tp.to_string(),
                        broker.to_string(),
                        process.as_str().to_owned(),
                        if p.is_leader() { "leader" } else { "follower" }.to_owned(),
                        p.leader_epoch.to_string(),
                        p.log.log_end_offset().to_string(),
                        p.log.high_watermark().to_string(),
                        if p.is_leader() {
                            p.last_stable_offset().to_string()
                        } else {
                            "-".into()
                        },
                        p.log.recovery_point().to_string(),
                    ],
                    None => [
                        tp.to_string(),
                        broker.to_string(),
                        process.as_str().to_owned(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                    ],
                };
                rows.push(row.to_vec());
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# each replica as its broker holds it (ksim; no Kafka tool shows this; LAST-STABLE-OFFSET: what read_committed reads up to, on the leader; RECOVERY-POINT: below it, fsynced)"
    );
    out.push_str(&table(&rows));
    out
}

/// `kafka-transactions.sh describe` of every transactional id, as the
/// running broker that coordinates it holds it.
pub fn transactions(run: &Run) -> String {
    let now_ms = run.sim().now() / MILLIS;
    let mut rows = vec![[
        "CoordinatorId",
        "TransactionalId",
        "ProducerId",
        "ProducerEpoch",
        "TransactionState",
        "TransactionTimeoutMs",
        "CurrentTransactionStartTimeMs",
        "TransactionDurationMs",
        "TopicPartitions",
    ]
    .map(str::to_owned)
    .to_vec()];
    for broker in 1..=run.scenario().cluster.brokers {
        let Some(b) = run.broker(broker) else {
            continue;
        };
        let topics = b.replica_manager().topics();
        for (id, m) in b.txn_coordinator().coordinator().transactions() {
            let t = &m.current;
            // Kafka shows a start time only while a transaction is open.
            let open = !matches!(
                t.state,
                TransactionState::Empty
                    | TransactionState::CompleteCommit
                    | TransactionState::CompleteAbort
                    | TransactionState::Dead
            );
            let (start, duration) = if open && t.txn_start_timestamp >= 0 {
                let start = t.txn_start_timestamp as u64;
                (start.to_string(), now_ms.saturating_sub(start).to_string())
            } else {
                ("None".to_owned(), "None".to_owned())
            };
            let partitions: Vec<String> = t
                .topic_partitions
                .iter()
                .map(|&tp| topics.named(tp).to_string())
                .collect();
            rows.push(vec![
                broker.to_string(),
                id.to_owned(),
                t.producer_id.to_string(),
                t.producer_epoch.to_string(),
                t.state.name().to_owned(),
                t.txn_timeout_ms.to_string(),
                start,
                duration,
                partitions.join(","),
            ]);
        }
    }
    if rows.len() == 1 {
        return "no transaction coordinator holds a transactional id\n".to_owned();
    }
    table(&rows)
}

/// `kafka-consumer-groups.sh --describe` of every group.
pub fn groups(run: &Run) -> String {
    let mut out = String::new();
    let groups = run.groups();
    if groups.is_empty() {
        let _ = writeln!(out, "the scenario has no consumer groups");
    }
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        let _ = write!(out, "{}", super::groups::describe_group(g));
    }
    out
}

/// `kafka-metadata-quorum.sh describe --status` and `--replication`, from
/// the active controller's view, then each controller's own view.
pub fn quorum(run: &Run) -> String {
    let mut out = String::new();
    let now_ns = run.sim().now();
    let voters: Vec<u32> = (1..=run.scenario().cluster.controllers).collect();
    let observers: Vec<u32> = (1..=run.scenario().cluster.brokers).collect();
    let leader = run.active_controller().and_then(|id| {
        let client = run.controller(id)?.client();
        match client.state() {
            EpochState::Leader(state) => Some((id, client, state.clone())),
            _ => None,
        }
    });
    match &leader {
        None => {
            let _ = writeln!(
                out,
                "no active controller at this moment: the quorum has no leader (kafka-metadata-quorum.sh would time out)"
            );
        }
        Some((id, client, state)) => {
            let leader_end = client.log().end_offset();
            let ms = |ns: Option<u64>| ns.map_or("-1".to_owned(), |t| (t / MILLIS).to_string());
            let mut rows = vec![[
                "NodeId",
                "LogEndOffset",
                "Lag",
                "LastFetchTimestamp",
                "LastCaughtUpTimestamp",
                "Status",
            ]
            .map(str::to_owned)
            .to_vec()];
            let mut max_lag = 0;
            let mut max_lag_ms = 0;
            for &v in &voters {
                let (end, fetch, caught_up, status) = if v == *id {
                    (leader_end, Some(now_ns), Some(now_ns), "Leader")
                } else {
                    let r = state.replica(controller_id(v));
                    (
                        r.end_offset,
                        r.last_fetch_ns,
                        r.last_caught_up_ns,
                        "Follower",
                    )
                };
                let lag = leader_end.saturating_sub(end);
                max_lag = max_lag.max(lag);
                if lag > 0 {
                    let since = caught_up.unwrap_or(0);
                    max_lag_ms = max_lag_ms.max(now_ns.saturating_sub(since) / MILLIS);
                }
                rows.push(vec![
                    controller_id(v).to_string(),
                    end.to_string(),
                    lag.to_string(),
                    ms(fetch),
                    ms(caught_up),
                    status.to_owned(),
                ]);
            }
            for &b in &observers {
                let Some(observer) = run.broker(b).map(|s| s.metadata_observer()) else {
                    continue;
                };
                let end = observer.log().end_offset();
                rows.push(vec![
                    b.to_string(),
                    end.to_string(),
                    leader_end.saturating_sub(end).to_string(),
                    "-1".to_owned(),
                    "-1".to_owned(),
                    "Observer".to_owned(),
                ]);
            }
            let list = |ids: &[u32]| format!("[{}]", crate::check::id_list(ids));
            let running: Vec<u32> = observers
                .iter()
                .copied()
                .filter(|&b| run.broker(b).is_some())
                .collect();
            let _ = writeln!(out, "LeaderId:               {}", controller_id(*id));
            let _ = writeln!(out, "LeaderEpoch:            {}", client.epoch());
            let _ = writeln!(out, "HighWatermark:          {}", client.high_watermark());
            let _ = writeln!(out, "MaxFollowerLag:         {max_lag}");
            let _ = writeln!(out, "MaxFollowerLagTimeMs:   {max_lag_ms}");
            let voter_ids: Vec<u32> = voters.iter().map(|&v| controller_id(v)).collect();
            let _ = writeln!(out, "CurrentVoters:          {}", list(&voter_ids));
            let _ = writeln!(out, "CurrentObservers:       {}", list(&running));
            let _ = writeln!(out);
            out.push_str(&table(&rows));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# each controller's own view (ksim; timestamps are simulated ms; observers' fetch times are not tracked: -1)"
    );
    let mut rows = vec![[
        "CONTROLLER",
        "STATE",
        "EPOCH",
        "LEADER",
        "LOG-END-OFFSET",
        "HIGH-WATERMARK",
    ]
    .map(str::to_owned)
    .to_vec()];
    for (c, v) in run.quorum().iter().zip(&voters) {
        let end = run
            .controller(*v)
            .map(|c| c.client())
            .map_or("-".to_owned(), |client| {
                client.log().end_offset().to_string()
            });
        rows.push(vec![
            c.name.clone(),
            c.state.clone(),
            c.epoch.to_string(),
            c.leader
                .map_or("none".to_owned(), |l| format!("controller-{l}")),
            end,
            c.high_watermark.to_string(),
        ]);
    }
    out.push_str(&table(&rows));
    out
}
