//! The SVG timeline: one time axis; a lane per node with its fault bands;
//! a lane per partition with its leader, ISR size, high watermark and log
//! end offsets, truncations and unclean elections; violation markers and
//! the events of their causal chains.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use sim::{Nanos, MILLIS, SECONDS};

use super::model::{secs, Band, Group};
use super::{esc, lanes};
use crate::harness::Outcome;
use crate::scenario::Scenario;

/// Width of the whole drawing.
pub const WIDTH: f64 = 1400.0;
/// The label column at the left.
pub(super) const LABEL_W: f64 = 140.0;
/// Space at the right.
pub(super) const RIGHT: f64 = 16.0;
pub(super) const AXIS_H: f64 = 30.0;
pub(super) const SECTION_H: f64 = 20.0;
pub(super) const NODE_H: f64 = 20.0;
pub(super) const NODE_GAP: f64 = 3.0;
pub(super) const LEADER_H: f64 = 16.0;
pub(super) const ISR_H: f64 = 12.0;
pub(super) const PART_GAP: f64 = 12.0;

/// Broker colours, by broker id (1 is the first).
const BROKER_COLORS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#86bcb6", "#a0cbe8",
];

/// A broker's colour.
pub fn broker_color(id: u32) -> &'static str {
    BROKER_COLORS[(id.saturating_sub(1) as usize) % BROKER_COLORS.len()]
}

/// A fault kind's colour.
pub fn fault_color(kind: &str) -> &'static str {
    match kind {
        "crash" => "#d62728",
        "power_loss" => "#7f0000",
        "pause" => "#9467bd",
        "partition" => "#ff7f0e",
        "slow_disk" => "#8c564b",
        "latency" => "#bcbd22",
        "close" => "#17becf",
        "corrupt" => "#e377c2",
        "shutdown" => "#2ca02c",
        _ => "#7f7f7f",
    }
}

/// Time to x.
pub(super) struct Scale {
    pub(super) x0: f64,
    pub(super) w: f64,
    pub(super) end: Nanos,
}

impl Scale {
    pub(super) fn x(&self, t: Nanos) -> f64 {
        self.x0 + t.min(self.end) as f64 / self.end as f64 * self.w
    }
}

/// Everything the timeline draws.
pub struct Input<'a> {
    pub scenario: &'a Scenario,
    pub outcome: &'a Outcome,
    pub end_ns: Nanos,
    pub bands: &'a [Band],
    pub groups: &'a [Group<'a>],
    pub node_lanes: &'a [String],
    pub partitions: &'a [String],
    /// The partitions whose lanes draw the last stable offset.
    pub transactional: &'a BTreeSet<String>,
}

/// A lane's place, for markers drawn onto it.
#[derive(Clone, Copy)]
pub(super) struct Place {
    pub(super) top: f64,
    pub(super) height: f64,
}

/// Chart height of a partition lane: smaller when there are many.
fn chart_h(partitions: usize) -> f64 {
    match partitions {
        0..=2 => 110.0,
        3..=4 => 80.0,
        5..=12 => 50.0,
        _ => 32.0,
    }
}

/// A tick step in seconds giving at most ~16 ticks.
fn tick_step(end: Nanos) -> u64 {
    let total = end.div_ceil(SECONDS).max(1);
    [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]
        .into_iter()
        .find(|s| total / s <= 16)
        .unwrap_or(7200)
}

