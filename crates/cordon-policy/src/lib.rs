//! Policies and decisions: loading CSC policy files, and the pure function from
//! (contract, policy) to decision.

#[cfg(feature = "cedar")]
pub mod cedar;
pub mod detect;
pub mod egress;
pub mod enforcement;
pub mod engine;
pub mod envelope;
pub mod facts;
pub mod file_tools;
pub(crate) mod flag_sets;
pub mod grants;
pub mod import;
pub mod input;
pub mod knowledge;
pub mod launch;
pub mod load;
pub mod native;
pub mod paths;
pub mod shell;
pub mod synth;
pub mod toolchains;
pub mod yaml;

pub use engine::{evaluate, Judgement};
pub use load::{load_bytes, load_file, LoadError};
