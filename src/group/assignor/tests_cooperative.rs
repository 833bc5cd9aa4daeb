//! Cases from Kafka 3.8's `CooperativeStickyAssignorTest`, including the
//! `AbstractStickyAssignorTest` cases it inherits, checked with its
//! two-phase verification: a partition changing owner is only revoked in one
//! rebalance and handed out in the next.

use std::collections::BTreeMap;

use super::tests_support::*;
use super::{assign, Assignor, Subscription};

fn cooperative(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, Subscription>,
) -> Assignment {
    assign(Assignor::CooperativeSticky, partitions, members)
}

#[test]
fn test_all_consumers_have_owned_partition_invalidated_when_claimed_by_multiple_consumers_in_same_generation_with_equal_partitions_per_consumer(
) {
    let partitions = topics(&[("topic", 3)]);
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-0 topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let a = cooperative(&partitions, &members);
    // topic-0 counts as owned until both claimants have revoked it.
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-1"),
            ("consumer2", "topic-2"),
            ("consumer3", ""),
        ],
    );

    let (_, settled) = settle_cooperative(&partitions, members, a, 1);
    assert_assignment(
        &settled,
        &[
            ("consumer1", "topic-1"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-0"),
        ],
    );
}

#[test]
fn test_all_consumers_have_owned_partition_invalidated_when_claimed_by_multiple_consumers_in_same_generation_with_unequal_partitions_per_consumer(
) {
    let partitions = topics(&[("topic", 4)]);
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-0 topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let a = cooperative(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic-1 topic-3"),
            ("consumer2", "topic-2"),
            ("consumer3", ""),
        ],
    );

    let (_, settled) = settle_cooperative(&partitions, members, a, 1);
    assert_assignment(
        &settled,
        &[
            ("consumer1", "topic-1 topic-3"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-0"),
        ],
    );
}

#[test]
fn test_assignor_with_old_version_subscriptions() {
    let members = group(vec![
        ("consumer1", owning(&["topic1"], "topic1-0", 1)),
        ("consumer2", owning(&["topic1"], "topic1-1", 1)),
        ("consumer3", owning(&["topic1"], "", 1)),
    ]);
    let a = cooperative(&topics(&[("topic1", 3)]), &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1"),
            ("consumer3", "topic1-2"),
        ],
    );
}

/// The two-phase rebalance: the new member gets topic-2 only once
/// consumer1 no longer owns it.
#[test]
fn test_add_remove_consumer_one_topic() {
    let partitions = topics(&[("topic", 3)]);
    let a = cooperative(&partitions, &group(vec![("consumer1", sub(&["topic"]))]));
    assert_assignment(&a, &[("consumer1", "topic-0 topic-1 topic-2")]);

    let members = group(vec![
        (
            "consumer1",
            owning(&["topic"], "topic-0 topic-1 topic-2", 1),
        ),
        ("consumer2", owning(&["topic"], "", 1)),
    ]);
    let first = cooperative(&partitions, &members);
    assert_assignment(
        &first,
        &[("consumer1", "topic-0 topic-1"), ("consumer2", "")],
    );

    let members = next_generation(&members, &first, 2);
    let second = cooperative(&partitions, &members);
    assert_assignment(
        &second,
        &[("consumer1", "topic-0 topic-1"), ("consumer2", "topic-2")],
    );

    let members = group(vec![("consumer2", owning(&["topic"], "topic-2", 3))]);
    let a = cooperative(&partitions, &members);
    assert_assignment(&a, &[("consumer2", "topic-2 topic-0 topic-1")]);
}

#[test]
fn test_max_quota_consumer_more_than_num_expected_max_capacity_members() {
    let both = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 2), ("topic2", 2)]);
    let members = group(vec![
        ("consumer1", owning(&both, "topic1-0 topic2-0", 1)),
        ("consumer2", owning(&both, "topic1-1 topic2-1", 1)),
        ("consumer3", owning(&both, "", 1)),
    ]);
    let first = cooperative(&partitions, &members);
    assert_assignment(
        &first,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1 topic2-1"),
            ("consumer3", ""),
        ],
    );
    let (_, settled) = settle_cooperative(&partitions, members, first, 1);
    assert_assignment(
        &settled,
        &[
            ("consumer1", "topic1-0"),
            ("consumer2", "topic1-1 topic2-1"),
            ("consumer3", "topic2-0"),
        ],
    );
}

#[test]
fn test_add_remove_two_consumers_two_topics() {
    let all = ["topic1", "topic2"];
    let partitions = topics(&[("topic1", 3), ("topic2", 4)]);
    let members = group(vec![("consumer1", sub(&all)), ("consumer2", sub(&all))]);
    let a = cooperative(&partitions, &members);
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
    let first = cooperative(&partitions, &members);
    // topic1-2, topic2-3 and topic2-2 change owner: revoked now, assigned next time.
    assert_assignment(
        &first,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic2-0 topic1-1"),
            ("consumer3", ""),
            ("consumer4", ""),
        ],
    );
    let (members, settled) = settle_cooperative(&partitions, members, first, 1);
    assert_assignment(
        &settled,
        &[
            ("consumer1", "topic1-0 topic2-1"),
            ("consumer2", "topic2-0 topic1-1"),
            ("consumer3", "topic1-2 topic2-3"),
            ("consumer4", "topic2-2"),
        ],
    );

    let mut members = next_generation(&members, &settled, 2);
    members.remove("consumer1");
    members.remove("consumer2");
    let a = cooperative(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer3", "topic1-2 topic2-3 topic1-0 topic2-1"),
            ("consumer4", "topic2-2 topic1-1 topic2-0"),
        ],
    );
}

