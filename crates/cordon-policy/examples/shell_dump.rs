//! Prints what the shell front end makes of each argument: `cargo run --example shell_dump -- 'TEXT'`.

use cordon_policy::shell::{self, Session};

fn main() {
    let session = Session {
        cwd: "/work/project".to_string(),
        home: "/home/agent".to_string(),
    };
    for text in std::env::args().skip(1) {
        let script = shell::parse(&text, &session);
        println!("== {text}");
        for unresolved in &script.unresolved {
            println!("   script unresolved: {unresolved}");
        }
        for command in &script.commands {
            println!(
                "   argv={:?} cwd={:?} wrappers={:?} redirects={:?} stdin={:?} priv={} origin={:?} unresolved={:?} static={:?}",
                command.argv,
                command.cwd,
                command.wrappers,
                command.redirects.iter().map(|r| format!("{:?}:{}", r.access, r.path)).collect::<Vec<_>>(),
                command.stdin,
                command.privileged,
                command.origin,
                command.unresolved,
                command.words.iter().map(|w| w.is_static).collect::<Vec<_>>()
            );
        }
    }
}
