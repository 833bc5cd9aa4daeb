//! The one interpreter of the model's effects: a Kafka process as a
//! simulator node. Every input is handed to the process with an `Env`; the
//! effects it pushes are carried out on the kernel here and nowhere else.

use std::borrow::Cow;
use std::sync::Arc;

use sim::{Ctx, Disk, Node, NodeId};

use super::address_book::AddressBook;
use crate::broker::BrokerServer;
use crate::client::consumer::Consumer;
use crate::controller::node::QuorumController;
use crate::node::{DiskView, Effect, Env, Input, KafkaNode, NodeSpec, Observation, Timer};
use crate::protocol::Message;

/// One process of the simulated cluster.
#[derive(Debug)]
pub struct ClusterNode {
    process: KafkaNode,
    book: Arc<AddressBook>,
    scratch: Vec<Effect>,
}

impl DiskView for Disk {
    fn files(&self) -> Vec<String> {
        Disk::files(self).map(str::to_owned).collect()
    }

    fn read(&self, file: &str) -> Option<Cow<'_, [u8]>> {
        Disk::read(self, file)
    }

    fn read_extents(&self, file: &str) -> Option<Vec<sim::Blob>> {
        Disk::read_extents(self, file)
    }
}

impl ClusterNode {
    /// Boots the process `spec` describes from the node's disk.
    pub fn boot(ctx: &mut Ctx<'_, Self>, spec: &NodeSpec, book: Arc<AddressBook>) -> Self {
        let mut effects = Vec::new();
        let now = ctx.now();
        let process = {
            let (disk, rng) = ctx.disk_and_rng();
            let mut env = Env::new(now, rng, &mut effects);
            KafkaNode::boot(spec, &mut env, disk)
        };
        let mut node = Self {
            process,
            book,
            scratch: Vec::new(),
        };
        node.interpret(ctx, &mut effects);
        node.scratch = effects;
        node
    }

    /// The Kafka process.
    pub fn process(&self) -> &KafkaNode {
        &self.process
    }

    /// The broker, when this node is one.
    pub fn broker(&self) -> Option<&BrokerServer> {
        match &self.process {
            KafkaNode::Broker(b) => Some(b),
            _ => None,
        }
    }

    /// The controller, when this node is one.
    pub fn controller(&self) -> Option<&QuorumController> {
        match &self.process {
            KafkaNode::Controller(c) => Some(c),
            _ => None,
        }
    }

    /// The producer, when this node is one.
    pub fn producer(&self) -> Option<&crate::client::producer::Producer> {
        match &self.process {
            KafkaNode::Producer(p) => Some(p),
            _ => None,
        }
    }

    /// The consumer, when this node is one (or a pipeline member, whose
    /// consumer it is).
    pub fn consumer(&self) -> Option<&Consumer> {
        match &self.process {
            KafkaNode::Consumer(c) => Some(c),
            KafkaNode::Pipeline(p) => Some(p.consumer()),
            _ => None,
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, Self>, input: Input) {
        let mut effects = std::mem::take(&mut self.scratch);
        {
            let now = ctx.now();
            let mut env = Env::new(now, ctx.rng(), &mut effects);
            self.process.handle(&mut env, input);
        }
        self.interpret(ctx, &mut effects);
        self.scratch = effects;
    }

    /// Carries out `effects` in order on the kernel (and empties the list).
    fn interpret(&self, ctx: &mut Ctx<'_, Self>, effects: &mut Vec<Effect>) {
        let now = ctx.now();
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => {
                    if let Some(node) = self.book.node(to) {
                        ctx.send(node, msg);
                    }
                }
                Effect::SetTimer { at, timer } => {
                    ctx.set_timer(at.saturating_sub(now), timer);
                }
                Effect::Write {
                    file,
                    offset,
                    bytes,
                } => ctx.disk_mut().write_blob(&file, offset, bytes),
                Effect::Truncate { file, len } => ctx.disk_mut().truncate(&file, len),
                Effect::Remove { file } => ctx.disk_mut().remove(&file),
                Effect::Rename { from, to } => ctx.disk_mut().rename(&from, &to),
                Effect::Fsync { file, token } => ctx.fsync(&file, token),
                Effect::Observe(obs) => ctx.observe(obs),
                Effect::Exit => ctx.exit(),
            }
        }
    }

    /// Tells a consumer to close (KafkaConsumer.close()), as an input from outside.
    pub fn close(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.handle(ctx, Input::Close);
    }

    /// Sends a broker SIGTERM (its controlled shutdown), as an input from outside.
    pub fn shutdown(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.handle(ctx, Input::Shutdown);
    }
}

impl Node for ClusterNode {
    type Msg = Message;
    type Timer = Timer;
    type Obs = Observation;

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Message) {
        let from = self.book.address(from);
        self.handle(ctx, Input::Message { from, msg });
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        self.handle(ctx, Input::Timer(timer));
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let peer = self.book.address(peer);
        self.handle(ctx, Input::Disconnected(peer));
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        self.handle(ctx, Input::Fsynced(token));
    }
}
