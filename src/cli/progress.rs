//! A sweep's progress on stderr: a bar with rate and ETA on a terminal,
//! a plain line every tenth of the seeds otherwise (logs, CI). Wall-clock
//! time is read here for the display only; no run sees it.

use std::io::IsTerminal;
use std::time::Instant;

/// Progress of a sweep of `total` seeds.
pub struct Progress {
    total: u64,
    started: Instant,
    terminal: bool,
    enabled: bool,
    /// The last tenth printed as a plain line.
    last_tenth: u64,
    drawn: bool,
}

impl Progress {
    /// Shown on stderr when `enabled` (text output).
    pub fn new(total: u64, enabled: bool) -> Self {
        Self {
            total,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            enabled,
            last_tenth: 0,
            drawn: false,
        }
    }

    /// `done` seeds finished, `failed` of them not passing.
    pub fn update(&mut self, done: u64, failed: u64) {
        if !self.enabled || self.total == 0 {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let left = self.total.saturating_sub(done);
        let eta = if rate > 0.0 {
            format_secs(left as f64 / rate)
        } else {
            "?".to_owned()
        };
        if self.terminal {
            const WIDTH: u64 = 30;
            let filled = (done * WIDTH / self.total) as usize;
            let bar = format!(
                "{}{}",
                "#".repeat(filled),
                "-".repeat(WIDTH as usize - filled)
            );
            eprint!(
                "\r[{bar}] {done}/{} seeds  {rate:.1}/s  ETA {eta}  {failed} failing ",
                self.total
            );
            self.drawn = true;
        } else {
            let tenth = done * 10 / self.total;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!(
                    "{done}/{} seeds ({}%), {rate:.1} seeds/s, ETA {eta}, {failed} failing",
                    self.total,
                    tenth * 10
                );
            }
        }
    }

    /// Clears the bar before another line is printed.
    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r{:80}\r", "");
            self.drawn = false;
        }
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

/// "42s", "3m05s", "1h02m".
fn format_secs(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn eta_reads_as_time() {
        assert_eq!(super::format_secs(42.4), "42s");
        assert_eq!(super::format_secs(185.0), "3m05s");
        assert_eq!(super::format_secs(3720.0), "1h02m");
    }
}
