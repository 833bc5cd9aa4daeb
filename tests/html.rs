//! The HTML report of a run (`ksim run … --html`, `ksim explore … --html`):
//! one self-contained file whose timeline has a lane per partition, fault
//! bands per node and violation markers linked to their causal chains;
//! checked as text, and laid out by headless Chromium when it is installed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ksim;

const FIXTURE: &str = "tests/fixtures/kip101_shrunk.toml";
const REPORT: &str = "reports/kip101_truncation_shrunk/seed-6.html";
/// A cheap scenario whose seed 0 fails and seed 1 passes.
const EXPLORED: &str = "scenarios/acks1_leader_crash.toml";

/// A scratch folder for one test, holding a copy of the kip101 fixture.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("html")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tests/fixtures")).expect("scratch dir");
    std::fs::create_dir_all(dir.join("scenarios")).expect("scratch dir");
    for file in [FIXTURE, EXPLORED] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(file),
            dir.join(file),
        )
        .expect("copy the scenario");
    }
    dir
}

/// Runs the kip101 fixture with seed 6 (it fails) and returns the page.
fn failing_report(dir: &Path) -> String {
    let out = ksim(dir, &["run", FIXTURE, "--seed", "6", "--html"]);
    assert_eq!(out.status.code(), Some(1), "the fixture fails with seed 6");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("html report: {REPORT}")),
        "{stdout}"
    );
    std::fs::read_to_string(dir.join(REPORT)).expect("the html report is written")
}

/// The attributes of every element whose class attribute is exactly `class`.
fn elements(html: &str, class: &str) -> Vec<BTreeMap<String, String>> {
    let needle = format!("class=\"{class}\"");
    let mut all = Vec::new();
    let mut from = 0;
    while let Some(i) = html[from..].find(&needle) {
        let at = from + i;
        let start = html[..at].rfind('<').expect("in a tag");
        let end = at + html[at..].find('>').expect("tag ends");
        all.push(attributes(&html[start..end]));
        from = end;
    }
    all
}

/// `name="value"` pairs of one tag.
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_owned();
        let value_end = rest[eq + 2..].find('"').expect("quoted value");
        out.insert(name, rest[eq + 2..eq + 2 + value_end].to_owned());
        rest = &rest[eq + 2 + value_end + 1..];
    }
    out
}

/// Every value of `attr="…"` in the page.
fn values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let v = &html[i + needle.len()..];
            &v[..v.find('"').expect("quoted")]
        })
        .collect()
}

fn a(e: &BTreeMap<String, String>, name: &str) -> String {
    e.get(name).cloned().unwrap_or_default()
}

#[test]
fn a_failing_run_has_lanes_fault_bands_violation_markers_and_linked_chains() {
    let dir = workdir("failing_run");
    let html = failing_report(&dir);
    // Self-contained: nothing is fetched.
    for banned in [
        "http://",
        "https://",
        "<script src",
        "<link",
        "<img",
        "@import",
    ] {
        let found = html
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
            .contains(banned);
        assert!(!found, "the page references {banned}");
    }
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<span class=\"verdict fail\">FAIL</span>"));
    assert!(html.contains("ksim run tests/fixtures/kip101_shrunk.toml --seed 6"));

    let lanes = elements(&html, "lane");
    let bands = elements(&html, "fault-band");
    let markers = elements(&html, "violation-marker");
    // A lane per partition of the scenario (orders, 1 partition).
    let partitions: Vec<String> = lanes.iter().map(|l| a(l, "data-partition")).collect();
    assert_eq!(partitions, ["orders-0"]);
    // A band per executed fault that hit a node: two crashes, each ended by its restart.
    assert!(bands.len() >= 2, "{bands:?}");
    assert!(markers.len() >= 2, "{markers:?}");

    // Every link into the page has its target.
    let ids: BTreeSet<&str> = values(&html, "id").into_iter().collect();
    let hrefs = values(&html, "href");
    assert!(hrefs.iter().any(|h| h.starts_with("#ev-")), "chain links");
    for h in &hrefs {
        let target = h.strip_prefix('#').expect("only links inside the page");
        assert!(ids.contains(target), "link {h} has no target");
    }
    let chain_links = hrefs.iter().filter(|h| h.starts_with("#ev-")).count();

    let mut summary = String::from("lanes:\n");
    for l in &lanes {
        summary += &format!(
            "  {} leader-changes={} max-offset={}\n",
            a(l, "data-partition"),
            a(l, "data-leaders"),
            a(l, "data-max-offset")
        );
    }
    summary += "fault bands:\n";
    for b in &bands {
        summary += &format!(
            "  {} {} {}..{} ms\n",
            a(b, "data-node"),
            a(b, "data-kind"),
            a(b, "data-start-ms"),
            a(b, "data-end-ms")
        );
    }
    summary += "violation markers:\n";
    for m in &markers {
        summary += &format!(
            "  {} on {} at {} ms, {} of them\n",
            a(m, "data-invariant"),
            a(m, "data-partition"),
            a(m, "data-at-ms"),
            a(m, "data-count")
        );
    }
    summary += &format!("chain links: {chain_links}\n");
    insta::assert_snapshot!("kip101_structure", summary);
}

