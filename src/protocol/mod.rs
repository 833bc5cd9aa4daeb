//! The data-path requests between clients and brokers and between brokers,
//! with Kafka's request names: Produce, Fetch (consumers and follower
//! replicas, KIP-320 leader epochs), Metadata, InitProducerId,
//! OffsetForLeaderEpoch and ListOffsets, the group requests: FindCoordinator
//! and, to the coordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch and TxnOffsetCommit; and the transaction
//! requests: FindCoordinator (key type TRANSACTION), InitProducerId with a
//! transactional id, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn to the
//! transaction coordinator, WriteTxnMarkers from it to partition leaders,
//! and AddPartitionsToTxn v4+ from a partition leader verifying (KIP-890
//! part 1) or adding (part 2) the partitions of a transactional produce.

mod topics;
mod tp_map;

use std::hash::{Hash, Hasher};
use std::rc::Rc;

use crate::controller::raft::RaftMessage;
use crate::controller::rpc::ControllerMsg;
use crate::errors::Errors;
use crate::group::coordinator::{CoordinatorRequest, CoordinatorResponse};
use crate::log::{ControlRecordType, RecordBatch};
use crate::metadata::Uuid;

pub use topics::{TopicId, TopicIdPartition, TopicPartition, Topics};
pub use tp_map::TpMap;

/// A boolean field Kafka's message has and ksim's first traces did not:
/// false hashes as nothing, so every trace hash of a run that never sets
/// it stays what it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewFlag(pub bool);

impl std::hash::Hash for NewFlag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if self.0 {
            state.write_u8(1);
        }
    }
}

/// ListOffsetsRequest's timestamp for the earliest offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsetsRequest's timestamp for the latest offset (the high watermark for consumers).
pub const LATEST_TIMESTAMP: i64 = -1;

/// One partition's records in a ProduceRequest: one record batch, its
/// producer id, epoch and base sequence in its header (offsets are the
/// leader's to assign).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProduceData {
    /// The partition.
    pub tp: TopicIdPartition,
    /// The batch (shared with the producer, which keeps it for retries).
    pub batch: Rc<RecordBatch>,
}

/// A FetchRequest's session fields (Kafka's `FetchMetadata`, KIP-227): the
/// session id and the epoch of this request in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchMetadata {
    /// The session ([`FetchMetadata::INVALID_SESSION_ID`]: none).
    pub session_id: u32,
    /// [`FetchMetadata::INITIAL_EPOCH`] opens a session (a full fetch),
    /// [`FetchMetadata::FINAL_EPOCH`] fetches without one; otherwise the
    /// incremental fetch's number in its session.
    pub epoch: i32,
}

impl FetchMetadata {
    /// No session.
    pub const INVALID_SESSION_ID: u32 = 0;
    /// The epoch of a full fetch that opens a session.
    pub const INITIAL_EPOCH: i32 = 0;
    /// The epoch of a fetch without a session (or closing one).
    pub const FINAL_EPOCH: i32 = -1;

    /// A fetch outside any session (what consumers send here).
    pub const SESSIONLESS: FetchMetadata = FetchMetadata {
        session_id: Self::INVALID_SESSION_ID,
        epoch: Self::FINAL_EPOCH,
    };

    /// The epoch after `epoch` (wrapping to 1, never back to the initial one).
    pub fn next_epoch(epoch: i32) -> i32 {
        match epoch {
            e if e < 0 => Self::FINAL_EPOCH,
            i32::MAX => 1,
            e => e + 1,
        }
    }
}

/// One partition of a FetchRequest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchPartition {
    /// The partition.
    pub tp: TopicIdPartition,
    /// The leader epoch the fetcher believes current (KIP-320).
    pub current_leader_epoch: i32,
    /// Where to read from.
    pub fetch_offset: u64,
    /// Epoch of the fetcher's last batch (followers, for divergence).
    pub last_fetched_epoch: Option<i32>,
}

