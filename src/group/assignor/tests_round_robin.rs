//! Cases from Kafka 3.8's `RoundRobinAssignorTest`, which asserts exact
//! partition lists, plus the examples in `RoundRobinAssignor`'s documentation.

use std::collections::BTreeMap;

use super::tests_support::*;
use super::{assign, Assignor, Subscription};

fn round_robin(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, Subscription>,
) -> Assignment {
    assign(Assignor::RoundRobin, partitions, members)
}

#[test]
fn test_one_consumer_no_topic() {
    let a = round_robin(&topics(&[]), &group(vec![("consumer", sub(&[]))]));
    assert_assignment(&a, &[("consumer", "")]);
}

#[test]
fn test_one_consumer_nonexistent_topic() {
    let a = round_robin(&topics(&[]), &group(vec![("consumer", sub(&["topic"]))]));
    assert_assignment(&a, &[("consumer", "")]);
}

#[test]
fn test_one_consumer_one_topic() {
    let a = round_robin(
        &topics(&[("topic", 3)]),
        &group(vec![("consumer", sub(&["topic"]))]),
    );
    assert_assignment(&a, &[("consumer", "topic-0 topic-1 topic-2")]);
}

#[test]
fn test_only_assigns_partitions_from_subscribed_topics() {
    let a = round_robin(
        &topics(&[("topic", 3), ("other", 3)]),
        &group(vec![("consumer", sub(&["topic"]))]),
    );
    assert_assignment(&a, &[("consumer", "topic-0 topic-1 topic-2")]);
}

#[test]
fn test_one_consumer_multiple_topics() {
    let a = round_robin(
        &topics(&[("topic1", 1), ("topic2", 2)]),
        &group(vec![("consumer", sub(&["topic1", "topic2"]))]),
    );
    assert_assignment(&a, &[("consumer", "topic1-0 topic2-0 topic2-1")]);
}

#[test]
fn test_two_consumers_one_topic_one_partition() {
    let a = round_robin(
        &topics(&[("topic", 1)]),
        &group(vec![
            ("consumer1", sub(&["topic"])),
            ("consumer2", sub(&["topic"])),
        ]),
    );
    assert_assignment(&a, &[("consumer1", "topic-0"), ("consumer2", "")]);
}

#[test]
fn test_two_consumers_one_topic_two_partitions() {
    let a = round_robin(
        &topics(&[("topic", 2)]),
        &group(vec![
            ("consumer1", sub(&["topic"])),
            ("consumer2", sub(&["topic"])),
        ]),
    );
    assert_assignment(&a, &[("consumer1", "topic-0"), ("consumer2", "topic-1")]);
}

#[test]
fn test_multiple_consumers_mixed_topics() {
    let a = round_robin(
        &topics(&[("topic1", 3), ("topic2", 2)]),
        &group(vec![
            ("consumer1", sub(&["topic1"])),
            ("consumer2", sub(&["topic1", "topic2"])),
            ("consumer3", sub(&["topic1"])),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1 topic2-0 topic2-1"),
            ("consumer3", "topic1-2"),
        ],
    );
}

#[test]
fn test_two_dynamic_consumers_two_topics_six_partitions() {
    let both = ["topic1", "topic2"];
    let a = round_robin(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![("consumer1", sub(&both)), ("consumer2", sub(&both))]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-2 topic2-1"),
            ("consumer2", "topic1-1 topic2-0 topic2-2"),
        ],
    );
}

#[test]
fn test_two_static_consumers_two_topics_six_partitions() {
    let both = ["topic1", "topic2"];
    let a = round_robin(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![
            ("consumer-b", with_instance(sub(&both), "instance1")),
            ("consumer-a", with_instance(sub(&both), "instance2")),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer-a", "topic1-1 topic2-0 topic2-2"),
            ("consumer-b", "topic1-0 topic1-2 topic2-1"),
        ],
    );
}

#[test]
fn test_one_static_consumer_and_one_dynamic_consumer_two_topics_six_partitions() {
    let both = ["topic1", "topic2"];
    let a = round_robin(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![
            ("consumer-b", with_instance(sub(&both), "instance1")),
            ("consumer-a", sub(&both)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer-a", "topic1-1 topic2-0 topic2-2"),
            ("consumer-b", "topic1-0 topic1-2 topic2-1"),
        ],
    );
}

#[test]
fn test_static_member_round_robin_assignment_persistent() {
    let both = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 3), ("topic2", 3)]);
    let statics = || {
        vec![
            ("consumer1", with_instance(sub(&both), "instance1")),
            ("consumer2", with_instance(sub(&both), "instance2")),
            ("consumer3", with_instance(sub(&both), "instance3")),
        ]
    };
    let mut members = statics();
    members.push(("consumer4", sub(&both)));
    let a = round_robin(&partitions, &group(members));
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic1-1 topic2-2"),
            ("consumer3", "topic1-2"),
            ("consumer4", "topic2-0"),
        ],
    );

    let mut members = statics();
    members.push(("consumer5", sub(&both)));
    let a = round_robin(&partitions, &group(members));
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic1-1 topic2-2"),
            ("consumer3", "topic1-2"),
            ("consumer5", "topic2-0"),
        ],
    );
}

#[test]
fn test_static_member_round_robin_assignment_persistent_after_member_id_changes() {
    let both = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 5), ("topic2", 5)]);
    let a = round_robin(
        &partitions,
        &group(vec![
            ("consumer1", with_instance(sub(&both), "instance1")),
            ("consumer2", with_instance(sub(&both), "instance2")),
            ("consumer3", with_instance(sub(&both), "instance3")),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-3 topic2-1 topic2-4"),
            ("consumer2", "topic1-1 topic1-4 topic2-2"),
            ("consumer3", "topic1-2 topic2-0 topic2-3"),
        ],
    );

    let a = round_robin(
        &partitions,
        &group(vec![
            ("consumer1", with_instance(sub(&both), "instance1")),
            ("consumer5", with_instance(sub(&both), "instance2")),
            ("consumer4", with_instance(sub(&both), "instance3")),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-3 topic2-1 topic2-4"),
            ("consumer4", "topic1-2 topic2-0 topic2-3"),
            ("consumer5", "topic1-1 topic1-4 topic2-2"),
        ],
    );
}

/// The examples in `RoundRobinAssignor`'s documentation: identical and
/// differing subscriptions.
#[test]
fn test_class_documentation_examples() {
    let both = ["t0", "t1"];
    let a = round_robin(
        &topics(&[("t0", 3), ("t1", 3)]),
        &group(vec![("C0", sub(&both)), ("C1", sub(&both))]),
    );
    assert_assignment(&a, &[("C0", "t0-0 t0-2 t1-1"), ("C1", "t0-1 t1-0 t1-2")]);

    let a = round_robin(
        &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]),
        &group(vec![
            ("C0", sub(&["t0"])),
            ("C1", sub(&["t0", "t1"])),
            ("C2", sub(&["t0", "t1", "t2"])),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("C0", "t0-0"),
            ("C1", "t1-0"),
            ("C2", "t1-1 t2-0 t2-1 t2-2"),
        ],
    );
}