fn trace_hash(out: &Output) -> String {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    json["trace_hash"].as_str().expect("trace_hash").to_owned()
}

#[test]
fn the_report_does_not_change_the_run_and_is_the_same_bytes_each_time() {
    let dir = workdir("same_run");
    let args = ["run", FIXTURE, "--seed", "6", "--format", "json"];
    let plain = ksim(&dir, &args);
    let with_html = ksim(&dir, &[&args[..], &["--html"]].concat());
    assert_eq!(trace_hash(&plain), trace_hash(&with_html));
    let first = std::fs::read(dir.join(REPORT)).expect("html");
    let again = ksim(&dir, &[&args[..], &["--html"]].concat());
    assert_eq!(trace_hash(&again), trace_hash(&plain));
    let second = std::fs::read(dir.join(REPORT)).expect("html");
    assert!(first == second, "the same run gives the same html bytes");
}

#[test]
fn explore_writes_a_report_for_each_failing_seed_only() {
    let dir = workdir("explore");
    let out = ksim(
        &dir,
        &[
            "explore", EXPLORED, "--seeds", "7..9", "--jobs", "2", "--html",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let folder = dir.join("reports/acks1_leader_crash");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("explore.json")).expect("explore.json"),
    )
    .expect("json");
    let verdicts: Vec<(u64, bool)> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["seed"].as_u64().expect("seed"), r["verdict"] != "pass"))
        .collect();
    let failing: Vec<u64> = verdicts.iter().filter(|v| v.1).map(|v| v.0).collect();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(failing.len(), 1, "one seed of the two fails: {verdicts:?}");
    for (seed, fails) in verdicts {
        let page = folder.join(format!("seed-{seed}.html"));
        assert_eq!(
            page.exists(),
            fails,
            "seed {seed}: an html report only if it fails"
        );
    }
    let page =
        std::fs::read_to_string(folder.join(format!("seed-{}.html", failing[0]))).expect("html");
    assert!(!elements(&page, "violation-marker").is_empty());
    assert!(
        stdout.contains("html reports of the 1 failing seed"),
        "{stdout}"
    );
}

/// Headless Chromium: `KSIM_CHROMIUM`, else /usr/bin/chromium if present.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Runs Chromium headless on `page` with `extra` flags, killing it after 60 s;
/// returns what it printed.
fn headless(browser: &Path, scratch: &Path, extra: &[String], page: &Path) -> String {
    let profile = scratch.join(format!("profile-{}", extra.len()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let stdout_path = scratch.join(format!("stdout-{}.txt", extra.len()));
    let stdout = std::fs::File::create(&stdout_path).expect("stdout file");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=5000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if started.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 60 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    std::fs::read_to_string(&stdout_path).unwrap_or_default()
}

#[test]
fn headless_chromium_lays_out_the_lanes_bands_and_markers() {
    let Some(browser) = chromium().filter(|p| p.exists()) else {
        if std::env::var("KSIM_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("KSIM_REQUIRE_CHROMIUM=1 but no chromium (set KSIM_CHROMIUM or install Debian's chromium)");
        }
        eprintln!(
            "note: chromium not found; skipping the headless-browser check of the html report"
        );
        return;
    };
    let dir = workdir("chromium");
    failing_report(&dir);
    let page = dir.join(REPORT).canonicalize().expect("page path");
    let dom = headless(&browser, &dir, &["--dump-dom".to_owned()], &page);
    let rendered = dom
        .split("data-rendered=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "no self-check in the dumped DOM: {}",
                &dom[..dom.len().min(400)]
            )
        });
    let counts: BTreeMap<&str, u32> = rendered
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k, v.parse().expect("a count")))
        .collect();
    for what in ["lanes", "fault-bands", "violation-markers", "chain-events"] {
        assert!(
            counts.get(what).copied().unwrap_or(0) > 0,
            "{what} not laid out: {rendered}"
        );
    }
    assert_eq!(counts["lanes"], 1, "{rendered}");

    let png = dir.join("report.png");
    headless(
        &browser,
        &dir,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1600,1400".to_owned(),
        ],
        &page,
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is {size} bytes",
        png.display()
    );
}