/// Which records a Fetch may return (Kafka's `IsolationLevel`, the
/// consumer's `isolation.level`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Everything below the high watermark (followers fetch to the log end).
    #[default]
    ReadUncommitted,
    /// Only below the last stable offset, with the aborted transactions
    /// in the range so that the consumer drops their records.
    ReadCommitted,
}

/// An aborted transaction in a read_committed FetchResponse (Kafka's
/// `FetchResponseData.AbortedTransaction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbortedTransaction {
    /// The producer whose transaction aborted.
    pub producer_id: i64,
    /// Its first offset in the partition.
    pub first_offset: u64,
}

/// One partition of a FetchResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPartition {
    /// The partition.
    pub tp: TopicIdPartition,
    /// Why it failed, if it did.
    pub error: Option<Errors>,
    /// The leader's high watermark.
    pub high_watermark: u64,
    /// The leader's log start offset.
    pub log_start_offset: u64,
    /// The leader's log end offset.
    pub log_end_offset: u64,
    /// The leader's last stable offset.
    pub last_stable_offset: u64,
    /// Where the follower's log diverges: (epoch, end offset) to truncate to.
    pub diverging_epoch: Option<(i32, u64)>,
    /// Aborted transactions overlapping the batches (read_committed only).
    pub aborted_transactions: Vec<AbortedTransaction>,
    /// Whole batches from the fetch offset on.
    pub batches: Vec<Rc<RecordBatch>>,
    /// The topic id of the log read (FetchResponse v13+ carries it;
    /// `Uuid(0)` on error).
    pub topic_id: Uuid,
}

/// Three words (the trace hashes every fetch, and a follower's names
/// every partition it follows).
impl Hash for FetchPartition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tp.hash(state);
        let last = self
            .last_fetched_epoch
            .map_or(u64::MAX, |e| u64::from(e as u32));
        state.write_u64(u64::from(self.current_leader_epoch as u32) << 32 ^ last);
        state.write_u64(self.fetch_offset);
    }
}

/// Every field, the small ones packed into shared words.
impl Hash for FetchedPartition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tp.hash(state);
        let error = self.error.map_or(u64::MAX, |e| e as u64);
        let (div_epoch, div_end) = self
            .diverging_epoch
            .map_or((u64::MAX, u64::MAX), |(e, end)| (u64::from(e as u32), end));
        state.write_u64(error << 32 ^ div_epoch);
        state.write_u64(div_end);
        state.write_u64(self.high_watermark);
        state.write_u64(self.log_start_offset);
        state.write_u64(self.log_end_offset);
        state.write_u64(self.last_stable_offset);
        self.aborted_transactions.hash(state);
        self.batches.hash(state);
    }
}

/// A partition in a MetadataResponse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: u32,
    /// The leader (None: no leader).
    pub leader: Option<u32>,
    /// Its leader epoch.
    pub leader_epoch: i32,
}

