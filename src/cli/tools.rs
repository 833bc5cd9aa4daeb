//! `ksim tools`: Kafka's client-side arithmetic (key partitioning, group
//! coordinators, assignors), computed exactly as Kafka's
//! Java client does, for users checking where their keys and groups land.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{outln, Format, EXIT_USAGE};
use crate::client::partitioner::{murmur2, partition_for_key};
use crate::group::assignor::{assign, Assignor, Subscription};
use crate::group::offsets_topic::{
    java_string_hash, partition_for, CONSUMER_OFFSETS, OFFSETS_TOPIC_NUM_PARTITIONS,
};

/// `ksim tools` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// The partition Kafka's default partitioner picks for a key: toPositive(murmur2(key)) % N
    Partition {
        /// The record key (its UTF-8 bytes are hashed)
        #[arg(long)]
        key: String,
        /// Partitions of the topic
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        partitions: u32,
        /// Output format (json adds the murmur2 value)
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The __consumer_offsets partition of a group, whose leader is its coordinator
    Coordinator {
        /// The group id
        #[arg(long)]
        group: String,
        /// offsets.topic.num.partitions
        #[arg(long, default_value_t = OFFSETS_TOPIC_NUM_PARTITIONS, value_parser = clap::value_parser!(u32).range(1..))]
        partitions: u32,
        /// Output format (json adds the Java hashCode)
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run a consumer partition assignor on a group, as the group leader would
    Assign {
        /// range, roundrobin, sticky or cooperative-sticky
        #[arg(long, value_parser = parse_assignor)]
        assignor: Assignor,
        /// JSON: {"partitions_per_topic": {"t": 3}, "members": {"c1": {"topics": ["t"], "instance_id": null, "owned": [["t", 0]], "generation": 1}}}
        #[arg(long, value_name = "FILE.json")]
        input: PathBuf,
    },
}

fn parse_assignor(name: &str) -> Result<Assignor, String> {
    Assignor::from_name(name).ok_or_else(|| {
        format!("unknown assignor {name:?}; valid: range, roundrobin, sticky, cooperative-sticky")
    })
}

/// The input of `ksim tools assign`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignInput {
    partitions_per_topic: BTreeMap<String, u32>,
    members: BTreeMap<String, MemberInput>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberInput {
    topics: Vec<String>,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    owned: Vec<(String, u32)>,
    #[serde(default)]
    generation: Option<i32>,
}

/// `ksim tools assign`: prints `{"assignment": {"c1": ["t-0", ...]}}`.
fn run_assign(assignor: Assignor, input: &std::path::Path) -> u8 {
    let text = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", input.display());
            return EXIT_USAGE;
        }
    };
    let parsed: AssignInput = match serde_json::from_str(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!(
                "error: {}:{}:{}: {e}; expected {{\"partitions_per_topic\": {{\"t\": 3}}, \"members\": {{\"c1\": {{\"topics\": [\"t\"], \"instance_id\": null, \"owned\": [[\"t\", 0]], \"generation\": 1}}}}}}",
                input.display(),
                e.line(),
                e.column()
            );
            return EXIT_USAGE;
        }
    };
    let members: BTreeMap<String, Subscription> = parsed
        .members
        .into_iter()
        .map(|(id, m)| {
            let subscription = Subscription {
                topics: m.topics,
                instance_id: m.instance_id,
                owned: m
                    .owned
                    .iter()
                    .map(|(t, p)| crate::protocol::TopicPartition::new(t, *p))
                    .collect(),
                generation: m.generation,
            };
            (id, subscription)
        })
        .collect();
    let assignment: BTreeMap<String, Vec<String>> =
        assign(assignor, &parsed.partitions_per_topic, &members)
            .into_iter()
            .map(|(id, tps)| (id, tps.iter().map(ToString::to_string).collect()))
            .collect();
    let out = serde_json::json!({ "assignment": assignment });
    outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    0
}

pub fn main(tool: Tool) -> u8 {
    match tool {
        Tool::Assign { assignor, input } => run_assign(assignor, &input),
        Tool::Partition {
            key,
            partitions,
            format,
        } => {
            let partition = partition_for_key(key.as_bytes(), partitions);
            match format {
                Format::Text => outln!("{partition}"),
                Format::Json => {
                    #[derive(serde::Serialize)]
                    struct Out<'a> {
                        key: &'a str,
                        partitions: u32,
                        murmur2: i32,
                        partition: u32,
                    }
                    let out = Out {
                        key: &key,
                        partitions,
                        murmur2: murmur2(key.as_bytes()),
                        partition,
                    };
                    outln!("{}", serde_json::to_string(&out).unwrap_or_default());
                }
            }
            0
        }
        Tool::Coordinator {
            group,
            partitions,
            format,
        } => {
            let partition = partition_for(&group, partitions);
            match format {
                Format::Text => outln!("{partition}"),
                Format::Json => {
                    #[derive(serde::Serialize)]
                    struct Out<'a> {
                        group: &'a str,
                        topic: &'a str,
                        partitions: u32,
                        hash_code: i32,
                        partition: u32,
                    }
                    let out = Out {
                        group: &group,
                        topic: CONSUMER_OFFSETS,
                        partitions,
                        hash_code: java_string_hash(&group),
                        partition,
                    };
                    outln!("{}", serde_json::to_string(&out).unwrap_or_default());
                }
            }
            0
        }
    }
}
