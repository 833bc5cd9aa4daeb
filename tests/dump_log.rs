//! `ksim dump-log`: a replica's segments in `kafka-dump-log.sh` layout with
//! each batch marked on-disk or page-cache-only, and its errors.

mod common;

use std::path::{Path, PathBuf};

use common::{ksim, stderr, stdout};

/// A scratch folder for one test, holding copies of scenarios/ and of the
/// fixture scenarios (as fixtures/).
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dump_log")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in [("scenarios", "scenarios"), ("tests/fixtures", "fixtures")] {
        std::fs::create_dir_all(dir.join(to)).expect("scratch dir");
        for entry in std::fs::read_dir(root.join(from)).expect("source dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                std::fs::copy(&path, dir.join(to).join(path.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    dir
}

/// Runs `ksim dump-log` and expects exit 0.
fn dump(dir: &Path, scenario: &str, at: &str, broker: &str) -> String {
    let out = ksim(
        dir,
        &[
            "dump-log",
            scenario,
            "--seed",
            "1",
            "--at",
            at,
            "--broker",
            broker,
            "--partition",
            "orders-0",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    stdout(&out)
}

fn batch_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .collect()
}

fn record_lines(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("| offset: ")).count()
}

#[test]
fn small_dump_in_kafka_layout() {
    let dir = workdir("snapshot");
    // The OS writes dirty pages back once they are 2 s old (Linux: 30 s), so
    // at 7s the oldest batches are on disk and the newest are not.
    let fixture = std::fs::read_to_string(dir.join("fixtures/dump_log_small.toml")).expect("read");
    let text = format!("{fixture}\n[disk]\nwriteback_interval = \"1s\"\ndirty_expire = \"2s\"\n");
    std::fs::write(dir.join("writeback.toml"), text).expect("write");
    let text = dump(&dir, "writeback.toml", "7s", "1");
    assert!(text.contains("Dumping orders-0/00000000000000000000.log\nLog starting offset: 0\n"));
    assert!(text.contains("durability: page-cache-only"));
    assert!(text.contains("durability: on-disk"));
    let head: Vec<&str> = text.lines().take(40).collect();
    insta::assert_snapshot!("small_dump", head.join("\n"));
    // Determinism: the same command prints the same bytes.
    assert_eq!(dump(&dir, "writeback.toml", "7s", "1"), text);
}

#[test]
fn durability_follows_fsync_policy() {
    let dir = workdir("durability");
    // Default configs: nothing fsynced, and the OS writes dirty pages back
    // only once they are 30 s old.
    let text = dump(&dir, "fixtures/dump_log_small.toml", "8s", "1");
    let batches = batch_lines(&text);
    assert!(batches.len() >= 5, "{text}");
    assert!(
        batches
            .iter()
            .all(|l| l.ends_with("durability: page-cache-only")),
        "{text}"
    );
    // log.flush.interval.messages = 1: an fsync after every append.
    let fixture = std::fs::read_to_string(dir.join("fixtures/dump_log_small.toml")).expect("read");
    let flushed = fixture.replace(
        "\"min.insync.replicas\" = 2\n",
        "\"min.insync.replicas\" = 2\n\"log.flush.interval.messages\" = 1\n",
    );
    assert_ne!(flushed, fixture);
    std::fs::write(dir.join("flushed.toml"), flushed).expect("write");
    for broker in ["1", "2", "3"] {
        let text = dump(&dir, "flushed.toml", "8s", broker);
        let batches = batch_lines(&text);
        assert!(batches.len() >= 5, "{text}");
        // All but the newest batch, whose fsync may still be in flight.
        let (tail, older) = batches.split_last().expect("batches");
        assert!(
            older.iter().all(|l| l.ends_with("durability: on-disk")),
            "{text}"
        );
        assert!(tail.contains("durability: "), "{tail}");
    }
}

/// `N of M records` from the header's durability line: (page-cache-only, all).
fn header_records(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.starts_with("# durability"))
        .expect("durability line");
    let records = line.split("batches (").nth(1).expect("batches (");
    let mut words = records.split(' ');
    let volatile = words.next().expect("n").parse().expect("number");
    let _of = words.next();
    let all = words.next().expect("m").parse().expect("number");
    (volatile, all)
}