/// A data-path request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KafkaRequest {
    /// ProduceRequest.
    Produce {
        /// The request's version: [`PRODUCE_VERSION_TV2`] from a client
        /// with transactions v2 (the leader adds the partition to the
        /// transaction, KIP-890 part 2), [`PRODUCE_VERSION_TV1`] otherwise.
        version: i16,
        /// The producer's `transactional.id` (None: not transactional), as
        /// Kafka's ProduceRequest carries it for the leader's
        /// transaction verification (KIP-890).
        transactional_id: Option<String>,
        /// 0, 1 or -1 (all).
        acks: i16,
        /// How long the leader may wait for acks=all.
        timeout_ms: u64,
        /// Per partition.
        partitions: Vec<ProduceData>,
    },
    /// FetchRequest from a consumer (replica None) or a follower.
    Fetch {
        /// The follower's broker id and broker epoch (KIP-903); None for consumers.
        replica: Option<(u32, u64)>,
        /// How long the leader may hold an empty fetch.
        max_wait_ms: u64,
        /// Which records it may see (followers: read_uncommitted).
        isolation_level: IsolationLevel,
        /// The fetch session (KIP-227).
        session: FetchMetadata,
        /// Per partition: all of them in a full fetch, the changed ones in
        /// an incremental fetch.
        partitions: Vec<FetchPartition>,
        /// Partitions an incremental fetch removes from its session.
        forgotten: Vec<TopicIdPartition>,
    },
    /// MetadataRequest for some topics.
    Metadata {
        /// Topic names.
        topics: Vec<String>,
    },
    /// InitProducerIdRequest: an idempotent producer's (no transactional
    /// id: any broker answers) or a transactional producer's (to its
    /// transaction coordinator).
    InitProducerId {
        /// `transactional.id` (None: idempotence only).
        transactional_id: Option<String>,
        /// `transaction.timeout.ms`.
        transaction_timeout_ms: u64,
        /// The producer id and epoch it had, when it asks for a new epoch
        /// of the same id (KIP-360); None for a first InitProducerId.
        producer_id_and_epoch: Option<(i64, i16)>,
    },
    /// OffsetForLeaderEpochRequest from a consumer validating its position.
    OffsetForLeaderEpoch {
        /// The partition.
        tp: TopicIdPartition,
        /// The epoch the consumer believes current.
        current_leader_epoch: i32,
        /// The epoch of the last record it consumed.
        leader_epoch: i32,
    },
    /// ListOffsetsRequest for one partition (a consumer resetting its position).
    ListOffsets {
        /// The partition.
        tp: TopicIdPartition,
        /// [`EARLIEST_TIMESTAMP`] or [`LATEST_TIMESTAMP`].
        timestamp: i64,
        /// The epoch the consumer believes current (-1: unknown).
        current_leader_epoch: i32,
        /// The consumer's `isolation.level`: the latest offset of a
        /// read_committed one is the last stable offset.
        isolation_level: IsolationLevel,
    },
    /// FindCoordinatorRequest.
    FindCoordinator {
        /// GROUP or TRANSACTION.
        key_type: CoordinatorType,
        /// The group id or transactional id.
        key: String,
    },
    /// A request to a group's coordinator (JoinGroup, SyncGroup, Heartbeat,
    /// LeaveGroup, OffsetCommit, OffsetFetch).
    Group {
        /// The group id.
        group_id: String,
        /// The request (boxed: group requests are rare and large, and every
        /// message is as large as its largest kind).
        request: Box<CoordinatorRequest>,
    },
    /// AddPartitionsToTxnRequest, from a transactional producer to its
    /// coordinator before its first send to a partition in a transaction.
    AddPartitionsToTxn {
        /// The transactional id.
        transactional_id: String,
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
        /// The partitions to add.
        partitions: Vec<TopicIdPartition>,
    },
    /// AddOffsetsToTxnRequest (`sendOffsetsToTransaction`): adds the
    /// group's `__consumer_offsets` partition to the producer's transaction,
    /// before the TxnOffsetCommit to the group coordinator.
    AddOffsetsToTxn {
        /// The transactional id.
        transactional_id: String,
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
        /// The consumer group whose offsets the transaction commits.
        group_id: String,
    },
    /// EndTxnRequest: commit or abort the producer's transaction.
    EndTxn {
        /// The request's version: [`END_TXN_VERSION_TV2`] (5) from a client
        /// with transactions v2, whose EndTxn bumps the producer epoch
        /// (Kafka's `TransactionVersion.transactionVersionForEndTxn`), 4
        /// otherwise.
        version: i16,
        /// The transactional id.
        transactional_id: String,
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
        /// True to commit, false to abort.
        committed: bool,
    },
    /// WriteTxnMarkersRequest, from a transaction coordinator to the
    /// leaders of a transaction's partitions.
    WriteTxnMarkers {
        /// One per transaction.
        markers: Vec<WritableTxnMarker>,
    },
    /// AddPartitionsToTxnRequest v4+ as a partition leader's
    /// AddPartitionsToTxnManager sends it to a transaction coordinator
    /// (Kafka's `AddPartitionsToTxnRequest.Builder.forBroker`): a batch of
    /// transactions, each only verified (`verify_only`, KIP-890 part 1) or
    /// added to (part 2). Versions above 3 tell the coordinator the
    /// transaction runs under transactions v2
    /// (`TransactionVersion.transactionVersionForAddPartitionsToTxn`).
    AddPartitionsToTxnForBroker {
        /// One per transactional id.
        transactions: Vec<AddPartitionsToTxnTransaction>,
    },
}

