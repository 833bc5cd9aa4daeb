//! Checks of the kernel's own promises, over what its stand-in nodes saw:
//! `link_fifo` (a connection delivers in send order) and `fsync_durable`
//! (what an fsync confirmed survives every crash and power loss).

use sim::testkit::ChatObs;
use sim::{Nanos, NodeId};

use super::Violation;

/// One stand-in observation: when, who, what.
pub type Seen<'a> = (Nanos, NodeId, &'a ChatObs);

/// Names of the kernel invariants, as reports print them.
pub const KERNEL_INVARIANTS: [&str; 2] = ["link_fifo", "fsync_durable"];

/// Checks a run of `Chatter` nodes online, one observation at a time.
#[derive(Debug, Default)]
pub struct KernelChecker {
    /// Per node: the most records an fsync ever confirmed durable.
    confirmed: Vec<u64>,
}

impl KernelChecker {
    /// Takes one observation; a broken promise goes into `out`.
    pub fn observe(
        &mut self,
        at: Nanos,
        who: NodeId,
        obs: &ChatObs,
        name: &dyn Fn(NodeId) -> String,
        out: &mut Vec<Violation>,
    ) {
        let node = who.index();
        if self.confirmed.len() <= node {
            self.confirmed.resize(node + 1, 0);
        }
        match *obs {
            ChatObs::OutOfOrder {
                from,
                previous,
                got,
            } => out.push(Violation::new(
                "link_fifo",
                at,
                format!(
                    "{} received seq {got} from {} after seq {previous} on the same connection",
                    name(who),
                    name(from)
                ),
            )),
            ChatObs::Fsynced { records } => {
                self.confirmed[node] = self.confirmed[node].max(records);
            }
            ChatObs::Booted { records } if records < self.confirmed[node] => {
                out.push(Violation::new(
                    "fsync_durable",
                    at,
                    format!(
                    "{} booted with {records} log records, but an fsync had confirmed {} durable",
                    name(who),
                    self.confirmed[node]
                ),
                ))
            }
            _ => {}
        }
    }
}

/// Checks a recorded history of a run of `Chatter` nodes; `name` names a node.
pub fn check(history: &[Seen<'_>], name: &dyn Fn(NodeId) -> String) -> Vec<Violation> {
    let mut checker = KernelChecker::default();
    let mut violations = Vec::new();
    for &(at, who, obs) in history {
        checker.observe(at, who, obs, name, &mut violations);
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: NodeId) -> String {
        format!("n{}", n.0)
    }

    fn seen(history: &[(u64, u32, ChatObs)]) -> Vec<Seen<'_>> {
        history
            .iter()
            .map(|(at, n, o)| (*at, NodeId(*n), o))
            .collect()
    }

    #[test]
    fn flags_a_boot_below_what_fsync_confirmed() {
        let history = [
            (1, 0, ChatObs::Booted { records: 0 }),
            (2, 0, ChatObs::Fsynced { records: 8 }),
            (3, 0, ChatObs::Booted { records: 8 }),
            (4, 0, ChatObs::Booted { records: 7 }),
        ];
        let v = check(&seen(&history), &name);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, "fsync_durable");
        assert_eq!(
            v[0].detail,
            "n0 booted with 7 log records, but an fsync had confirmed 8 durable"
        );
    }

    #[test]
    fn flags_out_of_order_delivery() {
        let history = [(
            5_000_000,
            1,
            ChatObs::OutOfOrder {
                from: NodeId(0),
                previous: 4,
                got: 3,
            },
        )];
        let v = check(&seen(&history), &name);
        assert_eq!(v[0].invariant, "link_fifo");
        assert_eq!(v[0].at_ms, 5);
    }
}
