//! Cases from Kafka 3.8's `RangeAssignorTest` (non-rack configurations).
//! Kafka asserts range assignments as sets; the order within each member's
//! list asserted here is the one Kafka 3.8's code produces (topics in the
//! leader's `HashMap` order, partitions ascending).

use super::tests_support::*;
use super::{assign, Assignor};

fn range(
    partitions: &std::collections::BTreeMap<String, u32>,
    members: &std::collections::BTreeMap<String, super::Subscription>,
) -> Assignment {
    assign(Assignor::Range, partitions, members)
}

#[test]
fn test_one_consumer_no_topic() {
    let a = range(&topics(&[]), &group(vec![("consumer1", sub(&[]))]));
    assert_assignment(&a, &[("consumer1", "")]);
}

#[test]
fn test_one_consumer_nonexistent_topic() {
    let a = range(&topics(&[]), &group(vec![("consumer1", sub(&["topic1"]))]));
    assert_assignment(&a, &[("consumer1", "")]);
}

#[test]
fn test_one_consumer_one_topic() {
    let a = range(
        &topics(&[("topic1", 3)]),
        &group(vec![("consumer1", sub(&["topic1"]))]),
    );
    assert_assignment(&a, &[("consumer1", "topic1-0 topic1-1 topic1-2")]);
}

#[test]
fn test_only_assigns_partitions_from_subscribed_topics() {
    let a = range(
        &topics(&[("topic1", 3), ("other", 3)]),
        &group(vec![("consumer1", sub(&["topic1"]))]),
    );
    assert_assignment(&a, &[("consumer1", "topic1-0 topic1-1 topic1-2")]);
}

#[test]
fn test_one_consumer_multiple_topics() {
    let a = range(
        &topics(&[("topic1", 1), ("topic2", 2)]),
        &group(vec![("consumer1", sub(&["topic1", "topic2"]))]),
    );
    assert_assignment(&a, &[("consumer1", "topic1-0 topic2-0 topic2-1")]);
}

#[test]
fn test_two_consumers_one_topic_one_partition() {
    let a = range(
        &topics(&[("topic1", 1)]),
        &group(vec![
            ("consumer1", sub(&["topic1"])),
            ("consumer2", sub(&["topic1"])),
        ]),
    );
    assert_assignment(&a, &[("consumer1", "topic1-0"), ("consumer2", "")]);
}

#[test]
fn test_two_consumers_one_topic_two_partitions() {
    let a = range(
        &topics(&[("topic1", 2)]),
        &group(vec![
            ("consumer1", sub(&["topic1"])),
            ("consumer2", sub(&["topic1"])),
        ]),
    );
    assert_assignment(&a, &[("consumer1", "topic1-0"), ("consumer2", "topic1-1")]);
}

#[test]
fn test_multiple_consumers_mixed_topics() {
    let a = range(
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
fn test_two_consumers_two_topics_six_partitions() {
    let both = ["topic1", "topic2"];
    let a = range(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![("consumer1", sub(&both)), ("consumer2", sub(&both))]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-1 topic2-0 topic2-1"),
            ("consumer2", "topic1-2 topic2-2"),
        ],
    );
}

#[test]
fn test_two_static_consumers_two_topics_six_partitions() {
    // consumer-a sorts first by member id, but instance ids decide.
    let both = ["topic1", "topic2"];
    let a = range(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![
            ("consumer-b", with_instance(sub(&both), "instance1")),
            ("consumer-a", with_instance(sub(&both), "instance2")),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer-a", "topic1-2 topic2-2"),
            ("consumer-b", "topic1-0 topic1-1 topic2-0 topic2-1"),
        ],
    );
}

#[test]
fn test_one_static_consumer_and_one_dynamic_consumer_two_topics_six_partitions() {
    // Static members sort before dynamic ones.
    let both = ["topic1", "topic2"];
    let a = range(
        &topics(&[("topic1", 3), ("topic2", 3)]),
        &group(vec![
            ("consumer-b", with_instance(sub(&both), "instance1")),
            ("consumer-a", sub(&both)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer-a", "topic1-2 topic2-2"),
            ("consumer-b", "topic1-0 topic1-1 topic2-0 topic2-1"),
        ],
    );
}

#[test]
fn test_static_member_range_assignment_persistent() {
    let both = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 5), ("topic2", 4)]);
    let statics = || {
        vec![
            ("consumer1", with_instance(sub(&both), "instance1")),
            ("consumer2", with_instance(sub(&both), "instance2")),
            ("consumer3", with_instance(sub(&both), "instance3")),
        ]
    };
    let mut members = statics();
    members.push(("consumer4", sub(&both)));
    let a = range(&partitions, &group(members));
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-1 topic2-0"),
            ("consumer2", "topic1-2 topic2-1"),
            ("consumer3", "topic1-3 topic2-2"),
            ("consumer4", "topic1-4 topic2-3"),
        ],
    );

    // A new dynamic member replaces consumer4; the static ones keep theirs.
    let mut members = statics();
    members.push(("consumer5", sub(&both)));
    let a = range(&partitions, &group(members));
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-1 topic2-0"),
            ("consumer2", "topic1-2 topic2-1"),
            ("consumer3", "topic1-3 topic2-2"),
            ("consumer5", "topic1-4 topic2-3"),
        ],
    );
}

