//! Kafka clients. So far the admin client that creates the scenario's topics.

mod admin;

pub use admin::{AdminClient, AdminHost, AdminObs, AdminTimer};
