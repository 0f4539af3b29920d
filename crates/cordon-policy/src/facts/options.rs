//! Reading a command's words the way the program reads them, under the rule of construction:
//! every option word is either modelled by the knowledge base (a flag, or an option whose value
//! is text, a path read or written, code, a command line, a module, a directory) or it makes the
//! command *unknown*. Nothing is guessed: a value glued to a short option (`sort -o~/.bashrc`,
//! `date -fFILE`), `--opt=value` on an option that takes none, an abbreviated or unknown long
//! option (`--out` for `--output`) are all read exactly or reported.

use crate::knowledge::{CommandSpec, OptionKind, OptionStyle};
use crate::shell::Word;

/// An option and the value it took.
#[derive(Debug, Clone)]
pub(super) struct OptionValue {
    pub option: String,
    pub kind: OptionKind,
    pub value: Word,
}

/// A command's arguments, read with its option grammar.
#[derive(Debug, Clone, Default)]
pub(super) struct Parsed {
    /// Every option word, with short clusters also expanded (`-rf`, `-r`, `-f`).
    pub flags: Vec<String>,
    pub values: Vec<OptionValue>,
    pub operands: Vec<Word>,
    /// Option words the knowledge base does not model, as written.
    pub unmodelled: Vec<String>,
    /// A `-C`-style option in a spelling whose directory cannot be followed (inside a cluster).
    pub lost_chdir: Vec<String>,
    /// Globs where options are still read, whose matches may start with `-` (`*`, `?x`): a
    /// file name can become an option.
    pub option_globs: Vec<String>,
}

impl Parsed {
    fn flag(&mut self, name: &str) {
        if !self.flags.iter().any(|f| f == name) {
            self.flags.push(name.to_string());
        }
    }
}

/// Reads `args` (the words after the program, with subcommand and directory words marked in
/// `consumed`) as the program `spec` describes. `is_operand` names words that look like options
/// but are operands to this program (`chmod -x f`).
pub(super) fn parse(
    args: &[Word],
    consumed: &[bool],
    spec: &CommandSpec,
    operands_from: Option<usize>,
    is_operand: &dyn Fn(&Word) -> bool,
) -> Parsed {
    let mut parsed = Parsed::default();
    let single = spec.option_style == Some(OptionStyle::Single);
    let options_first = spec.options_first == Some(true);
    let mut after_options = false;
    let mut k = 0;
    while k < args.len() {
        if consumed.get(k).copied().unwrap_or(false) {
            k += 1;
            continue;
        }
        let word = &args[k];
        let t = word.text.as_str();
        after_options |= operands_from.is_some_and(|from| k >= from);
        let is_option = !after_options
            && word.is_static
            && t.starts_with('-')
            && t.len() > 1
            && !is_operand(word);
        if !is_option {
            if !after_options && word.glob && glob_may_start_with_dash(t) {
                parsed.option_globs.push(t.to_string());
            }
            parsed.operands.push(word.clone());
            after_options |= options_first;
            k += 1;
            continue;
        }
        if t == "--" {
            after_options = true;
            parsed.flag("--");
            k += 1;
            continue;
        }
        let next = args
            .get(k + 1)
            .filter(|_| !consumed.get(k + 1).copied().unwrap_or(false));
        if spec.option_kind(t) == Some(OptionKind::Pair) {
            // `--arg NAME VALUE`: a name, then text or (`--slurpfile NAME FILE`) a file.
            parsed.flag(t);
            let second = if spec.read_options.iter().any(|o| o == t) {
                OptionKind::Read
            } else {
                OptionKind::Value
            };
            if let Some(value) = args.get(k + 2) {
                push_value(&mut parsed, t, second, value.clone());
            }
            k += 3;
            continue;
        }
        let took_next = if t.starts_with("--") || single {
            long_option(&mut parsed, spec, t, next)
        } else {
            short_options(&mut parsed, spec, t, next)
        };
        k += if took_next { 2 } else { 1 };
    }
    parsed
}

/// `--name`, `--name=value`, or a single-dash word option (`-name`, `-count=1`). Returns whether
/// the next word was taken as the value.
fn long_option(parsed: &mut Parsed, spec: &CommandSpec, word: &str, next: Option<&Word>) -> bool {
    let (name, inline) = match word.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (word, None),
    };
    parsed.flag(name);
    let Some(kind) = spec.option_kind(name) else {
        parsed.unmodelled.push(word.to_string());
        return false;
    };
    match kind {
        OptionKind::Flag => {
            // A flag takes no value; a single-dash program may still spell it `-v=true`.
            let boolean = matches!(inline, Some("true" | "false"));
            if inline.is_some() && !boolean {
                parsed.unmodelled.push(word.to_string());
            }
            false
        }
        OptionKind::OptionalValue => {
            if let Some(value) = inline {
                push_value(parsed, name, kind, Word::literal(value));
            }
            false
        }
        OptionKind::Chdir if inline.is_none() && next.is_none() => false,
        _ => match inline {
            Some(value) => {
                push_value(parsed, name, kind, Word::literal(value));
                false
            }
            None => match next {
                Some(value) => {
                    push_value(parsed, name, kind, value.clone());
                    true
                }
                None => false,
            },
        },
    }
}

