//! Every process's timers in one type, and [`Deadline`]: one timer kept at
//! the earliest of many deadlines, so that a thousand request timeouts cost
//! one timer event rather than a thousand.

use sim::Nanos;

use super::effect::Env;
use crate::broker::BrokerTimer;
use crate::client::admin::AdminTimer;
use crate::client::consumer::ConsumerTimer;
use crate::client::producer::ProducerTimer;
use crate::controller::node::ControllerTimer;
use crate::controller::raft::RaftTimer;

/// A timer of any Kafka process.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Timer {
    /// The KRaft client's (a controller's voter, or a broker's observer).
    Raft(RaftTimer),
    /// A controller's own.
    Controller(ControllerTimer),
    /// A broker's own.
    Broker(BrokerTimer),
    /// The admin client's.
    Admin(AdminTimer),
    /// A producer's.
    Producer(ProducerTimer),
    /// A consumer's.
    Consumer(ConsumerTimer),
    /// The process's network client: requests may have passed their timeout.
    RequestTimeout,
}

macro_rules! timer_from {
    ($($variant:ident($inner:ty)),*) => {$(
        impl From<$inner> for Timer {
            fn from(inner: $inner) -> Self {
                Timer::$variant(inner)
            }
        }
    )*};
}
timer_from!(
    Raft(RaftTimer),
    Controller(ControllerTimer),
    Broker(BrokerTimer),
    Admin(AdminTimer),
    Producer(ProducerTimer),
    Consumer(ConsumerTimer)
);

/// One timer standing for a set of deadlines: it is set again only when a
/// deadline earlier than the armed one appears, and when it fires the owner
/// handles every deadline that has passed and re-arms for the next. A
/// firing for a deadline that was superseded is stale and ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline {
    armed: Option<Nanos>,
}

impl Deadline {
    /// Makes sure `timer` fires at `at` or earlier.
    pub fn arm(&mut self, env: &mut Env<'_>, at: Nanos, timer: impl Into<Timer>) {
        let at = at.max(env.now());
        if self.armed.is_none_or(|armed| at < armed) {
            self.armed = Some(at);
            env.set_timer(at, timer);
        }
    }

    /// The timer fired at `now`: true when the armed deadline has passed
    /// (the timer is then disarmed; a paused process hears its timers late),
    /// false for a stale firing.
    pub fn fire(&mut self, now: Nanos) -> bool {
        if self.armed.is_some_and(|at| at <= now) {
            self.armed = None;
            true
        } else {
            false
        }
    }

    /// When it is armed for.
    pub fn armed(&self) -> Option<Nanos> {
        self.armed
    }
}
