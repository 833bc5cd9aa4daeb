//! Scenario errors: file, line, column, key path and what would be valid.

use std::fmt;
use std::ops::Range;

/// An invalid scenario file, located at the key or value that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line (0 when the file could not be read at all).
    pub line: usize,
    /// 1-based column, in characters (0 when the file could not be read).
    pub col: usize,
    /// Dotted key path such as `topics[1].replication_factor`; empty for syntax errors.
    pub key: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)?;
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in chars) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = 1 + before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count();
    (line, col)
}

/// The source being parsed: everything an error needs to locate itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Src<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Src<'_> {
    /// An error at the start of `span`, about `key`.
    pub fn err(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError {
            file: self.file.to_owned(),
            line,
            col,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A TOML syntax error.
    pub fn syntax(&self, e: &toml::de::Error) -> ScenarioError {
        let span = e.span().unwrap_or(0..0);
        let mut message = e.message().trim().replace('\n', " ");
        if message == "duplicate key" {
            let key = self.text.get(span.clone()).unwrap_or_default();
            if !key.is_empty() && key.len() <= 60 && !key.contains('\n') {
                message = format!("duplicate key {key}; valid: each key once per table");
            }
        }
        self.err(&span, "", format!("invalid TOML: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 7), (2, 4)); // é is one column
        assert_eq!(line_col(text, 8), (3, 1));
        assert_eq!(line_col(text, 99), (3, 2)); // past the end: clamped
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn display() {
        let mut e = ScenarioError {
            file: "s.toml".into(),
            line: 3,
            col: 7,
            key: "topics[0].partitions".into(),
            message: "0 is not valid; valid: 1..=10000".into(),
        };
        assert_eq!(
            e.to_string(),
            "s.toml:3:7: topics[0].partitions: 0 is not valid; valid: 1..=10000"
        );
        e.key.clear();
        assert_eq!(
            e.to_string(),
            "s.toml:3:7: 0 is not valid; valid: 1..=10000"
        );
        e.line = 0;
        assert_eq!(e.to_string(), "s.toml: 0 is not valid; valid: 1..=10000");
    }
}
