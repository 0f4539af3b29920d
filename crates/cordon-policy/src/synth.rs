//! Contract synthesis: the CSC contract for what a shell text (or an argv) would run, built from
//! the facts the policy judged. It is what `cordon explain` shows and what a receipt records.

use cordon_core::contract::{
    Actor, ApprovalMode, Command, Contract, EffectType, Exec, NetworkMode, RiskClass,
    CONTRACT_VERSION,
};
use cordon_core::limits;

use crate::facts::Facts;

/// Who asks, and the limits the caller sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub agent_id: String,
    pub session_id: String,
    pub initiating_user: String,
    pub timeout_sec: u32,
}

impl Requester {
    /// The contract's actor: who asked, through `cordon exec`.
    pub fn actor(&self) -> Actor {
        Actor {
            agent_id: self.agent_id.clone(),
            session_id: self.session_id.clone(),
            initiating_user: self.initiating_user.clone(),
            delegation_scope: "cordon exec".to_string(),
        }
    }

    /// A CSC command that runs `argv` in `cwd`, reading and writing `paths` (reads, writes), with
    /// full network or none, under this requester's timeout clamped to the schema's 1..=86400 s.
    /// It passes no environment and no secrets.
    pub fn command(
        &self,
        id: String,
        argv: Vec<String>,
        cwd: String,
        paths: (Vec<String>, Vec<String>),
        network: bool,
        effect: EffectType,
    ) -> Command {
        Command {
            id,
            exec: Some(Exec { argv }),
            pipeline: None,
            cwd,
            read_paths: paths.0,
            write_paths: paths.1,
            network: if network {
                NetworkMode::Full
            } else {
                NetworkMode::Deny
            },
            env_allow: Vec::new(),
            secret_refs: Vec::new(),
            timeout_sec: self.timeout_sec.clamp(1, 86_400),
            proposed_effect_type: effect,
        }
    }
}

/// The contract's intent: the agent's text, cut to stay within the schema's length.
pub fn intent(text: &str) -> String {
    let intent: String = text.chars().take(990).collect();
    if intent.trim().is_empty() {
        "run a command".to_string()
    } else {
        format!("run: {intent}")
    }
}

