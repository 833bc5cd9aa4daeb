//! Durations ("250ms", "1.5s") and rates ("1000/s") as scenario files write them.

use std::fmt;

/// Nanoseconds per unit, longest unit first.
const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The longest duration a scenario may give anywhere (1000 hours), so that
/// sums of a few durations never overflow `u64` nanoseconds.
pub const MAX_DURATION_NS: u64 = 1000 * 3_600_000_000_000;

/// What a valid duration looks like, for error messages.
pub const DURATION_HINT: &str = "a number with a unit ns|us|ms|s|m|h, e.g. \"250ms\"";

/// Parses a duration such as "250ms", "10s", "2m" or "1.5s" into nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid duration {text:?}; valid: {DURATION_HINT}");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let per_unit = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, ns)| *ns)
        .ok_or_else(invalid)?;
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(frac) || number.ends_with('.') {
        return Err(invalid());
    }
    let too_long = || format!("duration {text:?} is too long; valid: up to \"1000h\"");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut ns = whole
        .checked_mul(u128::from(per_unit))
        .ok_or_else(too_long)?;
    if !frac.is_empty() {
        if frac.len() > 18 {
            return Err(format!(
                "duration {text:?} is finer than a nanosecond; valid: {DURATION_HINT}"
            ));
        }
        let scale = 10u128.pow(frac.len() as u32);
        let frac: u128 = frac.parse().map_err(|_| invalid())?;
        let part = frac * u128::from(per_unit);
        if !part.is_multiple_of(scale) {
            return Err(format!(
                "duration {text:?} is finer than a nanosecond; valid: {DURATION_HINT}"
            ));
        }
        ns = ns.checked_add(part / scale).ok_or_else(too_long)?;
    }
    if ns > u128::from(MAX_DURATION_NS) {
        return Err(too_long());
    }
    u64::try_from(ns).map_err(|_| too_long())
}

/// Formats nanoseconds in the longest unit that divides them ("1500ms", "10s").
pub fn format_duration(ns: u64) -> String {
    for (unit, per) in UNITS {
        if ns >= per && ns.is_multiple_of(per) {
            return format!("{}{unit}", ns / per);
        }
    }
    "0s".to_owned()
}

/// A producer's send rate: `records` every `per_ns` nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rate {
    /// Records per period (at least 1).
    pub records: u64,
    /// The period, in nanoseconds (at least 1).
    pub per_ns: u64,
}

/// The fastest a single producer may send, in records per second.
pub const MAX_RECORDS_PER_SECOND: u64 = 1_000_000;

/// What a valid rate looks like, for error messages.
pub const RATE_HINT: &str =
    "records per period such as \"1000/s\", \"60/m\", \"5/ms\" or \"10/250ms\", or a number of records per second";

impl Rate {
    /// Records per second.
    pub fn per_second(&self) -> f64 {
        self.records as f64 * 1e9 / self.per_ns.max(1) as f64
    }

    /// Nanoseconds between two records, at least 1.
    pub fn interval_ns(&self) -> u64 {
        (self.per_ns / self.records.max(1)).max(1)
    }

    fn check(self, text: &str) -> Result<Rate, String> {
        if self.records == 0 {
            return Err(format!(
                "rate {text} sends no records; valid: at least 1 record per period"
            ));
        }
        let per_second = u128::from(self.records) * 1_000_000_000 / u128::from(self.per_ns.max(1));
        if self.per_ns == 0 || per_second > u128::from(MAX_RECORDS_PER_SECOND) {
            return Err(format!(
                "rate {text} is above the maximum of {MAX_RECORDS_PER_SECOND} records per second per producer"
            ));
        }
        Ok(self)
    }
}

/// Parses a rate such as "1000/s", "60/m", "5/ms" or "10/250ms".
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let invalid = || format!("invalid rate {text:?}; valid: {RATE_HINT}");
    let (records, per) = text.split_once('/').ok_or_else(invalid)?;
    let records = records.trim();
    if records.is_empty() || !records.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let records: u64 = records
        .parse()
        .map_err(|_| format!("rate {text:?} is too large; valid: {RATE_HINT}"))?;
    let per = per.trim();
    let per_ns = match UNITS.iter().find(|(u, _)| *u == per) {
        Some((_, ns)) => *ns,
        None => parse_duration(per).map_err(|_| invalid())?,
    };
    if per_ns == 0 {
        return Err(invalid());
    }
    Rate { records, per_ns }.check(&format!("{text:?}"))
}

