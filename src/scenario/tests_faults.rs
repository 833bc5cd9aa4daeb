//! Tests of `[[faults]]`: kinds, targets, the way back, and their errors.

use super::tests_parse::{err_with, ok, BASE};
use super::*;

/// BASE plus one fault with these lines (the fault's lines start at 21).
fn fault_err(lines: &str) -> String {
    err_with(&format!("[[faults]]\n{lines}"))
}

fn fault_ok(lines: &str) -> FaultSpec {
    let s = ok(&format!("{BASE}[[faults]]\n{lines}"));
    s.faults
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no fault"))
}

#[test]
fn every_kind_with_its_keys() {
    let f = fault_ok("at = \"1s\"\nkind = \"power_loss\"\ntarget = \"all_brokers\"\ntorn = true\nrestart_after = \"2s\"\n");
    assert_eq!(
        (f.kind, f.target, f.torn),
        (FaultKind::PowerLoss, Some(Target::AllBrokers), true)
    );
    assert_eq!(f.restart_after_ns, Some(2_000_000_000));
    let f = fault_ok("at = \"1s\"\nkind = \"pause\"\ntarget = \"consumer(billing, 1)\"\nresume_after = \"15s\"\n");
    assert_eq!(f.resume_after_ns, Some(15_000_000_000));
    let f = fault_ok(
        "at = \"0s\"\nkind = \"slow_disk\"\ntarget = \"follower(orders-2)\"\nheal_after = \"3s\"\n",
    );
    assert_eq!((f.factor, f.heal_after_ns), (Some(10), Some(3_000_000_000)));
    let f = fault_ok("at = \"0s\"\nkind = \"slow_disk\"\ntarget = \"broker(2)\"\nfactor = 50\n");
    assert_eq!(f.factor, Some(50));
    let f = fault_ok("at = \"59.999s\"\nkind = \"latency\"\n");
    assert_eq!(
        (f.target, f.delay_ns, f.factor),
        (None, Some(100_000_000), None)
    );
    let f = fault_ok("at = \"5s\"\nkind = \"latency\"\ntarget = \"controller(active)\"\ndelay = \"250ms\"\nheal_after = \"1s\"\n");
    assert_eq!(
        (f.target, f.delay_ns),
        (Some(Target::ActiveController), Some(250_000_000))
    );
    let f = fault_ok("at = \"5s\"\nkind = \"heal\"\n");
    assert_eq!(
        (f.kind, f.target, f.delay_ns),
        (FaultKind::Heal, None, None)
    );
    for line in [
        "kind = \"restart\"\ntarget = \"random_broker\"",
        "kind = \"resume\"\ntarget = \"coordinator(billing)\"",
        "kind = \"corrupt\"\ntarget = \"controller(3)\"",
        "kind = \"crash\"\ntarget = \"producer(0)\"",
        "kind = \"partition\"\ntarget = \"followers(orders-1)\"\none_way = true",
    ] {
        ok(&format!("{BASE}[[faults]]\nat = \"1s\"\n{line}\n"));
    }
}

#[test]
fn partition_groups() {
    let f = fault_ok("at = \"1s\"\nkind = \"partition\"\ngroups = [[\"broker(1)\"], [\"broker(2)\", \"broker(3)\"]]\none_way = true\nheal_after = \"10s\"\n");
    assert_eq!(
        f.groups,
        vec![
            vec![Target::Broker(1)],
            vec![Target::Broker(2), Target::Broker(3)]
        ]
    );
    assert!(f.one_way && f.target.is_none());
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"partition\"\ngroups = [[\"broker(1)\"], []]\n"),
        "s.toml:23:26: faults[0].groups[1]: a group is empty; valid: one or more targets, e.g. groups = [[\"broker(1)\"], [\"broker(2)\", \"broker(3)\"]]"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"partition\"\ngroups = [[\"broker(1)\"], [\"broker(9)\"]]\n"),
        "s.toml:23:27: faults[0].groups[1][0]: broker(9) does not exist; valid: broker(1)..broker(3) (cluster.brokers = 3)"
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"partition\"\ngroups = []\n")
            .contains("faults[0].groups: groups is empty")
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"partition\"\ngroups = [\"broker(1)\"]\n")
            .contains("faults[0].groups[0]: expected an array of targets")
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"partition\"\ntarget = \"broker(1)\"\ngroups = [[\"broker(2)\"]]\n"),
        "s.toml:24:1: faults[0].groups: give either target (isolate it from every other node) or groups (explicit sides), not both"
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"partition\"\n").starts_with(
            "s.toml:20:1: faults[0].target: partition needs a target to isolate or groups to split"
        )
    );
}

