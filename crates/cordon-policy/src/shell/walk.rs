//! Walking the tree-sitter-bash syntax tree: statements, words, redirects and substitutions.
//!
//! The walk is conservative by construction: every node kind it does not know is searched for
//! commands and substitutions rather than skipped, a word is static only when every part of it is
//! known, and every problem becomes an `unresolved` reason instead of an error.

use tree_sitter::{Node, Parser};

use super::evaluate::{self, Value, Variable, Variables};
use super::lists::{self, Directory, Tail};
use super::pathutil;
use super::Session;
use super::{
    Access, Origin, Redirect, Script, SimpleCommand, Stdin, Word, MAX_COMMANDS, MAX_NESTING,
    MAX_TEXT_BYTES,
};

/// Deepest syntax-tree recursion the walker follows. Pathological input (thousands of nested
/// `$(`) would otherwise exhaust the stack.
const MAX_TREE_DEPTH: usize = 200;

/// The walk's view of the shell state at one point of the text.
#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub cwd: Option<String>,
    pub oldpwd: Option<String>,
    pub dirstack: Vec<Option<String>>,
    pub redirects: Vec<Redirect>,
    pub stdin: Stdin,
    /// Nesting of parsed text (`bash -c`, `eval`), not of syntax nodes.
    pub depth: usize,
    pub wrappers: Vec<String>,
    pub origin: Origin,
    pub unresolved: Vec<String>,
    pub privileged: bool,
    /// What `~` and `$HOME` mean here; `None` after `HOME=$(…)`.
    pub home: Option<String>,
    /// `set -e` is on: a failing command (a `cd` to nowhere) ends the text.
    pub errexit: bool,
    /// Where bash ignores `set -e`, even one set inside: in an operand of `&&` or `||` but the
    /// last, and in a pipeline segment but the last (bash(1), `set -e`). A `cd` to nowhere
    /// there does not end anything, and what follows it runs where the shell was.
    pub errexit_ignored: bool,
    /// What the previous pipeline segment writes to this one, when it is a list of paths.
    pub pipe_source: Option<PipeSource>,
    /// For commands run by `find -exec` or `xargs -0`: the directories their computed
    /// arguments are paths under.
    pub computed_paths_under: Option<Vec<String>>,
    /// A dangerous variable (`BASH_ENV`, `LD_PRELOAD`) was assigned to this command or the
    /// shell running it: see [`super::SimpleCommand::runs_injected_code`].
    pub runs_injected_code: bool,
}

/// The output of a pipeline segment that lists paths under known directories (`find ROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PipeSource {
    pub roots: Vec<String>,
    /// Each path ends with a NUL (`-print0`), so none can be split into several arguments.
    pub nul: bool,
}

impl Ctx {
    fn root(session: &Session) -> Ctx {
        Ctx {
            home: Some(pathutil::normalize_absolute(&session.home)),
            errexit: false,
            errexit_ignored: false,
            pipe_source: None,
            computed_paths_under: None,
            cwd: Some(pathutil::normalize_absolute(&session.cwd)),
            oldpwd: None,
            dirstack: Vec::new(),
            redirects: Vec::new(),
            stdin: Stdin::Inherited,
            depth: 0,
            wrappers: Vec::new(),
            origin: Origin::Direct,
            unresolved: Vec::new(),
            privileged: false,
            runs_injected_code: false,
        }
    }

    /// Keeps the shell state of `other`: its directories after a `cd`, and its home.
    pub(super) fn take_directory_state(&mut self, other: &Ctx) {
        self.cwd.clone_from(&other.cwd);
        self.oldpwd.clone_from(&other.oldpwd);
        self.dirstack.clone_from(&other.dirstack);
        self.home.clone_from(&other.home);
        self.errexit = other.errexit;
    }
}

pub(super) struct Walker<'a> {
    pub session: &'a Session,
    parser: Option<Parser>,
    pub out: Vec<SimpleCommand>,
    pub unresolved: Vec<String>,
    tree_depth: usize,
    /// Every value the text assigns to each variable, on any path through it.
    pub variables: Variables,
    /// The places bash evaluates text as code; checked against `variables` once the whole text
    /// is known, so an assignment in another branch or a later loop iteration is not missed.
    pub evaluations: Vec<Evaluation>,
}

/// A place where bash evaluates text it may have stored: checked in [`Walker::finish`].
#[derive(Debug, Clone)]
pub(super) enum Evaluation {
    /// Arithmetic (`$((…))`, `((…))`, `let`, `[[ a -eq b ]]`).
    Arithmetic(String),
    /// A variable name read by a builtin (`printf -v`, `read`, `test -v`, `declare`), with the
    /// builtin's name.
    Name(String, String),
    /// A parameter expansion (`${!x}`, `${x@P}`, `${a[i]}`, `${x:i:n}`).
    Expansion(String),
    /// An assignment to `name`, arithmetic if `name` is declared `-i`.
    Assignment(String, String),
    /// `a[sub]=…` on an array that is indexed unless declared `-A`.
    Subscript(String, String),
}

