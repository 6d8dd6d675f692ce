//! Which real service the reference server answers like: the Go shim (the
//! contract's default) or the Node service it replaces. A flavor is a
//! dialect: the one table of `contract::dialect` says what each answers, so
//! the reference answers exactly what the dialect checks expect.

pub use crate::contract::Dialect as Flavor;