#[test]
fn at_must_be_within_the_fault_phase() {
    assert_eq!(
        fault_err("at = \"60s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\n"),
        "s.toml:21:6: faults[0].at: 1m is not within the fault phase; valid: from \"0s\" to below duration \"1m\""
    );
    assert!(
        fault_err("at = \"soon\"\nkind = \"crash\"\ntarget = \"broker(1)\"\n")
            .contains("faults[0].at: invalid duration \"soon\"")
    );
}

#[test]
fn kinds_and_targets() {
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"explode\"\n"),
        "s.toml:22:8: faults[0].kind: unknown fault kind \"explode\"; valid: crash, restart, power_loss, pause, resume, partition, heal, slow_disk, latency, corrupt, close, shutdown"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"crash\"\n"),
        "s.toml:20:1: faults[0].target: crash needs a target, e.g. target = \"broker(1)\"; valid: broker(N), controller(N), controller(active), leader(TOPIC-P), follower(TOPIC-P), followers(TOPIC-P), coordinator(GROUP), txn_coordinator(TRANSACTIONAL_ID), random_broker, all_brokers, producer(N), consumer(GROUP, N)"
    );
    let target_err = |t: &str| {
        fault_err(&format!(
            "at = \"1s\"\nkind = \"crash\"\ntarget = \"{t}\"\n"
        ))
    };
    assert_eq!(target_err("broker(0)"), "s.toml:23:10: faults[0].target: broker(0) does not exist; valid: broker(1)..broker(3) (cluster.brokers = 3)");
    assert_eq!(target_err("controller(4)"), "s.toml:23:10: faults[0].target: controller(4) does not exist; valid: controller(1)..controller(3) or controller(active) (cluster.controllers = 3)");
    assert_eq!(target_err("leader(orders-3)"), "s.toml:23:10: faults[0].target: leader(orders-3) does not exist; valid: leader(orders-0)..leader(orders-2) (topic \"orders\" has 3 partitions)");
    assert_eq!(target_err("leader(ordres-0)"), "s.toml:23:10: faults[0].target: leader(ordres-0): unknown topic \"ordres\"; did you mean \"orders\"? valid: a topic of [[topics]]: orders");
    assert_eq!(target_err("coordinator(biling)"), "s.toml:23:10: faults[0].target: coordinator(biling): no [[consumers]] or [[pipelines]] entry has group \"biling\"; did you mean \"billing\"? valid groups: billing");
    assert_eq!(target_err("consumer(billing, 2)"), "s.toml:23:10: faults[0].target: consumer(billing, 2) does not exist; valid: consumer(billing, 0)..consumer(billing, 1) (group \"billing\" has 2 consumers)");
    assert_eq!(target_err("producer(1)"), "s.toml:23:10: faults[0].target: producer(1) does not exist; valid: producer(0) (1 producers over all [[producers]] entries)");
    assert!(target_err("brokr(1)").starts_with("s.toml:23:10: faults[0].target: invalid target \"brokr(1)\"; did you mean broker? valid: broker(N),"));
    assert!(fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = 1\n")
        .contains("faults[0].target: expected a target: broker(N),"));
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"corrupt\"\ntarget = \"producer(0)\"\n"),
        "s.toml:23:10: faults[0].target: corrupt acts on a disk and producer(0) is a client without one; valid: a broker or controller target, e.g. broker(1), leader(orders-0), controller(active), all_brokers"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"close\"\ntarget = \"broker(2)\"\n"),
        "s.toml:23:10: faults[0].target: close shuts a consumer down cleanly (a last commit, then LeaveGroup) and broker(2) is not a consumer; valid: consumer(GROUP, N), e.g. consumer(billing, 0)"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"heal\"\ntarget = \"broker(1)\"\n"),
        "s.toml:23:1: faults[0].target: heal restores every cut link and takes no target; remove it, or use heal_after on the partition"
    );
}

