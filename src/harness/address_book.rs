//! The one table from the model's addresses (Kafka node ids of brokers and
//! controllers, client ids) to the simulator's nodes, and back.

use sim::NodeId;

use super::topology::{Role, Topology};
use crate::node::{controller_id, Address};

/// In [`AddressBook`]'s `by_id`: no node has this id.
const NO_NODE: u32 = u32::MAX;

/// Every process's address and simulator node.
#[derive(Clone, Debug, Default)]
pub struct AddressBook {
    /// Brokers' and controllers' nodes, indexed by Kafka node id
    /// ([`NO_NODE`] where none): looked up for every message sent. Ids are
    /// small (brokers from 1, controllers from `CONTROLLER_ID_BASE`).
    by_id: Vec<u32>,
    clients: Vec<NodeId>,
    by_node: Vec<Address>,
}

impl AddressBook {
    /// The addresses of a topology's nodes: brokers by their id, controllers
    /// by theirs (`controller_id`), clients numbered in node order.
    pub fn of(topology: &Topology) -> Self {
        let mut clients = 0;
        let addresses = topology.roles.iter().map(|role| match role {
            Role::Controller(n) => Address::Node(controller_id(*n)),
            Role::Broker(b) => Address::Node(*b),
            Role::Admin | Role::Producer(_) | Role::Consumer { .. } | Role::Pipeline { .. } => {
                clients += 1;
                Address::Client(clients - 1)
            }
        });
        Self::new(addresses)
    }

    /// Node `i` of the simulation at the `i`-th address (clients numbered
    /// from 0 in order).
    pub fn new(addresses: impl IntoIterator<Item = Address>) -> Self {
        let mut book = Self::default();
        for (i, address) in addresses.into_iter().enumerate() {
            let node = NodeId(i as u32);
            match address {
                Address::Node(id) => {
                    let i = id as usize;
                    if book.by_id.len() <= i {
                        book.by_id.resize(i + 1, NO_NODE);
                    }
                    book.by_id[i] = node.0;
                }
                Address::Client(c) => {
                    assert_eq!(
                        c as usize,
                        book.clients.len(),
                        "clients are numbered in order"
                    );
                    book.clients.push(node);
                }
            }
            book.by_node.push(address);
        }
        book
    }

    /// The simulator node at `address`, if there is one.
    #[inline]
    pub fn node(&self, address: Address) -> Option<NodeId> {
        match address {
            Address::Node(id) => match self.by_id.get(id as usize) {
                Some(&n) if n != NO_NODE => Some(NodeId(n)),
                _ => None,
            },
            Address::Client(c) => self.clients.get(c as usize).copied(),
        }
    }

    /// The address of simulator node `node`.
    #[inline]
    pub fn address(&self, node: NodeId) -> Address {
        self.by_node[node.index()]
    }
}
