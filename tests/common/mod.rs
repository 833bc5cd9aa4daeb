//! What the integration tests share: running the `ksim` binary and reading
//! what it printed.
#![allow(dead_code)] // each test binary uses its own part of this

use std::path::Path;
use std::process::{Command, Output};

/// Runs `ksim ARGS` in `dir` and waits for it.
pub fn ksim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ksim runs")
}

/// What it printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What it printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An empty scratch folder for one test: `GROUP/TEST` under Cargo's
/// target tmp dir, emptied first.
pub fn scratch(group: &str, test: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A file of the repository (e.g. `scenarios/broker_crash.toml`) as text.
pub fn shipped(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// Runs scenario `text` with `seed` in the scratch folder `GROUP/TEST`:
/// (exit code, the JSON run record, the text report).
pub fn run_text(
    group: &str,
    test: &str,
    text: &str,
    seed: &str,
) -> (Option<i32>, serde_json::Value, String) {
    let dir = scratch(group, test);
    std::fs::write(dir.join("s.toml"), text).expect("scenario written");
    let out = ksim(&dir, &["run", "s.toml", "--seed", seed, "--format", "json"]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let report = ksim(&dir, &["run", "s.toml", "--seed", seed]);
    (out.status.code(), json, stdout(&report))
}

/// `text` with its first `[[admin]]` entry replaced by `entry`, run in the
/// scratch folder `GROUP/TEST`: it must be refused (exit 2); what ksim said.
pub fn refused_admin(group: &str, test: &str, text: &str, entry: &str) -> String {
    let start = text.find("[[admin]]").expect("an [[admin]] entry");
    let end = start + text[start..].find("\n\n").expect("entry ends");
    let changed = format!("{}{entry}\n\n{}", &text[..start], &text[end + 2..]);
    refused(group, test, &changed)
}

/// Runs scenario `text` in the scratch directory `group`/`test`, asserts
/// that ksim refuses it (exit 2), and returns its stderr.
pub fn refused(group: &str, test: &str, text: &str) -> String {
    let dir = scratch(group, test);
    std::fs::write(dir.join("s.toml"), text).expect("scenario written");
    let out = ksim(&dir, &["run", "s.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    stderr(&out)
}