#[test]
fn followers_need_replicas() {
    let text = format!("{BASE}[[topics]]\nname = \"solo\"\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"follower(solo-0)\"\n");
    let e = super::tests_parse::err(&text);
    assert_eq!(e, "s.toml:25:10: faults[0].target: follower(solo-0) has no followers: topic \"solo\" has replication_factor 1; valid: leader(solo-0), or replication_factor >= 2");
}

#[test]
fn keys_apply_to_some_kinds_only() {
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"pause\"\ntarget = \"broker(1)\"\nrestart_after = \"5s\"\n"),
        "s.toml:24:1: faults[0].restart_after: restart_after applies to crash, power_loss, close, shutdown only, not to pause; pause takes resume_after"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\ntorn = true\n"),
        "s.toml:24:1: faults[0].torn: torn applies to power_loss only, not to crash"
    );
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\nheal_after = \"1s\"\n"),
        "s.toml:24:1: faults[0].heal_after: heal_after applies to partition, slow_disk, latency only, not to crash; crash takes restart_after"
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\nfactor = 3\n")
            .contains("factor applies to slow_disk only, not to crash")
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\ndelay = \"1s\"\n")
            .contains("delay applies to latency only")
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\ngroups = []\n")
            .contains("groups applies to partition, latency only")
    );
    assert!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\none_way = true\n")
            .contains("one_way applies to partition, latency only")
    );
    assert!(fault_err(
        "at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\nresume_after = \"1s\"\n"
    )
    .contains("resume_after applies to pause only, not to crash; crash takes restart_after"));
    assert_eq!(
        fault_err("at = \"1s\"\nkind = \"slow_disk\"\ntarget = \"broker(1)\"\nfactor = 1\n"),
        "s.toml:24:10: faults[0].factor: 1 is not valid; valid: 2..=1000"
    );
    assert!(fault_err(
        "at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\nrestart_after = \"0s\"\n"
    )
    .contains("faults[0].restart_after: a zero duration is not valid"));
}

#[test]
fn faults_keep_file_order() {
    let s = ok(&format!("{BASE}[[faults]]\nat = \"9s\"\nkind = \"heal\"\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\n"));
    let kinds: Vec<_> = s.faults.iter().map(|f| (f.at_ns, f.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (9_000_000_000, FaultKind::Heal),
            (1_000_000_000, FaultKind::Crash)
        ]
    );
}

#[test]
fn a_latency_on_links_takes_groups_one_way_and_overtake() {
    let f = fault_ok("at = \"1s\"\nkind = \"latency\"\ngroups = [[\"producer(0)\"], [\"broker(1)\"]]\none_way = true\novertake = true\ndelay = \"3s\"\nheal_after = \"100ms\"\n");
    assert!(f.one_way && f.overtake && f.target.is_none());
    assert_eq!(f.groups.len(), 2);
    assert!(
        fault_err("at = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\novertake = true\n")
            .contains("overtake applies to latency only")
    );
    assert!(fault_err(
        "at = \"1s\"\nkind = \"latency\"\ntarget = \"broker(1)\"\ngroups = [[\"broker(2)\"]]\n"
    )
    .contains("not both"));
}
