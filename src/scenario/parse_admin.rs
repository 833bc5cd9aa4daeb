//! Reads `[[admin]]`: topic operations at a time of the fault phase.

use super::model::*;
use super::parse_faults::at_in_fault_phase;
use super::reader::{Res, Table};
use super::MAX_PARTITIONS;
use crate::config::did_you_mean;

/// The keys of an `[[admin]]` entry.
const ADMIN_KEYS: &[&str] = &["at", "op", "topic", "partitions", "replication_factor"];

/// The operations ksim simulates, and those Kafka has that it does not yet.
const OPS: &[&str] = &["create_partitions", "delete_topic"];
const OPS_NOT_SIMULATED: &[&str] = &["create_topic"];

/// The `[[admin]]` entries of `root`, in time order (file order among
/// equal times), checked against the topics and each other: a topic grows
/// at every create_partitions and is gone after its delete_topic.
pub(crate) fn admin_ops(root: &Table, s: &Scenario) -> Res<Vec<AdminOpSpec>> {
    let Some(field) = root.get("admin") else {
        return Ok(Vec::new());
    };
    let tables = field.tables("an array of tables, [[admin]]")?;
    let mut timed = Vec::new();
    for t in &tables {
        t.check_keys(ADMIN_KEYS)?;
        timed.push((at_in_fault_phase(t, s)?, t));
    }
    timed.sort_by_key(|&(at, _)| at);
    // Each topic's partition count by then (0: deleted).
    let mut counts: Vec<(String, u32)> = s
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions))
        .collect();
    let mut ops = Vec::new();
    for (at_ns, t) in timed {
        let op_f = t.req("op", "\"create_partitions\"")?;
        let op = op_f.str("an operation name")?;
        if OPS_NOT_SIMULATED.contains(&op) {
            return Err(op_f.err(format!(
                "\"{op}\" is not simulated by ksim yet; valid: {}",
                OPS.join(", ")
            )));
        }
        if !OPS.contains(&op) {
            let all: Vec<&str> = OPS.iter().chain(OPS_NOT_SIMULATED).copied().collect();
            let mut message = format!("unknown operation \"{op}\"; valid: {}", OPS.join(", "));
            if let Some(close) = did_you_mean(op, all.iter().copied()) {
                message.push_str(&format!("; did you mean \"{close}\"?"));
            }
            return Err(op_f.err(message));
        }
        let topic_f = t.req("topic", "\"orders\"")?;
        let topic = topic_f.str("a topic name")?;
        let names: Vec<&str> = counts.iter().map(|(n, _)| n.as_str()).collect();
        let Some(i) = counts.iter().position(|(n, _)| n == topic) else {
            return Err(topic_f.err(format!(
                "no topic \"{topic}\" in [[topics]]; valid: {}",
                names.join(", ")
            )));
        };
        let current = counts[i].1;
        if current == 0 {
            return Err(topic_f.err(format!(
                "{topic} is deleted by then (Kafka answers UNKNOWN_TOPIC_OR_PARTITION); \
                 recreating a topic is not simulated by ksim yet"
            )));
        }
        if op == "delete_topic" {
            for key in ["partitions", "replication_factor"] {
                if let Some(f) = t.get(key) {
                    return Err(f.key_err(format!("delete_topic takes only topic; remove {key}")));
                }
            }
            if let Some(user) = unsimulated_user(s, topic) {
                return Err(topic_f.err(format!(
                    "deleting a topic that {user} uses is not simulated by ksim yet"
                )));
            }
            counts[i].1 = 0;
            ops.push(AdminOpSpec {
                at_ns,
                op: AdminAction::DeleteTopic {
                    topic: topic.to_owned(),
                },
            });
            continue;
        }
        if let Some(f) = t.get("replication_factor") {
            return Err(f.key_err(
                "create_partitions keeps the topic's replication factor; remove replication_factor",
            ));
        }
        let partitions_f = t.req("partitions", &format!("{}", current + 1))?;
        if current >= MAX_PARTITIONS {
            return Err(partitions_f.err(format!(
                "{topic} has {current} partitions by then, the most a topic may have"
            )));
        }
        let partitions = partitions_f
            .u32_in(current + 1, MAX_PARTITIONS)
            .map_err(|_| {
                partitions_f.err(format!(
                "must be more than the {current} partitions {topic} has by then (Kafka answers \
                 INVALID_PARTITIONS); valid: {}..={MAX_PARTITIONS}",
                current + 1
            ))
            })?;
        counts[i].1 = partitions;
        ops.push(AdminOpSpec {
            at_ns,
            op: AdminAction::CreatePartitions {
                topic: topic.to_owned(),
                partitions,
            },
        });
    }
    Ok(ops)
}

/// What uses `topic` in a way ksim cannot follow through its deletion yet:
/// transactional producers and pipelines (their checkers do not know
/// deleted topics).
fn unsimulated_user(s: &Scenario, topic: &str) -> Option<&'static str> {
    if s.producers
        .iter()
        .any(|p| p.topic == topic && p.transaction.is_some())
    {
        return Some("a transactional producer");
    }
    s.pipelines
        .iter()
        .any(|p| p.input == topic || p.output == topic)
        .then_some("a pipeline")
}
