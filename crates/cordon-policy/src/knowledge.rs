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

/// How a program reads its option words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionStyle {
    /// `-abc` is `-a -b -c`, a value may be glued (`-n5`), `--long[=value]`.
    Gnu,
    /// Every `-word` is one option (`find -name`, `go test -run`); `-word=value` is allowed.
    Single,
}

/// A language of program text passed to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramLanguage {
    Awk,
    Sed,
    Sql,
}

/// What an option word means to a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Takes no value.
    Flag,
    /// Takes a value that is not a file.
    Value,
    /// Takes a value only when written glued (`-i.bak`, `--color=always`).
    OptionalValue,
    /// Takes the path of a file it reads.
    Read,
    /// Takes the path of a file it writes.
    Write,
    /// Takes program text (`python -c`).
    Code,
    /// Takes a command line the program runs with arguments it adds.
    Program,
    /// Takes shell text the program runs as it is.
    ShellText,
    /// Takes a module to load.
    Module,
    /// Takes a directory to work in.
    Chdir,
    /// Takes two values: a name, then text (or a path read, when also a read option).
    Pair,
}

/// One entry of the knowledge base. Every field is optional; a subcommand inherits from its parent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub effect: Option<EffectType>,
    pub network: Option<bool>,
    pub operands: Option<Operands>,
    pub skip_operands: Option<usize>,
    /// The first operand (after skipped ones) overrides `operands` (`zip OUT.zip FILE…`).
    pub first_operand: Option<Operands>,
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
    /// `false`: the paths it is given to write are only created or have their metadata changed
    /// (`mkdir`, `touch`, `chmod`, `ln` without `-f`), never replaced. By default a path named as
    /// a write (an operand, a write option, a `sed` `w` file) may be overwritten, so the command
    /// is destructive: what it names may hold data it replaces.
    pub overwrites: Option<bool>,
    /// Flags that keep the command off the network (`pip install --no-index`, `npm ci
    /// --offline`): with one given, and no host named and no list read from a file
    /// (`lists_options`), the command neither uses the network nor fetches.
    #[serde(default)]
    pub offline_flags: Vec<String>,
    /// Options whose value is a file listing more of what the command fetches (`pip install -r
    /// requirements.txt`), which may name hosts cordon does not read: an offline flag then
    /// proves nothing.
    #[serde(default)]
    pub lists_options: Vec<String>,
    /// Write options whose value is a directory the program builds, caches or extracts in
    /// (`cargo --target-dir`, `sort -T`), not a file it replaces.
    #[serde(default)]
    pub directory_options: Vec<String>,
    #[serde(default)]
    pub inline_code_flags: Vec<String>,
    pub text_args: Option<bool>,
    /// Short boolean flags, one character each: `"alh"` is `-a`, `-l` and `-h`.
    #[serde(default)]
    pub short_flags: String,
    /// Other boolean flags: `--all`, or `-print` for a program whose options are single words.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Options whose value is optional and then written glued: `sed -i.bak`, `--color=auto`.
    #[serde(default)]
    pub optional_value_options: Vec<String>,
    /// `-NUM` is an option (`head -20`, `git log -3`).
    pub number_flag: Option<bool>,
    /// Every option word starting with one of these is a modelled flag (`gcc -Wall`, `-O2`).
    #[serde(default)]
    pub flag_prefixes: Vec<String>,
    /// How option words are read; GNU (clusters of short flags, `--long[=value]`) by default.
    pub option_style: Option<OptionStyle>,
    /// The first operand ends the options: every later word is an operand (`python x.py -v`).
    pub options_first: Option<bool>,
    /// `host:path` operands and URLs name other machines: the command then uses the network.
    pub remote_operands: Option<bool>,
    /// Options whose value is a command line the program runs (`tar --to-command=CMD`): the value
    /// is judged as commands of its own.
    #[serde(default)]
    pub program_options: Vec<String>,
    /// Options that take two values (`jq --arg NAME VALUE`); the second is a path read when the
    /// option is also listed in `read_options` (`jq --slurpfile NAME FILE`).
    #[serde(default)]
    pub pair_options: Vec<String>,
    /// Options whose value is shell text the program runs as it is (`git rebase --exec`).
    #[serde(default)]
    pub shell_options: Vec<String>,
    /// Options whose value names a module the interpreter loads (`node --import`, `perl -M`):
    /// a path is read, and anything that is not a plain module name or path is inline code.
    #[serde(default)]
    pub module_options: Vec<String>,
    /// Files in the working directory the program runs as code (`make` runs `Makefile`): one
    /// written earlier in the same text makes the command run code cordon never saw.
    #[serde(default)]
    pub runs_files: Vec<String>,
    /// Options (also listed in `read_options`) whose value is a file of program text the command
    /// runs (`sed -f`, `awk -f`, `sqlite3 -init`, `cmake -P`): cordon does not read it, so the
    /// command runs code it never saw, which may delete or overwrite (`sed`'s `e` and `w`).
    #[serde(default)]
    pub code_file_options: Vec<String>,
    /// Every word after the subcommand is passed on to what it runs (`yarn test --watch`), so
    /// none of them is an option of this program.
    pub passthrough: Option<bool>,
    /// The first operand (or `-e`/`-f` value) is a program in this language, which cordon reads
    /// for what it can do beyond the command's own operands (`awk`'s `system()`, `sed`'s `w`).
    pub program_text: Option<ProgramLanguage>,
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
    /// This spec refined by a subcommand's: set fields override, lists accumulate. The result
    /// has no subcommands of its own: it describes one command, and a caller that walks further
    /// looks the next subcommand up in `sub` (cloning a large entry's subcommands for every
    /// command would cost more than judging it).
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
            first_operand: sub.first_operand.or(self.first_operand),
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
            overwrites: sub.overwrites.or(self.overwrites),
            offline_flags: join(&self.offline_flags, &sub.offline_flags),
            lists_options: join(&self.lists_options, &sub.lists_options),
            directory_options: join(&self.directory_options, &sub.directory_options),
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
            short_flags: {
                let mut merged = self.short_flags.clone();
                merged.extend(
                    sub.short_flags
                        .chars()
                        .filter(|c| !self.short_flags.contains(*c)),
                );
                merged
            },
            flags: join(&self.flags, &sub.flags),
            optional_value_options: join(&self.optional_value_options, &sub.optional_value_options),
            number_flag: sub.number_flag.or(self.number_flag),
            flag_prefixes: join(&self.flag_prefixes, &sub.flag_prefixes),
            option_style: sub.option_style.or(self.option_style),
            options_first: sub.options_first.or(self.options_first),
            remote_operands: sub.remote_operands.or(self.remote_operands),
            program_options: join(&self.program_options, &sub.program_options),
            shell_options: join(&self.shell_options, &sub.shell_options),
            pair_options: join(&self.pair_options, &sub.pair_options),
            module_options: join(&self.module_options, &sub.module_options),
            runs_files: join(&self.runs_files, &sub.runs_files),
            code_file_options: join(&self.code_file_options, &sub.code_file_options),
            program_text: sub.program_text.or(self.program_text),
            passthrough: sub.passthrough.or(self.passthrough),
            subcommands: BTreeMap::new(),
        }
    }

    /// What the option word `name` (without any `=value`) means to this program, if it is
    /// modelled at all.
    pub fn option_kind(&self, name: &str) -> Option<OptionKind> {
        let listed = |list: &[String]| list.iter().any(|o| o == name);
        if listed(&self.pair_options) {
            Some(OptionKind::Pair)
        } else if listed(&self.inline_code_flags) {
            Some(OptionKind::Code)
        } else if listed(&self.program_options) {
            Some(OptionKind::Program)
        } else if listed(&self.shell_options) {
            Some(OptionKind::ShellText)
        } else if listed(&self.module_options) {
            Some(OptionKind::Module)
        } else if listed(&self.write_options) {
            Some(OptionKind::Write)
        } else if listed(&self.read_options) {
            Some(OptionKind::Read)
        } else if listed(&self.chdir_options) {
            Some(OptionKind::Chdir)
        } else if listed(&self.value_options) {
            Some(OptionKind::Value)
        } else if listed(&self.optional_value_options) {
            Some(OptionKind::OptionalValue)
        } else if self.negates_a_flag(name)
            || listed(&self.flags)
            || listed(&self.write_flags)
            || listed(&self.destructive_flags)
            || listed(&self.offline_flags)
            || self.flag_aliases.contains_key(name)
            || self.is_short_flag(name)
            || self.is_number_flag(name)
            || self
                .flag_prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()))
        {
            Some(OptionKind::Flag)
        } else {
            None
        }
    }

    /// `--no-X` turns off the modelled flag `--X` (`rsync --no-perms`, `curl --no-progress-meter`
    /// where `--progress-meter` is modelled): only a negation of a known flag is known.
    fn negates_a_flag(&self, name: &str) -> bool {
        name.strip_prefix("--no-").is_some_and(|rest| {
            let positive = format!("--{rest}");
            self.flags.contains(&positive)
        })
    }

    fn is_short_flag(&self, name: &str) -> bool {
        let mut chars = name.chars();
        matches!((chars.next(), chars.next(), chars.next()), (Some('-'), Some(c), None) if c != '-' && self.short_flags.contains(c))
    }

    fn is_number_flag(&self, name: &str) -> bool {
        self.number_flag == Some(true)
            && name.len() > 1
            && name[1..].chars().all(|c| c.is_ascii_digit())
    }

    /// Whether some option or flag of this program can make it write a file, delete, or run a
    /// program or code: what an argument computed at run time could turn on.
    pub fn can_write_or_run(&self) -> bool {
        !self.write_options.is_empty()
            || !self.write_flags.is_empty()
            || !self.destructive_flags.is_empty()
            || !self.inline_code_flags.is_empty()
            || !self.program_options.is_empty()
            || !self.shell_options.is_empty()
            || !self.module_options.is_empty()
            || self.destructive == Some(true)
            || matches!(self.operands, Some(Operands::Write))
            || matches!(self.last_operand, Some(Operands::Write))
            || self.key_value_paths.values().any(|m| *m == Operands::Write)
            || self.program_text.is_some()
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
        if let Some(extra) = value
            .as_object()
            .and_then(|m| m.keys().find(|k| *k != "commands" && *k != "flag_sets"))
        {
            return Err(KnowledgeError::Shape(format!(
                "unknown top-level key `{extra}`; expected `commands` and `flag_sets`"
            )));
        }
        let commands = crate::flag_sets::expand(&value).map_err(KnowledgeError::Shape)?;
        let mut parsed = BTreeMap::new();
        for (program, entry) in commands {
            let spec: CommandSpec = serde_json::from_value(entry)
                .map_err(|e| KnowledgeError::Shape(format!("`{program}`: {e}")))?;
            parsed.insert(program, spec);
        }
        let commands = parsed;
        Ok(Knowledge {
            entries: Entries::Parsed(commands),
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

    /// The programs the base knows, in byte order.
    pub fn programs(&self) -> Vec<&str> {
        match &self.entries {
            Entries::Parsed(commands) => commands.keys().map(String::as_str).collect(),
            Entries::Builtin(_) => BUILTIN_TABLE.iter().map(|(name, _)| *name).collect(),
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

    /// A directory option is a write option whose value is a directory: listed as one alone it
    /// would be an option cordon does not model, and no write at all.
    #[test]
    fn every_directory_option_is_a_write_option() {
        fn check(name: &str, spec: &CommandSpec, inherited: &[String]) {
            let writes: Vec<String> = inherited
                .iter()
                .chain(&spec.write_options)
                .cloned()
                .collect();
            for option in &spec.directory_options {
                assert!(writes.contains(option), "{name}: {option}");
            }
            for (sub, entry) in &spec.subcommands {
                check(&format!("{name} {sub}"), entry, &writes);
            }
        }
        let Entries::Parsed(from_yaml) = Knowledge::parse(BUILTIN).unwrap().entries else {
            panic!("a parsed knowledge base");
        };
        for (program, spec) in &from_yaml {
            check(program, spec, &[]);
        }
    }
}
