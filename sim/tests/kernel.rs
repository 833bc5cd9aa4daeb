//! End-to-end semantics of the kernel, each asserted exactly.

use sim::testkit::{ChatObs, Chatter};
use sim::{Ctx, Fault, Node, NodeId, Partition, Sim, SimConfig, MILLIS, SECONDS};

/// A node driven from the test through `Sim::poke`; it reports all it sees.
#[derive(Default)]
struct Probe {
    counter: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Booted(Option<Vec<u8>>),
    Msg { from: NodeId, n: u64, at: u64 },
    Timer(u64),
    Disconnected(NodeId),
    Fsynced(u64),
}

impl Node for Probe {
    type Msg = u64;
    type Timer = u64;
    type Obs = Seen;
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, n: u64) {
        let at = ctx.now();
        ctx.observe(Seen::Msg { from, n, at });
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, t: u64) {
        self.counter += 1;
        ctx.observe(Seen::Timer(t));
    }
    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        ctx.observe(Seen::Disconnected(peer));
    }
    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        ctx.observe(Seen::Fsynced(token));
    }
}

fn probes(n: usize, seed: u64) -> Sim<Probe> {
    let mut sim = Sim::new(seed, SimConfig::default());
    for i in 0..n {
        sim.add_node(format!("p{i}"), |ctx| {
            let data = ctx.disk().read("data").map(|d| d.into_owned());
            ctx.observe(Seen::Booted(data));
            Probe::default()
        });
    }
    sim.start();
    sim
}

fn seen(sim: &Sim<Probe>, node: u32) -> Vec<Seen> {
    sim.history()
        .iter()
        .filter(|o| o.node == NodeId(node))
        .map(|o| o.obs.clone())
        .collect()
}

fn last_boot(sim: &Sim<Probe>, node: u32) -> Option<Vec<u8>> {
    seen(sim, node).into_iter().rev().find_map(|s| match s {
        Seen::Booted(d) => Some(d),
        _ => None,
    })?
}

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);

#[test]
fn write_then_power_loss_before_fsync_is_gone_after_restart() {
    let mut sim = probes(1, 1);
    sim.poke(A, |_, ctx| ctx.disk_mut().append("data", b"abc"));
    sim.run_until(SECONDS);
    sim.apply(Fault::PowerLoss {
        node: A,
        torn: false,
    });
    sim.apply(Fault::Restart(A));
    assert_eq!(last_boot(&sim, 0), None);
}

#[test]
fn write_then_process_crash_is_readable_after_restart() {
    let mut sim = probes(1, 1);
    sim.poke(A, |_, ctx| ctx.disk_mut().append("data", b"abc"));
    sim.apply(Fault::Crash(A));
    sim.apply(Fault::Restart(A));
    // The page cache survived the process.
    assert_eq!(last_boot(&sim, 0), Some(b"abc".to_vec()));
}

#[test]
fn crashed_process_data_becomes_durable_once_writeback_ran() {
    let mut sim = probes(1, 1);
    sim.poke(A, |_, ctx| ctx.disk_mut().append("data", b"abc"));
    sim.apply(Fault::Crash(A));
    // dirty_expire 30 s, checked every 5 s: durable by 35 s, not at 29 s.
    sim.run_until(29 * SECONDS);
    assert!(sim.disk(A).read_durable("data").is_none());
    sim.run_until(35 * SECONDS);
    assert_eq!(sim.disk(A).read_durable("data"), Some(b"abc".to_vec()));
    sim.apply(Fault::PowerLoss {
        node: A,
        torn: false,
    });
    sim.apply(Fault::Restart(A));
    assert_eq!(last_boot(&sim, 0), Some(b"abc".to_vec()));
}

#[test]
fn fsynced_write_survives_power_loss_and_the_node_is_told() {
    let mut sim = probes(1, 1);
    sim.poke(A, |_, ctx| {
        ctx.disk_mut().append("data", b"abc");
        ctx.fsync("data", 77);
        ctx.disk_mut().append("data", b"def");
    });
    sim.run_until(SECONDS);
    assert!(seen(&sim, 0).contains(&Seen::Fsynced(77)));
    sim.apply(Fault::PowerLoss {
        node: A,
        torn: false,
    });
    sim.apply(Fault::Restart(A));
    assert_eq!(last_boot(&sim, 0), Some(b"abc".to_vec()));
}

#[test]
fn power_loss_during_fsync_loses_the_write_and_no_callback_comes() {
    let mut sim = probes(1, 1);
    sim.poke(A, |_, ctx| {
        ctx.disk_mut().append("data", b"abc");
        ctx.fsync("data", 5);
    });
    sim.apply(Fault::PowerLoss {
        node: A,
        torn: false,
    });
    sim.apply(Fault::Restart(A));
    sim.run_until(SECONDS);
    assert_eq!(last_boot(&sim, 0), None);
    assert!(!seen(&sim, 0).contains(&Seen::Fsynced(5)));
}

