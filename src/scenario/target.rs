//! Fault targets: `broker(1)`, `leader(orders-0)`, `consumer(billing, 1)`, ...

use std::fmt;
use std::str::FromStr;

/// The node (or nodes) a fault acts on; resolved when the fault fires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Broker N (its Kafka node id, 1..=brokers).
    Broker(u32),
    /// Controller N (1..=controllers, their own namespace).
    Controller(u32),
    /// The active controller (the Raft leader) at the time.
    ActiveController,
    /// The leader of a partition.
    Leader {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: u32,
    },
    /// The first follower of a partition, in replica order.
    Follower {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: u32,
    },
    /// Every follower of a partition.
    Followers {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: u32,
    },
    /// The group coordinator of a consumer group.
    Coordinator(String),
    /// The transaction coordinator of a transactional id (the leader of
    /// its `__transaction_state` partition).
    TxnCoordinator(String),
    /// One broker drawn at random.
    RandomBroker,
    /// Every broker at once (a correlated failure).
    AllBrokers,
    /// Producer N, counting from 0 over every `[[producers]]` entry.
    Producer(u32),
    /// Consumer `index` of a group, counting from 0 over the group's entries.
    Consumer {
        /// Group id.
        group: String,
        /// Member index within the group.
        index: u32,
    },
}

/// Every target form, for error messages.
pub const TARGET_SYNTAX: &str = "broker(N), controller(N), controller(active), leader(TOPIC-P), follower(TOPIC-P), followers(TOPIC-P), coordinator(GROUP), txn_coordinator(TRANSACTIONAL_ID), random_broker, all_brokers, producer(N), consumer(GROUP, N)";

/// Is `name` a valid Kafka topic name (or group name, which ksim restricts
/// the same way): 1..=249 ASCII alphanumerics, '.', '_' or '-', not "." or ".."?
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl Target {
    /// The target's function name ("broker", "leader", "random_broker", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Target::Broker(_) => "broker",
            Target::Controller(_) | Target::ActiveController => "controller",
            Target::Leader { .. } => "leader",
            Target::Follower { .. } => "follower",
            Target::Followers { .. } => "followers",
            Target::Coordinator(_) => "coordinator",
            Target::TxnCoordinator(_) => "txn_coordinator",
            Target::RandomBroker => "random_broker",
            Target::AllBrokers => "all_brokers",
            Target::Producer(_) => "producer",
            Target::Consumer { .. } => "consumer",
        }
    }

    /// Does this name brokers only?
    pub fn is_broker(&self) -> bool {
        !self.is_client() && !matches!(self, Target::Controller(_) | Target::ActiveController)
    }

    /// Is this a client (producer or consumer), which has no disk?
    pub fn is_client(&self) -> bool {
        matches!(self, Target::Producer(_) | Target::Consumer { .. })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Broker(n) | Target::Controller(n) | Target::Producer(n) => {
                write!(f, "{}({n})", self.name())
            }
            Target::ActiveController => f.write_str("controller(active)"),
            Target::Leader { topic, partition }
            | Target::Follower { topic, partition }
            | Target::Followers { topic, partition } => {
                write!(f, "{}({topic}-{partition})", self.name())
            }
            Target::Coordinator(group) => write!(f, "coordinator({group})"),
            Target::TxnCoordinator(id) => write!(f, "txn_coordinator({id})"),
            Target::RandomBroker | Target::AllBrokers => f.write_str(self.name()),
            Target::Consumer { group, index } => write!(f, "consumer({group}, {index})"),
        }
    }
}

fn number(text: &str, what: &str, example: &str) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{what} must be a number like {example}, not {text:?}"
        ));
    }
    text.parse()
        .map_err(|_| format!("{what} {text} is too large; valid: up to {}", u32::MAX))
}

fn name_arg(text: &str, what: &str) -> Result<String, String> {
    let text = text.trim();
    if is_valid_name(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{what} {text:?} is not a valid name; valid: ASCII letters, digits, '.', '_' and '-'"
        ))
    }
}

