//! sim: ksim's deterministic simulation kernel. It knows nothing about Kafka.
//!
//! One thread, one virtual clock (integer nanoseconds), one event queue
//! ordered by (time, insertion sequence), and one seed split into named
//! random streams. Nodes are plain state machines ([`Node`]) that act only
//! through their [`Ctx`]; the kernel simulates the network ([`net`]), each
//! node's disk and page cache ([`disk`]), and injects faults ([`Fault`]).
//! Every processed event folds into the run's `trace_hash`.

pub mod blob;
pub mod ctx;
pub mod disk;
pub mod fault;
mod kernel;
pub mod net;
pub mod node;
pub mod rng;
pub mod sim;
pub mod testkit;
pub mod time;
pub mod trace;

pub use blob::Blob;
pub use ctx::{Ctx, DiskWriter};
pub use disk::{Disk, DiskConfig};
pub use fault::{poisson_arrivals, Fault, FaultEffect};
pub use kernel::Observed;
pub use net::{NetConfig, Partition};
pub use node::{Node, NodeId, TimerId};
pub use rng::Streams;
pub use sim::{Mutations, Sim, SimConfig};
pub use time::{format_nanos, Nanos, MICROS, MILLIS, SECONDS};