/// A follower that crashes holds its partitions' high watermarks still until
/// the controller fences it (broker_crash seed 42: broker 1 crashes at 10 s,
/// is fenced at 18.5 s; the stalls start at 10 s or 10.1 s): the lanes of orders-1 and orders-2, which it
/// follows, shade that stall, and the text timeline names it.
#[test]
fn high_watermark_stalls_are_shaded_on_their_lanes() {
    let dir = workdir("stalls");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/broker_crash.toml");
    let scenario = scenario.display().to_string();
    let out = ksim(&dir, &["run", &scenario, "--seed", "42", "--html"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let page = std::fs::read_to_string(dir.join("reports/broker_crash/seed-42.html"))
        .expect("the html report");
    for partition in ["orders-1", "orders-2"] {
        assert!(
            text.lines().any(|l| l.contains(partition)
                && l.contains("high watermark stalled")
                && ["10s", "10.1"]
                    .iter()
                    .any(|t| l.trim_start().starts_with(t))),
            "{partition} stalls from 10 s in the text timeline:\n{text}"
        );
        let lane = page
            .split(&format!("<g class=\"lane\" data-partition=\"{partition}\""))
            .nth(1)
            .and_then(|rest| rest.split("</g>").next())
            .expect("the partition's lane");
        assert!(
            lane.contains("<rect class=\"stall\""),
            "{partition}'s lane has no stall band"
        );
    }
}

/// The points `(x, y)` of the path of class `class` in `lane`.
fn path_points(lane: &str, class: &str) -> Vec<(String, f64)> {
    let path = elements(lane, class);
    assert_eq!(path.len(), 1, "one {class} path");
    a(&path[0], "d")
        .split(['M', 'L'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.to_owned(), y.parse().expect("a y"))
        })
        .collect()
}

/// The lane of `partition` in `page`.
fn lane<'a>(page: &'a str, partition: &str) -> &'a str {
    page.split(&format!("<g class=\"lane\" data-partition=\"{partition}\""))
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap_or_else(|| panic!("no lane for {partition}"))
}

/// Where producers are transactional, a partition's lane draws the
/// leader's last stable offset (LSO) beside its high watermark: never above
/// it, below it while a transaction is open. A run without transactional
/// producers draws no LSO (its page is the same bytes as before the LSO
/// was drawn).
#[test]
fn the_last_stable_offset_is_drawn_where_producers_are_transactional_only() {
    let dir = workdir("lso");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let transactions = root.join("scenarios/transactions.toml");
    let out = ksim(
        &dir,
        &[
            "run",
            &transactions.display().to_string(),
            "--seed",
            "1",
            "--html",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    let page = std::fs::read_to_string(dir.join("reports/transactions/seed-1.html"))
        .expect("the html report");
    assert!(
        page.contains("LSO (last stable offset"),
        "the legend names it"
    );
    assert!(page.contains("svg .lso {"), "its style");
    let mut summary = String::new();
    for partition in ["payments-0", "payments-1", "payments-2"] {
        let lane = lane(&page, partition);
        let hw = path_points(lane, "hw");
        let lso = path_points(lane, "lso");
        assert_eq!(
            hw.iter().map(|p| &p.0).collect::<Vec<_>>(),
            lso.iter().map(|p| &p.0).collect::<Vec<_>>(),
            "{partition}: the LSO is sampled where the high watermark is"
        );
        // A larger y is a lower offset.
        let below = hw.iter().zip(&lso).filter(|(h, l)| l.1 > h.1).count();
        let above = hw.iter().zip(&lso).filter(|(h, l)| l.1 < h.1).count();
        assert_eq!(above, 0, "{partition}: the LSO above the high watermark");
        assert!(
            below > 0,
            "{partition}: the LSO never below the high watermark"
        );
        let lag: u64 = a(&elements(lane, "lso")[0], "data-max-lag")
            .parse()
            .expect("data-max-lag");
        assert!(lag > 0, "{partition}: the LSO never held back");
        summary += &format!(
            "{partition}: {} columns, the LSO below the high watermark in {below}, at most {lag} offsets\n",
            hw.len()
        );
    }
    insta::assert_snapshot!("transactions_lso", summary);

    let broker_crash = root.join("scenarios/broker_crash.toml");
    let out = ksim(
        &dir,
        &[
            "run",
            &broker_crash.display().to_string(),
            "--seed",
            "42",
            "--html",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(dir.join("reports/broker_crash/seed-42.html"))
        .expect("the html report");
    assert!(!elements(&page, "hw").is_empty(), "high watermarks drawn");
    assert!(
        elements(&page, "lso").is_empty(),
        "an LSO without transactions"
    );
    assert!(
        !page.contains("LSO"),
        "the legend names the LSO without transactions"
    );
    assert!(
        !page.contains(".lso"),
        "the LSO's style without transactions"
    );
}