/// A rate written as a bare number: records per second.
pub fn rate_per_second(records: i128) -> Result<Rate, String> {
    let records = u64::try_from(records)
        .map_err(|_| format!("rate {records} is not valid; valid: {RATE_HINT}, at least 1"))?;
    Rate {
        records,
        per_ns: 1_000_000_000,
    }
    .check(&records.to_string())
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match UNITS.iter().find(|(_, ns)| *ns == self.per_ns) {
            Some((unit, _)) => write!(f, "{}/{unit}", self.records),
            None => write!(f, "{}/{}", self.records, format_duration(self.per_ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("7ns"), Ok(7));
        assert_eq!(parse_duration("3us"), Ok(3_000));
        assert_eq!(parse_duration("0.001us"), Ok(1));
        assert_eq!(parse_duration("1000h"), Ok(MAX_DURATION_NS));
    }

    #[test]
    fn invalid_durations_say_what_is_valid() {
        let hint = "valid: a number with a unit ns|us|ms|s|m|h, e.g. \"250ms\"";
        for bad in [
            "10 sec", "10", "s", "", "-1s", "1.s", ".5s", "1..5s", "10S", "1e3s", "10 s",
        ] {
            assert_eq!(
                parse_duration(bad),
                Err(format!("invalid duration {bad:?}; {hint}")),
                "{bad}"
            );
        }
        assert_eq!(
            parse_duration("0.5ns"),
            Err(format!(
                "duration \"0.5ns\" is finer than a nanosecond; {hint}"
            ))
        );
        let long = "duration \"1001h\" is too long; valid: up to \"1000h\"";
        assert_eq!(parse_duration("1001h"), Err(long.to_owned()));
        assert!(parse_duration("99999999999999999999999999999999999999999h").is_err());
        assert!(parse_duration("1.0000000000000000001s").is_err());
        let near_max = format!("{}.999us", u128::MAX / 1000);
        assert!(parse_duration(&near_max).is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for ns in [
            0,
            1,
            999,
            1_000,
            250_000_000,
            1_500_000_000,
            60_000_000_000,
            7_200_000_000_000,
        ] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns), "{ns}");
        }
        assert_eq!(format_duration(1_500_000_000), "1500ms");
        assert_eq!(format_duration(120_000_000_000), "2m");
    }

    #[test]
    fn rates() {
        let r = |records, per_ns| Ok(Rate { records, per_ns });
        assert_eq!(parse_rate("1000/s"), r(1000, 1_000_000_000));
        assert_eq!(parse_rate("60/m"), r(60, 60_000_000_000));
        assert_eq!(parse_rate("5/ms"), r(5, 1_000_000));
        assert_eq!(parse_rate("10/250ms"), r(10, 250_000_000));
        assert_eq!(parse_rate(" 3 / h "), r(3, 3_600_000_000_000));
        assert_eq!(rate_per_second(100), r(100, 1_000_000_000));
        assert_eq!(parse_rate("5/ms").map(|r| r.per_second()), Ok(5000.0));
        assert_eq!(parse_rate("5/ms").map(|r| r.interval_ns()), Ok(200_000));
        for text in ["1000/s", "60/m", "10/250ms"] {
            assert_eq!(parse_rate(text).map(|r| r.to_string()).as_deref(), Ok(text));
        }
    }

    #[test]
    fn invalid_rates() {
        let hint = RATE_HINT;
        assert_eq!(
            parse_rate("1000"),
            Err(format!("invalid rate \"1000\"; valid: {hint}"))
        );
        assert_eq!(
            parse_rate("x/s"),
            Err(format!("invalid rate \"x/s\"; valid: {hint}"))
        );
        assert_eq!(
            parse_rate("1/0s"),
            Err(format!("invalid rate \"1/0s\"; valid: {hint}"))
        );
        assert_eq!(
            parse_rate("0/s"),
            Err("rate \"0/s\" sends no records; valid: at least 1 record per period".into())
        );
        assert_eq!(
            parse_rate("2/us"),
            Err(
                "rate \"2/us\" is above the maximum of 1000000 records per second per producer"
                    .into()
            )
        );
        assert!(rate_per_second(-1).is_err());
        assert!(rate_per_second(0).is_err());
        assert!(parse_rate("99999999999999999999999/s").is_err());
    }
}
