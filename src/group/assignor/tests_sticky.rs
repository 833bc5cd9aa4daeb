//! Cases from Kafka 3.8's `AbstractStickyAssignorTest` as run by
//! `StickyAssignorTest` (non-rack configurations), where every member
//! subscribes to the same topics (the constrained algorithm) or the case is
//! small. Where Kafka asserts a set or only balance, the exact lists here are
//! what Kafka 3.8's code produces for the same input.

use std::collections::BTreeMap;

use super::tests_support::*;
use super::{assign, Assignor, Subscription};

fn sticky(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, Subscription>,
) -> Assignment {
    assign(Assignor::Sticky, partitions, members)
}

#[test]
fn test_one_consumer_no_topic() {
    let a = sticky(&topics(&[]), &group(vec![("consumer", sub(&[]))]));
    assert_assignment(&a, &[("consumer", "")]);
}

#[test]
fn test_one_consumer_nonexistent_topic() {
    let a = sticky(
        &topics(&[("topic", 0)]),
        &group(vec![("consumer", sub(&["topic"]))]),
    );
    assert_assignment(&a, &[("consumer", "")]);
}

#[test]
fn test_one_consumer_one_topic() {
    let a = sticky(
        &topics(&[("topic", 3)]),
        &group(vec![("consumer", sub(&["topic"]))]),
    );
    assert_assignment(&a, &[("consumer", "topic-0 topic-1 topic-2")]);
}

#[test]
fn test_only_assigns_partitions_from_subscribed_topics() {
    let members = group(vec![(
        "consumer",
        owning(&["topic"], "topic-0 topic-1 other-0 other-1", 1),
    )]);
    let a = sticky(&topics(&[("topic", 2)]), &members);
    assert_assignment(&a, &[("consumer", "topic-0 topic-1")]);
}

#[test]
fn test_one_consumer_multiple_topics() {
    let a = sticky(
        &topics(&[("topic1", 1), ("topic2", 2)]),
        &group(vec![("consumer", sub(&["topic1", "topic2"]))]),
    );
    assert_assignment(&a, &[("consumer", "topic1-0 topic2-0 topic2-1")]);
}

#[test]
fn test_two_consumers_one_topic_one_partition() {
    let members = group(vec![
        ("consumer1", sub(&["topic"])),
        ("consumer2", sub(&["topic"])),
    ]);
    let a = sticky(&topics(&[("topic", 1)]), &members);
    verify_validity_and_balance(&members, &a);
    assert_assignment(&a, &[("consumer1", "topic-0"), ("consumer2", "")]);
}

#[test]
fn test_two_consumers_one_topic_two_partitions() {
    let members = group(vec![
        ("consumer1", sub(&["topic"])),
        ("consumer2", sub(&["topic"])),
    ]);
    let a = sticky(&topics(&[("topic", 2)]), &members);
    assert_assignment(&a, &[("consumer1", "topic-0"), ("consumer2", "topic-1")]);
}

#[test]
fn test_two_consumers_two_topics_six_partitions() {
    let both = ["topic1", "topic2"];
    let members = group(vec![("consumer1", sub(&both)), ("consumer2", sub(&both))]);
    let a = sticky(&topics(&[("topic1", 3), ("topic2", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-2 topic2-1"),
            ("consumer2", "topic1-1 topic2-0 topic2-2"),
        ],
    );
    verify_validity_and_balance(&members, &a);
}

#[test]
fn test_consumer_owning_min_quota_expected_max_quota() {
    let both = ["topic1", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic1-0 topic2-1", 1)),
        ("consumer2", owning(&both, "topic1-1 topic2-2", 1)),
    ]);
    let a = sticky(&topics(&[("topic1", 2), ("topic2", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic2-1 topic2-0"),
            ("consumer2", "topic1-1 topic2-2"),
        ],
    );
}

#[test]
fn test_max_quota_consumer_more_than_num_expected_max_capacity_members() {
    // Both owners hold maxQuota partitions but only one may keep them: the
    // one met first in the leader's HashMap (consumer2).
    let both = ["topic1", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic1-0 topic2-0", 1)),
        ("consumer2", owning(&both, "topic1-1 topic2-1", 1)),
        ("consumer3", owning(&both, "", 1)),
    ]);
    let a = sticky(&topics(&[("topic1", 2), ("topic2", 2)]), &members);
    verify_validity_and_balance(&members, &a);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1 topic2-1"),
            ("consumer3", "topic2-0"),
        ],
    );
}

