//! The knowledge base of developer commands (`data/commands.yaml`): what a program does, kept as
//! data so that adding a tool is an edit to a table, not to code.
//!
//! The built-in base is read lazily: build.rs turns the YAML into a table of programs sorted by
//! name, each with its entry as JSON, and an entry is parsed the first time a command names its
//! program. A one-shot `cordon exec` of `true` reads one entry instead of about 230.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cordon_core::EffectType;
use serde::Deserialize;

/// The knowledge base as people edit it (the tests hold it equal to `BUILTIN_TABLE`).
#[cfg(test)]
const BUILTIN: &str = include_str!("../data/commands.yaml");
/// `BUILTIN` as (program, entry as JSON), sorted by program; made by build.rs.
const BUILTIN_TABLE: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/commands_table.rs"));

/// What a command's non-option arguments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operands {
    None,
    Read,
    Write,
}

/// One entry of the knowledge base. Every field is optional; a subcommand inherits from its parent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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

/// A knowledge base: a table parsed in full, or the built-in one, read entry by entry.
#[derive(Debug, Clone)]
pub struct Knowledge {
    entries: Entries,
}

#[derive(Debug, Clone)]
enum Entries {
    Parsed(BTreeMap<String, CommandSpec>),
    /// One cell per row of `BUILTIN_TABLE`, filled when its program is first asked for. A row
    /// that does not parse reads as no entry, so its program is unknown, which policies ask
    /// about rather than allow (a unit test proves every row parses).
    Builtin(Vec<OnceLock<Option<CommandSpec>>>),
}

impl Default for Knowledge {
    fn default() -> Knowledge {
        Knowledge {
            entries: Entries::Parsed(BTreeMap::new()),
        }
    }
}

/// The document shape of `data/commands.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    commands: BTreeMap<String, CommandSpec>,
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
        let document: Document =
            serde_json::from_value(value).map_err(|e| KnowledgeError::Shape(e.to_string()))?;
        Ok(Knowledge {
            entries: Entries::Parsed(document.commands),
        })
    }

    /// The knowledge base shipped with cordon, read lazily (see the module docs).
    pub fn builtin() -> &'static Knowledge {
        static BUILTIN_KNOWLEDGE: OnceLock<Knowledge> = OnceLock::new();
        BUILTIN_KNOWLEDGE.get_or_init(|| Knowledge {
            entries: Entries::Builtin(BUILTIN_TABLE.iter().map(|_| OnceLock::new()).collect()),
        })
    }

    pub fn get(&self, program: &str) -> Option<&CommandSpec> {
        match &self.entries {
            Entries::Parsed(commands) => commands.get(program),
            Entries::Builtin(cells) => {
                let row = BUILTIN_TABLE
                    .binary_search_by(|(name, _)| (*name).cmp(program))
                    .ok()?;
                let (_, json) = BUILTIN_TABLE.get(row)?;
                cells
                    .get(row)?
                    .get_or_init(|| serde_json::from_str(json).ok())
                    .as_ref()
            }
        }
    }

    /// How many programs the base knows.
    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Parsed(commands) => commands.len(),
            Entries::Builtin(cells) => cells.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_knowledge_base_parses() {
        let knowledge = Knowledge::parse(BUILTIN).unwrap();
        assert!(knowledge.len() > 150, "{}", knowledge.len());
        let git = knowledge.get("git").unwrap();
        assert_eq!(git.subcommands["push"].network, Some(true));
        assert_eq!(
            knowledge.get("python3").unwrap().inline_code_flags,
            vec!["-c".to_string()]
        );
    }

    /// Every row of the table build.rs made is the YAML's entry, and the lazy reader finds
    /// each one by name (so a row that failed to parse, read as unknown, cannot hide here).
    #[test]
    fn the_table_the_build_made_is_the_yaml() {
        let Entries::Parsed(from_yaml) = Knowledge::parse(BUILTIN).unwrap().entries else {
            panic!("a parsed knowledge base");
        };
        let builtin = Knowledge::builtin();
        assert_eq!(builtin.len(), from_yaml.len());
        for (program, spec) in &from_yaml {
            assert_eq!(builtin.get(program), Some(spec), "{program}");
        }
        assert!(BUILTIN_TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(builtin.get("no-such-program"), None);
        assert_eq!(builtin.get(""), None);
    }
}