#[test]
fn power_loss_drops_the_page_cache() {
    let dir = workdir("power_loss");
    let scenario = "fixtures/dump_log_power_loss.toml";
    let before = dump(&dir, scenario, "9900ms", "1");
    let after = dump(&dir, scenario, "10500ms", "1");
    let (volatile_before, all_before) = header_records(&before);
    let (volatile_after, all_after) = header_records(&after);
    assert!(volatile_before > 0 && all_before > 0, "{before}");
    assert!(all_after < all_before, "before:\n{before}\nafter:\n{after}");
    assert_eq!(volatile_after, 0, "{after}");
    assert!(record_lines(&after) < record_lines(&before));
    assert!(!after.contains("page-cache-only\n"), "{after}");
    assert!(before.contains("# broker 1: process up"), "{before}");
    assert!(after.contains("# broker 1: process down"), "{after}");
}

#[test]
fn bad_arguments_exit_2_and_say_what_is_valid() {
    let dir = workdir("errors");
    let scenario = "fixtures/dump_log_small.toml";
    let run = |args: &[&str]| {
        let mut all = vec!["dump-log", scenario, "--seed", "1"];
        all.extend_from_slice(args);
        let out = ksim(&dir, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        stderr(&out)
    };
    let e = run(&["--broker", "4", "--partition", "orders-0"]);
    assert!(
        e.contains("--broker 4") && e.contains("valid: 1, 2, 3"),
        "{e}"
    );
    let e = run(&["--broker", "0", "--partition", "orders-0"]);
    assert!(e.contains("valid: 1, 2, 3"), "{e}");
    let e = run(&["--broker", "1", "--partition", "orders-1"]);
    assert!(
        e.contains("--partition orders-1") && e.contains("valid: orders-0"),
        "{e}"
    );
    let e = run(&["--broker", "1", "--partition", "payments"]);
    assert!(e.contains("valid: orders-0"), "{e}");
    let e = run(&["--broker", "1", "--partition", "orders-0", "--at", "99s"]);
    assert!(
        e.contains("--at 99s") && e.contains("valid: 0s to 25s"),
        "{e}"
    );
    let e = run(&["--broker", "1", "--partition", "orders-0", "--at", "soon"]);
    assert!(e.contains("--at"), "{e}");

    // A replica that is not on the broker: one replica on three brokers.
    let fixture = std::fs::read_to_string(dir.join(scenario)).expect("read");
    let single = fixture
        .replace("replication_factor = 3", "replication_factor = 1")
        .replace("\"min.insync.replicas\" = 2", "\"min.insync.replicas\" = 1");
    std::fs::write(dir.join("single.toml"), single).expect("write");
    let mut refused = 0;
    for broker in ["1", "2", "3"] {
        let out = ksim(
            &dir,
            &[
                "dump-log",
                "single.toml",
                "--at",
                "5s",
                "--broker",
                broker,
                "--partition",
                "orders-0",
            ],
        );
        if out.status.code() == Some(2) {
            refused += 1;
            let e = stderr(&out);
            assert!(
                e.contains("is on brokers") && e.contains("has no files for it yet"),
                "{e}"
            );
        } else {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
    }
    assert_eq!(refused, 2);
}

#[test]
fn a_topic_flush_messages_override_fsyncs_that_topic() {
    let dir = workdir("topic_flush");
    let fixture = std::fs::read_to_string(dir.join("fixtures/dump_log_small.toml")).expect("read");
    // The broker default (never fsync): every batch is in the page cache only.
    let text = dump(&dir, "fixtures/dump_log_small.toml", "15s", "1");
    assert!(!text.contains("durability: on-disk"), "{text}");
    // flush.messages = 1 on the topic (over log.flush.interval.messages):
    // each append is fsynced, as Kafka's LogConfig merges topic overrides.
    let text_with = fixture.replace(
        "replication_factor = 3\n",
        "replication_factor = 3\nconfig = { \"flush.messages\" = 1 }\n",
    );
    assert_ne!(text_with, fixture);
    std::fs::write(dir.join("flushed.toml"), text_with).expect("write");
    let text = dump(&dir, "flushed.toml", "15s", "1");
    let lines = batch_lines(&text);
    assert!(lines.len() > 10);
    // The last batch's fsync may still be in flight at 15s; all before it are on disk.
    let on_disk = lines
        .iter()
        .filter(|l| l.ends_with("durability: on-disk"))
        .count();
    assert!(
        on_disk + 1 >= lines.len(),
        "{on_disk} of {}:\n{text}",
        lines.len()
    );
}