#[test]
fn test_all_consumers_are_under_min_quota() {
    let both = ["topic1", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic1-0", 1)),
        ("consumer2", owning(&both, "topic1-1", 1)),
        ("consumer3", owning(&both, "", 1)),
    ]);
    let a = sticky(&topics(&[("topic1", 2), ("topic2", 3)]), &members);
    verify_validity_and_balance(&members, &a);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic1-1 topic2-2"),
            ("consumer3", "topic2-0"),
        ],
    );
}

#[test]
fn test_add_remove_consumer_one_topic() {
    let partitions = topics(&[("topic", 3)]);
    let a = sticky(&partitions, &group(vec![("consumer1", sub(&["topic"]))]));
    assert_assignment(&a, &[("consumer1", "topic-0 topic-1 topic-2")]);

    let members = group(vec![
        (
            "consumer1",
            owning(&["topic"], "topic-0 topic-1 topic-2", 1),
        ),
        ("consumer2", owning(&["topic"], "", 1)),
    ]);
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);
    assert_assignment(
        &a,
        &[("consumer1", "topic-0 topic-1"), ("consumer2", "topic-2")],
    );

    let members = group(vec![("consumer2", owning(&["topic"], "topic-2", 1))]);
    let a = sticky(&partitions, &members);
    assert_assignment(&a, &[("consumer2", "topic-2 topic-0 topic-1")]);
}

#[test]
fn test_topic_balance_after_reassignment() {
    let all = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 12), ("topic2", 12)]);
    let members = group(vec![("consumer1", sub(&all))]);
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);

    let mut members = next_generation(&members, &a, 1);
    members.insert("consumer2".into(), owning(&all, "", 1));
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);
    for tps in a.values() {
        assert_eq!(tps.iter().filter(|tp| tp.topic == "topic1").count(), 6);
        assert_eq!(tps.iter().filter(|tp| tp.topic == "topic2").count(), 6);
    }
    assert!(is_fully_balanced(&a));
}

#[test]
fn test_add_remove_two_consumers_two_topics() {
    let all = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 3), ("topic2", 4)]);
    let members = group(vec![("consumer1", sub(&all)), ("consumer2", sub(&all))]);
    let a = sticky(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-2 topic2-1 topic2-3"),
            ("consumer2", "topic1-1 topic2-0 topic2-2"),
        ],
    );

    let mut members = next_generation(&members, &a, 1);
    members.insert("consumer3".into(), owning(&all, "", 1));
    members.insert("consumer4".into(), owning(&all, "", 1));
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic2-0 topic1-1"),
            ("consumer3", "topic1-2 topic2-3"),
            ("consumer4", "topic2-2"),
        ],
    );

    let mut members = next_generation(&members, &a, 1);
    members.remove("consumer1");
    members.remove("consumer2");
    let a = sticky(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer3", "topic1-2 topic2-3 topic1-0 topic2-1"),
            ("consumer4", "topic2-2 topic1-1 topic2-0"),
        ],
    );
    assert!(is_fully_balanced(&a));
}

#[test]
fn test_reassignment_after_one_consumer_added() {
    let partitions = topics(&[("topic", 20)]);
    let mut members: BTreeMap<String, Subscription> = (1..10)
        .map(|i| (format!("c{i:02}"), sub(&["topic"])))
        .collect();
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);

    members.insert("c10".into(), sub(&["topic"]));
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);
}

#[test]
fn test_same_subscriptions() {
    let names: Vec<String> = (1..15).map(|i| format!("t{i:02}")).collect();
    let partitions: BTreeMap<String, u32> = names.iter().cloned().zip(1..).collect();
    let subscribed: Vec<&str> = names.iter().map(String::as_str).collect();
    let members: BTreeMap<String, Subscription> = (1..9)
        .map(|i| (format!("c{i}"), sub(&subscribed)))
        .collect();
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);

    let mut members = next_generation(&members, &a, 1);
    members.remove("c5");
    let b = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &b);
    // Stickiness: every remaining member keeps what it had.
    for (id, tps) in &b {
        assert!(
            a[id].iter().all(|tp| tps.contains(tp)),
            "{id} lost partitions"
        );
    }
}

