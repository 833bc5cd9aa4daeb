//! Kafka's `CheckpointFile` write protocol, as disk effects: write the new
//! text to `{path}.tmp`, fsync it, rename it over `{path}`, then fsync the
//! result (Kafka flushes the parent directory after the atomic move, which
//! makes the rename durable). A `.tmp` left by a crash is removed when the
//! log is recovered, so the write always starts from an absent file.

use sim::Blob;

use crate::node::{Effect, FileName, FSYNC_UNTRACKED};

/// Name of the leader epoch checkpoint in `dir`.
pub fn leader_epoch_checkpoint_file(dir: &str) -> String {
    format!("{dir}/leader-epoch-checkpoint")
}

/// Name of the temporary file a checkpoint at `path` is written through.
pub fn tmp_file(path: &str) -> String {
    format!("{path}.tmp")
}

/// Replaces the file at `path` with `bytes`, atomically and durably.
pub fn write_atomically(path: &str, bytes: Vec<u8>, out: &mut Vec<Effect>) {
    let tmp: FileName = tmp_file(path).into();
    let path: FileName = path.into();
    out.push(Effect::Write {
        file: tmp.clone(),
        offset: 0,
        bytes: Blob::raw(bytes),
    });
    out.push(Effect::Fsync {
        file: tmp.clone(),
        token: FSYNC_UNTRACKED,
    });
    out.push(Effect::Rename {
        from: tmp,
        to: path.clone(),
    });
    out.push(Effect::Fsync {
        file: path,
        token: FSYNC_UNTRACKED,
    });
}
