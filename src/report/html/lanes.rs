//! The lanes of the timeline: a node's fault bands, and a partition's
//! leader, ISR size, high watermark, last stable offset (where producers
//! are transactional), log end offsets, truncations and unclean elections.

use std::collections::BTreeSet;
use std::fmt::Write;

use sim::{Nanos, MILLIS};

use super::esc;
use super::model::{secs, Band};
use super::svg::{broker_color, fault_color, Place, Scale, ISR_H, LEADER_H, NODE_H};
use crate::harness::history::{Event, What};
use crate::harness::samples::PartitionSample;

/// Height of a row of fault bands when a node's faults overlap.
const ROW_H: f64 = 15.0;

/// A node lane's height: one row per overlapping fault.
pub(super) fn node_lane_height(scale: &Scale, node: &str, bands: &[Band]) -> f64 {
    let mine: Vec<&Band> = bands.iter().filter(|b| b.node == node).collect();
    match band_rows(scale, &mine).1 {
        0 | 1 => NODE_H,
        rows => rows as f64 * ROW_H + 4.0,
    }
}

/// Each band's x, width and row, and how many rows: a band goes on the
/// first row where it overlaps nothing (instants are drawn 4 px wide).
fn band_rows(scale: &Scale, bands: &[&Band]) -> (Vec<(f64, f64, usize)>, usize) {
    let mut row_ends: Vec<f64> = Vec::new();
    let placed = bands
        .iter()
        .map(|b| {
            let (x0, x1) = (scale.x(b.start), scale.x(b.end));
            let (x, width) = if b.instant || x1 - x0 < 4.0 {
                (x0 - 2.0, 4.0)
            } else {
                (x0, x1 - x0)
            };
            let row = match row_ends.iter().position(|end| *end <= x + 0.01) {
                Some(r) => r,
                None => {
                    row_ends.push(0.0);
                    row_ends.len() - 1
                }
            };
            row_ends[row] = x + width;
            (x, width, row)
        })
        .collect();
    (placed, row_ends.len().max(1))
}

/// A node's lane: its fault bands, and when the controller fenced it.
pub(super) fn node_lane(
    out: &mut String,
    scale: &Scale,
    node: &str,
    place: Place,
    bands: &[Band],
    events: &[Event],
) {
    let n = esc(node);
    w!(
        out,
        "<g class=\"node-lane\" data-node=\"{n}\"><rect class=\"lane-bg\" x=\"{}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/><text class=\"label\" x=\"4\" y=\"{:.1}\">{n}</text>\n",
        scale.x0,
        place.top,
        scale.w,
        place.height,
        place.top + 14.0
    );
    let mine: Vec<&Band> = bands.iter().filter(|b| b.node == node).collect();
    let (placed, rows) = band_rows(scale, &mine);
    let row_h = (place.height - 4.0) / rows as f64;
    for (b, (x, width, row)) in mine.iter().zip(placed) {
        let row_top = place.top + 2.0 + row as f64 * row_h;
        let tip = if b.instant {
            format!("{} {} at {}: {}", b.kind, node, secs(b.start), b.detail)
        } else {
            format!(
                "{} {} from {} to {} ({}): {}",
                b.kind,
                node,
                secs(b.start),
                secs(b.end),
                b.ended_by,
                b.detail
            )
        };
        w!(
            out,
            "<rect class=\"fault-band\" data-node=\"{n}\" data-kind=\"{}\" data-start-ms=\"{}\" data-end-ms=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
            esc(&b.kind),
            b.start / MILLIS,
            b.end / MILLIS,
            row_top,
            row_h,
            fault_color(&b.kind),
            esc(&tip)
        );
        if width >= 8.0 * b.kind.len() as f64 {
            w!(
                out,
                "<text class=\"band-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 3.0,
                row_top + row_h / 2.0 + 4.0,
                esc(&b.kind)
            );
        }
        out.push('\n');
    }
    // Fenced by the controller: a thin strip at the bottom of the lane.
    let mut fenced: Option<Nanos> = None;
    let strip = |out: &mut String, from: Nanos, to: Nanos| {
        let (x0, x1) = (scale.x(from), scale.x(to));
        w!(
            out,
            "<rect class=\"fenced\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\"><title>{n} fenced by the controller from {} to {}</title></rect>\n",
            place.top + place.height - 4.0,
            (x1 - x0).max(2.0),
            secs(from),
            secs(to)
        );
    };
    for e in events.iter().filter(|e| e.node == node) {
        match e.what {
            What::Fenced if fenced.is_none() => fenced = Some(e.at),
            What::Unfenced => {
                if let Some(from) = fenced.take() {
                    strip(out, from, e.at);
                }
            }
            _ => {}
        }
    }
    if let Some(from) = fenced {
        strip(out, from, scale.end);
    }
    out.push_str("</g>\n");
}

/// The committed leader and ISR of a partition from one change to the next.
struct Segment<'a> {
    from: Nanos,
    to: Nanos,
    leader: Option<u32>,
    epoch: i32,
    isr: &'a [u32],
}

