//! The knowledge base of developer commands (`data/commands.yaml`): what a program does, kept as
//! data so that adding a tool is an edit to a table, not to code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cordon_core::EffectType;
use serde::Deserialize;

/// The knowledge base as people edit it (the tests hold it equal to `BUILTIN_JSON`).
#[cfg(test)]
const BUILTIN: &str = include_str!("../data/commands.yaml");
/// `BUILTIN` as JSON, made by build.rs.
const BUILTIN_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/commands.json"));

/// What a command's non-option arguments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operands {
    None,
    Read,
    Write,
}

/// One entry of the knowledge base. Every field is optional; a subcommand inherits from its parent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub effect: Option<EffectType>,
    pub network: Option<bool>,
    pub operands: Option<Operands>,
    pub skip_operands: Option<usize>,
    pub last_operand: Option<Operands>,
    pub default_operand: Option<String>,
    #[serde(default)]
    pub value_options: Vec<String>,
    #[serde(default)]
    pub read_options: Vec<String>,
    #[serde(default)]
    pub write_options: Vec<String>,
    #[serde(default)]
    pub write_flags: Vec<String>,
    pub writes_cwd: Option<bool>,
    #[serde(default)]
    pub chdir_options: Vec<String>,
    #[serde(default)]
    pub also_writes: Vec<String>,
    pub destructive: Option<bool>,
    #[serde(default)]
    pub destructive_flags: Vec<String>,
    #[serde(default)]
    pub inline_code_flags: Vec<String>,
    pub text_args: Option<bool>,
    /// `KEY=PATH` operands (dd's `if=`/`of=`) and whether the path is read or written.
    #[serde(default)]
    pub flag_aliases: BTreeMap<String, String>,
    #[serde(default)]
    pub key_value_paths: BTreeMap<String, Operands>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub subcommands: BTreeMap<String, CommandSpec>,
}

impl CommandSpec {
    /// This spec refined by a subcommand's: set fields override, lists accumulate.
    pub fn refined_by(&self, sub: &CommandSpec) -> CommandSpec {
        fn join(a: &[String], b: &[String]) -> Vec<String> {
            let mut out = a.to_vec();
            out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            out
        }
        CommandSpec {
            effect: sub.effect.or(self.effect),
            network: sub.network.or(self.network),
            operands: sub.operands.or(self.operands),
            skip_operands: sub.skip_operands.or(self.skip_operands),
            last_operand: sub.last_operand.or(self.last_operand),
            default_operand: sub
                .default_operand
                .clone()
                .or_else(|| self.default_operand.clone()),
            value_options: join(&self.value_options, &sub.value_options),
            read_options: join(&self.read_options, &sub.read_options),
            write_options: join(&self.write_options, &sub.write_options),
            write_flags: join(&self.write_flags, &sub.write_flags),
            writes_cwd: sub.writes_cwd.or(self.writes_cwd),
            chdir_options: join(&self.chdir_options, &sub.chdir_options),
            also_writes: join(&self.also_writes, &sub.also_writes),
            destructive: sub.destructive.or(self.destructive),
            destructive_flags: join(&self.destructive_flags, &sub.destructive_flags),
            inline_code_flags: join(&self.inline_code_flags, &sub.inline_code_flags),
            text_args: sub.text_args.or(self.text_args),
            flag_aliases: {
                let mut merged = self.flag_aliases.clone();
                merged.extend(sub.flag_aliases.clone());
                merged
            },
            key_value_paths: {
                let mut merged = self.key_value_paths.clone();
                merged.extend(sub.key_value_paths.clone());
                merged
            },
            tags: join(&self.tags, &sub.tags),
            subcommands: sub.subcommands.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    pub commands: BTreeMap<String, CommandSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("{0}")]
    Yaml(#[from] crate::yaml::YamlError),
    #[error("knowledge base: {0}")]
    Shape(String),
}

impl Knowledge {
    /// Parses a knowledge base in the `data/commands.yaml` format.
    pub fn parse(text: &str) -> Result<Knowledge, KnowledgeError> {
        let value = crate::yaml::parse(text)?;
        serde_json::from_value(value).map_err(|e| KnowledgeError::Shape(e.to_string()))
    }

    /// The knowledge base shipped with cordon. A unit test proves it parses; if it ever did not,
    /// every command would be unknown, which policies ask about rather than allow.
    ///
    /// It is read from the JSON the build script made of `data/commands.yaml` with the same YAML
    /// reader (build.rs): JSON is several times cheaper to read in every new process.
    pub fn builtin() -> &'static Knowledge {
        static BUILTIN_KNOWLEDGE: OnceLock<Knowledge> = OnceLock::new();
        BUILTIN_KNOWLEDGE.get_or_init(|| serde_json::from_str(BUILTIN_JSON).unwrap_or_default())
    }

    pub fn get(&self, program: &str) -> Option<&CommandSpec> {
        self.commands.get(program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_knowledge_base_parses() {
        let knowledge = Knowledge::parse(BUILTIN).unwrap();
        assert!(
            knowledge.commands.len() > 150,
            "{}",
            knowledge.commands.len()
        );
        let git = knowledge.get("git").unwrap();
        assert_eq!(git.subcommands["push"].network, Some(true));
        assert_eq!(
            knowledge.get("python3").unwrap().inline_code_flags,
            vec!["-c".to_string()]
        );
    }

    #[test]
    fn the_json_the_build_made_is_the_yaml() {
        let from_yaml = crate::yaml::parse(BUILTIN).unwrap();
        let from_json: serde_json::Value = serde_json::from_str(BUILTIN_JSON).unwrap();
        assert_eq!(from_yaml, from_json);
        assert_eq!(
            Knowledge::builtin().commands.len(),
            Knowledge::parse(BUILTIN).unwrap().commands.len()
        );
    }
}
