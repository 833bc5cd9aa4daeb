//! Checks of the kernel's own promises, over what its stand-in nodes saw:
//! `link_fifo` (a connection delivers in send order) and `fsync_durable`
//! (what an fsync confirmed survives every crash and power loss).

use sim::testkit::ChatObs;
use sim::Observed;

use super::Violation;

/// Names of the kernel invariants, as reports print them.
pub const KERNEL_INVARIANTS: [&str; 2] = ["link_fifo", "fsync_durable"];

/// Checks the history of a run of `Chatter` nodes; `name` names a node.
pub fn check(
    history: &[Observed<ChatObs>],
    name: impl Fn(sim::NodeId) -> String,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    // Per node: the most records an fsync ever confirmed durable.
    let mut confirmed: Vec<u64> = Vec::new();
    for seen in history {
        let node = seen.node.index();
        if confirmed.len() <= node {
            confirmed.resize(node + 1, 0);
        }
        match seen.obs {
            ChatObs::OutOfOrder {
                from,
                previous,
                got,
            } => violations.push(Violation::new(
                "link_fifo",
                seen.at,
                format!(
                    "{} received seq {got} from {} after seq {previous} on the same connection",
                    name(seen.node),
                    name(from)
                ),
            )),
            ChatObs::Fsynced { records } => {
                confirmed[node] = confirmed[node].max(records);
            }
            ChatObs::Booted { records } if records < confirmed[node] => {
                violations.push(Violation::new(
                    "fsync_durable",
                    seen.at,
                    format!(
                    "{} booted with {records} log records, but an fsync had confirmed {} durable",
                    name(seen.node),
                    confirmed[node]
                ),
                ))
            }
            _ => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::NodeId;

    fn obs(at: u64, node: u32, obs: ChatObs) -> Observed<ChatObs> {
        Observed {
            at,
            node: NodeId(node),
            obs,
        }
    }

    #[test]
    fn flags_a_boot_below_what_fsync_confirmed() {
        let history = vec![
            obs(1, 0, ChatObs::Booted { records: 0 }),
            obs(2, 0, ChatObs::Fsynced { records: 8 }),
            obs(3, 0, ChatObs::Booted { records: 8 }),
            obs(4, 0, ChatObs::Booted { records: 7 }),
        ];
        let v = check(&history, |n| format!("n{}", n.0));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, "fsync_durable");
        assert_eq!(
            v[0].detail,
            "n0 booted with 7 log records, but an fsync had confirmed 8 durable"
        );
    }

    #[test]
    fn flags_out_of_order_delivery() {
        let history = vec![obs(
            5_000_000,
            1,
            ChatObs::OutOfOrder {
                from: NodeId(0),
                previous: 4,
                got: 3,
            },
        )];
        let v = check(&history, |n| format!("n{}", n.0));
        assert_eq!(v[0].invariant, "link_fifo");
        assert_eq!(v[0].at_ms, 5);
    }
}
