//! The HTML report of a run: one self-contained file (inline CSS and a
//! small inline script, nothing fetched) with the run's facts, an SVG
//! timeline (fault bands per node; per partition the leader, ISR size, high
//! watermark, last stable offset and log end offsets; violation markers),
//! each violation's causal chain linked to its events on the timeline, and
//! the faults.
//! The same run gives the same bytes.

/// `write!` into a String (which cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = write!($out, $($arg)*);
    };
}

mod lanes;
mod model;
mod svg;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{replay_command, Summary, Verdict};
use crate::harness::Outcome;
use crate::scenario::Scenario;
use model::secs;

/// Rows of the faults table at most (the run record has them all).
const FAULT_ROWS_MAX: usize = 500;

/// Escapes text for HTML (element content and quoted attributes).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 16px 20px; color: #1b1b1b; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 22px 0 6px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 14px 0 4px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.desc { white-space: pre-wrap; max-width: 1100px; color: #333; margin: 4px 0 10px; }
.verdict { display: inline-block; padding: 1px 10px; border-radius: 4px; color: #fff; font-size: 15px; vertical-align: 3px; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; } .verdict.error { background: #6a1b9a; }
table.facts { border-collapse: collapse; margin: 6px 0; }
table.facts th { text-align: left; font-weight: 600; padding: 1px 14px 1px 0; color: #444; vertical-align: top; }
table.facts td { padding: 1px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0; font-size: 12.5px; max-width: 1400px; }
.legend span.item { white-space: nowrap; }
.sw { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
.sw.line { height: 0; border: 0; border-top: 2px solid #000; vertical-align: 3px; width: 18px; }
.sw.line.leo { border-top: 2px dashed #666; }
.sw.line.rep { border-top: 1.5px solid #4e79a7; opacity: .5; }
.sw.offline { background: repeating-linear-gradient(45deg, #e4e4e4 0 3px, #9a9a9a 3px 5px); }
.sw.diamond { width: 9px; height: 9px; transform: rotate(45deg); background: #d50000; border: 1px solid #000; margin: 0 6px 0 2px; }
.sw.tri { width: 0; height: 0; border: 5px solid transparent; border-top: 8px solid #c2185b; vertical-align: -4px; }
.sw.unclean { width: 0; height: 0; border: 6px solid transparent; border-bottom: 10px solid #ffd600; border-top: 0; vertical-align: 0; }
.sw.dot { width: 8px; height: 8px; border-radius: 50%; background: #fff; border: 1.5px solid #333; }
.figure { overflow-x: auto; border: 1px solid #e2e2e2; background: #fff; }
svg.timeline { display: block; font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
svg .settle { fill: #eef3f8; }
svg .phase { fill: #6b7f95; font-size: 11px; font-style: italic; }
svg .axis text { fill: #444; font-size: 11px; }
svg .axis-line { stroke: #888; }
svg .tick { stroke: #888; }
svg .grid { stroke: #000; stroke-opacity: .07; }
svg .section { font-weight: 700; fill: #333; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
svg .label { fill: #222; font-size: 12px; }
svg .label.part { font-weight: 700; }
svg .sub { fill: #777; font-size: 10px; }
svg .lane-bg { fill: #fafafa; stroke: #e0e0e0; fill-opacity: .6; }
svg .fault-band { fill-opacity: .85; stroke: rgba(0,0,0,.35); stroke-width: .5; }
svg .band-label, svg .leader-label { fill: #fff; font-size: 10.5px; font-weight: 600; pointer-events: none; paint-order: stroke; stroke: rgba(0,0,0,.45); stroke-width: 2px; }
svg .leader-label.offline { fill: #333; stroke: #fff; }
svg .fenced { fill: #555; }
svg .leader { stroke: #fff; stroke-width: .6; fill-opacity: .9; }
svg .isr { stroke: #fff; stroke-width: .6; }
svg .isr-full { fill: #c8e6c9; } svg .isr-under { fill: #ffe0a3; } svg .isr1 { fill: #ffb38a; } svg .isr0 { fill: #ef9a9a; }
svg .isr-label { fill: #333; font-size: 9.5px; pointer-events: none; }
svg .replica-leo { fill: none; stroke-width: 1; stroke-opacity: .45; }
svg .leo { fill: none; stroke: #666; stroke-width: 1.4; stroke-dasharray: 5 3; }
svg .hw { fill: none; stroke: #000; stroke-width: 1.6; }
svg .truncation { fill: #c2185b; stroke: #fff; stroke-width: .6; }
svg .stall { fill: #ce93d8; opacity: .28; }
svg .unclean { fill: #ffd600; stroke: #000; stroke-width: .8; }
svg .violation-marker path { fill: #d50000; stroke: #000; stroke-width: .8; }
svg .violation-line { stroke: #d50000; stroke-width: 1; stroke-dasharray: 2 2; stroke-opacity: .7; }
svg .count { fill: #b71c1c; font-size: 10.5px; font-weight: 700; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .violations-lane .lane-bg { fill: #fff5f5; }
svg .chain-event { fill: #fff; fill-opacity: .3; stroke: #222; stroke-width: 1.2; scroll-margin: 180px 0; }
svg .chain-event:hover { fill: #ffeb3b; }
svg .chain-event:target { fill: #ffeb3b; fill-opacity: 1; stroke: #000; stroke-width: 2.5; r: 7px; }
svg a:hover .violation-marker path { fill: #ff5252; }
.violation { border-left: 4px solid #d50000; padding: 2px 0 2px 12px; margin: 10px 0; max-width: 1400px; }
.violation:target { background: #fff8e1; }
.violation .detail { margin: 2px 0 6px; }
ol.chain { margin: 4px 0; padding-left: 28px; }
ol.chain li { margin: 1px 0; }
ol.chain li:target { background: #fff59d; }
ol.chain a { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; text-decoration: none; }
ol.chain a:hover { text-decoration: underline; }
.inv { font-family: ui-monospace, Menlo, Consolas, monospace; color: #b71c1c; }
table.faults { border-collapse: collapse; font-size: 13px; }
table.faults th, table.faults td { text-align: left; padding: 2px 10px 2px 0; border-bottom: 1px solid #eee; vertical-align: top; }
table.faults td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.faults tr.settle td { color: #667; }
.note { color: #666; font-size: 12.5px; }
"#;

/// The styles of the last stable offset, added only to a page that draws it
/// (a run without transactional producers gives the same bytes as before it).
const STYLE_LSO: &str = r#"svg .lso { fill: none; stroke: #00897b; stroke-width: 3.2; stroke-opacity: .7; }
.sw.line.lso { border-top: 3px solid #00897b; opacity: .7; }
"#;

/// Counts the laid-out lanes, fault bands and violation markers (a non-zero
/// box each) into `body[data-rendered]`, for the headless-browser test.
const SELF_CHECK: &str = r#"
(function () {
  function n(sel) {
    var c = 0;
    document.querySelectorAll(sel).forEach(function (e) {
      var r = e.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) c++;
    });
    return c;
  }
  document.body.dataset.rendered = 'lanes=' + n('.lane') + ' fault-bands=' + n('.fault-band') +
    ' violation-markers=' + n('.violation-marker') + ' chain-events=' + n('.chain-event');
})();
"#;

/// Renders the self-contained HTML report of one run.
pub fn render(scenario: &Scenario, file: &str, summary: &Summary, outcome: &Outcome) -> String {
    render_with(scenario, file, summary, outcome, "")
}

/// The `ksim blame` section for [`render_with`]: the curve (time in ns,
/// probability) on the timeline's scale up to `end_ns`, and the point of
/// no return.
pub fn blame_section(
    points: &[(u64, f64)],
    end_ns: u64,
    no_return_ns: Option<u64>,
    caption: &str,
) -> String {
    format!(
        "<h2 id=\"blame\">Point of no return</h2>\n<p class=\"note\">{}</p>\n<div class=\"figure\">\n{}</div>\n",
        esc(caption),
        svg::blame_curve(points, end_ns, no_return_ns)
    )
}

/// [`render`], with `under_timeline` (HTML) placed right under the
/// timeline, on its time scale (`ksim blame --html` puts its curve there).
pub fn render_with(
    scenario: &Scenario,
    file: &str,
    summary: &Summary,
    outcome: &Outcome,
    under_timeline: &str,
) -> String {
    let end_ns = outcome
        .sim_time_ns
        .max(scenario.duration_ns + scenario.settle_ns)
        .max(1);
    let partitions = model::partitions(scenario);
    let transactional = model::transactional_partitions(scenario);
    let bands = model::fault_bands(&outcome.faults, scenario.duration_ns, end_ns);
    let mut groups = model::groups(&outcome.violations, &partitions);
    let groups_total = groups.len();
    groups.truncate(model::GROUPS_MAX);
    let chain_nodes: Vec<&str> = groups
        .iter()
        .flat_map(|g| g.first.chain.iter().map(|c| c.node.as_str()))
        .collect();
    let node_lanes = model::node_lanes(scenario, &bands, &chain_nodes);
    let timeline = svg::timeline(&svg::Input {
        scenario,
        outcome,
        end_ns,
        bands: &bands,
        groups: &groups,
        node_lanes: &node_lanes,
        partitions: &partitions,
        transactional: &transactional,
    });

    let mut out = String::new();
    let verdict = summary.verdict.as_str();
    w!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ksim: {} seed {} ({verdict})</title>\n<style>{STYLE}{}</style>\n</head>\n<body>\n",
        esc(&scenario.name),
        summary.seed,
        if transactional.is_empty() { "" } else { STYLE_LSO }
    );
    w!(
        out,
        "<header>\n<h1>{} <span class=\"verdict {verdict}\">{}</span></h1>\n<p class=\"desc\">{}</p>\n",
        esc(&scenario.name),
        verdict.to_uppercase(),
        esc(&paragraphs(&scenario.description))
    );
    out.push_str("<table class=\"facts\">\n");
    let mut fact = |k: &str, v: String| {
        w!(out, "<tr><th>{k}</th><td>{v}</td></tr>\n");
    };
    fact("scenario file", format!("<code>{}</code>", esc(file)));
    fact("seed", summary.seed.to_string());
    fact(
        "trace hash",
        format!(
            "<code class=\"trace-hash\">{}</code>",
            esc(&summary.trace_hash)
        ),
    );
    fact(
        "simulated time",
        format!(
            "{} (fault phase {}, then settle phase {}); {} events",
            secs(outcome.sim_time_ns),
            secs(scenario.duration_ns),
            secs(scenario.settle_ns),
            outcome.events
        ),
    );
    fact(
        "records",
        format!(
            "{} sent, {} acknowledged, {} consumed",
            summary.stats.records_sent, summary.stats.records_acked, summary.stats.records_consumed
        ),
    );
    if let Some(mix) = &summary.swarm {
        fact("swarm mix", esc(&mix.describe()));
    }
    let by_invariant: BTreeMap<&str, usize> =
        outcome.violations.iter().fold(BTreeMap::new(), |mut m, v| {
            *m.entry(v.invariant.as_str()).or_default() += 1;
            m
        });
    let violations = if by_invariant.is_empty() {
        "none: every invariant held".to_owned()
    } else {
        by_invariant
            .iter()
            .map(|(i, n)| format!("<span class=\"inv\">{}</span> \u{d7}{n}", esc(i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    fact("violations", violations);
    if summary.verdict == Verdict::Error {
        fact(
            "error",
            esc(summary.error.as_deref().unwrap_or("the simulator panicked")),
        );
    }
    fact(
        "replay",
        format!(
            "<code class=\"replay\">{}</code>",
            esc(&replay_command(file, summary.seed, summary.flags()))
        ),
    );
    out.push_str("</table>\n</header>\n");

    legend(&mut out, scenario, &bands, !transactional.is_empty());
    w!(
        out,
        "<div class=\"figure\">\n{timeline}</div>\n<p class=\"note\">Hover over any band, line or marker for details; a violation marker links to its causal chain below, and each event of a chain links to its dot on the timeline. Offsets are scaled per partition to its highest log end offset.</p>\n"
    );
    out.push_str(under_timeline);

    // The violations, each with its causal chain.
    if !groups.is_empty() {
        out.push_str("<h2 id=\"violations\">Violations</h2>\n");
        if groups_total > groups.len() {
            w!(
                out,
                "<p class=\"note\">The first {} of {groups_total} (invariant, partition) groups are shown; the run record has every violation.</p>\n",
                groups.len()
            );
        }
    }
    for (gi, g) in groups.iter().enumerate() {
        let on = g
            .partition
            .as_deref()
            .map(|p| format!(" on <code>{}</code>", esc(p)))
            .unwrap_or_default();
        let more = if g.count > 1 {
            format!(
                " <span class=\"note\">({} violations of it{}; the first is shown)</span>",
                g.count,
                if g.partition.is_some() {
                    " on this partition"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        };
        w!(
            out,
            "<section class=\"violation\" id=\"v-{gi}\">\n<h3><span class=\"inv\">{}</span>{on} detected at {}{more}</h3>\n<p class=\"detail\">{}</p>\n",
            esc(g.invariant),
            secs(g.first.at_ms * sim::MILLIS),
            esc(&g.first.detail)
        );
        if g.first.chain.is_empty() {
            out.push_str("<p class=\"note\">No causal chain was found for it.</p>\n");
        } else {
            out.push_str("<ol class=\"chain\">\n");
            for (i, c) in g.first.chain.iter().enumerate() {
                w!(
                    out,
                    "<li id=\"chain-{gi}-{i}\"><a href=\"#ev-{gi}-{i}\">{} {}</a> {}</li>\n",
                    secs(c.at_ms * sim::MILLIS),
                    esc(&c.node),
                    esc(&c.event)
                );
            }
            out.push_str("</ol>\n");
        }
        out.push_str("</section>\n");
    }

    // The faults as executed.
    out.push_str("<h2 id=\"faults\">Faults</h2>\n");
    if outcome.faults.is_empty() {
        out.push_str("<p class=\"note\">No faults were executed.</p>\n");
    } else {
        out.push_str("<table class=\"faults\">\n<tr><th>at</th><th>kind</th><th>target</th><th>what happened</th></tr>\n");
        for f in outcome.faults.iter().take(FAULT_ROWS_MAX) {
            w!(
                out,
                "<tr{}><td class=\"num\">{}</td><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                if f.settle { " class=\"settle\"" } else { "" },
                secs(f.at_ns),
                svg::fault_color(&f.kind),
                esc(&f.kind),
                esc(&f.target),
                esc(&f.detail)
            );
        }
        out.push_str("</table>\n");
        if outcome.faults.len() > FAULT_ROWS_MAX {
            w!(
                out,
                "<p class=\"note\">{} more faults are in the run record.</p>\n",
                outcome.faults.len() - FAULT_ROWS_MAX
            );
        }
    }
    w!(out, "<script>{SELF_CHECK}</script>\n</body>\n</html>\n");
    out
}

/// A description's text with its hard line breaks joined (blank lines
/// still separate paragraphs).
fn paragraphs(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// What the colours and marks mean (fault kinds as they occur in the run;
/// the last stable offset with transactional producers).
fn legend(out: &mut String, scenario: &Scenario, bands: &[model::Band], lso: bool) {
    out.push_str("<div class=\"legend\">\n");
    let mut item = |swatch: String, text: &str| {
        w!(out, "<span class=\"item\">{swatch}{text}</span>\n");
    };
    let kinds: BTreeSet<&str> = bands.iter().map(|b| b.kind.as_str()).collect();
    for k in &kinds {
        item(
            format!(
                "<span class=\"sw\" style=\"background:{}\"></span>",
                svg::fault_color(k)
            ),
            &esc(k),
        );
    }
    for b in 1..=scenario.cluster.brokers.min(10) {
        item(
            format!(
                "<span class=\"sw\" style=\"background:{}\"></span>",
                svg::broker_color(b)
            ),
            &format!("leader broker {b}"),
        );
    }
    item("<span class=\"sw offline\"></span>".into(), "offline");
    item(
        "<span class=\"sw\" style=\"background:#c8e6c9\"></span><span class=\"sw\" style=\"background:#ffe0a3\"></span><span class=\"sw\" style=\"background:#ffb38a\"></span>".into(),
        "ISR size: full, under-replicated, 1",
    );
    item("<span class=\"sw line\"></span>".into(), "high watermark");
    if lso {
        item(
            "<span class=\"sw line lso\"></span>".into(),
            "LSO (last stable offset: what read_committed reads up to)",
        );
    }
    item(
        "<span class=\"sw line leo\"></span>".into(),
        "log end offset",
    );
    item(
        "<span class=\"sw line rep\"></span>".into(),
        "each replica's log end offset",
    );
    item(
        "<span class=\"sw\" style=\"background:#ce93d8;opacity:.5\"></span>".into(),
        "high watermark stalled (the leader's log ahead of it for 1 s or more)",
    );
    item("<span class=\"sw tri\"></span>".into(), "truncation");
    item(
        "<span class=\"sw unclean\"></span>".into(),
        "unclean election",
    );
    item("<span class=\"sw diamond\"></span>".into(), "violation");
    item(
        "<span class=\"sw dot\"></span>".into(),
        "event of a causal chain",
    );
    item(
        "<span class=\"sw\" style=\"background:#555;height:4px\"></span>".into(),
        "fenced",
    );
    item(
        "<span class=\"sw\" style=\"background:#eef3f8\"></span>".into(),
        "settle phase",
    );
    out.push_str("</div>\n");
}
