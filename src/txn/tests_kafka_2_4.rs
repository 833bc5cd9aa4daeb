//! The transaction coordinator of Kafka 2.4.1 against 2.5.0's: KIP-360's
//! InitProducerId v3 (KAFKA-8710, `transactional_epoch_bump`), with the
//! producer id and epoch of a producer bumping its epoch itself.

use std::collections::BTreeMap;

use super::coordinator::{TransactionCoordinator, TxnCoordinatorConfig, TxnResponse};
use super::tests_coordinator::{appends, init, ok_init, replies, Out, TIMEOUT};
use crate::errors::Errors;

fn coordinator(kafka_2_5: bool) -> TransactionCoordinator<u32> {
    let mut c = TransactionCoordinator::new(TxnCoordinatorConfig {
        num_partitions: 1,
        transactional_epoch_bump: kafka_2_5,
        ..TxnCoordinatorConfig::default()
    });
    c.load(0, 7, BTreeMap::new(), &mut Vec::new());
    c
}

fn init_with(c: &mut TransactionCoordinator<u32>, expected: Option<(i64, i16)>) -> Out {
    let mut out = Vec::new();
    let mut allocate = || Ok(2000);
    c.handle_init_producer_id(5, "pay-0", TIMEOUT, expected, 10, &mut allocate, &mut out);
    out
}

/// 2.5.0 `prepareInitProducerIdTransit` checks the expected producer id
/// (`isValidProducerId`; ksim answers PRODUCER_FENCED, 2.5.0
/// INVALID_PRODUCER_EPOCH). 2.4.1's `prepareInitProduceIdTransit` has none
/// to check (InitProducerId v0-2 carries none) and bumps the epoch.
#[test]
fn before_kip_360_init_producer_id_reads_no_producer_id_or_epoch() {
    for kafka_2_5 in [true, false] {
        let mut c = coordinator(kafka_2_5);
        assert_eq!(init(&mut c, 0, 0), ok_init(0));
        // Another producer id than "pay-0"'s (1001).
        let out = init_with(&mut c, Some((999, 0)));
        if kafka_2_5 {
            assert!(appends(&out).is_empty(), "{out:?}");
            assert_eq!(
                replies(&out),
                [(
                    5,
                    TxnResponse::InitProducerId {
                        error: Some(Errors::ProducerFenced),
                        producer_id: -1,
                        producer_epoch: -1,
                    }
                )]
            );
        } else {
            let a = appends(&out);
            assert_eq!(a.len(), 1, "{out:?}");
            assert_eq!((a[0].1.producer_id, a[0].1.producer_epoch), (1001, 1));
        }
    }
}
