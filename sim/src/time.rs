//! Virtual time: integer nanoseconds since the start of a run.

/// A point or span of simulated time, in nanoseconds.
pub type Nanos = u64;

/// One microsecond in nanoseconds.
pub const MICROS: Nanos = 1_000;
/// One millisecond in nanoseconds.
pub const MILLIS: Nanos = 1_000_000;
/// One second in nanoseconds.
pub const SECONDS: Nanos = 1_000_000_000;

/// Formats a time the way reports print it: `12.345s`, `250ms`, `15us`, `7ns`.
pub fn format_nanos(ns: Nanos) -> String {
    if ns >= SECONDS {
        let ms = ns / MILLIS;
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{}.{:03}s", ms / 1000, ms % 1000)
        }
    } else if ns >= MILLIS && ns.is_multiple_of(MILLIS) {
        format!("{}ms", ns / MILLIS)
    } else if ns >= MILLIS {
        format!("{}.{:03}ms", ns / MILLIS, (ns % MILLIS) / MICROS)
    } else if ns >= MICROS && ns.is_multiple_of(MICROS) {
        format!("{}us", ns / MICROS)
    } else {
        format!("{ns}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_each_unit() {
        assert_eq!(format_nanos(0), "0ns");
        assert_eq!(format_nanos(7), "7ns");
        assert_eq!(format_nanos(15 * MICROS), "15us");
        assert_eq!(format_nanos(250 * MILLIS), "250ms");
        assert_eq!(format_nanos(1_500 * MICROS), "1.500ms");
        assert_eq!(format_nanos(10 * SECONDS), "10s");
        assert_eq!(format_nanos(12_345 * MILLIS), "12.345s");
    }
}