/// A GNU short option word: a listed word (`-name` on a GNU program that has one), `-NUM`, or a
/// cluster of one-letter options where the first that takes a value takes the rest of the word
/// (`-n5`, `-fFILE`) or the next word.
fn short_options(parsed: &mut Parsed, spec: &CommandSpec, word: &str, next: Option<&Word>) -> bool {
    parsed.flag(word);
    if word.len() > 2 {
        // A listed word (`-name`), or one a prefix covers (`-Wall`, `-std=c++17`).
        if let Some(kind) = spec.option_kind(word) {
            return match kind {
                OptionKind::Flag | OptionKind::OptionalValue => false,
                _ => match next {
                    Some(value) => {
                        push_value(parsed, word, kind, value.clone());
                        true
                    }
                    None => false,
                },
            };
        }
    }
    for (at, letter) in word.char_indices().skip(1) {
        let option = format!("-{letter}");
        let rest = &word[at + letter.len_utf8()..];
        match spec.option_kind(&option) {
            Some(OptionKind::Flag) => parsed.flag(&option),
            Some(OptionKind::OptionalValue) => {
                parsed.flag(&option);
                if !rest.is_empty() {
                    push_value(
                        parsed,
                        &option,
                        OptionKind::OptionalValue,
                        Word::literal(rest),
                    );
                }
                return false;
            }
            Some(OptionKind::Chdir) if at > 1 => {
                // `-xzC dir`: the directory is not followed in a cluster; say so.
                parsed.flag(&option);
                parsed.lost_chdir.push(word.to_string());
                return next.is_some() && rest.is_empty();
            }
            Some(kind) => {
                parsed.flag(&option);
                if !rest.is_empty() {
                    push_value(parsed, &option, kind, Word::literal(rest));
                    return false;
                }
                return match next {
                    Some(value) => {
                        push_value(parsed, &option, kind, value.clone());
                        true
                    }
                    None => false,
                };
            }
            None => {
                parsed.unmodelled.push(word.to_string());
                return false;
            }
        }
    }
    false
}

/// Whether a glob can expand to a name that starts with `-`: its last component starts with a
/// wildcard and the glob has no directory part (`*`, `?.txt`; not `./*`, not `src/*`).
fn glob_may_start_with_dash(glob: &str) -> bool {
    !glob.contains('/') && glob.starts_with(['*', '?', '['])
}

fn push_value(parsed: &mut Parsed, option: &str, kind: OptionKind, value: Word) {
    parsed.values.push(OptionValue {
        option: option.to_string(),
        kind,
        value,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> CommandSpec {
        let value = crate::yaml::parse(yaml).unwrap();
        serde_json::from_value(value).unwrap()
    }

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace().map(Word::literal).collect()
    }

    fn read(spec: &CommandSpec, text: &str) -> Parsed {
        let args = words(text);
        parse(&args, &vec![false; args.len()], spec, None, &|_| false)
    }

    #[test]
    fn clusters_glued_values_and_long_options_are_read_exactly() {
        let sort = spec(
            "{short_flags: \"rnu\", value_options: [-k, -t, --key], write_options: [-o, --output]}",
        );
        let p = read(&sort, "-rn -k2 -o~/.bashrc -t, a.txt");
        assert!(p.unmodelled.is_empty(), "{p:?}");
        let values: Vec<(&str, &str)> = p
            .values
            .iter()
            .map(|v| (v.option.as_str(), v.value.text.as_str()))
            .collect();
        assert_eq!(values, [("-k", "2"), ("-o", "~/.bashrc"), ("-t", ",")]);
        assert_eq!(p.operands.len(), 1);
        assert!(p.flags.contains(&"-r".to_string()) && p.flags.contains(&"-n".to_string()));

        let p = read(&sort, "-ru --output=out.txt x");
        assert_eq!(p.values[0].kind, OptionKind::Write);
        // An abbreviation, an unknown long option and a value on a flag are not modelled.
        for unmodelled in ["--out=x", "--frob", "-z", "-rz", "--reverse=1"] {
            assert_eq!(
                read(&sort, unmodelled).unmodelled,
                [unmodelled],
                "{unmodelled}"
            );
        }
    }

    #[test]
    fn single_dash_word_options_numbers_and_operands_first() {
        let go = spec("{option_style: single, flags: [-v, -race], value_options: [-run, -count]}");
        let p = read(&go, "-v -run TestX -count=1 ./...");
        assert!(p.unmodelled.is_empty(), "{p:?}");
        assert_eq!(p.operands.len(), 1);
        assert_eq!(read(&go, "-vet=off").unmodelled, ["-vet=off"]);

        let head = spec("{number_flag: true, value_options: [-n]}");
        assert!(read(&head, "-20 f").unmodelled.is_empty());
        assert_eq!(read(&head, "-2x f").unmodelled, ["-2x"]);

        let python = spec("{options_first: true, short_flags: \"uB\"}");
        let p = read(&python, "-u script.py --frob -x");
        assert!(p.unmodelled.is_empty(), "{p:?}");
        assert_eq!(p.operands.len(), 3);

        let sed = spec("{short_flags: \"n\", optional_value_options: [-i, --in-place]}");
        let p = read(&sed, "-i.bak -n s/a/b/ f");
        assert_eq!(p.values[0].value.text, ".bak");
        assert_eq!(p.operands.len(), 2);
        assert!(read(&sed, "-i s/a/b/ f").values.is_empty());
    }
}