fn topic_partition(text: &str, form: &str) -> Result<(String, u32), String> {
    let example = format!("{form}(orders-0)");
    let (topic, partition) = text.trim().rsplit_once('-').ok_or_else(|| {
        format!("{form}(...) needs TOPIC-PARTITION, e.g. {example}; got {text:?}")
    })?;
    let partition = number(partition, "the partition", &example)?;
    Ok((name_arg(topic, "topic")?, partition))
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        match text {
            "random_broker" => return Ok(Target::RandomBroker),
            "all_brokers" => return Ok(Target::AllBrokers),
            _ => {}
        }
        let invalid = || {
            let head = text.split('(').next().unwrap_or_default().trim();
            let forms = [
                "broker",
                "controller",
                "leader",
                "follower",
                "followers",
                "coordinator",
                "random_broker",
                "all_brokers",
                "producer",
                "consumer",
            ];
            let hint = match crate::config::did_you_mean(head, forms) {
                Some(near) if near != head => format!("did you mean {near}? "),
                _ => String::new(),
            };
            format!("invalid target {s:?}; {hint}valid: {TARGET_SYNTAX}")
        };
        let (head, rest) = text.split_once('(').ok_or_else(invalid)?;
        let arg = rest.strip_suffix(')').ok_or_else(invalid)?;
        if arg.contains('(') || arg.contains(')') {
            return Err(invalid());
        }
        match head.trim() {
            "broker" => Ok(Target::Broker(number(arg, "the broker id", "broker(1)")?)),
            "controller" if arg.trim() == "active" => Ok(Target::ActiveController),
            "controller" => Ok(Target::Controller(number(
                arg,
                "the controller id",
                "controller(1) or controller(active)",
            )?)),
            "leader" => {
                let (topic, partition) = topic_partition(arg, "leader")?;
                Ok(Target::Leader { topic, partition })
            }
            "follower" => {
                let (topic, partition) = topic_partition(arg, "follower")?;
                Ok(Target::Follower { topic, partition })
            }
            "followers" => {
                let (topic, partition) = topic_partition(arg, "followers")?;
                Ok(Target::Followers { topic, partition })
            }
            "coordinator" => Ok(Target::Coordinator(name_arg(arg, "group")?)),
            "txn_coordinator" => Ok(Target::TxnCoordinator(name_arg(arg, "transactional id")?)),
            "producer" => Ok(Target::Producer(number(
                arg,
                "the producer index",
                "producer(0)",
            )?)),
            "consumer" => {
                let (group, index) = arg.rsplit_once(',').ok_or_else(|| {
                    format!(
                        "consumer(...) needs GROUP, INDEX, e.g. consumer(billing, 0); got {text:?}"
                    )
                })?;
                let index = number(index, "the consumer index", "consumer(billing, 0)")?;
                Ok(Target::Consumer {
                    group: name_arg(group, "group")?,
                    index,
                })
            }
            _ => Err(invalid()),
        }
    }
}

impl serde::Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Target, String> {
        s.parse()
    }

    #[test]
    fn design_md_syntax() {
        assert_eq!(t("broker(1)"), Ok(Target::Broker(1)));
        assert_eq!(t("controller(2)"), Ok(Target::Controller(2)));
        assert_eq!(t("controller(active)"), Ok(Target::ActiveController));
        let (topic, partition) = ("orders".to_owned(), 0);
        assert_eq!(
            t("leader(orders-0)"),
            Ok(Target::Leader { topic, partition })
        );
        assert_eq!(
            t("follower(my-topic-3)"),
            Ok(Target::Follower {
                topic: "my-topic".into(),
                partition: 3
            })
        );
        assert_eq!(
            t("followers(orders-12)"),
            Ok(Target::Followers {
                topic: "orders".into(),
                partition: 12
            })
        );
        assert_eq!(
            t("coordinator(billing)"),
            Ok(Target::Coordinator("billing".into()))
        );
        assert_eq!(t("random_broker"), Ok(Target::RandomBroker));
        assert_eq!(t("all_brokers"), Ok(Target::AllBrokers));
        assert_eq!(t("producer(0)"), Ok(Target::Producer(0)));
        let consumer = Target::Consumer {
            group: "billing".into(),
            index: 1,
        };
        assert_eq!(t("consumer(billing, 1)"), Ok(consumer.clone()));
        assert_eq!(t(" consumer( billing ,1 ) "), Ok(consumer));
    }

    #[test]
    fn display_round_trips() {
        let all = [
            Target::Broker(3),
            Target::Controller(1),
            Target::ActiveController,
            Target::Leader {
                topic: "a-b-c".into(),
                partition: 7,
            },
            Target::Follower {
                topic: "x.y_z".into(),
                partition: 0,
            },
            Target::Followers {
                topic: "t".into(),
                partition: 4_000_000_000,
            },
            Target::Coordinator("g-1".into()),
            Target::RandomBroker,
            Target::AllBrokers,
            Target::Producer(9),
            Target::Consumer {
                group: "billing".into(),
                index: 2,
            },
        ];
        for target in all {
            assert_eq!(t(&target.to_string()), Ok(target.clone()), "{target}");
        }
        assert_eq!(
            Target::Consumer {
                group: "billing".into(),
                index: 1
            }
            .to_string(),
            "consumer(billing, 1)"
        );
    }

    #[test]
    fn errors_say_what_is_valid() {
        assert_eq!(
            t("brokr(1)"),
            Err(format!(
                "invalid target \"brokr(1)\"; did you mean broker? valid: {TARGET_SYNTAX}"
            ))
        );
        assert_eq!(
            t("broker"),
            Err(format!("invalid target \"broker\"; valid: {TARGET_SYNTAX}"))
        );
        assert_eq!(
            t("broker(x)"),
            Err("the broker id must be a number like broker(1), not \"x\"".into())
        );
        assert_eq!(
            t("leader(orders)"),
            Err("leader(...) needs TOPIC-PARTITION, e.g. leader(orders-0); got \"orders\"".into())
        );
        assert_eq!(
            t("leader(-0)"),
            Err(
                "topic \"\" is not a valid name; valid: ASCII letters, digits, '.', '_' and '-'"
                    .into()
            )
        );
        assert_eq!(
            t("producer(99999999999)"),
            Err("the producer index 99999999999 is too large; valid: up to 4294967295".into())
        );
        assert!(t("consumer(billing)").is_err());
        assert!(t("leader((x-0))").is_err());
        assert!(t("").is_err());
        assert!(t("é(1)").is_err());
    }
}