impl Default for Requester {
    fn default() -> Requester {
        Requester {
            agent_id: "agent".to_string(),
            session_id: "session".to_string(),
            initiating_user: "user".to_string(),
            timeout_sec: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    #[error("the text runs no command")]
    Empty,
    #[error("the text runs {0} commands; a contract holds at most {max}", max = limits::MAX_COMMANDS)]
    TooManyCommands(usize),
    #[error("command {0} has no program, which a contract cannot hold")]
    EmptyArgument(usize),
    #[error("the synthesized contract is invalid: {0}")]
    Invalid(String),
}

pub(crate) fn risk_of(effect: EffectType, destructive: bool, privileged: bool) -> RiskClass {
    if privileged || matches!(effect, EffectType::Deploy | EffectType::TouchSecrets) {
        RiskClass::Critical
    } else if destructive || effect == EffectType::FetchExternal {
        RiskClass::High
    } else if effect == EffectType::Observe {
        RiskClass::Low
    } else {
        RiskClass::Medium
    }
}

pub(crate) fn rank(risk: RiskClass) -> u8 {
    match risk {
        RiskClass::Low => 0,
        RiskClass::Medium => 1,
        RiskClass::High => 2,
        RiskClass::Critical => 3,
    }
}

/// The argv as the contract records it. A CSC argv cannot hold an empty string, so an empty
/// argument (`grep -c '' f`) is recorded as its shell spelling `''`; the text itself runs under
/// bash (`launch`), so what runs is exactly what was judged.
fn record_argv(argv: &[String]) -> Vec<String> {
    argv.iter()
        .map(|a| {
            if a.is_empty() {
                "''".to_string()
            } else {
                a.clone()
            }
        })
        .collect()
}

/// One CSC command per simple command, each with its own cwd, paths, network and effect.
pub fn contract(text: &str, facts: &Facts, requester: &Requester) -> Result<Contract, SynthError> {
    if facts.commands.is_empty() {
        return Err(SynthError::Empty);
    }
    if facts.commands.len() > limits::MAX_COMMANDS {
        return Err(SynthError::TooManyCommands(facts.commands.len()));
    }
    let mut commands = Vec::with_capacity(facts.commands.len());
    let mut risk = RiskClass::Low;
    for (i, f) in facts.commands.iter().enumerate() {
        if f.argv.first().is_none_or(String::is_empty) {
            return Err(SynthError::EmptyArgument(i + 1));
        }
        let this = risk_of(f.effect, f.destructive, f.privileged);
        if rank(this) > rank(risk) {
            risk = this;
        }
        commands.push(requester.command(
            format!("c{}", i + 1),
            record_argv(&f.argv),
            f.started_in().to_string(),
            (
                f.granted_reads().cloned().collect(),
                // Targets that do not exist yet are granted through their judged ancestor.
                f.granted_writes().cloned().collect(),
            ),
            f.network,
            f.effect,
        ));
    }
    let digest =
        cordon_core::hash::sha256_hex(format!("{}\0{text}", facts.commands[0].cwd).as_bytes());
    let contract = Contract {
        version: CONTRACT_VERSION.to_string(),
        contract_id: format!("sh-{}", &digest[..16]),
        intent: intent(text),
        actor: requester.actor(),
        commands,
        risk_class: risk,
        approval_mode: ApprovalMode::PolicyOnly,
        expected_outputs: Vec::new(),
        justification: "synthesized by cordon from the agent's command text".to_string(),
    };
    // Round-trip through the CSC validator, so a synthesized contract is always one CSC accepts.
    let value = serde_json::to_value(&contract).map_err(|e| SynthError::Invalid(e.to_string()))?;
    Contract::from_value(value).map_err(|e| SynthError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::shell::{self, Session};

    #[test]
    fn an_empty_argument_is_recorded_by_its_spelling_and_the_contract_is_valid() {
        let session = Session {
            cwd: "/w".into(),
            home: "/h".into(),
        };
        let text = "grep -c '' f && [[ -f x ]]";
        let script = shell::parse(text, &session);
        let facts = crate::facts::of_script(&script, &session, Knowledge::builtin());
        let contract = contract(text, &facts, &Requester::default()).unwrap();
        let argv = |i: usize| contract.commands[i].argvs().next().unwrap().to_vec();
        assert_eq!(argv(0), ["grep", "-c", "''", "f"]);
        assert_eq!(argv(1), ["[[", "-f", "x", "]]"]);
        // The facts keep the argument as bash passes it.
        assert_eq!(facts.commands[0].argv[2], "");
    }

    #[test]
    fn a_program_that_moves_itself_is_started_where_the_shell_is() {
        let session = Session {
            cwd: "/w".into(),
            home: "/h".into(),
        };
        for (text, works_in) in [
            ("make -C mk", "/w/mk"),
            ("tar xzf a.tgz -C unz", "/w/unz"),
            ("make --directory=mk test", "/w/mk"),
            ("tar -Cunz -xf a.tar", "/w/unz"),
        ] {
            let script = shell::parse(text, &session);
            let facts = crate::facts::of_script(&script, &session, Knowledge::builtin());
            let command = &facts.commands[0];
            // Judged where it works, started where the shell is: the program makes the move
            // itself, so starting it in `works_in` would move it twice.
            assert_eq!(command.cwd, works_in, "{text}");
            assert_eq!(command.starts_in.as_deref(), Some("/w"), "{text}");
            let contract = contract(text, &facts, &Requester::default()).unwrap();
            assert_eq!(contract.commands[0].cwd, "/w", "{text}");
        }
        // The control: without the option both are the shell's directory.
        let script = shell::parse("make test", &session);
        let facts = crate::facts::of_script(&script, &session, Knowledge::builtin());
        assert_eq!(facts.commands[0].starts_in, None);
        let contract = contract("make test", &facts, &Requester::default()).unwrap();
        assert_eq!(contract.commands[0].cwd, "/w");
    }
}