/// ProduceRequest's version from a client without transactions v2 (Kafka 3.8's).
pub const PRODUCE_VERSION_TV1: i16 = 11;
/// ProduceRequest's version from a client with transactions v2 (KIP-890
/// part 2: the leader adds the partition to the transaction).
pub const PRODUCE_VERSION_TV2: i16 = 12;
/// EndTxnRequest's version from a client without transactions v2.
pub const END_TXN_VERSION_TV1: i16 = 4;
/// EndTxnRequest's version from a client with transactions v2 (KIP-890
/// part 2: the coordinator bumps the epoch and answers with it).
pub const END_TXN_VERSION_TV2: i16 = 5;

/// One transaction of an [`KafkaRequest::AddPartitionsToTxnForBroker`]
/// (Kafka's `AddPartitionsToTxnTransaction`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddPartitionsToTxnTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the produce carried.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// Kafka's `VerifyOnly`: only check that the partitions are in the
    /// open transaction (true), or add them (false).
    pub verify_only: bool,
    /// The partitions.
    pub partitions: Vec<TopicIdPartition>,
}

/// One transaction's answer in an AddPartitionsToTxnResponse v4+ (Kafka's
/// `AddPartitionsToTxnResult`): an error per partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddPartitionsToTxnResult {
    /// The transactional id.
    pub transactional_id: String,
    /// Per partition, why it is not in the transaction (None: it is).
    pub partitions: Vec<(TopicIdPartition, Option<Errors>)>,
}

/// FindCoordinator's key type (Kafka's `CoordinatorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorType {
    /// A consumer group's coordinator (key: the group id).
    Group,
    /// A transactional id's coordinator (key: the transactional id).
    Transaction,
}

/// One transaction's markers in a WriteTxnMarkersRequest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WritableTxnMarker {
    /// The transactional producer.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// COMMIT or ABORT (Kafka's `TransactionResult`).
    pub result: ControlRecordType,
    /// The partitions to write the marker to.
    pub partitions: Vec<TopicIdPartition>,
    /// The epoch of the coordinator that writes it.
    pub coordinator_epoch: i32,
}

/// One partition's outcome in a WriteTxnMarkersResponse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxnMarkerResult {
    /// The transactional producer.
    pub producer_id: i64,
    /// The partition.
    pub tp: TopicIdPartition,
    /// Why the marker was not written, if it was not.
    pub error: Option<Errors>,
}

/// One partition of a ProduceResponse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProduceResult {
    /// The partition.
    pub tp: TopicIdPartition,
    /// Why it failed, if it did.
    pub error: Option<Errors>,
    /// Offset of the first record (-1 on error).
    pub base_offset: i64,
    /// The topic id of the log the records went to (`Uuid(0)` on
    /// error): a record ksim keeps for its checkers, since a name alone
    /// does not tell a recreated topic from the deleted one.
    pub topic_id: Uuid,
}

