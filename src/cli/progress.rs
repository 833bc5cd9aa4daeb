//! A sweep's progress on stderr: an `indicatif` bar with rate and ETA on a
//! terminal, a plain line every tenth of the seeds otherwise (logs, CI).
//! Wall-clock time is read here for the display only; no run sees it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of a sweep of `total` seeds.
pub struct Progress {
    total: u64,
    started: Instant,
    enabled: bool,
    /// The bar, on a terminal.
    bar: Option<ProgressBar>,
    /// The last tenth printed as a plain line.
    last_tenth: u64,
}

impl Progress {
    /// Shown on stderr when `enabled` (text output).
    pub fn new(total: u64, enabled: bool) -> Self {
        let bar = (enabled && total > 0 && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "[{bar:30}] {pos}/{len} seeds  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("a valid template")
                .progress_chars("#>-"),
            );
            bar.set_message("0 failing");
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self {
            total,
            started: Instant::now(),
            enabled,
            bar,
            last_tenth: 0,
        }
    }

    /// `done` seeds finished, `failed` of them not passing.
    pub fn update(&mut self, done: u64, failed: u64) {
        if !self.enabled || self.total == 0 {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{failed} failing"));
            return;
        }
        let tenth = done * 10 / self.total;
        if tenth > self.last_tenth {
            self.last_tenth = tenth;
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            let rate = done as f64 / secs;
            let left = self.total.saturating_sub(done);
            let eta = if rate > 0.0 {
                format_secs(left as f64 / rate)
            } else {
                "?".to_owned()
            };
            eprintln!(
                "{done}/{} seeds ({}%), {rate:.1} seeds/s, ETA {eta}, {failed} failing",
                self.total,
                tenth * 10
            );
        }
    }

    /// Prints `line` on stderr above the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Ends the bar, leaving its last state on screen.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
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
