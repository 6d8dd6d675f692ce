//! The reference webprofile server: a faithful, fault-injectable stand-in
//! for the service under test, used for self-tests and demonstrations.

pub mod cache;
pub mod faults;
pub mod hashing;
pub mod memory_store;
pub mod mongo_store;
pub mod server;
pub mod store;

pub use faults::Faults;
pub use hashing::HashCost;
pub use memory_store::MemoryStore;
pub use mongo_store::MongoStore;
pub use server::{serve_forever, spawn, AccessLog, Credentials, ReferenceConfig, RunningInstance};
pub use store::{StoreError, TokenDoc, TokenStore};
