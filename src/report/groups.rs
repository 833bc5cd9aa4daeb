//! A consumer group in the layout of `kafka-consumer-groups.sh --describe`
//! (Kafka's ConsumerGroupCommand): one row per partition, owned partitions
//! by member (members with more partitions first), then committed
//! partitions no member owns; columns as wide as their longest value, at
//! least 15; `-` where a value is missing.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::protocol::TopicPartition;

/// A member as the describe view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedMember {
    /// Member id (CONSUMER-ID).
    pub member_id: String,
    /// HOST, as Kafka prints it (`/address`).
    pub host: String,
    /// `client.id`.
    pub client_id: String,
    /// Its assigned partitions.
    pub assignment: Vec<TopicPartition>,
}

/// What `describe_group` needs of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribedGroup {
    /// Group id.
    pub group: String,
    /// Its members.
    pub members: Vec<DescribedMember>,
    /// Committed offsets.
    pub committed: BTreeMap<TopicPartition, u64>,
    /// Log end offsets of the partitions involved.
    pub log_end: BTreeMap<TopicPartition, u64>,
    /// The group's state on its coordinator (`Stable`, `Empty`,
    /// `PreparingRebalance`, ...); None when no running broker coordinates it.
    pub state: Option<String>,
}

const MISSING: &str = "-";

/// One row: group, topic, partition, current offset, log end, lag, member, host, client.
type Row = [String; 9];

/// The `--describe` text of `group`.
pub fn describe_group(group: &DescribedGroup) -> String {
    let name = &group.group;
    let note = match group.state.as_deref() {
        None => {
            return format!("Error: Executing consumer group command failed due to org.apache.kafka.common.errors.CoordinatorNotAvailableException: The coordinator is not available.\n(no running broker coordinates group {name})\n");
        }
        Some("Dead") => return format!("Consumer group '{name}' does not exist.\n"),
        Some("Empty") => format!("Consumer group '{name}' has no active members.\n\n"),
        Some("PreparingRebalance" | "CompletingRebalance") => {
            format!("Warning: Consumer group '{name}' is rebalancing.\n\n")
        }
        Some(_) => String::new(),
    };
    let mut rows: Vec<Row> = Vec::new();
    let offset_cells = |tp: &TopicPartition| {
        let current = group.committed.get(tp).copied();
        let end = group.log_end.get(tp).copied();
        let lag = match (current, end) {
            (Some(c), Some(e)) => e.saturating_sub(c).to_string(),
            _ => MISSING.to_owned(),
        };
        (
            current.map_or_else(|| MISSING.to_owned(), |c| c.to_string()),
            end.map_or_else(|| MISSING.to_owned(), |e| e.to_string()),
            lag,
        )
    };
    let mut members: Vec<&DescribedMember> = group.members.iter().collect();
    members.sort_by(|a, b| {
        b.assignment
            .len()
            .cmp(&a.assignment.len())
            .then_with(|| a.member_id.cmp(&b.member_id))
    });
    let mut owned: Vec<&TopicPartition> = Vec::new();
    for m in members {
        let mut tps: Vec<&TopicPartition> = m.assignment.iter().collect();
        tps.sort();
        for tp in tps {
            owned.push(tp);
            let (current, end, lag) = offset_cells(tp);
            rows.push([
                group.group.clone(),
                tp.topic.clone(),
                tp.partition.to_string(),
                current,
                end,
                lag,
                m.member_id.clone(),
                m.host.clone(),
                m.client_id.clone(),
            ]);
        }
    }
    for tp in group.committed.keys().filter(|tp| !owned.contains(tp)) {
        let (current, end, lag) = offset_cells(tp);
        rows.push([
            group.group.clone(),
            tp.topic.clone(),
            tp.partition.to_string(),
            current,
            end,
            lag,
            MISSING.to_owned(),
            MISSING.to_owned(),
            MISSING.to_owned(),
        ]);
    }
    let width = |col: usize| rows.iter().map(|r| r[col].len()).max().unwrap_or(0).max(15);
    let (group_w, topic_w, member_w, host_w) = (width(0), width(1), width(6), width(7));
    let mut out = note;
    let mut line = |r: [&str; 9]| {
        let _ = writeln!(
            out,
            "{:<group_w$} {:<topic_w$} {:<10} {:<15} {:<15} {:<15} {:<member_w$} {:<host_w$} {}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]
        );
    };
    line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in &rows {
        line([
            &r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7], &r[8],
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_notes_for_groups_that_are_not_stable() {
        let mut group = DescribedGroup {
            group: "billing".into(),
            ..DescribedGroup::default()
        };
        assert!(describe_group(&group).contains("CoordinatorNotAvailableException"));
        group.state = Some("Empty".into());
        assert!(describe_group(&group)
            .starts_with("Consumer group 'billing' has no active members.\n\nGROUP "));
        group.state = Some("PreparingRebalance".into());
        assert!(describe_group(&group)
            .starts_with("Warning: Consumer group 'billing' is rebalancing.\n\nGROUP "));
        group.state = Some("Dead".into());
        assert_eq!(
            describe_group(&group),
            "Consumer group 'billing' does not exist.\n"
        );
    }

    #[test]
    fn owned_partitions_by_member_then_committed_but_unowned_ones() {
        let tp = |p| TopicPartition::new("orders", p);
        let group = DescribedGroup {
            group: "billing".into(),
            members: vec![
                DescribedMember {
                    member_id: "consumer-billing-1-7b0c".into(),
                    host: "/consumer-billing-1".into(),
                    client_id: "consumer-billing-1".into(),
                    assignment: vec![tp(2)],
                },
                DescribedMember {
                    member_id: "consumer-billing-0-1f9a".into(),
                    host: "/consumer-billing-0".into(),
                    client_id: "consumer-billing-0".into(),
                    assignment: vec![tp(1), tp(0)],
                },
            ],
            committed: BTreeMap::from([(tp(0), 40), (tp(2), 7), (tp(3), 12)]),
            log_end: BTreeMap::from([(tp(0), 50), (tp(1), 9), (tp(2), 7), (tp(3), 12)]),
            state: Some("Stable".into()),
        };
        let text = describe_group(&group);
        insta::assert_snapshot!(text, @r"
        GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID             HOST                CLIENT-ID
        billing         orders          0          40              50              10              consumer-billing-0-1f9a /consumer-billing-0 consumer-billing-0
        billing         orders          1          -               9               -               consumer-billing-0-1f9a /consumer-billing-0 consumer-billing-0
        billing         orders          2          7               7               0               consumer-billing-1-7b0c /consumer-billing-1 consumer-billing-1
        billing         orders          3          12              12              0               -                       -                   -
        ");
    }
}
