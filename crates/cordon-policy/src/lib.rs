//! Policies and decisions: loading CSC policy files, and the pure function from
//! (contract, policy) to decision.

pub mod engine;
pub mod input;
pub mod load;
pub mod paths;
pub mod yaml;

pub use engine::{evaluate, Judgement};
pub use load::{load_bytes, load_file, LoadError};