/// The SVG of the run's timeline.
pub fn timeline(input: &Input) -> String {
    let scale = Scale {
        x0: LABEL_W,
        w: WIDTH - LABEL_W - RIGHT,
        end: input.end_ns.max(1),
    };
    let chart = chart_h(input.partitions.len());
    let part_h = LEADER_H + 1.0 + ISR_H + 3.0 + chart;
    // Lanes, top to bottom.
    let mut y = AXIS_H;
    let nodes_title = y;
    y += SECTION_H;
    let mut node_place: BTreeMap<&str, Place> = BTreeMap::new();
    for n in input.node_lanes {
        let height = lanes::node_lane_height(&scale, n, input.bands);
        node_place.insert(n, Place { top: y, height });
        y += height + NODE_GAP;
    }
    y += 6.0;
    let parts_title = y;
    y += SECTION_H;
    let mut part_place: BTreeMap<&str, Place> = BTreeMap::new();
    for p in input.partitions {
        part_place.insert(
            p,
            Place {
                top: y,
                height: part_h,
            },
        );
        y += part_h + PART_GAP;
    }
    let other_violations = input.groups.iter().any(|g| g.partition.is_none());
    let violations_place = other_violations.then(|| {
        let place = Place {
            top: y + 4.0,
            height: 24.0,
        };
        y += 32.0;
        place
    });
    let bottom = y;
    let height = bottom + AXIS_H;

    let mut out = String::new();
    w!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" font-size=\"11\">\n"
    );
    out.push_str(
        "<defs><pattern id=\"offline\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e4e4e4\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#9a9a9a\" stroke-width=\"2.5\"/></pattern></defs>\n",
    );
    // The settle phase, shaded across every lane.
    let settle_x = scale.x(input.scenario.duration_ns);
    let end_x = scale.x(scale.end);
    if end_x > settle_x {
        w!(
            out,
            "<rect class=\"settle\" x=\"{settle_x:.1}\" y=\"{AXIS_H}\" width=\"{:.1}\" height=\"{:.1}\"><title>settle phase from {}: faults healed, clients finish</title></rect>\n",
            end_x - settle_x,
            bottom - AXIS_H,
            secs(input.scenario.duration_ns)
        );
        w!(
            out,
            "<text class=\"phase\" x=\"{:.1}\" y=\"{:.1}\">settle phase</text>\n",
            settle_x + 4.0,
            AXIS_H + 12.0
        );
    }
    axis(&mut out, &scale, AXIS_H, bottom);
    w!(
        out,
        "<text class=\"section\" x=\"4\" y=\"{:.1}\">nodes</text>\n",
        nodes_title + 14.0
    );
    w!(
        out,
        "<text class=\"section\" x=\"4\" y=\"{:.1}\">partitions</text>\n",
        parts_title + 14.0
    );
    let events = &input.outcome.history.events;
    for n in input.node_lanes {
        lanes::node_lane(
            &mut out,
            &scale,
            n,
            node_place[n.as_str()],
            input.bands,
            events,
        );
    }
    let rf: BTreeMap<String, u32> = input
        .scenario
        .topics
        .iter()
        .flat_map(|t| {
            (0..input.scenario.final_partitions(t))
                .map(move |p| (format!("{}-{p}", t.name), t.replication_factor))
        })
        .collect();
    for p in input.partitions {
        let samples = input
            .outcome
            .samples
            .partitions
            .get(p)
            .map_or(&[][..], Vec::as_slice);
        lanes::partition_lane(
            &mut out,
            &scale,
            p,
            part_place[p.as_str()],
            chart,
            rf.get(p).copied().unwrap_or(0),
            input.transactional.contains(p),
            events,
            samples,
        );
    }
    if let Some(place) = violations_place {
        w!(
            out,
            "<g class=\"violations-lane\"><rect class=\"lane-bg\" x=\"{}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/><text class=\"label\" x=\"4\" y=\"{:.1}\">other violations</text></g>\n",
            scale.x0,
            place.top,
            scale.w,
            place.height,
            place.top + 15.0
        );
    }
    // Violation markers, then the events of their chains on top.
    let mut stacked: BTreeMap<(Option<&str>, i64), u32> = BTreeMap::new();
    for (gi, g) in input.groups.iter().enumerate() {
        let place = match &g.partition {
            Some(p) => part_place.get(p.as_str()).copied(),
            None => violations_place,
        };
        let Some(place) = place else { continue };
        let x = scale.x(g.at_ms * MILLIS);
        let k = stacked
            .entry((g.partition.as_deref(), (x / 8.0) as i64))
            .or_insert(0);
        let top = match g.partition {
            Some(_) => place.top + LEADER_H + ISR_H + 10.0,
            None => place.top + 12.0,
        };
        let cy = top + f64::from(*k) * 13.0;
        *k += 1;
        let (anchor, tx) = if x > scale.x0 + scale.w - 160.0 {
            ("end", x - 9.0)
        } else {
            ("start", x + 9.0)
        };
        let times = if g.count > 1 {
            format!(" \u{d7}{}", g.count)
        } else {
            String::new()
        };
        let count = format!(
            "<text class=\"count\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}{times}</text>",
            cy + 4.0,
            esc(g.invariant),
        );
        w!(
            out,
            "<a href=\"#v-{gi}\"><g class=\"violation-marker\" data-invariant=\"{}\" data-partition=\"{}\" data-at-ms=\"{}\" data-count=\"{}\"><title>{} violated at {}{} ({} violation{} of it{}): {}</title><line class=\"violation-line\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><path d=\"M{x:.1},{:.1}l6,6l-6,6l-6,-6z\"/>{count}</g></a>\n",
            esc(g.invariant),
            esc(g.partition.as_deref().unwrap_or("")),
            g.at_ms,
            g.count,
            esc(g.invariant),
            secs(g.at_ms * MILLIS),
            g.partition.as_deref().map(|p| format!(" on {}", esc(p))).unwrap_or_default(),
            g.count,
            if g.count == 1 { "" } else { "s" },
            if g.partition.is_some() { " on this partition" } else { "" },
            esc(&g.first.detail),
            place.top,
            place.top + place.height,
            cy - 6.0,
        );
    }
    for (gi, g) in input.groups.iter().enumerate() {
        for (i, c) in g.first.chain.iter().enumerate() {
            // An event on several nodes (`broker-1,broker-2`) is a dot on
            // each of their lanes; the first is the link target.
            for (k, node) in c.node.split(',').enumerate() {
                // On a partition: between its ISR strip and its chart, clear
                // of the leader labels.
                let y = if let Some(p) = part_place.get(node) {
                    p.top + LEADER_H + 1.0 + ISR_H
                } else if let Some(p) = node_place.get(node) {
                    p.top + p.height / 2.0
                } else if let Some(p) = violations_place {
                    p.top + 12.0
                } else {
                    continue;
                };
                let x = scale.x(c.at_ms * MILLIS);
                let id = if k == 0 {
                    format!(" id=\"ev-{gi}-{i}\"")
                } else {
                    String::new()
                };
                w!(
                    out,
                    "<a href=\"#chain-{gi}-{i}\"><circle class=\"chain-event\"{id} cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"><title>{} #{}: {} {}: {}</title></circle></a>\n",
                    esc(g.invariant),
                    i + 1,
                    secs(c.at_ms * MILLIS),
                    esc(&c.node),
                    esc(&c.event)
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Ticks and labels at the top and the bottom, with light grid lines.
fn axis(out: &mut String, scale: &Scale, top: f64, bottom: f64) {
    let step = tick_step(scale.end);
    let mut s = 0;
    out.push_str("<g class=\"axis\">");
    w!(
        out,
        "<line class=\"axis-line\" x1=\"{}\" y1=\"{top}\" x2=\"{:.1}\" y2=\"{top}\"/><line class=\"axis-line\" x1=\"{}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\"/>",
        scale.x0,
        scale.x0 + scale.w,
        scale.x0,
        scale.x0 + scale.w
    );
    while s * SECONDS <= scale.end {
        let x = scale.x(s * SECONDS);
        w!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom}\"/><line class=\"tick\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{top}\"/><line class=\"tick\" x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s} s</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s} s</text>",
            top - 5.0,
            bottom + 5.0,
            top - 9.0,
            bottom + 17.0
        );
        s += step;
    }
    out.push_str("</g>\n");
}

/// The curve of `ksim blame` on the timeline's time scale: P(the
/// invariant fails | the history up to t) at each point, the 0.9 line and
/// the point of no return.
pub fn blame_curve(points: &[(Nanos, f64)], end_ns: Nanos, no_return: Option<Nanos>) -> String {
    use std::fmt::Write as _;
    let scale = Scale {
        x0: LABEL_W,
        w: WIDTH - LABEL_W - RIGHT,
        end: end_ns.max(1),
    };
    let (top, h) = (10.0, 120.0);
    let y = |p: f64| top + (1.0 - p.clamp(0.0, 1.0)) * h;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"blame\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {}\" width=\"{WIDTH}\">",
        top + h + 30.0
    );
    let _ = write!(
        s,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">P(fails | history)</text>",
        top + h / 2.0
    );
    for p in [0.0, 0.9, 1.0] {
        let _ = write!(
            s,
            "<line x1=\"{LABEL_W}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-dasharray=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{p}</text>",
            WIDTH - RIGHT,
            y(p),
            y(p),
            if p == 0.9 { "#d62728" } else { "#ccc" },
            if p == 0.9 { "4 3" } else { "" },
            LABEL_W - 4.0,
            y(p) + 3.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|&(t, p)| format!("{:.1},{:.1}", scale.x(t), y(p)))
        .collect();
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for &(t, p) in points {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#4e79a7\"><title>{}: P = {p:.2}</title></circle>",
            scale.x(t),
            y(p),
            secs(t)
        );
    }
    if let Some(t) = no_return {
        let x = scale.x(t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#d62728\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#d62728\">point of no return {}</text>",
            top + h,
            x + 4.0,
            top + h + 20.0,
            secs(t)
        );
    }
    s.push_str("</svg>");
    s
}
