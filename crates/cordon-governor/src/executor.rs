//! The "execute" step's seam: the pipeline hands a planned command to an [`Executor`]. The real
//! one is `cordon_sandbox` ([`Sandbox`]); tests use one that records the plans and answers with
//! canned reports, so the pipeline runs in process without starting anything.

use std::sync::Arc;

use cordon_sandbox::{CommandReport, Confinement, OutputFilter, Plan, RunOptions, WriteObserver};
use serde_json::Value;

/// What the executor ran: the command's report and what the kernel enforced for it.
#[derive(Debug, Clone)]
pub struct Executed {
    pub report: CommandReport,
    /// The sandbox's enforcement report, as the receipt records it (`x-cordon.sandbox`).
    pub enforcement: Value,
}

/// Runs one planned command under its confinement.
pub trait Executor {
    /// `Err` is one sentence: the command could not be started as planned (nothing ran).
    fn execute(&mut self, plan: &Plan, confinement: &Confinement) -> Result<Executed, String>;

    /// Every stream of every command executed from now on goes through `filter` (the run's
    /// secret redaction) before it is relayed or captured; `None` passes output as it is. The
    /// pipeline sets it once per run, before the first command.
    fn filter_output(&mut self, filter: Option<Arc<dyn OutputFilter>>);

    /// Every command executed from now on tells `observer` of each name before the sandbox's
    /// write broker changes it, and a call the observer refuses is refused (an observed
    /// checkpoint, crate::observed); `None` stops telling. An executor that cannot must refuse
    /// to execute while an observer is set, never run unobserved.
    fn observe_writes(&mut self, observer: Option<Arc<dyn WriteObserver>>);
}

/// The real executor: `cordon_sandbox::run`, with the commands' output passed through.
#[derive(Debug, Default)]
pub struct Sandbox {
    pub options: RunOptions,
}

impl Executor for Sandbox {
    fn execute(&mut self, plan: &Plan, confinement: &Confinement) -> Result<Executed, String> {
        let report = cordon_sandbox::run(plan, confinement, &self.options)
            .map_err(|e| format!("sandbox: {e}"))?;
        let enforcement = serde_json::to_value(&report.enforcement)
            .map_err(|e| format!("the sandbox's report cannot be recorded: {e}"))?;
        let command = report
            .commands
            .into_iter()
            .next()
            .ok_or("the sandbox returned no command report")?;
        Ok(Executed {
            report: command,
            enforcement,
        })
    }

    fn filter_output(&mut self, filter: Option<Arc<dyn OutputFilter>>) {
        self.options.output_filter = filter;
    }

    /// The sandbox refuses a run with an observer it cannot honour (no broker: local mode, a
    /// kernel before 5.14) with `Error::Unenforceable`.
    fn observe_writes(&mut self, observer: Option<Arc<dyn WriteObserver>>) {
        self.options.write_observer = observer;
    }
}
