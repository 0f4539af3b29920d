//! `cordon doctor [--json]`: which kernel features exist here and which modes and guarantees work.
//!
//! The probe lives in `cordon-sandbox` (it forks throwaway children to try namespaces for real);
//! this command only prints it. Exit 0 when hardened mode can run here, 1 when it cannot.

use cordon_sandbox::KernelReport;

use crate::exit::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let report = cordon_sandbox::doctor();
    let hardened = hardened_available(&report);
    if args.json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| CliError::internal(format!("cannot serialize the report: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "modes".into(),
                serde_json::json!({ "local": true, "hardened": hardened }),
            );
        }
        crate::output::say_out!("{value}");
    } else {
        crate::output::say_out!(
            "kernel {} ({}), euid {}, Landlock ABI {}",
            report.kernel,
            report.arch,
            report.euid,
            report.landlock_abi
        );
        crate::output::say_out!(
            "modes: local yes; hardened {}",
            if hardened {
                "yes"
            } else {
                "NO (needs Landlock ABI >= 3 and seccomp filters)"
            }
        );
        for g in &report.guarantees {
            crate::output::say_out!(
                "  [{}] {}: {}",
                if g.available { "yes" } else { " no" },
                g.name,
                g.detail
            );
        }
    }
    Ok(if hardened { exit::OK } else { exit::DENY })
}

fn hardened_available(report: &KernelReport) -> bool {
    report.landlock_abi >= cordon_sandbox::MIN_LANDLOCK_ABI && report.seccomp_filter
}