#[test]
fn test_static_member_range_assignment_persistent_after_member_id_changes() {
    let both = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 5), ("topic2", 5)]);
    let a = range(
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
            ("consumer1", "topic1-0 topic1-1 topic2-0 topic2-1"),
            ("consumer2", "topic1-2 topic1-3 topic2-2 topic2-3"),
            ("consumer3", "topic1-4 topic2-4"),
        ],
    );

    // Same instances under new member ids: same partitions per instance.
    let a = range(
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
            ("consumer1", "topic1-0 topic1-1 topic2-0 topic2-1"),
            ("consumer4", "topic1-4 topic2-4"),
            ("consumer5", "topic1-2 topic1-3 topic2-2 topic2-3"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name.
#[test]
fn test_rack_aware_assignment_with_uniform_subscription() {
    let all = ["t1", "t2", "t3"];
    let a = range(
        &topics(&[("t1", 6), ("t2", 7), ("t3", 2)]),
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&all)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0"),
            ("consumer1", "t1-2, t1-3, t2-3, t2-4, t3-1"),
            ("consumer2", "t1-4, t1-5, t2-5, t2-6"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name.
#[test]
fn test_rack_aware_assignment_with_non_equal_subscription() {
    let all = ["t1", "t2", "t3"];
    let a = range(
        &topics(&[("t1", 6), ("t2", 7), ("t3", 2)]),
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&["t1", "t3"])),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0"),
            ("consumer1", "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1"),
            ("consumer2", "t1-4, t1-5"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name:
/// topics with equal partition counts and subscribers are co-partitioned.
#[test]
fn test_rack_aware_assignment_with_uniform_partitions() {
    let all = ["t1", "t2", "t3"];
    let partitions = topics(&[("t1", 5), ("t2", 5), ("t3", 5)]);
    let a = range(
        &partitions,
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&all)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-1, t2-0, t2-1, t3-0, t3-1"),
            ("consumer1", "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3"),
            ("consumer2", "t1-4, t2-4, t3-4"),
        ],
    );

    // testRackAwareAssignmentWithUniformPartitionsNonEqualSubscription
    let a = range(
        &partitions,
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&["t1", "t3"])),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1"),
            ("consumer1", "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3"),
            ("consumer2", "t1-4, t3-4"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name. Topic
/// order within a member follows the leader's `HashMap` (t4 before t3).
#[test]
fn test_rack_aware_assignment_with_co_partitioning() {
    let partitions = topics(&[("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2)]);
    let a = range(
        &partitions,
        &group(vec![
            ("consumer0", sub(&["t1", "t2"])),
            ("consumer1", sub(&["t1", "t2"])),
            ("consumer2", sub(&["t3", "t4"])),
            ("consumer3", sub(&["t3", "t4"])),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-1, t1-2, t2-0, t2-1, t2-2"),
            ("consumer1", "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5"),
            ("consumer2", "t4-0, t3-0"),
            ("consumer3", "t4-1, t3-1"),
        ],
    );

    let all = ["t1", "t2", "t3", "t4"];
    let a = range(
        &partitions,
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&all)),
            ("consumer3", sub(&all)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            ("consumer0", "t4-0, t1-0, t1-1, t2-0, t2-1, t3-0"),
            ("consumer1", "t4-1, t1-2, t1-3, t2-2, t2-3, t3-1"),
            ("consumer2", "t1-4, t2-4"),
            ("consumer3", "t1-5, t2-5"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name; t7..t9
/// are subscribed but do not exist.
#[test]
fn test_co_partitioned_assignment_with_same_subscription() {
    let all = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];
    let a = range(
        &topics(&[
            ("t1", 6),
            ("t2", 6),
            ("t3", 2),
            ("t4", 2),
            ("t5", 4),
            ("t6", 4),
        ]),
        &group(vec![
            ("consumer0", sub(&all)),
            ("consumer1", sub(&all)),
            ("consumer2", sub(&all)),
        ]),
    );
    assert_assignment(
        &a,
        &[
            (
                "consumer0",
                "t4-0, t5-0, t5-1, t6-0, t6-1, t1-0, t1-1, t2-0, t2-1, t3-0",
            ),
            (
                "consumer1",
                "t4-1, t5-2, t6-2, t1-2, t1-3, t2-2, t2-3, t3-1",
            ),
            ("consumer2", "t5-3, t6-3, t1-4, t1-5, t2-4, t2-5"),
        ],
    );
}

/// The example in `RangeAssignor`'s documentation.
#[test]
fn test_class_documentation_example() {
    let both = ["t0", "t1"];
    let a = range(
        &topics(&[("t0", 3), ("t1", 3)]),
        &group(vec![("C0", sub(&both)), ("C1", sub(&both))]),
    );
    assert_assignment(&a, &[("C0", "t0-0 t0-1 t1-0 t1-1"), ("C1", "t0-2 t1-2")]);
}
