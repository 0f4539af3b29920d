//! `cordon serve [--listen 127.0.0.1:8731] [--key K] [--identity NAME]`: cordon's long-running
//! process. It runs the local approval web page (crate::web), the gateway on the home's Unix
//! socket, and, when the home's witness.json names a witness, the pusher that sends the journal's
//! new entries to it (crate::witnessing). Each runs on its own thread and the command lasts until
//! they all end; another starts beside them by pushing one more entry onto `listeners` in
//! [`run`].

use std::net::SocketAddr;
use std::thread::JoinHandle;

use crate::approving::{home, Approver};
use crate::exit::{self, CliError};
use crate::web::WebPage;
use crate::witnessing::{self, PushSource, WitnessTarget};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of the web page; loopback only. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8731")]
    pub listen: SocketAddr,
    /// The approver key the page signs approvals with; default: the home's key.
    #[arg(long)]
    pub key: Option<std::path::PathBuf>,
    /// The approver identity; default: the one the approvers file lists for the key.
    #[arg(long)]
    pub identity: Option<String>,
}

/// A running listener: its name (for error messages) and its thread.
type Listener = (&'static str, JoinHandle<Result<(), String>>);

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = home()?;
    if !args.listen.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "--listen {}: cordon serve listens on loopback only (127.0.0.1 or ::1)",
            args.listen
        )));
    }
    let approver =
        Approver::load(&home, args.key.as_deref(), args.identity.as_deref()).map_err(|e| e.message);
    let page = WebPage::bind(args.listen, home.clone(), approver).map_err(CliError::usage)?;
    if let Some(problem) = page.approver_problem() {
        crate::output::say!("cordon serve: approving is disabled: {problem}");
    }
    crate::output::say_out!("cordon serve: approvals page at {}", page.url_with_token());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let mut listeners: Vec<Listener> = Vec::new();
    listeners.push(("web page", std::thread::spawn(move || page.serve())));
    // More listeners go here, each as ("name", thread handle).
    let gateway = crate::home::Home::from_env()
        .ok_or_else(|| CliError::usage("no config home (set CORDON_HOME or HOME)"))
        .and_then(|home| crate::gateway::server::Gateway::bind(&home).map_err(CliError::usage))?;
    crate::output::say_out!("cordon serve: gateway on {}", gateway.path().display());
    let _ = std::io::stdout().flush();
    listeners.push(("gateway", std::thread::spawn(move || gateway.serve())));
    if let Some(pusher) = pusher(&home)? {
        listeners.push(("witness pusher", pusher));
    }

    let mut failed = None;
    for (name, handle) in listeners {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failed = Some(format!("the {name} stopped: {why}")),
            Err(_) => failed = Some(format!("the {name} crashed")),
        }
    }
    match failed {
        Some(why) => Err(CliError::internal(why)),
        None => Ok(exit::OK),
    }
}

/// The thread that pushes the home's journal to the witness witness.json names, if it names one.
/// A witness.json that is not valid stops `cordon serve` before it serves: a machine the team
/// believes witnessed must not run unwitnessed in silence.
fn pusher(home: &crate::home::Home) -> Result<Option<JoinHandle<Result<(), String>>>, CliError> {
    let Some(witness) = WitnessTarget::configured(home)? else {
        return Ok(None);
    };
    let source = PushSource::home(home)?;
    crate::output::say_out!(
        "cordon serve: pushing {} to the witness {} at {} every {} s",
        source.journal.display(),
        witness.key.name,
        witness.url,
        witness.push_interval.as_secs()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let machine = crate::home::machine_name();
    Ok(Some(std::thread::spawn(move || {
        witnessing::push_continuously(source, witness, machine, |line| {
            crate::output::say!("cordon serve: {line}");
        })
    })))
}