/// A data-path response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KafkaResponse {
    /// ProduceResponse.
    Produce {
        /// Per partition.
        partitions: Vec<ProduceResult>,
    },
    /// FetchResponse.
    Fetch {
        /// A session error (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH).
        error: Option<Errors>,
        /// The session the fetch is in ([`FetchMetadata::INVALID_SESSION_ID`]: none).
        session_id: u32,
        /// Per partition: all of a full fetch's; of an incremental fetch,
        /// those with records, an error or a new high watermark.
        partitions: Vec<FetchedPartition>,
    },
    /// MetadataResponse.
    Metadata {
        /// Per topic: its partitions (missing topics are left out).
        topics: Vec<(String, Vec<PartitionMetadata>)>,
    },
    /// InitProducerIdResponse.
    InitProducerId {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
    },
    /// OffsetForLeaderEpochResponse.
    OffsetForLeaderEpoch {
        /// The partition.
        tp: TopicIdPartition,
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The largest epoch <= the requested one the leader knows.
        leader_epoch: i32,
        /// Where that epoch ends on the leader.
        end_offset: u64,
    },
    /// ListOffsetsResponse.
    ListOffsets {
        /// The partition.
        tp: TopicIdPartition,
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The offset found.
        offset: u64,
    },
    /// FindCoordinatorResponse.
    FindCoordinator {
        /// Why it failed, if it did (COORDINATOR_NOT_AVAILABLE).
        error: Option<Errors>,
        /// The coordinator's broker id (-1 on error).
        node_id: i32,
    },
    /// The coordinator's answer to a [`KafkaRequest::Group`] (boxed, as
    /// the request).
    Group(Box<CoordinatorResponse>),
    /// AddPartitionsToTxnResponse (the one error of all its partitions).
    AddPartitionsToTxn {
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
    /// AddOffsetsToTxnResponse.
    AddOffsetsToTxn {
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
    /// EndTxnResponse.
    EndTxn {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The producer id to go on with (v5+; -1 on error).
        producer_id: i64,
        /// Its epoch, bumped under transactions v2 (v5+; -1 on error).
        producer_epoch: i16,
    },
    /// WriteTxnMarkersResponse: per producer and partition.
    WriteTxnMarkers {
        /// Every partition of every marker asked.
        results: Vec<TxnMarkerResult>,
    },
    /// AddPartitionsToTxnResponse v4+, to a partition leader.
    AddPartitionsToTxnForBroker {
        /// An error for the whole request, if any.
        error: Option<Errors>,
        /// One per transaction asked.
        results: Vec<AddPartitionsToTxnResult>,
    },
}

/// Which of its process's connections to a broker a request travels on
/// (and its response back). Kafka opens one connection per NetworkClient
/// and node; a broker's `SocketServer` takes one request of a connection at
/// a time, so the kind matters where one process has several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Connection {
    /// A KafkaProducer's (every request its Sender makes, the transaction
    /// coordinator's included).
    Producer,
    /// A KafkaConsumer's connection to a node (metadata, ListOffsets, fetches).
    Consumer,
    /// A KafkaConsumer's connection to its group coordinator (Kafka names
    /// that node `Integer.MAX_VALUE - id`, so it is a connection of its own).
    GroupCoordinator,
    /// A channel to the controllers (an Admin client's, a broker's
    /// NodeToControllerChannelManager): ksim's controllers take requests as
    /// they come.
    Controller,
    /// A broker's ReplicaFetcherThread to a leader.
    ReplicaFetcher,
    /// A transaction coordinator's TransactionMarkerChannelManager.
    TransactionMarker,
    /// A partition leader's AddPartitionsToTxnManager.
    AddPartitionsToTxn,
}

/// A request or response with the client's correlation id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KafkaMsg {
    /// A request.
    Request {
        /// The connection it travels on.
        connection: Connection,
        /// Echoed in the response.
        correlation_id: u64,
        /// The request.
        request: KafkaRequest,
    },
    /// A response.
    Response {
        /// The connection of its request.
        connection: Connection,
        /// The request's correlation id.
        correlation_id: u64,
        /// The response.
        response: KafkaResponse,
    },
    /// The client closed this connection (its TCP FIN; Kafka's
    /// NetworkClient closes a connection on which a request timed out).
    Closed {
        /// The connection closed.
        connection: Connection,
    },
}

/// Everything that travels between processes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// KRaft quorum traffic and the brokers' metadata fetches.
    Raft(RaftMessage),
    /// Requests to controllers and their responses.
    Controller(ControllerMsg),
    /// Data-path and group requests to brokers and their responses.
    Kafka(KafkaMsg),
}

impl From<RaftMessage> for Message {
    fn from(m: RaftMessage) -> Self {
        Message::Raft(m)
    }
}

impl From<ControllerMsg> for Message {
    fn from(m: ControllerMsg) -> Self {
        Message::Controller(m)
    }
}

impl From<KafkaMsg> for Message {
    fn from(m: KafkaMsg) -> Self {
        Message::Kafka(m)
    }
}