#[test]
fn test_stickiness() {
    let partitions = topics(&[("topic1", 3)]);
    let members = group(vec![
        ("consumer1", sub(&["topic1"])),
        ("consumer2", sub(&["topic1"])),
        ("consumer3", sub(&["topic1"])),
        ("consumer4", sub(&["topic1"])),
    ]);
    let a = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &a);
    assert!(a.values().all(|tps| tps.len() <= 1));

    // The potential group leader leaves; nobody else's partition moves.
    let mut members = next_generation(&members, &a, 1);
    members.remove("consumer1");
    let b = sticky(&partitions, &members);
    verify_validity_and_balance(&members, &b);
    for (id, tps) in &b {
        assert_eq!(tps.len(), 1);
        if let Some(before) = a[id].first() {
            assert_eq!(&tps[0], before, "{id} moved");
        }
    }
}

#[test]
fn test_assignment_updated_for_deleted_topic() {
    let a = sticky(
        &topics(&[("topic1", 1), ("topic3", 100)]),
        &group(vec![("consumer", sub(&["topic1", "topic2", "topic3"]))]),
    );
    assert_eq!(a["consumer"].len(), 101);
    assert_eq!(a["consumer"][0], tp("topic1-0"));
}

#[test]
fn test_no_exception_thrown_when_only_subscribed_topic_deleted() {
    let members = group(vec![("consumer", sub(&["topic"]))]);
    let a = sticky(&topics(&[("topic", 3)]), &members);
    let members = next_generation(&members, &a, 1);
    let a = sticky(&topics(&[]), &members);
    assert_assignment(&a, &[("consumer", "")]);
}

#[test]
fn test_all_consumers_reach_expected_quota_and_are_considered_filled() {
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let a = sticky(&topics(&[("topic", 4)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0 topic-1"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-3"),
        ],
    );
}

#[test]
fn test_owned_partitions_are_invalidated_for_consumer_with_stale_generation() {
    let both = ["topic", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic-0 topic-2 topic2-1", 10)),
        ("consumer2", owning(&both, "topic-0 topic-2 topic2-1", 9)),
    ]);
    let a = sticky(&topics(&[("topic", 3), ("topic2", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0 topic2-1 topic-2"),
            ("consumer2", "topic-1 topic2-0 topic2-2"),
        ],
    );
    assert!(is_fully_balanced(&a));
}

#[test]
fn test_owned_partitions_are_invalidated_for_consumer_with_no_generation() {
    let both = ["topic", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic-0 topic-2 topic2-1", 10)),
        (
            "consumer2",
            Subscription {
                generation: None,
                ..owning(&both, "topic-0 topic-2 topic2-1", 0)
            },
        ),
    ]);
    let a = sticky(&topics(&[("topic", 3), ("topic2", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0 topic2-1 topic-2"),
            ("consumer2", "topic-1 topic2-0 topic2-2"),
        ],
    );
}

#[test]
fn test_partitions_transferring_ownership_include_the_partition_claimed_by_multiple_consumers_in_same_generation(
) {
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-0 topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let a = sticky(&topics(&[("topic", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-1"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-0"),
        ],
    );
}

/// `StickyAssignorTest`'s variant with one partition more.
#[test]
fn test_all_consumers_have_owned_partition_invalidated_when_claimed_by_multiple_consumers_in_same_generation_with_unequal_partitions_per_consumer(
) {
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-0 topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let a = sticky(&topics(&[("topic", 4)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-1 topic-3"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-0"),
        ],
    );
}

#[test]
fn test_ensure_partitions_assigned_to_highest_generation() {
    let all = ["topic", "topic2", "topic3"];
    let members = group(vec![
        ("consumer1", owning(&all, "topic-0 topic2-0 topic3-0", 10)),
        ("consumer2", owning(&all, "topic-1 topic2-1 topic3-1", 9)),
        ("consumer3", owning(&all, "topic2-1 topic3-0 topic3-2", 8)),
    ]);
    let a = sticky(
        &topics(&[("topic", 3), ("topic2", 3), ("topic3", 3)]),
        &members,
    );
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0 topic2-0 topic3-0"),
            ("consumer2", "topic-1 topic2-1 topic3-1"),
            ("consumer3", "topic3-2 topic-2 topic2-2"),
        ],
    );
}

#[test]
fn test_no_reassignment_on_current_members() {
    let all = ["topic", "topic2", "topic3", "topic1"];
    let members = group(vec![
        ("consumer1", sub(&all)),
        ("consumer2", owning(&all, "topic-0 topic2-0 topic1-0", 9)),
        ("consumer3", owning(&all, "topic3-2 topic2-2 topic1-1", 8)),
        ("consumer4", owning(&all, "topic3-1 topic-1 topic-2", 7)),
    ]);
    let partitions = topics(&[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)]);
    let a = sticky(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-2 topic2-1 topic3-0"),
            ("consumer2", "topic-0 topic1-0 topic2-0"),
            ("consumer3", "topic1-1 topic2-2 topic3-2"),
            ("consumer4", "topic-1 topic3-1 topic-2"),
        ],
    );
}

