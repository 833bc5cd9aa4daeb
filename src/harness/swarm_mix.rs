//! Swarm testing (`--swarm`): each seed draws its own fault mix within the
//! scenario's `[swarm]` bounds, as FoundationDB's and TigerBeetle's
//! simulators do — which fault kinds are on and at what rate (up to the
//! table's rate), the network latency range (within `[network]`), and which
//! servers the faults may hit. A mix with few kinds and few targets reaches
//! states a uniform mix of everything almost never does. The draw comes
//! from the run's own stream `swarm/mix`, so `--seed N --swarm` gives the
//! same mix on every machine.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim::{NodeId, Streams};

use super::topology::Topology;
use crate::scenario::{format_duration, FaultKind, Scenario};

/// One seed's fault mix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwarmMix {
    /// The kinds drawn on, with their rates per simulated minute.
    pub rates_per_min: BTreeMap<String, f64>,
    /// Smallest network latency.
    pub latency_min: String,
    /// Largest network latency.
    pub latency_max: String,
    /// The servers swarm faults may hit.
    pub nodes: Vec<String>,
    #[serde(skip)]
    latency_ns: (u64, u64),
    #[serde(skip)]
    eligible: Vec<NodeId>,
    #[serde(skip)]
    kinds: Vec<(FaultKind, f64)>,
}

// Rates are finite numbers drawn here, never NaN.
impl Eq for SwarmMix {}

impl SwarmMix {
    /// Draws seed `seed`'s mix; None when the scenario has no `[swarm]`.
    pub fn draw(scenario: &Scenario, topology: &Topology, seed: u64) -> Option<Self> {
        let swarm = scenario.swarm.as_ref()?;
        let mut rng = Streams::new(seed).stream("swarm/mix");
        let mut kinds: Vec<(FaultKind, f64)> = Vec::new();
        for (&kind, &max) in &swarm.rates_per_min {
            if max > 0.0 && rng.random_bool(0.5) {
                // At least a tenth of the bound, rounded to hundredths.
                let rate = (max * rng.random_range(0.1..=1.0) * 100.0).round() / 100.0;
                kinds.push((kind, rate.max(0.01)));
            }
        }
        let bounded: Vec<(FaultKind, f64)> = swarm
            .rates_per_min
            .iter()
            .filter(|(_, &r)| r > 0.0)
            .map(|(&k, &r)| (k, r))
            .collect();
        if kinds.is_empty() && !bounded.is_empty() {
            kinds.push(bounded[rng.random_range(0..bounded.len())]);
        }
        let net = &scenario.network;
        let (lo, hi) = (
            net.latency_min_ns,
            net.latency_max_ns.max(net.latency_min_ns),
        );
        let us = 1_000;
        let a = (rng.random_range(lo..=hi) / us * us).max(lo);
        let b = (rng.random_range(a..=hi) / us * us).max(a);
        let servers: Vec<NodeId> = topology
            .ids()
            .filter(|id| topology.roles[id.index()].is_server())
            .collect();
        let mut eligible: Vec<NodeId> = servers
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        if eligible.is_empty() && !servers.is_empty() {
            eligible.push(servers[rng.random_range(0..servers.len())]);
        }
        Some(Self {
            rates_per_min: kinds
                .iter()
                .map(|(k, r)| (k.name().to_owned(), *r))
                .collect(),
            latency_min: format_duration(a),
            latency_max: format_duration(b),
            nodes: eligible
                .iter()
                .map(|id| topology.roles[id.index()].name())
                .collect(),
            latency_ns: (a, b),
            eligible,
            kinds,
        })
    }

    /// The scenario this seed runs: its swarm rates and latency replaced.
    pub fn apply(&self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        if let Some(swarm) = &mut s.swarm {
            swarm.rates_per_min = self.kinds.iter().copied().collect();
        }
        s.network.latency_min_ns = self.latency_ns.0;
        s.network.latency_max_ns = self.latency_ns.1;
        s
    }

    /// The nodes swarm faults may hit.
    pub fn eligible(&self) -> &[NodeId] {
        &self.eligible
    }

    /// One line for people: "crash 1.3/min, partition 0.4/min; latency 1ms..3ms; nodes broker-1, controller-2".
    pub fn describe(&self) -> String {
        let kinds: Vec<String> = self
            .rates_per_min
            .iter()
            .map(|(k, r)| format!("{k} {r}/min"))
            .collect();
        format!(
            "{}; latency {}..{}; nodes {}",
            kinds.join(", "),
            self.latency_min,
            self.latency_max,
            self.nodes.join(", ")
        )
    }
}
