//! `metadata.max.age.ms` (Kafka's `Metadata.timeToNextUpdate`): a client's
//! metadata is refreshed at least that long after its last successful
//! refresh, with no failure to prompt it. One timer, armed at the earliest
//! due time and re-armed when it fires before the metadata is that old.

use sim::{Nanos, MILLIS};

use crate::node::{Deadline, Env, Timer};

/// When a client's metadata was last refreshed, and its max-age timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetadataAge {
    refreshed_at: Nanos,
    timer: Deadline,
}

impl MetadataAge {
    /// A refresh succeeded now: the next is due `max_age_ms` later.
    pub fn refreshed(&mut self, env: &mut Env<'_>, max_age_ms: u64, timer: impl Into<Timer>) {
        self.refreshed_at = env.now();
        let due = env.now() + max_age_ms * MILLIS;
        self.timer.arm(env, due, timer);
    }

    /// Its timer fired: true when the metadata is now `max_age_ms` old and
    /// must be refreshed; otherwise the timer is armed again for then (or
    /// the firing was stale).
    pub fn fired(&mut self, env: &mut Env<'_>, max_age_ms: u64, timer: impl Into<Timer>) -> bool {
        if !self.timer.fire(env.now()) {
            return false;
        }
        let due = self.refreshed_at + max_age_ms * MILLIS;
        if env.now() >= due {
            return true;
        }
        self.timer.arm(env, due, timer);
        false
    }
}
