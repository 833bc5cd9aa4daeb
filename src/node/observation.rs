//! What every process records for the checkers and the reports, in one type.

use crate::broker::BrokerObs;
use crate::client::admin::AdminObs;
use crate::client::consumer::ConsumerObs;
use crate::client::ProducerObs;
use crate::controller::node::QuorumObs;

/// An observation of any Kafka process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A controller's.
    Quorum(QuorumObs),
    /// A broker's.
    Broker(BrokerObs),
    /// The admin client's.
    Admin(AdminObs),
    /// A producer's.
    Producer(ProducerObs),
    /// A consumer's.
    Consumer(ConsumerObs),
}

macro_rules! observation_from {
    ($($variant:ident($inner:ty)),*) => {$(
        impl From<$inner> for Observation {
            fn from(inner: $inner) -> Self {
                Observation::$variant(inner)
            }
        }
    )*};
}
observation_from!(
    Quorum(QuorumObs),
    Broker(BrokerObs),
    Admin(AdminObs),
    Producer(ProducerObs),
    Consumer(ConsumerObs)
);
