//! `cordon-sandbox-run [--hardened] [--read P]... [--write P]... [--net allow|proxied]
//! [--allow-host ENTRY]... [--resolve NAME=ADDR]... [--timeout S] [--report] [--repeat N]
//! [--no-cgroup] [--workspace DIR [--home DIR] [--never P]... [--read-only P]... [--cache P]...
//! [--cache-layers DIR]]
//! -- ARGV [:: ARGV]...`: runs one command (`::` separates pipeline segments) through
//! the supervisor with output passed through. Used by the whole-process benchmark and by tests
//! that need the supervisor in its own process (e.g. run as an unprivileged user).

use std::process::ExitCode;
use std::time::Duration;

use cordon_core::hosts::HostPattern;
use cordon_sandbox::{run, Confinement, Egress, Network, Plan, PlannedCommand, RunOptions};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut confinement = Confinement::local();
    let mut timeout = Duration::from_secs(60);
    let mut print_report = false;
    let mut repeat = 0u32;
    let mut options = RunOptions::default();
    let mut extra_read = Vec::new();
    let mut extra_write = Vec::new();
    let mut network = Network::Deny;
    // `--allow-host` entries and `--resolve` overrides: a proxied network (`egress/`).
    let mut egress = Egress::default();
    let mut envelope: Option<cordon_sandbox::EnvelopeBuilder> = None;
    while let Some(a) = args.next() {
        match a.to_str() {
            // Hardened within an envelope: the workspace, the home listable, these closed.
            Some("--workspace") => {
                envelope = args.next().map(cordon_sandbox::Envelope::builder);
            }
            Some("--home") => envelope = envelope.zip(args.next()).map(|(e, h)| e.home(h)),
            Some("--never") => envelope = envelope.zip(args.next()).map(|(e, p)| e.never([p])),
            Some("--read-only") => {
                envelope = envelope.zip(args.next()).map(|(e, p)| e.read_only([p]));
            }
            Some("--cache") => envelope = envelope.zip(args.next()).map(|(e, p)| e.caches([p])),
            Some("--cache-layers") => {
                envelope = envelope.zip(args.next()).map(|(e, p)| e.cache_layers(p));
            }
            Some("--hardened") => confinement = Confinement::hardened(),
            Some("--read") => extra_read.extend(args.next()),
            Some("--write") => extra_write.extend(args.next()),
            Some("--net") => match args.next().as_ref().and_then(|v| v.to_str()) {
                Some("allow") => network = Network::Allow,
                Some("proxied") => network = Network::Proxied(Egress::default()),
                _ => network = Network::Deny,
            },
            Some("--allow-host") => {
                let entry = args.next().unwrap_or_default();
                match entry.to_string_lossy().parse::<HostPattern>() {
                    Ok(p) => {
                        let entries = egress.allowlist.entries().iter().cloned().chain([p]);
                        egress.allowlist = cordon_core::hosts::HostList::new(entries);
                        network = Network::Proxied(Egress::default());
                    }
                    Err(e) => {
                        eprintln!("cordon-sandbox-run: --allow-host: {e}");
                        return ExitCode::from(64);
                    }
                }
            }
            Some("--resolve") => {
                let text = args
                    .next()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let parsed = text
                    .split_once('=')
                    .and_then(|(name, addr)| Some((name, addr.parse().ok()?)));
                match parsed.map(|(name, addr)| egress.clone().resolve(name, addr)) {
                    Some(Ok(e)) => egress = e,
                    _ => {
                        eprintln!("cordon-sandbox-run: --resolve takes NAME=ADDRESS, got {text:?}");
                        return ExitCode::from(64);
                    }
                }
            }
            Some("--timeout") => {
                let secs = args
                    .next()
                    .and_then(|s| s.to_str()?.parse().ok())
                    .unwrap_or(60.0);
                timeout = Duration::from_secs_f64(secs);
            }
            Some("--report") => print_report = true,
            // Tree kill by subreaper scan instead of a per-command cgroup (for measurement).
            Some("--no-cgroup") => options.use_cgroup = false,
            // Without the exec recorder (for measuring what recording costs).
            Some("--no-record") => options.record_processes = false,
            // In-process timing: run the plan N more times and print the mean wall time per run.
            Some("--repeat") => {
                repeat = args
                    .next()
                    .and_then(|s| s.to_str()?.parse().ok())
                    .unwrap_or(0);
            }
            Some("--") => break,
            _ => {
                eprintln!("usage: cordon-sandbox-run [--hardened] [--read P] [--write P] [--net allow|proxied] [--allow-host ENTRY] [--resolve NAME=ADDR] [--timeout S] [--report] [--workspace DIR [--home DIR] [--never P] [--read-only P]] -- ARGV [:: ARGV]");
                return ExitCode::from(64);
            }
        }
    }
    if let Some(builder) = envelope {
        match builder.build() {
            Ok(envelope) => confinement = Confinement::within(envelope),
            Err(e) => {
                eprintln!("cordon-sandbox-run: {e}");
                return ExitCode::from(65);
            }
        }
    }
    confinement.read_paths = extra_read.into_iter().map(Into::into).collect();
    confinement.write_paths = extra_write.into_iter().map(Into::into).collect();
    if let Network::Proxied(_) = network {
        network = Network::Proxied(egress);
    }
    if confinement.mode == cordon_sandbox::Mode::Hardened {
        confinement.network = network;
    }
    let mut segments = vec![Vec::new()];
    for a in args {
        if a == "::" {
            segments.push(Vec::new());
        } else if let Some(last) = segments.last_mut() {
            last.push(a);
        }
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let mut command = PlannedCommand::new("cmd", Vec::<String>::new(), cwd).timeout(timeout);
    command.pipeline = segments;
    // No argv at all: an empty plan, which measures preparation alone (with --repeat).
    let commands = if command.pipeline.iter().all(Vec::is_empty) {
        Vec::new()
    } else {
        vec![command]
    };
    let plan = Plan { commands };
    if repeat > 0 {
        let start = std::time::Instant::now();
        for _ in 0..repeat {
            let _ = run(&plan, &confinement, &options);
        }
        eprintln!("mean per run: {:?}", start.elapsed() / repeat);
    }
    match run(&plan, &confinement, &options) {
        Ok(report) => {
            if print_report {
                eprintln!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            }
            let code = report.exit_code;
            ExitCode::from(if code < 0 {
                (128 - code) as u8
            } else {
                code as u8
            })
        }
        Err(e) => {
            eprintln!("cordon-sandbox-run: {e}");
            ExitCode::from(126)
        }
    }
}