#[test]
fn test_owned_partitions_are_invalidated_for_consumer_with_multiple_generation() {
    let both = ["topic", "topic2"];
    let members = group(vec![
        ("consumer1", owning(&both, "topic-0 topic2-1 topic-1", 10)),
        ("consumer2", owning(&both, "topic-0 topic2-1 topic2-2", 8)),
    ]);
    let a = sticky(&topics(&[("topic", 3), ("topic2", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0 topic-1 topic2-1"),
            ("consumer2", "topic2-2 topic-2 topic2-0"),
        ],
    );
}

/// The non-rack-aware expectations of the Kafka test of this name, fresh and
/// with the expected assignment already owned.
#[test]
fn test_rack_aware_assignment_with_uniform_subscription() {
    let all = ["t1", "t2", "t3"];
    let partitions = topics(&[("t1", 6), ("t2", 7), ("t3", 2)]);
    let members = group(vec![
        ("consumer0", sub(&all)),
        ("consumer1", sub(&all)),
        ("consumer2", sub(&all)),
    ]);
    let a = sticky(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t1-3, t2-0, t2-3, t2-6"),
            ("consumer1", "t1-1, t1-4, t2-1, t2-4, t3-0"),
            ("consumer2", "t1-2, t1-5, t2-2, t2-5, t3-1"),
        ],
    );
    // Owning exactly that, everyone keeps it, re-sorted by partition number.
    let members = next_generation(&members, &a, 1);
    let a = sticky(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer0", "t1-0, t2-0, t1-3, t2-3, t2-6"),
            ("consumer1", "t3-0, t1-1, t2-1, t1-4, t2-4"),
            ("consumer2", "t3-1, t1-2, t2-2, t1-5, t2-5"),
        ],
    );
}

#[test]
fn test_assignor_with_old_version_subscriptions() {
    // V0 carries no generation; the others are in generation 1.
    let members = group(vec![
        (
            "consumer1",
            Subscription {
                generation: None,
                ..owning(&["topic1"], "topic1-0", 1)
            },
        ),
        ("consumer2", owning(&["topic1"], "topic1-1", 1)),
        ("consumer3", owning(&["topic1"], "", 1)),
    ]);
    let a = sticky(&topics(&[("topic1", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1"),
            ("consumer3", "topic1-2"),
        ],
    );
}

#[test]
fn test_schema_backward_compatibility() {
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-2", 1)),
        (
            "consumer2",
            Subscription {
                generation: None,
                ..owning(&["topic"], "topic-1", 0)
            },
        ),
        ("consumer3", sub(&["topic"])),
    ]);
    let a = sticky(&topics(&[("topic", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-0"),
            ("consumer2", "topic-1"),
            ("consumer3", "topic-2"),
        ],
    );
}

/// Not a Kafka test: with more members than `maxQuota` slots, the members
/// met first in the leader's `HashMap` keep `maxQuota`. With 14 members the
/// JDK's table has 32 buckets and consumer1 comes last, so it is the one
/// cut down, although it sorts first by member id.
#[test]
fn hash_map_order_decides_who_keeps_max_quota() {
    let mut members: BTreeMap<String, Subscription> = (1..14)
        .map(|i| {
            let owned = format!("topic-{} topic-{}", 2 * i - 2, 2 * i - 1);
            (format!("consumer{i}"), owning(&["topic"], &owned, 1))
        })
        .collect();
    members.insert("consumer14".into(), owning(&["topic"], "", 1));
    let a = sticky(&topics(&[("topic", 26)]), &members);
    assert_eq!(a["consumer1"], tps("topic-0"));
    assert_eq!(a["consumer14"], tps("topic-1"));
    for i in 2..14 {
        assert_eq!(
            a[&format!("consumer{i}")],
            tps(&format!("topic-{} topic-{}", 2 * i - 2, 2 * i - 1))
        );
    }
}
