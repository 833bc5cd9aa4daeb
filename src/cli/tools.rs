//! `ksim tools`: Kafka's client-side arithmetic, computed exactly as Kafka's
//! Java client does, for users checking where their keys and groups land.

use super::{outln, Format};
use crate::client::partitioner::{murmur2, partition_for_key};
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
}

pub fn main(tool: Tool) -> u8 {
    match tool {
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