#[test]
fn messages_on_a_cut_link_never_arrive_and_the_sender_sees_the_reset() {
    let mut sim = probes(2, 3);
    sim.poke(A, |_, ctx| {
        for n in 0..10 {
            ctx.send(B, n);
        }
    });
    sim.apply(Fault::Partition(Partition::Isolate(B)));
    sim.run_until(SECONDS);
    assert!(!seen(&sim, 1).iter().any(|s| matches!(s, Seen::Msg { .. })));
    assert_eq!(
        seen(&sim, 0)
            .iter()
            .filter(|s| **s == Seen::Disconnected(B))
            .count(),
        1
    );
    // A send while cut is lost too, and refused back to the sender.
    sim.poke(A, |_, ctx| ctx.send(B, 99));
    sim.run_until(2 * SECONDS);
    assert!(!seen(&sim, 1).iter().any(|s| matches!(s, Seen::Msg { .. })));
    assert_eq!(
        seen(&sim, 0)
            .iter()
            .filter(|s| **s == Seen::Disconnected(B))
            .count(),
        2
    );
    // After heal a new connection delivers.
    sim.apply(Fault::Heal);
    sim.poke(A, |_, ctx| ctx.send(B, 100));
    sim.run_until(3 * SECONDS);
    let got: Vec<u64> = seen(&sim, 1)
        .iter()
        .filter_map(|s| match s {
            Seen::Msg { n, .. } => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![100]);
}

#[test]
fn fifo_holds_per_link_under_random_latency() {
    let mut sim = probes(3, 11);
    sim.poke(A, |_, ctx| {
        for n in 0..500 {
            ctx.send(B, n);
            ctx.send(NodeId(2), n);
        }
    });
    sim.run_until(SECONDS);
    for node in [1, 2] {
        let msgs: Vec<(u64, u64)> = seen(&sim, node)
            .iter()
            .filter_map(|s| match s {
                Seen::Msg { n, at, .. } => Some((*n, *at)),
                _ => None,
            })
            .collect();
        assert_eq!(
            msgs.iter().map(|m| m.0).collect::<Vec<_>>(),
            (0..500).collect::<Vec<_>>()
        );
        // Latency really was random: not all sent together arrive together.
        assert!(msgs.first().unwrap().1 < msgs.last().unwrap().1);
    }
}

#[test]
fn pause_holds_inputs_and_resume_delivers_them_in_order() {
    let mut sim = probes(2, 5);
    sim.apply(Fault::Pause(B));
    sim.poke(A, |_, ctx| {
        for n in 0..5 {
            ctx.send(B, n);
        }
    });
    sim.poke(B, |_, _| unreachable!("a paused node takes no input"));
    sim.run_until(10 * SECONDS);
    assert!(!seen(&sim, 1).iter().any(|s| matches!(s, Seen::Msg { .. })));
    sim.apply(Fault::Resume(B));
    sim.run_until(11 * SECONDS);
    let msgs: Vec<(u64, u64)> = seen(&sim, 1)
        .iter()
        .filter_map(|s| match s {
            Seen::Msg { n, at, .. } => Some((*n, *at)),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs,
        (0..5).map(|n| (n, 10 * SECONDS)).collect::<Vec<_>>(),
        "held messages arrive at resume time, in order"
    );
}

#[test]
fn crash_drops_the_node_object_and_its_timers() {
    let mut sim = probes(1, 5);
    sim.poke(A, |_, ctx| {
        ctx.set_timer(100 * MILLIS, 1);
        ctx.set_timer(2 * SECONDS, 2);
    });
    sim.run_until(SECONDS);
    assert_eq!(sim.node(A).unwrap().counter, 1);
    sim.apply(Fault::Crash(A));
    assert!(sim.node(A).is_none());
    sim.apply(Fault::Restart(A));
    sim.run_until(5 * SECONDS);
    // Fresh object, and the old incarnation's timer never fired.
    assert_eq!(sim.node(A).unwrap().counter, 0);
    assert!(!seen(&sim, 0).contains(&Seen::Timer(2)));
}

#[test]
fn exit_ends_the_process_after_its_handler_and_keeps_what_it_wrote() {
    let mut sim = probes(2, 6);
    sim.poke(A, |_, ctx| {
        ctx.set_timer(100 * MILLIS, 1);
        ctx.send(B, 7);
        ctx.disk_mut().append("data", b"abc");
        ctx.exit();
        // The rest of the handler still runs: the exit comes after it.
        ctx.observe(Seen::Timer(0));
    });
    assert!(!sim.is_up(A), "down once the handler returned");
    assert!(sim.node(A).is_none());
    sim.run_until(SECONDS);
    let a = seen(&sim, 0);
    assert!(a.contains(&Seen::Timer(0)));
    assert!(
        !a.contains(&Seen::Timer(1)),
        "its timers went with it: {a:?}"
    );
    // Its page cache stays, as after a crash; a restart boots from it.
    sim.apply(Fault::Restart(A));
    assert_eq!(last_boot(&sim, 0), Some(b"abc".to_vec()));
    assert!(sim.is_up(B));
}

#[test]
fn cancelled_timer_does_not_fire() {
    let mut sim = probes(1, 5);
    sim.poke(A, |_, ctx| {
        let id = ctx.set_timer(100 * MILLIS, 1);
        ctx.set_timer(200 * MILLIS, 2);
        ctx.cancel_timer(id);
    });
    sim.run_until(SECONDS);
    assert_eq!(seen(&sim, 0).last(), Some(&Seen::Timer(2)));
    assert!(!seen(&sim, 0).contains(&Seen::Timer(1)));
}

#[test]
fn crash_of_a_peer_resets_connections_to_it() {
    let mut sim = probes(2, 5);
    sim.poke(A, |_, ctx| ctx.send(B, 1));
    sim.apply(Fault::Crash(B));
    sim.run_until(SECONDS);
    assert!(seen(&sim, 0).contains(&Seen::Disconnected(B)));
    sim.apply(Fault::Restart(B));
    sim.run_until(2 * SECONDS);
    assert!(!seen(&sim, 1).iter().any(|s| matches!(s, Seen::Msg { .. })));
}

#[test]
fn latency_spike_delays_delivery_until_healed() {
    let mut sim = probes(2, 5);
    sim.apply(Fault::Latency {
        node: Some(B),
        delay_ns: 500 * MILLIS,
    });
    sim.poke(A, |_, ctx| ctx.send(B, 1));
    sim.run_until(SECONDS);
    let at = seen(&sim, 1)
        .iter()
        .find_map(|s| match s {
            Seen::Msg { at, .. } => Some(*at),
            _ => None,
        })
        .unwrap();
    assert!((501 * MILLIS..=505 * MILLIS).contains(&at), "{at}");
}

fn chatter_run(seed: u64, faults: bool) -> (String, u64) {
    let mut sim = Sim::new(seed, SimConfig::default());
    let n = 5u32;
    for i in 0..n {
        let peers: Vec<NodeId> = (0..n).filter(|&p| p != i).map(NodeId).collect();
        sim.add_node(format!("c{i}"), move |ctx| {
            Chatter::boot(ctx, peers.clone(), 20 * MILLIS)
        });
    }
    sim.start();
    if faults {
        sim.schedule(SECONDS, Fault::Crash(NodeId(1)));
        sim.schedule(2 * SECONDS, Fault::Restart(NodeId(1)));
        sim.schedule(3 * SECONDS, Fault::Partition(Partition::Isolate(NodeId(2))));
        sim.schedule(4 * SECONDS, Fault::Heal);
        sim.schedule(
            5 * SECONDS,
            Fault::PowerLoss {
                node: NodeId(3),
                torn: true,
            },
        );
        sim.schedule(6 * SECONDS, Fault::Restart(NodeId(3)));
    }
    sim.run_until(8 * SECONDS);
    let out_of_order = sim
        .history()
        .iter()
        .filter(|o| matches!(o.obs, ChatObs::OutOfOrder { .. }))
        .count();
    assert_eq!(out_of_order, 0);
    (sim.trace_hash(), sim.events())
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let a = chatter_run(42, true);
    let b = chatter_run(42, true);
    let c = chatter_run(43, true);
    assert_eq!(a, b);
    assert_ne!(a.0, c.0);
    assert!(a.1 > 1000, "a real run: {} events", a.1);
}

#[test]
fn adding_faults_does_not_move_other_streams() {
    // The network and node streams are independent of the fault schedule:
    // before the first fault (1 s), both runs see identical events.
    let mut with = Sim::new(9, SimConfig::default());
    let mut without = Sim::new(9, SimConfig::default());
    for sim in [&mut with, &mut without] {
        for i in 0..3u32 {
            let peers: Vec<NodeId> = (0..3).filter(|&p| p != i).map(NodeId).collect();
            sim.add_node(format!("c{i}"), move |ctx| {
                Chatter::boot(ctx, peers.clone(), 10 * MILLIS)
            });
        }
        sim.start();
    }
    with.schedule(SECONDS, Fault::Crash(NodeId(0)));
    with.run_until(SECONDS - 1);
    without.run_until(SECONDS - 1);
    assert_eq!(with.trace_hash(), without.trace_hash());
}

#[test]
fn a_send_to_a_down_process_is_refused_one_latency_after_it_lands() {
    let mut sim = probes(2, 9);
    sim.apply(Fault::Crash(B));
    // No connection existed, so the crash told nobody; the send finds no one.
    sim.poke(A, |_, ctx| ctx.send(B, 7));
    sim.run_until(SECONDS);
    let refused = sim
        .history()
        .iter()
        .find(|o| o.node == A && o.obs == Seen::Disconnected(B))
        .map(|o| o.at)
        .expect("the sender hears of the refusal");
    // Out and back: at least twice the minimum one-way latency.
    assert!(
        refused >= 2 * SimConfig::default().net.latency_min_ns,
        "{refused}"
    );
    assert!(!seen(&sim, 1).iter().any(|s| matches!(s, Seen::Msg { .. })));
    // A live peer answers nothing of the kind.
    let mut live = probes(2, 9);
    live.poke(A, |_, ctx| ctx.send(B, 7));
    live.run_until(SECONDS);
    assert!(!seen(&live, 0).contains(&Seen::Disconnected(B)));
}