#[test]
fn test_partitions_transferring_ownership_include_the_partition_claimed_by_multiple_consumers_in_same_generation(
) {
    let partitions = topics(&[("topic", 3)]);
    let members = group(vec![
        ("consumer1", owning(&["topic"], "topic-0 topic-1", 1)),
        ("consumer2", owning(&["topic"], "topic-0 topic-2", 1)),
        ("consumer3", owning(&["topic"], "", 1)),
    ]);
    let first = cooperative(&partitions, &members);
    assert!(first["consumer3"].is_empty());
    let (_, settled) = settle_cooperative(&partitions, members, first, 1);
    assert_assignment(
        &settled,
        &[
            ("consumer1", "topic-1"),
            ("consumer2", "topic-2"),
            ("consumer3", "topic-0"),
        ],
    );
}

/// Not a Kafka test: the general algorithm's variant of the two-phase
/// rebalance, where Kafka works out the moving partitions by comparing
/// owned and assigned partitions.
#[test]
fn general_assignment_revokes_before_moving() {
    let partitions = topics(&[("t1", 4), ("t2", 2)]);
    let members = group(vec![
        (
            "c1",
            owning(&["t1", "t2"], "t1-0 t1-1 t1-2 t1-3 t2-0 t2-1", 1),
        ),
        ("c2", sub(&["t1"])),
    ]);
    let eager = assign(Assignor::Sticky, &partitions, &members);
    assert_assignment(
        &eager,
        &[("c1", "t1-3 t2-0 t2-1"), ("c2", "t1-0 t1-1 t1-2")],
    );

    let first = cooperative(&partitions, &members);
    assert_assignment(&first, &[("c1", "t1-3 t2-0 t2-1"), ("c2", "")]);

    let members = next_generation(&members, &first, 2);
    let second = cooperative(&partitions, &members);
    assert_assignment(
        &second,
        &[("c1", "t1-3 t2-0 t2-1"), ("c2", "t1-0 t1-1 t1-2")],
    );
}

#[test]
fn test_multiple_consumers_mixed_topic_subscriptions() {
    let members = group(vec![
        ("consumer1", sub(&["topic1"])),
        ("consumer2", sub(&["topic1", "topic2"])),
        ("consumer3", sub(&["topic1"])),
    ]);
    let partitions = topics(&[("topic1", 3), ("topic2", 2)]);
    let a = cooperative(&partitions, &members);
    assert_assignment(
        &a,
        &[
            ("consumer1", "topic1-0 topic1-2"),
            ("consumer2", "topic2-0 topic2-1"),
            ("consumer3", "topic1-1"),
        ],
    );
    settle_cooperative(&partitions, members, a, 1);
}

#[test]
fn test_reassignment_after_one_consumer_added() {
    let partitions = topics(&[("topic", 20)]);
    let mut members: BTreeMap<String, Subscription> = (1..10)
        .map(|i| (format!("c{i:02}"), sub(&["topic"])))
        .collect();
    let a = cooperative(&partitions, &members);
    let (settled_members, settled) = settle_cooperative(&partitions, members.clone(), a, 1);
    members = next_generation(&settled_members, &settled, 1);
    members.insert("c10".into(), sub(&["topic"]));
    let b = cooperative(&partitions, &members);
    settle_cooperative(&partitions, members, b, 2);
}

#[test]
fn test_reassignment_after_one_consumer_leaves() {
    let names: Vec<String> = (1..20).map(|i| format!("t{i:02}")).collect();
    let partitions: BTreeMap<String, u32> = names.iter().cloned().zip(1..).collect();
    let members: BTreeMap<String, Subscription> = (1..20usize)
        .map(|i| {
            let subscribed: Vec<&str> = names[..i].iter().map(String::as_str).collect();
            (format!("c{i:02}"), sub(&subscribed))
        })
        .collect();
    let a = cooperative(&partitions, &members);
    let (members, a) = settle_cooperative(&partitions, members, a, 1);

    let mut members = next_generation(&members, &a, 2);
    members.remove("c10");
    let b = cooperative(&partitions, &members);
    settle_cooperative(&partitions, members, b, 3);
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
    let a = cooperative(&partitions, &members);
    let mut members = next_generation(&members, &a, 1);
    members.remove("consumer1");
    let b = cooperative(&partitions, &members);
    // Nothing moves, so nothing needs a second rebalance.
    for (id, tps) in &b {
        assert_eq!(tps.len(), 1);
        if let Some(before) = a[id].first() {
            assert_eq!(&tps[0], before);
        }
    }
    settle_cooperative(&partitions, members, b, 2);
}
