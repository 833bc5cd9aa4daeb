//! The token-ring engine benchmark (docs/benchmarks.md) on ksim's kernel.
//!
//! Five `Ring` nodes on the kernel's own network, node trait, event queue and
//! trace hashing. Differences from the reference draw order (so the checksum
//! differs from `bare`'s, while being just as deterministic): the destination
//! is drawn from the sending node's own stream and the latency from the
//! kernel's network stream, both seeded from `--seed` as in every ksim run;
//! and ties at equal times are broken by the kernel's insertion sequence.
//!
//! By default links are datagram links, as the workload specifies (each token
//! arrives at send time + its own latency). `--links tcp` runs ksim's usual
//! TCP-like links instead: FIFO per link, so a token may wait behind an
//! earlier one on the same link and the ring runs slower in simulated time.
//!
//!     cargo run --release -p sim --example token_ring -- --deliveries 2000000 --seed 42

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rand::Rng;
use sim::{Ctx, Node, NodeId, Sim, SimConfig};

const NODES: u32 = 5;
const TOKENS_PER_NODE: u64 = 100;

/// Shared counters of the benchmark (outside the simulated world).
#[derive(Default)]
struct Tally {
    target: Cell<u64>,
    delivered: Cell<u64>,
    checksum: Cell<u64>,
}

struct Ring {
    tally: Rc<Tally>,
}

fn encode(id: u64, hops: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..].copy_from_slice(&hops.to_le_bytes());
    b
}

fn decode(b: &[u8; 16]) -> (u64, u64) {
    let mut id = [0u8; 8];
    let mut hops = [0u8; 8];
    id.copy_from_slice(&b[..8]);
    hops.copy_from_slice(&b[8..]);
    (u64::from_le_bytes(id), u64::from_le_bytes(hops))
}

impl Ring {
    fn forward(ctx: &mut Ctx<'_, Self>, id: u64, hops: u64) {
        let me = ctx.me().0;
        let r = ctx.rng().random_range(0..NODES - 1);
        let dst = if r >= me { r + 1 } else { r };
        ctx.send(NodeId(dst), encode(id, hops));
    }
}

impl Node for Ring {
    type Msg = [u8; 16];
    type Timer = ();
    type Obs = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, msg: [u8; 16]) {
        let (id, hops) = decode(&msg);
        let t = &self.tally;
        let delivered = t.delivered.get() + 1;
        t.delivered.set(delivered);
        t.checksum.set(t.checksum.get().wrapping_add(hops));
        if delivered < t.target.get() {
            Self::forward(ctx, id, hops + 1);
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, _timer: ()) {}
}

struct Args {
    seed: u64,
    deliveries: u64,
    tcp: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut seed, mut deliveries, mut tcp) = (42u64, 2_000_000u64, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => {
                let v = args.next().ok_or(format!("missing value for {arg}"))?;
                (arg, v)
            }
        };
        if key == "--links" {
            tcp = match value.as_str() {
                "tcp" => true,
                "datagram" => false,
                _ => return Err(format!("--links must be tcp or datagram, got {value:?}")),
            };
            continue;
        }
        let number = value
            .replace('_', "")
            .parse::<u64>()
            .map_err(|_| format!("{key}: not an unsigned integer: {value:?}"))?;
        match key.as_str() {
            "--seed" => seed = number,
            "--deliveries" => deliveries = number,
            _ => return Err(format!("unknown flag {key}")),
        }
    }
    if deliveries == 0 {
        return Err("--deliveries must be >= 1".into());
    }
    Ok(Args {
        seed,
        deliveries,
        tcp,
    })
}

fn main() {
    let Args {
        seed,
        deliveries,
        tcp,
    } = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: token_ring [--seed N] [--deliveries D] [--links datagram|tcp]");
            std::process::exit(2);
        }
    };

    let started = Instant::now();
    let tally = Rc::new(Tally::default());
    tally.target.set(deliveries);
    let mut config = SimConfig::default();
    config.net.fifo = tcp;
    let mut sim: Sim<Ring> = Sim::new(seed, config);
    for i in 0..NODES {
        let tally = Rc::clone(&tally);
        sim.add_node(format!("n{i}"), move |ctx| {
            let src = u64::from(ctx.me().0);
            for i in 0..TOKENS_PER_NODE {
                Ring::forward(ctx, src * TOKENS_PER_NODE + i, 1);
            }
            Ring {
                tally: Rc::clone(&tally),
            }
        });
    }
    sim.start();
    while tally.delivered.get() < deliveries && sim.step() {}
    let wall = started.elapsed().as_secs_f64();

    assert_eq!(
        tally.delivered.get(),
        deliveries,
        "500 tokens are always in flight"
    );
    println!(
        "{{\"impl\":\"{}\",\"deliveries\":{},\"sim_seconds\":{:.9},\"wall_seconds\":{:.6},\"deliveries_per_sec\":{:.1},\"checksum\":{}}}",
        if tcp { "ksim-tcp" } else { "ksim" },
        deliveries,
        sim.now() as f64 * 1e-9,
        wall,
        deliveries as f64 / wall,
        tally.checksum.get()
    );
    eprintln!("trace_hash {} events {}", sim.trace_hash(), sim.events());
}
