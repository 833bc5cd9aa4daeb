//! The disk effects a log asks its host to carry out, in order.

/// One disk operation. The host applies them in the order given; `Fsync`
/// is asynchronous (its completion is reported back, see
/// `UnifiedLog::on_flushed`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogOutput {
    /// Write `bytes` at byte `offset` of `file` (creating it if absent).
    Write {
        /// File name (`{dir}/...`).
        file: String,
        /// Byte position.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Cut `file` to `len` bytes.
    Truncate {
        /// File name.
        file: String,
        /// New length.
        len: u64,
    },
    /// Delete `file`.
    Remove {
        /// File name.
        file: String,
    },
    /// Rename `from` to `to`, replacing `to`.
    Rename {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Make `file` durable.
    Fsync {
        /// File name.
        file: String,
    },
}

impl LogOutput {
    /// The file this operation changes (for a rename, the new name).
    pub fn file(&self) -> &str {
        match self {
            LogOutput::Write { file, .. }
            | LogOutput::Truncate { file, .. }
            | LogOutput::Remove { file }
            | LogOutput::Fsync { file } => file,
            LogOutput::Rename { to, .. } => to,
        }
    }

    /// True for an fsync of a segment file (`*.log`): a log flush, whose
    /// completion may move the recovery point. Fsyncs of the leader epoch
    /// checkpoint are not.
    pub fn is_log_flush(&self) -> bool {
        matches!(self, LogOutput::Fsync { file } if file.ends_with(".log"))
    }
}
