//! A Kafka process as the simulator drives it, in the model's own terms:
//! it is booted from its disk ([`KafkaNode::boot`]), then handles one
//! [`Input`] at a time through an [`Env`], pushing [`Effect`]s. Nothing in
//! the model touches the simulator; the harness interprets the effects.

pub mod address;
pub mod effect;
pub mod network_client;
pub mod observation;
pub mod timer;

pub use address::{controller_id, controller_index, Address, KafkaNodeId, CONTROLLER_ID_BASE};
pub use effect::{DiskView, Effect, Env, FileName, TestEnv, FSYNC_NO_FLUSH, FSYNC_UNTRACKED};
pub use network_client::{InFlight, NetworkClient, Request};
pub use observation::Observation;
pub use timer::{Deadline, Timer};

use crate::broker::{BrokerServer, BrokerSpec};
use crate::client::admin::{AdminClient, AdminSpec};
use crate::client::consumer::{Consumer, ConsumerConfig};
use crate::client::pipeline::{Pipeline, PipelineSpec};
use crate::client::producer::{Producer, ProducerSpec};
use crate::controller::node::{ControllerSpec, QuorumController};
use crate::protocol::Message;

/// One input to a process.
#[derive(Clone, Debug)]
pub enum Input {
    /// A message arrived.
    Message {
        /// Who sent it.
        from: Address,
        /// What it says.
        msg: Message,
    },
    /// A timer fired.
    Timer(Timer),
    /// The connection to this peer broke: what was in flight on it is lost.
    Disconnected(Address),
    /// The fsync issued with this token completed.
    Fsynced(u64),
    /// The operator closes a consumer (KafkaConsumer.close()).
    Close,
    /// The operator stops a broker with SIGTERM (Kafka's shutdown hook
    /// calls `BrokerServer.shutdown()`).
    Shutdown,
}

/// What a process is, fixed for the run: booting it builds it from this
/// and its disk.
#[derive(Clone, Debug)]
pub enum NodeSpec {
    /// A KRaft controller.
    Controller(ControllerSpec),
    /// A broker.
    Broker(BrokerSpec),
    /// The admin client.
    Admin(AdminSpec),
    /// A producer.
    Producer(ProducerSpec),
    /// A consumer.
    Consumer(ConsumerConfig),
    /// A consume-transform-produce pipeline member.
    Pipeline(Box<PipelineSpec>),
}

/// A running Kafka process.
#[derive(Debug)]
pub enum KafkaNode {
    /// A KRaft controller.
    Controller(Box<QuorumController>),
    /// A broker.
    Broker(Box<BrokerServer>),
    /// The admin client.
    Admin(Box<AdminClient>),
    /// A producer.
    Producer(Box<Producer>),
    /// A consumer.
    Consumer(Box<Consumer>),
    /// A consume-transform-produce pipeline member.
    Pipeline(Box<Pipeline>),
}

impl KafkaNode {
    /// Boots the process `spec` describes from `disk`.
    pub fn boot(spec: &NodeSpec, env: &mut Env<'_>, disk: &dyn DiskView) -> Self {
        match spec {
            NodeSpec::Controller(s) => {
                KafkaNode::Controller(Box::new(QuorumController::boot(s, env, disk)))
            }
            NodeSpec::Broker(s) => KafkaNode::Broker(Box::new(BrokerServer::boot(s, env, disk))),
            NodeSpec::Admin(s) => KafkaNode::Admin(Box::new(AdminClient::boot(s, env))),
            NodeSpec::Producer(s) => KafkaNode::Producer(Box::new(Producer::boot(s, env))),
            NodeSpec::Consumer(s) => KafkaNode::Consumer(Box::new(Consumer::boot(s, env))),
            NodeSpec::Pipeline(s) => KafkaNode::Pipeline(Box::new(Pipeline::boot(s, env))),
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        match self {
            KafkaNode::Controller(c) => c.handle(env, input),
            KafkaNode::Broker(b) => b.handle(env, input),
            KafkaNode::Admin(a) => a.handle(env, input),
            KafkaNode::Producer(p) => p.handle(env, input),
            KafkaNode::Consumer(c) => c.handle(env, input),
            KafkaNode::Pipeline(p) => p.handle(env, input),
        }
    }
}