pub(super) fn parse_script(text: &str, session: &Session) -> Script {
    let mut walker = Walker::new(session);
    let mut ctx = Ctx::root(session);
    walker.walk_text(text, &mut ctx);
    walker.finish()
}

pub(super) fn parse_argv(argv: &[String], session: &Session) -> Script {
    let mut walker = Walker::new(session);
    let mut ctx = Ctx::root(session);
    let words = argv.iter().map(|a| Word::literal(a.clone())).collect();
    walker.resolve(words, Vec::new(), &mut ctx);
    walker.finish()
}

fn statement_kind(kind: &str) -> bool {
    matches!(
        kind,
        "program"
            | "command"
            | "list"
            | "pipeline"
            | "subshell"
            | "compound_statement"
            | "redirected_statement"
            | "variable_assignment"
            | "variable_assignments"
            | "declaration_command"
            | "unset_command"
            | "negated_command"
            | "test_command"
            | "function_definition"
            | "if_statement"
            | "elif_clause"
            | "else_clause"
            | "while_statement"
            | "for_statement"
            | "c_style_for_statement"
            | "case_statement"
            | "case_item"
            | "do_group"
            | "file_redirect"
    )
}

pub(super) fn node_text<'s>(node: Node, src: &'s str) -> &'s str {
    src.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

pub(super) fn named_children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

thread_local! {
    /// One parser per thread, reused: creating one and loading the grammar costs more than
    /// parsing a typical command line.
    static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
}

