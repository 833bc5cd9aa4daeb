//! `exactly_once`: every acknowledged input record of a consume-transform-
//! produce pipeline has exactly one output record in the committed output —
//! none lost, none twice. The final logs are read as a read_committed
//! consumer reads them (markers applied): an input is every record of the
//! input topic readable by read_committed at the end (acknowledged, and
//! committed if transactional); an output is a record of the output topic
//! readable by read_committed that carries the input's record id.

use std::collections::BTreeMap;

use sim::Nanos;

use super::data::FinalState;
use super::Violation;
use crate::client::producer_of;
use crate::protocol::TopicPartition;

/// Names of the pipeline invariants, as reports print them.
pub const PIPELINE_INVARIANTS: [&str; 1] = ["exactly_once"];

/// One `[[pipelines]]` entry as the checker needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPipeline {
    /// The consumer group (the pipeline's name in reports).
    pub group: String,
    /// `processing.guarantee`, as Kafka writes it.
    pub guarantee: String,
    /// Input topic and its partition count.
    pub input: (String, u32),
    /// Output topic and its partition count.
    pub output: (String, u32),
}

/// Where records are, read_committed, in the final logs of `topic`: id ->
/// every (partition, offset) holding it.
fn committed_records(
    end: &FinalState,
    (topic, partitions): &(String, u32),
) -> BTreeMap<u64, Vec<(u32, u64)>> {
    let mut out: BTreeMap<u64, Vec<(u32, u64)>> = BTreeMap::new();
    for p in 0..*partitions {
        let Some(log) = end.logs.get(&TopicPartition::new(topic, p)) else {
            continue;
        };
        let committed = log.committed_view();
        for (i, &id) in log.ids().iter().enumerate() {
            if committed.get(i) == Some(&true) && id != crate::check::data::COMPACTED_ID {
                out.entry(id).or_default().push((p, log.start() + i as u64));
            }
        }
    }
    out
}

fn show(id: u64) -> String {
    let (p, s) = producer_of(id);
    format!("p{p}-{s}")
}

/// `exactly_once` over every pipeline, against the logs after the settle phase.
pub fn exactly_once(at: Nanos, pipelines: &[CheckedPipeline], end: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    for pipeline in pipelines {
        let inputs = committed_records(end, &pipeline.input);
        let outputs = committed_records(end, &pipeline.output);
        let mut lost = Vec::new();
        let mut twice = Vec::new();
        // An output retention may have removed is not judged lost.
        let output_whole = end
            .logs
            .iter()
            .filter(|(tp, _)| tp.topic == pipeline.output.0)
            .all(|(_, l)| l.start() == 0 && !l.compacted);
        for (&id, places) in &inputs {
            match outputs.get(&id).map_or(0, Vec::len) {
                0 if !output_whole => {}
                0 => lost.push((id, places[0])),
                1 => {}
                n => twice.push((id, n, outputs[&id].clone())),
            }
        }
        let (input, output) = (&pipeline.input.0, &pipeline.output.0);
        let name = format!("pipeline {} ({})", pipeline.group, pipeline.guarantee);
        if let Some(&(id, (p, offset))) = lost.first() {
            found.push(
                Violation::new(
                    "exactly_once",
                    at,
                    format!(
                        "{name}: {} of {} input records of {input} have no committed output in {output}, the first {} at {input}-{p} offset {offset}",
                        lost.len(),
                        inputs.len(),
                        show(id)
                    ),
                )
                .about(format!("{input}-{p}"), Some(offset), None),
            );
        }
        if let Some((id, n, places)) = twice.first() {
            let at_list: Vec<String> = places
                .iter()
                .map(|(p, o)| format!("{output}-{p} offset {o}"))
                .collect();
            let (p, offset) = places[1];
            found.push(
                Violation::new(
                    "exactly_once",
                    at,
                    format!(
                        "{name}: {} of {} input records of {input} have more than one committed output in {output}, the first {} {n} times ({})",
                        twice.len(),
                        inputs.len(),
                        show(*id),
                        at_list.join(", ")
                    ),
                )
                .about(format!("{output}-{p}"), Some(offset), None),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::check::data::FinalLog;
    use crate::client::record_value;
    use crate::log::{Record, RecordBatch};

    fn log(ids: &[u64]) -> FinalLog {
        let records: Vec<Record> = ids
            .iter()
            .map(|&id| Record {
                key: None,
                value: Some(record_value(id, 8)),
                timestamp_ms: 0,
                headers: Vec::new(),
            })
            .collect();
        let batch = RecordBatch::of(0, 0, (-1, -1, -1), &records);
        FinalLog::new(vec![Rc::new(batch)], 0, ids.len() as u64, Vec::new())
    }

    fn check(input: &[u64], output: &[u64]) -> Vec<Violation> {
        let mut end = FinalState::default();
        end.logs
            .insert(TopicPartition::new("payments", 0), log(input));
        end.logs
            .insert(TopicPartition::new("ledger", 0), log(output));
        let pipeline = CheckedPipeline {
            group: "etl".to_owned(),
            guarantee: "exactly_once_v2".to_owned(),
            input: ("payments".to_owned(), 1),
            output: ("ledger".to_owned(), 1),
        };
        exactly_once(0, &[pipeline], &end)
    }

    #[test]
    fn one_output_per_input_holds() {
        assert!(check(&[1, 2, 3], &[3, 1, 2]).is_empty());
    }

    #[test]
    fn a_lost_input_and_a_duplicated_one_are_both_reported() {
        let found = check(&[1, 2, 3], &[1, 1, 3]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0]
                .detail
                .contains("1 of 3 input records of payments have no committed output"),
            "{}",
            found[0].detail
        );
        assert!(
            found[1]
                .detail
                .contains("p0-1 2 times (ledger-0 offset 0, ledger-0 offset 1)"),
            "{}",
            found[1].detail
        );
    }
}
