//! The reference webprofile server: a faithful, fault-injectable stand-in
//! for the service under test, used for self-tests, the canary and
//! demonstrations. It shares the store and hashing with the harness and the
//! contract's vocabulary (paths, credentials), and imports nothing else of it.

pub mod cache;
pub mod faults;
pub mod flavor;
pub mod rate_limit;
pub mod server;

pub use faults::Faults;
pub use flavor::{Flavor, Flavors};
pub use server::{serve_forever, spawn, AccessLog, ReferenceConfig, RunningInstance};