impl<'a> Walker<'a> {
    fn new(session: &'a Session) -> Walker<'a> {
        let parser = PARSER.with(|cell| cell.borrow_mut().take());
        Walker {
            session,
            parser,
            out: Vec::new(),
            unresolved: Vec::new(),
            tree_depth: 0,
            variables: Variables::new(),
            evaluations: Vec::new(),
        }
    }

    fn finish(mut self) -> Script {
        if let Some(parser) = self.parser.take() {
            PARSER.with(|cell| *cell.borrow_mut() = Some(parser));
        }
        self.check_evaluations();
        self.pass_exports();
        Script {
            commands: self.out,
            unresolved: self.unresolved,
        }
    }

    pub(super) fn note(&mut self, why: String) {
        if !self.unresolved.contains(&why) {
            self.unresolved.push(why);
        }
    }

    /// Records a command, unless the text already produced too many to judge.
    pub(super) fn emit(&mut self, command: SimpleCommand) {
        if self.out.len() >= MAX_COMMANDS {
            self.note(format!("the text runs more than {MAX_COMMANDS} commands"));
            return;
        }
        self.out.push(command);
    }

    /// Parses `text` as bash and walks it. Used for the top level and for nested text.
    pub(super) fn walk_text(&mut self, text: &str, ctx: &mut Ctx) {
        if ctx.depth > MAX_NESTING {
            self.note(format!(
                "shell text is nested more than {MAX_NESTING} levels deep"
            ));
            return;
        }
        if text.len() > MAX_TEXT_BYTES {
            self.note(format!("shell text is longer than {MAX_TEXT_BYTES} bytes"));
            return;
        }
        if self.parser.is_none() {
            let mut parser = Parser::new();
            if parser
                .set_language(&tree_sitter_bash::LANGUAGE.into())
                .is_err()
            {
                self.note("the bash grammar could not be loaded".to_string());
                return;
            }
            self.parser = Some(parser);
        }
        let Some(tree) = self.parser.as_mut().and_then(|p| p.parse(text, None)) else {
            self.note("the shell text could not be parsed".to_string());
            return;
        };
        let root = tree.root_node();
        if root.has_error() {
            let at = if ctx.depth == 0 {
                String::new()
            } else {
                format!(" (nested text `{}`)", clip(text))
            };
            self.note(format!("the shell text does not parse as bash{at}"));
        }
        self.walk_node(root, text, ctx);
    }

    pub(super) fn walk_node(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        if self.tree_depth >= MAX_TREE_DEPTH {
            self.note("the shell text is nested too deeply to analyse".to_string());
            return;
        }
        self.tree_depth += 1;
        self.walk_node_inner(node, src, ctx);
        self.tree_depth -= 1;
    }

    fn walk_node_inner(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        match node.kind() {
            "comment" => {}
            "command" => self.command(node, src, ctx),
            "pipeline" => self.pipeline(node, src, ctx),
            "list" => self.list_statement(node, src, ctx, Tail::default()),
            "subshell" => {
                let mut inner = ctx.clone();
                self.walk_children(node, src, &mut inner);
            }
            "redirected_statement" => self.redirected_statement(node, src, ctx),
            "file_redirect" => {
                // A redirect with no command still opens (and truncates) its file.
                let mut inner = ctx.clone();
                let before = self.out.len();
                let _ = self.redirect(node, src, &mut inner);
                if self.out.len() == before {
                    self.emit_null_command(&inner);
                }
            }
            "variable_assignment" => {
                let (name, value) = self.assignment(node, src, ctx);
                self.check_assigned_name(&name, &value);
                let plain_name = name.split('[').next().unwrap_or("").to_string();
                self.assign(ctx, &plain_name, &value, false);
                self.emit_if_dangerous(ctx, &name, &value);
            }
            "function_definition" => {
                let name = node
                    .child_by_field_name("name")
                    .map(|n| node_text(n, src))
                    .unwrap_or("");
                self.note(format!(
                    "the text defines a shell function `{name}`, which can shadow any command"
                ));
                let mut inner = ctx.clone();
                self.walk_children(node, src, &mut inner);
            }
            "declaration_command" | "unset_command" => self.declaration(node, src, ctx),
            "command_substitution" | "process_substitution" => self.substitution(node, src, ctx),
            "test_command" => self.test_command(node, src, ctx),
            "compound_statement" if node_text(node, src).starts_with("((") => {
                self.arithmetic_command(node, src, ctx)
            }
            "for_statement" => self.for_loop(node, src, ctx),
            "c_style_for_statement" => self.c_style_for(node, src, ctx),
            "ERROR" => {
                self.note("the shell text does not parse as bash".to_string());
                self.walk_children(node, src, ctx);
            }
            _ => self.walk_children(node, src, ctx),
        }
    }

    /// Walks statement children in order, and searches every other child for substitutions.
    pub(super) fn walk_children(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        for child in named_children(node) {
            if statement_kind(child.kind()) || child.kind() == "ERROR" {
                let before = Directory::of(ctx);
                self.walk_node(child, src, ctx);
                // `cd x; next`: `next` runs where the shell was if `x` does not exist.
                let errexit = ctx.errexit && !ctx.errexit_ignored;
                if !errexit && lists::is_directory_change_statement(child, src) {
                    // (A bare `cd` goes home, which does not fail: see the helper.)
                    before.either(&Directory::of(ctx)).apply(ctx);
                }
            } else {
                self.collect_substitutions(child, src, ctx);
            }
        }
    }

    fn emit_null_command(&mut self, ctx: &Ctx) {
        let command = super::resolve::new_command(ctx, vec![Word::literal(":")]);
        self.emit(command);
    }

    /// A pipeline: every segment runs in its own subshell, so a `cd` there does not persist.
    fn pipeline(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let Some(first) = named_children(node).first().copied() else {
            return;
        };
        // `cd x && b | c` is `cd x && (b | c)` to bash (see `shell::lists`).
        if let Some((list, redirected)) = super::lists::piped_list(node) {
            let tail = Tail {
                redirected,
                piped: Some(node),
            };
            return self.list_statement(list, src, ctx, tail);
        }
        let mut inner = ctx.clone();
        inner.errexit_ignored = true;
        let before = self.out.len();
        self.walk_node(first, src, &mut inner);
        self.pipeline_rest(node, src, ctx, before, &inner);
    }

    fn redirected_statement(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let body = node.child_by_field_name("body");
        // tree-sitter-bash hangs a redirect written after `a && b` on the whole list, but bash
        // gives it to the last command only, in the directory the earlier `cd`s left:
        // `cd ~/.ssh && echo k >> authorized_keys` writes `~/.ssh/authorized_keys`.
        match body.filter(|b| b.kind() == "list") {
            Some(list) => {
                let tail = Tail {
                    redirected: Some(node),
                    piped: None,
                };
                self.list_statement(list, src, ctx, tail)
            }
            None => match body {
                Some(body) => self.redirected_body(node, body, src, ctx),
                None => {
                    let mut inner = ctx.clone();
                    let after = self.apply_redirects(node, None, src, &mut inner);
                    self.emit_null_command(&inner);
                    self.heredoc_followers(after, src, ctx);
                }
            },
        }
    }

    /// `body` with the redirects of `redirected` (its other children); a `cd` in it persists.
    pub(super) fn redirected_body(
        &mut self,
        redirected: Node,
        body: Node,
        src: &str,
        ctx: &mut Ctx,
    ) {
        let mut inner = ctx.clone();
        let after = self.apply_redirects(redirected, Some(body), src, &mut inner);
        let before = self.out.len();
        self.walk_node(body, src, &mut inner);
        if self.out.len() == before {
            self.emit_null_command(&inner);
        }
        ctx.take_directory_state(&inner);
        self.heredoc_followers(after, src, ctx);
    }

    fn apply_redirects<'t>(
        &mut self,
        redirected: Node<'t>,
        body: Option<Node<'t>>,
        src: &str,
        ctx: &mut Ctx,
    ) -> Vec<Node<'t>> {
        let written_body = redirected.child_by_field_name("body");
        let mut after = Vec::new();
        for child in named_children(redirected) {
            if Some(child) == written_body || Some(child) == body {
                continue;
            }
            after.extend(self.redirect(child, src, ctx));
        }
        after
    }

    /// `cat <<EOF | sh`: the rest of the pipeline hangs off the heredoc in this grammar.
    fn heredoc_followers(&mut self, after: Vec<Node>, src: &str, ctx: &Ctx) {
        for statement in after {
            let mut segment = ctx.clone();
            segment.stdin = Stdin::Pipe;
            self.walk_node(statement, src, &mut segment);
        }
    }

    /// Applies one redirect node to `ctx`. Returns statements that follow a heredoc on its line.
    fn redirect<'t>(&mut self, node: Node<'t>, src: &str, ctx: &mut Ctx) -> Vec<Node<'t>> {
        let mut after = Vec::new();
        match node.kind() {
            "file_redirect" => self.file_redirect(node, src, ctx),
            "herestring_redirect" => {
                let mut text = None;
                for child in named_children(node) {
                    if child.kind() == "file_descriptor" {
                        continue;
                    }
                    let word = self.word(child, src, ctx);
                    text = Some(if word.is_static {
                        Stdin::Text(word.text)
                    } else {
                        Stdin::Dynamic
                    });
                }
                ctx.stdin = text.unwrap_or(Stdin::Dynamic);
            }
            "heredoc_redirect" => {
                for child in named_children(node) {
                    match child.kind() {
                        "heredoc_body" => {
                            let dynamic = named_children(child)
                                .iter()
                                .any(|c| c.kind() != "heredoc_content");
                            if dynamic {
                                // An unquoted delimiter: substitutions in the body run.
                                self.collect_substitutions(child, src, ctx);
                                ctx.stdin = Stdin::Dynamic;
                            } else {
                                let body = node_text(child, src);
                                let end = body.rfind('\n').map_or(body.len(), |i| i + 1);
                                ctx.stdin =
                                    Stdin::Text(body.get(..end).unwrap_or(body).to_string());
                            }
                        }
                        "heredoc_start" | "heredoc_end" | "file_descriptor" | "heredoc_content" => {
                        }
                        "file_redirect" | "herestring_redirect" => {
                            after.extend(self.redirect(child, src, ctx));
                        }
                        kind if statement_kind(kind) => after.push(child),
                        _ => self.collect_substitutions(child, src, ctx),
                    }
                }
            }
            _ => self.collect_substitutions(node, src, ctx),
        }
        after
    }

    fn file_redirect(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let mut operator = String::new();
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if !child.is_named() {
                operator.push_str(child.kind());
            }
        }
        let Some(destination) = node.child_by_field_name("destination") else {
            return;
        };
        let word = self.word(destination, src, ctx);
        let duplicating = operator.contains('&') && !operator.starts_with('&');
        if duplicating && (word.text.chars().all(|c| c.is_ascii_digit()) || word.text == "-") {
            // `2>&1`, `>&2`, `<&-`: descriptors, not files.
            return;
        }
        if !word.is_static {
            ctx.unresolved.push(format!(
                "the redirect target `{}` is computed at run time",
                word.text
            ));
            return;
        }
        let Some(joined) = pathutil::join(ctx.cwd.as_deref(), &self.session.home, &word.text)
        else {
            ctx.unresolved.push(format!(
                "the redirect target `{}` cannot be resolved",
                word.text
            ));
            return;
        };
        // `/dev/null` and the standard streams are no files; `/proc/self/root/x` is `/x`;
        // `/dev/tcp/…`, `/dev/fd/3` and the like are kept as written for the facts to judge.
        let cwd = ctx.cwd.clone().unwrap_or_default();
        let path = match pathutil::special(&joined, &cwd) {
            pathutil::Special::Stream => return,
            pathutil::Special::Path(path) => path,
            _ => joined,
        };
        let writes = operator.contains('>');
        let reads = operator.contains('<');
        if reads {
            ctx.redirects.push(Redirect {
                path: path.clone(),
                access: Access::Read,
                truncates: false,
            });
        }
        if writes || !reads {
            ctx.redirects.push(Redirect {
                path,
                access: Access::Write,
                // `<>` opens for reading and writing without emptying; `>>` appends.
                truncates: writes && !reads && !operator.contains(">>"),
            });
        }
    }

    fn command(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let mut local = ctx.clone();
        let mut words = Vec::new();
        let mut assignments = Vec::new();
        let mut after = Vec::new();
        for child in named_children(node) {
            match child.kind() {
                "variable_assignment" => {
                    let (name, value) = self.assignment(child, src, ctx);
                    assignments.push((name, value));
                }
                "command_name" => match child.named_child(0) {
                    Some(inner) => words.push(self.word(inner, src, ctx)),
                    None => words.push(Word::literal(node_text(child, src))),
                },
                "file_redirect" | "herestring_redirect" | "heredoc_redirect" => {
                    after.extend(self.redirect(child, src, &mut local));
                }
                "subshell" => {
                    let mut inner = ctx.clone();
                    self.walk_node(child, src, &mut inner);
                }
                "comment" => {}
                _ => words.push(self.word(child, src, ctx)),
            }
        }
        self.resolve_assigned(words, assignments, &mut local);
        ctx.take_directory_state(&local);
        for statement in after {
            let mut segment = ctx.clone();
            segment.stdin = Stdin::Pipe;
            self.walk_node(statement, src, &mut segment);
        }
    }

    /// A statement-level assignment that changes how every later command runs (a dangerous
    /// variable) is emitted as a `:` command carrying it, unresolved, so it is judged.
    fn emit_if_dangerous(&mut self, ctx: &Ctx, name: &str, value: &Word) {
        if let Some(why) = super::resolve::dangerous_assignment(name, &value.text) {
            let mut inner = ctx.clone();
            inner
                .unresolved
                .push(format!("`{name}=…` {why}, for every later command"));
            inner.runs_injected_code = true;
            let mut command = super::resolve::new_command(&inner, vec![Word::literal(":")]);
            command.assignments.push(format!("{name}={}", value.text));
            self.emit(command);
        }
    }

    fn resolve_assigned(
        &mut self,
        words: Vec<Word>,
        assignments: Vec<(String, Word)>,
        ctx: &mut Ctx,
    ) {
        if words.is_empty() {
            // Only assignments (`A=1 B=2`): judge them as the statement-level form.
            for (name, value) in assignments {
                self.emit_if_dangerous(ctx, &name, &value);
            }
            return;
        }
        self.resolve(words, assignments, ctx);
    }

    /// `export`, `declare`, `local`, `readonly`, `typeset`: each assignment is recorded (and
    /// passed on to later commands when exported); an argument that is quoted text, not an
    /// assignment bash parsed (`declare -a 'a=($(…))'`), is re-parsed by bash and checked.
    fn declaration(&mut self, node: Node, src: &str, ctx: &mut Ctx) {
        let mut words = Vec::new();
        let mut program = String::new();
        let mut attributes = String::new();
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if !child.is_named() {
                program = child.kind().to_string();
                words.push(Word::literal(child.kind()));
                continue;
            }
            if child.kind() == "variable_assignment" {
                let (name, value) = self.assignment(child, src, ctx);
                if let Some(why) = super::resolve::dangerous_assignment(&name, &value.text) {
                    ctx.unresolved
                        .push(format!("`{name}=…` {why}, for every later command"));
                    let mut inner = ctx.clone();
                    inner.unresolved.push(format!("`{name}=…` {why}"));
                    inner.runs_injected_code = true;
                    let mut command = super::resolve::new_command(&inner, vec![Word::literal(":")]);
                    command.assignments.push(format!("{name}={}", value.text));
                    self.emit(command);
                    ctx.unresolved.pop();
                }
                self.check_assigned_name(&name, &value);
                self.declare(&program, &attributes, &name, &value, ctx);
                words.push(Word::literal(format!("{name}=…")));
                continue;
            }
            let word = if child.kind() == "variable_name" {
                Word::literal(node_text(child, src))
            } else {
                self.word(child, src, ctx)
            };
            if word.is_static && word.text.starts_with('-') {
                attributes.push_str(&word.text[1..]);
            } else if word.is_static && !word.text.starts_with('+') {
                self.declared_text(&program, &attributes, &word.text, ctx);
            } else if !word.is_static {
                self.note(format!(
                    "`{program}` declares `{}`, which is computed at run time and evaluated by bash",
                    word.text
                ));
            }
            words.push(word);
        }
        let mut local = ctx.clone();
        // `export X=$(…)` is fine as a declaration; its value is not a command argument.
        for word in &mut words {
            word.is_static = true;
        }
        self.resolve(words, Vec::new(), &mut local);
    }

    /// Records `NAME=value` declared with `attributes` (`x` exports, `i` integer, `A` associative,
    /// `n` a reference to the variable the value names).
    fn declare(
        &mut self,
        program: &str,
        attributes: &str,
        name: &str,
        value: &Word,
        ctx: &mut Ctx,
    ) {
        let plain = name.split('[').next().unwrap_or("").to_string();
        if attributes.contains('n') {
            if value.is_static {
                self.evaluations.push(Evaluation::Name(
                    value.text.clone(),
                    format!("{program} -n"),
                ));
            } else {
                self.note(format!(
                    "`{program} -n` makes `{plain}` refer to a name computed at run time"
                ));
            }
        }
        if attributes.contains('i') {
            self.evaluations
                .push(Evaluation::Arithmetic(value.text.clone()));
        }
        self.assign(
            ctx,
            &plain,
            value,
            program == "export" || attributes.contains('x'),
        );
        if let Some(variable) = self.variables.get_mut(&plain) {
            variable.integer |= attributes.contains('i');
            variable.associative |= attributes.contains('A');
        }
    }

    /// Records an assignment the text makes, on whatever path: every value a variable is given
    /// is kept (`shell::evaluate`). `HOME` also changes what `~` names for what follows.
    pub(super) fn assign(&mut self, ctx: &mut Ctx, name: &str, value: &Word, exported: bool) {
        if name.is_empty() {
            return;
        }
        let value_now = if value.is_static {
            Value::Known(vec![value.text.clone()])
        } else {
            Value::Computed
        };
        self.set_variable(
            name,
            value_now,
            exported || evaluate::usually_exported(name),
        );
        self.evaluations
            .push(Evaluation::Assignment(name.to_string(), value.text.clone()));
        if name == "HOME" {
            ctx.home = value
                .is_static
                .then(|| pathutil::normalize_absolute(&value.text))
                .filter(|h| h.starts_with('/'));
            self.note(
                "the text sets HOME, so `~` may name another directory on another path through it"
                    .to_string(),
            );
        }
    }

    /// Adds `value` to what the text may store in `name`.
    pub(super) fn set_variable(&mut self, name: &str, value: Value, exported: bool) {
        let variable = self
            .variables
            .entry(name.to_string())
            .or_insert_with(|| Variable::new(Value::Known(Vec::new())));
        variable.exported |= exported;
        match (&mut variable.value, value) {
            (Value::Computed, _) => {}
            (slot, Value::Computed) => *slot = Value::Computed,
            (Value::Known(have), Value::Known(add)) => {
                for v in add {
                    if !have.contains(&v) {
                        have.push(v);
                    }
                }
            }
        }
    }

    /// Checks every place bash evaluates text against every value the text may have stored.
    fn check_evaluations(&mut self) {
        let evaluations = std::mem::take(&mut self.evaluations);
        for evaluation in evaluations {
            let vars = &self.variables;
            let why = match &evaluation {
                Evaluation::Arithmetic(expr) => evaluate::arithmetic(expr, vars)
                    .map(|why| format!("arithmetic `{}`: {why}", clip(expr))),
                Evaluation::Name(name, program) => {
                    evaluate::variable_name(name, vars).map(|why| format!("`{program}`: {why}"))
                }
                Evaluation::Expansion(text) => evaluate::expansion(text, vars),
                Evaluation::Assignment(name, value) => vars
                    .get(name)
                    .filter(|v| v.integer)
                    .and_then(|_| evaluate::arithmetic(value, vars))
                    .map(|why| format!("`{name}` is declared an integer: {why}")),
                Evaluation::Subscript(array, sub) => {
                    if vars.get(array).is_some_and(|v| v.associative) {
                        (sub.contains("$(") || sub.contains('`'))
                            .then(|| format!("the subscript of `{array}[{sub}]` runs a command"))
                    } else {
                        evaluate::arithmetic(sub, vars)
                            .map(|why| format!("the subscript of `{array}[{sub}]`: {why}"))
                    }
                }
            };
            if let Some(why) = why {
                self.note(why);
            }
        }
    }

    /// Variables the text exports reach every command it runs: on some path an export may come
    /// before any of them (a loop, a branch), so all are given them.
    fn pass_exports(&mut self) {
        let exported: Vec<String> = self
            .variables
            .iter()
            .filter(|(_, v)| v.exported)
            .flat_map(|(name, v)| match &v.value {
                Value::Known(values) if !values.is_empty() => values
                    .iter()
                    .map(|value| format!("{name}={value}"))
                    .collect::<Vec<_>>(),
                _ => vec![format!("{name}=$(…)")],
            })
            .collect();
        for command in &mut self.out {
            for assignment in &exported {
                if !command.assignments.contains(assignment) {
                    command.assignments.push(assignment.clone());
                }
            }
        }
    }

    /// A declaration argument bash re-parses: `NAME`, `NAME=value`, `NAME[sub]=value`, where
    /// the subscript is evaluated and a compound value `(…)` is expanded again.
    fn declared_text(&mut self, program: &str, attributes: &str, text: &str, ctx: &mut Ctx) {
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n.trim_end_matches('+'), Some(v)),
            None => (text, None),
        };
        self.evaluations
            .push(Evaluation::Name(name.to_string(), program.to_string()));
        let Some(value) = value else {
            let empty = Word::literal("");
            self.declare(program, attributes, name, &empty, ctx);
            return;
        };
        let compound =
            attributes.contains('a') || attributes.contains('A') || value.starts_with('(');
        if compound && (value.contains('$') || value.contains('`')) {
            self.note(format!(
                "`{program} {text}`: bash expands the compound value again, which runs its command substitutions"
            ));
        }
        self.declare(program, attributes, name, &Word::literal(value), ctx);
    }

    pub(super) fn assignment(&mut self, node: Node, src: &str, ctx: &Ctx) -> (String, Word) {
        let name_node = node.child_by_field_name("name");
        if let Some(subscript) = name_node.filter(|n| n.kind() == "subscript") {
            // `a[$(cmd)]=1`: the subscript's substitutions run.
            self.collect_substitutions(subscript, src, ctx);
        }
        let name = name_node
            .map(|n| node_text(n, src))
            .unwrap_or("")
            .to_string();
        let value = match node.child_by_field_name("value") {
            Some(value) => self.word(value, src, ctx),
            None => Word::literal(""),
        };
        (name, value)
    }

    /// Walks the commands of `$(…)`, backticks, `<(…)` and `>(…)` as commands of their own.
    fn substitution(&mut self, node: Node, src: &str, ctx: &Ctx) {
        let mut inner = ctx.clone();
        inner.origin = super::Origin::Substitution;
        inner.redirects.clear();
        inner.unresolved.clear();
        inner.stdin = if node_text(node, src).starts_with(">(") {
            Stdin::Pipe
        } else {
            Stdin::Inherited
        };
        self.walk_children(node, src, &mut inner);
    }

    /// Finds and walks every substitution inside a non-statement node.
    pub(super) fn collect_substitutions(&mut self, node: Node, src: &str, ctx: &Ctx) {
        if self.tree_depth >= MAX_TREE_DEPTH {
            self.note("the shell text is nested too deeply to analyse".to_string());
            return;
        }
        self.tree_depth += 1;
        for child in named_children(node) {
            match child.kind() {
                "command_substitution" | "process_substitution" => {
                    self.substitution(child, src, ctx)
                }
                kind if statement_kind(kind) => {
                    let mut inner = ctx.clone();
                    self.walk_node(child, src, &mut inner);
                }
                _ => self.collect_substitutions(child, src, ctx),
            }
        }
        self.tree_depth -= 1;
    }

    /// The value of one word node after quote removal, walking any substitution inside it.
    pub(super) fn word(&mut self, node: Node, src: &str, ctx: &Ctx) -> Word {
        if self.tree_depth >= MAX_TREE_DEPTH {
            self.note("the shell text is nested too deeply to analyse".to_string());
            return dynamic(node_text(node, src));
        }
        self.tree_depth += 1;
        let word = self.word_inner(node, src, ctx);
        self.tree_depth -= 1;
        word
    }

    fn word_inner(&mut self, node: Node, src: &str, ctx: &Ctx) -> Word {
        let text = node_text(node, src);
        match node.kind() {
            "word" | "number" if node.named_child_count() == 0 => {
                let mut word = unescape_unquoted(text);
                if word.is_static {
                    match self.tilde(&word.text, ctx) {
                        Some(Some(expanded)) => word.text = expanded,
                        Some(None) => return dynamic(text),
                        None => {}
                    }
                }
                word
            }
            "raw_string" => {
                let inner = text
                    .strip_prefix('\'')
                    .and_then(|t| t.strip_suffix('\''))
                    .unwrap_or(text);
                Word::literal(inner)
            }
            "string" => self.double_quoted(node, src, ctx),
            "translated_string" => match node.named_child(0) {
                Some(string) => self.double_quoted(string, src, ctx),
                None => dynamic(text),
            },
            "ansi_c_string" => match decode_ansi_c(text) {
                Some(decoded) => Word::literal(decoded),
                None => dynamic(text),
            },
            "simple_expansion" | "expansion" => match self.known_variable(text, ctx) {
                Some(value) => Word::literal(value),
                None => {
                    self.check_expansion(text);
                    self.collect_substitutions(node, src, ctx);
                    dynamic(text)
                }
            },
            "command_substitution" => {
                self.substitution(node, src, ctx);
                dynamic(text)
            }
            // `<(cmd)` is a pipe from a command judged on its own: reading or writing it reaches
            // nothing else, so the word is known (it names no file of the workspace's).
            "process_substitution" => {
                self.substitution(node, src, ctx);
                Word::literal(text)
            }
            "arithmetic_expansion" => {
                self.check_arithmetic_text(text);
                self.collect_substitutions(node, src, ctx);
                dynamic(text)
            }
            "concatenation" => self.concatenation(node, src, ctx),
            _ => {
                self.collect_substitutions(node, src, ctx);
                dynamic(text)
            }
        }
    }

    /// Pieces written together (`a"$b"c`): static only if every piece is, and then their text.
    fn concatenation(&mut self, node: Node, src: &str, ctx: &Ctx) -> Word {
        let text = node_text(node, src);
        let mut out = Word::literal("");
        for (i, part) in named_children(node).into_iter().enumerate() {
            let piece = if i == 0 && part.kind() == "word" {
                // Tilde expansion applies to the start of the whole word only.
                let mut piece = unescape_unquoted(node_text(part, src));
                if piece.is_static && !node_text(node, src).starts_with("~/\"") {
                    match self.tilde(&piece.text, ctx) {
                        Some(Some(expanded)) => piece.text = expanded,
                        Some(None) => piece.is_static = false,
                        None => {}
                    }
                }
                piece
            } else {
                self.word(part, src, ctx)
            };
            out.text.push_str(&piece.text);
            out.is_static &= piece.is_static;
            out.glob |= piece.glob;
        }
        if node.child_count() != node.named_child_count() {
            // Anonymous pieces (a bare `$`, `=`) were not evaluated: keep the source.
            return dynamic(text);
        }
        if !out.is_static {
            out.text = text.to_string();
        }
        out
    }

    fn double_quoted(&mut self, node: Node, src: &str, ctx: &Ctx) -> Word {
        let text = node_text(node, src);
        let start = node.start_byte() + 1;
        let end = node.end_byte().saturating_sub(1).max(start);
        let mut out = String::new();
        let mut is_static = true;
        let mut pos = start;
        for child in named_children(node) {
            if child.start_byte() > pos {
                out.push_str(&unescape_double_quoted(
                    src.get(pos..child.start_byte()).unwrap_or(""),
                ));
            }
            match child.kind() {
                "string_content" => out.push_str(&unescape_double_quoted(node_text(child, src))),
                "simple_expansion" | "expansion" => {
                    match self.known_variable(node_text(child, src), ctx) {
                        Some(value) => out.push_str(&value),
                        None => {
                            self.check_expansion(node_text(child, src));
                            self.collect_substitutions(child, src, ctx);
                            is_static = false;
                        }
                    }
                }
                "arithmetic_expansion" => {
                    self.check_arithmetic_text(node_text(child, src));
                    self.collect_substitutions(child, src, ctx);
                    is_static = false;
                }
                "command_substitution" | "process_substitution" => {
                    self.substitution(child, src, ctx);
                    is_static = false;
                }
                _ => {
                    self.collect_substitutions(child, src, ctx);
                    is_static = false;
                }
            }
            pos = pos.max(child.end_byte());
        }
        if pos < end {
            out.push_str(&unescape_double_quoted(src.get(pos..end).unwrap_or("")));
        }
        if is_static {
            Word {
                text: out,
                is_static: true,
                glob: false,
            }
        } else {
            dynamic(text)
        }
    }

    /// `~` and `~/x`, with the home the text has set, if it has. `None` when `~` is not
    /// expanded here, or when the home is computed at run time (the word is then computed).
    fn tilde(&self, text: &str, ctx: &Ctx) -> Option<Option<String>> {
        if text == "~" || text.starts_with("~/") {
            Some(
                ctx.home
                    .as_deref()
                    .and_then(|home| pathutil::resolve(None, home, text)),
            )
        } else {
            None
        }
    }

    /// `$HOME` and `$PWD` are known to the session; every other variable is not.
    fn known_variable(&self, text: &str, ctx: &Ctx) -> Option<String> {
        match text {
            "$HOME" | "${HOME}" => ctx.home.clone(),
            "$PWD" | "${PWD}" => ctx.cwd.clone(),
            _ => None,
        }
    }
}