fn segments<'a>(partition: &str, events: &'a [Event], end: Nanos) -> Vec<Segment<'a>> {
    let mut all: Vec<Segment<'a>> = Vec::new();
    for e in events.iter().filter(|e| e.node == partition) {
        if let What::PartitionChange {
            leader,
            leader_epoch,
            isr,
            ..
        } = &e.what
        {
            if let Some(last) = all.last_mut() {
                last.to = e.at;
            }
            all.push(Segment {
                from: e.at,
                to: end,
                leader: *leader,
                epoch: *leader_epoch,
                isr,
            });
        }
    }
    all.retain(|s| s.to > s.from);
    all
}

fn ids(isr: &[u32]) -> String {
    format!("[{}]", crate::check::id_list(isr))
}

/// Appends a polyline through `points` (None breaks it).
fn path(points: impl Iterator<Item = Option<(f64, f64)>>) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p {
            Some((x, y)) => {
                w!(d, "{}{x:.1},{y:.1}", if pen_down { "L" } else { "M" });
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

/// A partition's lane; with `lso` (transactional producers write to it),
/// the leader's last stable offset too.
#[allow(clippy::too_many_arguments)]
pub(super) fn partition_lane(
    out: &mut String,
    scale: &Scale,
    partition: &str,
    place: Place,
    chart: f64,
    replication_factor: u32,
    lso: bool,
    events: &[Event],
    samples: &[PartitionSample],
) {
    let p = esc(partition);
    let segs = segments(partition, events, scale.end);
    let leader_y = place.top;
    let isr_y = place.top + LEADER_H + 1.0;
    let chart_top = isr_y + ISR_H + 3.0;
    let chart_bottom = chart_top + chart;
    // Decimate the samples to one per pixel column (the last of each).
    let mut kept: Vec<&PartitionSample> = Vec::new();
    let mut last_col = i64::MIN;
    for s in samples {
        let col = scale.x(s.at).floor() as i64;
        if col == last_col {
            kept.pop();
        }
        kept.push(s);
        last_col = col;
    }
    let truncations: Vec<&Event> = events
        .iter()
        .filter(|e| e.partition.as_deref() == Some(partition))
        .filter(|e| matches!(e.what, What::Truncated { .. }))
        .collect();
    let max_offset = samples
        .iter()
        .flat_map(|s| {
            s.replicas
                .iter()
                .map(|r| r.log_end_offset.max(r.high_watermark))
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let y = |offset: u64| chart_bottom - offset.min(max_offset) as f64 / max_offset as f64 * chart;
    w!(
        out,
        "<g class=\"lane\" data-partition=\"{p}\" data-leaders=\"{}\" data-max-offset=\"{max_offset}\">\n<text class=\"label part\" x=\"4\" y=\"{:.1}\">{p}</text><text class=\"sub\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">leader</text><text class=\"sub\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">ISR</text><text class=\"sub\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">offset {max_offset}</text><text class=\"sub\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\n",
        segs.len(),
        leader_y + 12.0,
        scale.x0 - 6.0,
        leader_y + 12.0,
        scale.x0 - 6.0,
        isr_y + 10.0,
        scale.x0 - 6.0,
        chart_top + 9.0,
        scale.x0 - 6.0,
        chart_bottom,
    );
    // The leader band: who leads, in which epoch.
    w!(
        out,
        "<rect class=\"lane-bg\" x=\"{}\" y=\"{leader_y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
        scale.x0,
        scale.w,
        chart_bottom - leader_y
    );
    // Leader labels go on top of every band, one per change of leader or epoch.
    let mut labels = String::new();
    for (i, s) in segs.iter().enumerate() {
        let (x0, x1) = (scale.x(s.from), scale.x(s.to));
        let who_epoch = |t: &Segment| (t.leader, t.epoch);
        let changed = i == 0 || who_epoch(&segs[i - 1]) != who_epoch(s);
        let run_end = segs[i..]
            .iter()
            .take_while(|t| who_epoch(t) == who_epoch(s))
            .last()
            .map_or(s.to, |t| t.to);
        let (fill, who) = match s.leader {
            Some(b) => (broker_color(b).to_owned(), format!("broker {b}")),
            None => ("url(#offline)".to_owned(), "none (offline)".to_owned()),
        };
        w!(
            out,
            "<rect class=\"leader\" x=\"{x0:.1}\" y=\"{leader_y:.1}\" width=\"{:.1}\" height=\"{LEADER_H}\" fill=\"{fill}\"><title>{p}: leader {who}, leader epoch {}, ISR {} from {} to {}</title></rect>",
            (x1 - x0).max(1.0),
            s.epoch,
            ids(s.isr),
            secs(s.from),
            secs(s.to)
        );
        let label = match s.leader {
            Some(b) => format!("b{b} e{}", s.epoch),
            None => format!("offline e{}", s.epoch),
        };
        if changed && scale.x(run_end) - x0 >= 7.0 * label.len() as f64 {
            w!(
                labels,
                "<text class=\"{}\" x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                if s.leader.is_some() {
                    "leader-label"
                } else {
                    "leader-label offline"
                },
                x0 + 3.0,
                leader_y + 12.0
            );
        }
        // The ISR size, coloured by how far below the replication factor.
        let size = s.isr.len() as u32;
        let class = if size == 0 {
            "isr0"
        } else if size >= replication_factor {
            "isr-full"
        } else if size == 1 {
            "isr1"
        } else {
            "isr-under"
        };
        w!(
            out,
            "<rect class=\"isr {class}\" x=\"{x0:.1}\" y=\"{isr_y:.1}\" width=\"{:.1}\" height=\"{ISR_H}\"><title>{p}: ISR {} ({size} of {replication_factor}) from {} to {}</title></rect>",
            (x1 - x0).max(1.0),
            ids(s.isr),
            secs(s.from),
            secs(s.to)
        );
        if x1 - x0 >= 14.0 {
            w!(
                out,
                "<text class=\"isr-label\" x=\"{:.1}\" y=\"{:.1}\">{size}</text>",
                x0 + 5.0,
                isr_y + 10.0
            );
        }
        out.push('\n');
    }
    out.push_str(&labels);
    // Unclean elections, on the leader band.
    for e in events.iter().filter(|e| e.node == partition) {
        if let What::PartitionChange { unclean: true, .. } = e.what {
            let x = scale.x(e.at);
            w!(
                out,
                "<path class=\"unclean\" d=\"M{x:.1},{:.1}l7,12h-14z\"><title>{} unclean election: {}</title></path>\n",
                leader_y + 2.0,
                secs(e.at),
                esc(&e.text(None))
            );
        }
    }
    // Where the high watermark stood still while the leader's log grew.
    for stall in crate::report::timeline::stall_spans(samples) {
        let x0 = scale.x(stall.start);
        w!(
            out,
            "<rect class=\"stall\" x=\"{x0:.1}\" y=\"{chart_top:.1}\" width=\"{:.1}\" height=\"{chart:.1}\"><title>{} {p}: {}</title></rect>\n",
            (scale.x(stall.end) - x0).max(1.0),
            secs(stall.start),
            esc(&stall.text())
        );
    }
    // The replicas' log end offsets (faintly), the max of them, and the
    // leader's high watermark.
    let brokers: BTreeSet<u32> = kept
        .iter()
        .flat_map(|s| s.replicas.iter().map(|r| r.broker))
        .collect();
    for b in &brokers {
        let d = path(kept.iter().map(|s| {
            s.replicas
                .iter()
                .find(|r| r.broker == *b)
                .map(|r| (scale.x(s.at), y(r.log_end_offset)))
        }));
        w!(
            out,
            "<path class=\"replica-leo\" d=\"{d}\" stroke=\"{}\"><title>broker {b}'s log end offset of {p}</title></path>\n",
            broker_color(*b)
        );
    }
    let leo = path(kept.iter().map(|s| {
        s.replicas
            .iter()
            .map(|r| r.log_end_offset)
            .max()
            .map(|o| (scale.x(s.at), y(o)))
    }));
    // The leader: the replica leading in the newest epoch.
    let leader = |s: &&PartitionSample| {
        s.replicas
            .iter()
            .filter(|r| r.leader)
            .max_by_key(|r| (r.leader_epoch, r.broker))
            .map(|r| (scale.x(s.at), *r))
    };
    let hw = path(
        kept.iter()
            .map(|s| leader(s).map(|(x, r)| (x, y(r.high_watermark)))),
    );
    w!(
        out,
        "<path class=\"leo\" d=\"{leo}\"><title>{p}: log end offset (the highest of the running replicas)</title></path>\n"
    );
    // The leader's last stable offset, under the high watermark it meets
    // whenever no transaction is open.
    if lso {
        let lso = path(
            kept.iter()
                .map(|s| leader(s).map(|(x, r)| (x, y(r.last_stable_offset)))),
        );
        // How far below the high watermark it was held, over every sample.
        let lag = samples
            .iter()
            .filter_map(|s| leader(&s).map(|(_, r)| r))
            .map(|r| r.high_watermark.saturating_sub(r.last_stable_offset))
            .max()
            .unwrap_or(0);
        w!(
            out,
            "<path class=\"lso\" data-max-lag=\"{lag}\" d=\"{lso}\"><title>{p}: the leader's last stable offset (LSO): read_committed consumers read below it; it stays at the first offset of a transaction not yet committed or aborted (at most {lag} offsets below the high watermark in this run)</title></path>\n"
        );
    }
    w!(
        out,
        "<path class=\"hw\" d=\"{hw}\"><title>{p}: the leader's high watermark</title></path>\n"
    );
    for e in truncations {
        if let What::Truncated { to_offset, records } = e.what {
            let x = scale.x(e.at);
            w!(
                out,
                "<path class=\"truncation\" d=\"M{:.1},{:.1}h10l-5,8z\"><title>{} {}: {}</title></path>\n",
                x - 5.0,
                (y(to_offset) - 8.0).max(chart_top - 2.0),
                secs(e.at),
                esc(&e.node),
                esc(&format!(
                    "truncated {partition} to offset {to_offset} ({records} records removed)"
                ))
            );
        }
    }
    out.push_str("</g>\n");
}
