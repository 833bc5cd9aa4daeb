//! Consumer groups: where a group's coordinator lives, and (coming) the
//! coordinator, the classic rebalance protocol and the assignors.

pub mod assignor;
pub mod classic;
pub mod coordinator;
pub(crate) mod java;
pub mod messages;
pub(crate) mod offset_json;
pub mod offsets_topic;
pub mod records;

#[cfg(test)]
mod tests_classic;
#[cfg(test)]
mod tests_coordinator;