pub(super) fn dynamic(text: &str) -> Word {
    Word {
        text: text.to_string(),
        is_static: false,
        glob: false,
    }
}

fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(60).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped
}

/// Quote removal for an unquoted word: `\x` is `x`, a backslash-newline disappears. Unquoted glob
/// characters mark the word as a glob; unquoted brace expansion makes it dynamic, because the
/// shell turns it into several words (`{rm,-rf,/}` is `rm -rf /`).
fn unescape_unquoted(text: &str) -> Word {
    let mut out = String::with_capacity(text.len());
    let mut glob = false;
    let mut brace_open = false;
    let mut brace_expands = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(escaped) => out.push(escaped),
            },
            '*' | '?' | '[' => {
                glob = true;
                out.push(c);
            }
            '{' => {
                brace_open = true;
                out.push(c);
            }
            ',' if brace_open => {
                brace_expands = true;
                out.push(c);
            }
            '.' if brace_open && chars.peek() == Some(&'.') => {
                brace_expands = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if brace_expands && out.contains('}') {
        return Word {
            text: text.to_string(),
            is_static: false,
            glob: false,
        };
    }
    Word {
        text: out,
        is_static: true,
        glob,
    }
}

/// Inside double quotes a backslash escapes only `$`, `` ` ``, `"`, `\` and newline.
fn unescape_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes `$'…'`. Escapes outside the common set make the word dynamic rather than guessed.
fn decode_ansi_c(text: &str) -> Option<String> {
    let inner = text.strip_prefix("$'")?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'e' | 'E' => out.push('\u{1b}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            '?' => out.push('?'),
            'x' => {
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + d;
                            chars.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 || value == 0 {
                    return None;
                }
                out.push(char::from_u32(value)?);
            }
            d @ '0'..='7' => {
                let mut value = d.to_digit(8)?;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                if value == 0 {
                    return None;
                }
                out.push(char::from_u32(value)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_words_lose_backslashes_and_report_globs() {
        assert_eq!(unescape_unquoted("\\rm"), Word::literal("rm"));
        assert!(unescape_unquoted("*.rs").glob);
        assert!(!unescape_unquoted("\\*.rs").glob);
        assert!(!unescape_unquoted("{rm,-rf,/}").is_static);
        assert!(!unescape_unquoted("{1..3}").is_static);
        assert!(unescape_unquoted("{}").is_static);
    }

    #[test]
    fn ansi_c_strings_decode_or_refuse() {
        assert_eq!(decode_ansi_c("$'r\\x6d'").as_deref(), Some("rm"));
        assert_eq!(decode_ansi_c("$'\\162m'").as_deref(), Some("rm"));
        assert_eq!(decode_ansi_c("$'\\u0072m'"), None);
    }
}
