//! Statements the walk gives their own meaning: `[[ … ]]` and `(( … ))` are commands of their
//! own (a bare `[[ -f x ]]` runs something, and is judged); `for` loops set their variable; and
//! the places where bash evaluates text as arithmetic or as a variable name are checked
//! (`shell::evaluate`). A pipeline segment that lists paths (`find ROOT -print0`) is remembered
//! for the segment that reads it.

use tree_sitter::Node;

use super::evaluate::{self, Value};
use super::resolve::new_command;
use super::walk::{dynamic, node_text, Ctx, Evaluation, PipeSource, Walker};
use super::{pathutil, Word};

/// Operators of `[[ … ]]` that evaluate both sides as arithmetic.
const ARITHMETIC_TESTS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Node kinds that are one shell word.
const WORD_KINDS: &[&str] = &[
    "word",
    "string",
    "raw_string",
    "simple_expansion",
    "expansion",
    "concatenation",
    "number",
    "command_substitution",
    "process_substitution",
    "ansi_c_string",
    "translated_string",
    "arithmetic_expansion",
];

impl Walker<'_> {
    /// `[[ … ]]` (and `[ … ]`, which the grammar reads the same way): stats files and compares,
    /// as the command it is.
    pub(super) fn test_command(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let double = node_text(node, src).starts_with("[[");
        let (open, close) = if double { ("[[", "]]") } else { ("[", "]") };
        let mut words = vec![Word::literal(open)];
        self.test_words(node, src, ctx, double, &mut words);
        words.push(Word::literal(close));
        let command = new_command(ctx, words);
        self.emit(command);
    }

    fn test_words(
        &mut self,
        node: Node,
        src: &str,
        ctx: &Ctx,
        double: bool,
        words: &mut Vec<Word>,
    ) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        let operator = children
            .iter()
            .find(|c| c.kind() == "test_operator")
            .map(|c| node_text(*c, src).to_string());
        let operands: Vec<Node> = children
            .iter()
            .copied()
            .filter(|c| WORD_KINDS.contains(&c.kind()))
            .collect();
        match (node.kind(), operator.as_deref()) {
            // Only `[[` evaluates its operands as arithmetic; `[` compares integers strictly.
            ("binary_expression", Some(op)) if double && ARITHMETIC_TESTS.contains(&op) => {
                for operand in &operands {
                    self.check_arithmetic(node_text(*operand, src));
                }
            }
            ("unary_expression", Some("-v" | "-R")) => {
                for operand in &operands {
                    let name = self.word(*operand, src, ctx);
                    if name.is_static {
                        self.evaluations
                            .push(Evaluation::Name(name.text, "[[ -v ]]".to_string()));
                    } else {
                        self.note(format!(
                            "`[[ -v {} ]]` names a variable computed at run time",
                            name.text
                        ));
                    }
                }
            }
            _ => {}
        }
        for child in children {
            let kind = child.kind();
            if kind == "test_operator" || kind == "regex" {
                words.push(Word::literal(node_text(child, src)));
            } else if WORD_KINDS.contains(&kind) {
                words.push(self.word(child, src, ctx));
            } else if !child.is_named() {
                if !matches!(kind, "[[" | "]]" | "[" | "]") {
                    words.push(Word::literal(kind));
                }
            } else if child.named_child_count() > 0 || child.child_count() > 0 {
                self.test_words(child, src, ctx, double, words);
            } else {
                self.collect_substitutions(child, src, ctx);
                words.push(dynamic(node_text(child, src)));
            }
        }
    }

    /// `(( expr ))`: evaluates arithmetic, as the command `(( expr ))`.
    pub(super) fn arithmetic_command(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let text = node_text(node, src);
        let expr = text
            .strip_prefix("((")
            .and_then(|t| t.strip_suffix("))"))
            .unwrap_or(text)
            .trim();
        self.check_arithmetic(expr);
        self.collect_substitutions(node, src, ctx);
        for name in evaluate::assigned_in_arithmetic(expr) {
            self.set_variable(&name, Value::Known(vec!["0".to_string()]), false);
        }
        let command = new_command(
            ctx,
            vec![
                Word::literal("(("),
                Word::literal(expr),
                Word::literal("))"),
            ],
        );
        self.emit(command);
    }

    /// `for NAME in WORDS; do …; done`: NAME takes each word, known when every word is.
    pub(super) fn for_loop(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let name = node
            .child_by_field_name("variable")
            .map(|n| node_text(n, src).to_string())
            .unwrap_or_default();
        let mut cursor = node.walk();
        let value_nodes: Vec<Node> = node.children_by_field_name("value", &mut cursor).collect();
        let mut values = Vec::new();
        let mut known = true;
        for value in &value_nodes {
            let word = self.word(*value, src, ctx);
            // A glob lists file names, which the agent may have chosen.
            known &= word.is_static && !word.glob;
            values.push(word.text);
        }
        let in_words = node_text(node, src).contains(" in ") || !value_nodes.is_empty();
        let value = if known && in_words {
            Value::Known(values)
        } else {
            Value::Computed
        };
        if !name.is_empty() {
            self.set_variable(&name, value, false);
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.walk_node(body, src, ctx);
        }
    }

    /// `for ((init; cond; update))`: three arithmetic expressions.
    pub(super) fn c_style_for(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        for field in ["initializer", "condition", "update"] {
            let mut cursor = node.walk();
            let parts: Vec<Node> = node.children_by_field_name(field, &mut cursor).collect();
            for part in parts {
                let text = node_text(part, src);
                self.check_arithmetic(text);
                self.collect_substitutions(part, src, ctx);
                for name in evaluate::assigned_in_arithmetic(text) {
                    self.set_variable(&name, Value::Known(vec!["0".to_string()]), false);
                }
            }
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.walk_node(body, src, ctx);
        }
    }

    /// Arithmetic bash evaluates: checked once the whole text is known.
    pub(super) fn check_arithmetic(&mut self, expr: &str) {
        self.evaluations
            .push(Evaluation::Arithmetic(expr.to_string()));
    }

    /// `$(( expr ))` or `$[ expr ]`.
    pub(super) fn check_arithmetic_text(&mut self, text: &str) {
        let expr = text
            .strip_prefix("$((")
            .and_then(|t| t.strip_suffix("))"))
            .or_else(|| text.strip_prefix("$[").and_then(|t| t.strip_suffix(']')))
            .unwrap_or(text);
        self.check_arithmetic(expr);
    }

    /// `${!x}`, `${x@P}`, `${a[expr]}`, `${x:off:len}`.
    pub(super) fn check_expansion(&mut self, text: &str) {
        self.evaluations
            .push(Evaluation::Expansion(text.to_string()));
    }

    /// `a[expr]=v` evaluates `expr` (unless `a` is associative).
    pub(super) fn check_assigned_name(&mut self, name: &str, _value: &Word) {
        if let Some((array, rest)) = name.split_once('[') {
            let sub = rest.strip_suffix(']').unwrap_or(rest);
            self.evaluations
                .push(Evaluation::Subscript(array.to_string(), sub.to_string()));
        }
    }

    /// What a pipeline segment that emitted `self.out[before..]` writes to the next one, when it
    /// is one command listing paths under known directories: `find ROOT…` (no `-exec`, no
    /// `-printf`), `git ls-files`.
    pub(super) fn pipe_source_of(&self, before: usize, ctx: &Ctx) -> Option<PipeSource> {
        let [command] = self.out.get(before..)? else {
            return None;
        };
        if command.wrappers != ctx.wrappers || !command.unresolved.is_empty() {
            return None;
        }
        let cwd = command.cwd.as_deref()?;
        let args = command.words.get(1..).unwrap_or(&[]);
        match command.program() {
            "find" => find_source(args, cwd, &self.session.home),
            "git" if args.first().is_some_and(|w| w.text == "ls-files") => {
                const PLAIN: &[&str] = &[
                    "-z",
                    "--cached",
                    "-c",
                    "--others",
                    "-o",
                    "--exclude-standard",
                    "--modified",
                    "-m",
                    "--deleted",
                    "-d",
                ];
                let plain = args.iter().skip(1).all(|w| {
                    w.is_static && (PLAIN.contains(&w.text.as_str()) || !w.text.starts_with('-'))
                });
                plain.then(|| PipeSource {
                    roots: vec![cwd.to_string()],
                    nul: args.iter().any(|w| w.text == "-z"),
                })
            }
            _ => None,
        }
    }
}

/// What `find` writes to a pipe: paths under its roots, each ended by a NUL with `-print0`.
fn find_source(args: &[Word], cwd: &str, home: &str) -> Option<PipeSource> {
    let printing = ["-printf", "-fprintf", "-fprint", "-fprint0", "-ls", "-fls"];
    if args
        .iter()
        .any(|w| !w.is_static || printing.contains(&w.text.as_str()))
    {
        return None;
    }
    Some(PipeSource {
        roots: find_roots(args, cwd, home)?,
        nul: args.iter().any(|w| w.text == "-print0"),
    })
}

/// The directories `find ARGS` walks (its operands before the expression; the cwd when none),
/// resolved; `None` when one is computed or a glob.
pub(super) fn find_roots(args: &[Word], cwd: &str, home: &str) -> Option<Vec<String>> {
    // `-L` and `-follow` descend through symbolic links, so the paths it lists may lie anywhere.
    if args
        .iter()
        .any(|w| matches!(w.text.as_str(), "-L" | "-follow"))
    {
        return None;
    }
    let mut roots = Vec::new();
    let mut words = args.iter().peekable();
    while let Some(w) = words.peek() {
        match w.text.as_str() {
            "-H" | "-P" => {
                words.next();
            }
            "-D" => {
                words.next();
                words.next();
            }
            t if t.starts_with("-O") => {
                words.next();
            }
            _ => break,
        }
    }
    for word in words {
        let t = word.text.as_str();
        if t.starts_with('-') || matches!(t, "(" | "!" | ")" | ",") {
            break;
        }
        if word.glob || !word.is_static {
            return None;
        }
        roots.push(pathutil::resolve(Some(cwd), home, t)?);
    }
    if roots.is_empty() {
        roots.push(cwd.to_string());
    }
    Some(roots)
}
