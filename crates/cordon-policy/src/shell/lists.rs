//! `a && b` and `a || b`: where each command runs.
//!
//! A `cd` that only runs when the command before it succeeded (`mkdir b && cd b`) or failed
//! (`cd x || cd y`) may or may not have run by the time a later command starts, so the walk
//! follows both paths: the directory where a list succeeded and where it failed. A command that
//! runs on one path gets that path's directory; one that runs after the whole list gets the
//! directory only when both paths agree, and is otherwise unresolved (its working directory is
//! unknown). `cd x || exit 1` ends the failure path, so what follows does run in `x`.
//!
//! tree-sitter-bash binds `a && b > f` as `(a && b) > f` and `a && b | c` as `(a && b) | c`;
//! bash gives the redirect and the pipe to `b` alone. A list walked here carries that tail to its
//! last command.

use tree_sitter::Node;

use super::walk::{named_children, node_text, Ctx, Walker};
use super::Stdin;

/// The directory part of the shell state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Directory {
    cwd: Option<String>,
    oldpwd: Option<String>,
    dirstack: Vec<Option<String>>,
}

impl Directory {
    pub(super) fn of(ctx: &Ctx) -> Directory {
        Directory {
            cwd: ctx.cwd.clone(),
            oldpwd: ctx.oldpwd.clone(),
            dirstack: ctx.dirstack.clone(),
        }
    }

    pub(super) fn apply(&self, ctx: &mut Ctx) {
        ctx.cwd.clone_from(&self.cwd);
        ctx.oldpwd.clone_from(&self.oldpwd);
        ctx.dirstack.clone_from(&self.dirstack);
    }

    /// Either of two paths: the same directory, or an unknown one.
    pub(super) fn either(&self, other: &Directory) -> Directory {
        if self == other {
            return self.clone();
        }
        Directory {
            cwd: if self.cwd == other.cwd {
                self.cwd.clone()
            } else {
                None
            },
            oldpwd: if self.oldpwd == other.oldpwd {
                self.oldpwd.clone()
            } else {
                None
            },
            dirstack: if self.dirstack == other.dirstack {
                self.dirstack.clone()
            } else {
                self.dirstack.iter().map(|_| None).collect()
            },
        }
    }
}

/// What the last command of a list also gets: tree-sitter's redirects and pipe segments that
/// bash gives to it alone.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tail<'t> {
    /// A `redirected_statement` whose redirects apply to the last command.
    pub redirected: Option<Node<'t>>,
    /// The pipeline whose later segments read the last command's output.
    pub piped: Option<Node<'t>>,
}

impl Walker<'_> {
    /// A list statement: afterwards the shell is in the directory both paths agree on.
    pub(super) fn list_statement(&mut self, node: Node, src: &str, ctx: &mut Ctx, tail: Tail) {
        let failed = self.walk_list(node, src, ctx, tail);
        let succeeded = Directory::of(ctx);
        succeeded.either(&failed).apply(ctx);
    }

    /// Walks `left && right` or `left || right`. Leaves `ctx` in the directory where the list
    /// succeeded and returns the one where it failed.
    fn walk_list(&mut self, node: Node, src: &str, ctx: &mut Ctx, tail: Tail) -> Directory {
        let parts = named_children(node);
        let mut cursor = node.walk();
        let operator = node
            .children(&mut cursor)
            .find(|c| !c.is_named() && matches!(c.kind(), "&&" | "||"))
            .map(|c| c.kind());
        let ([left, right], Some(operator)) = (parts.as_slice(), operator) else {
            // Not a binary list: each part in order, the tail on none.
            for part in &parts {
                self.walk_node(*part, src, ctx);
            }
            return Directory::of(ctx);
        };
        let ignored = std::mem::replace(&mut ctx.errexit_ignored, true);
        let left_failed = self.walk_part(*left, src, ctx, Tail::default());
        ctx.errexit_ignored = ignored;
        let left_succeeded = Directory::of(ctx);
        let ends = ends_the_shell(*right, src);
        if operator == "&&" {
            let right_failed = self.walk_part(*right, src, ctx, tail);
            if ends {
                // `a && exit`: only the path where `a` failed goes on.
                left_failed.apply(ctx);
                return left_failed;
            }
            left_failed.either(&right_failed)
        } else {
            left_failed.apply(ctx);
            let right_failed = self.walk_part(*right, src, ctx, tail);
            if ends {
                // `cd x || exit 1`: only the path where `cd x` succeeded goes on.
                left_succeeded.apply(ctx);
                return left_succeeded;
            }
            let right_succeeded = Directory::of(ctx);
            left_succeeded.either(&right_succeeded).apply(ctx);
            right_failed
        }
    }

    /// One side of a list, with the tail if it is the last command. Returns the directory where
    /// it failed: unchanged for a `cd` (a failed `cd` moves nowhere), unknown for anything else
    /// that moved.
    fn walk_part(&mut self, node: Node, src: &str, ctx: &mut Ctx, tail: Tail) -> Directory {
        if node.kind() == "list" {
            return self.walk_list(node, src, ctx, tail);
        }
        // `cd x && b 2>&1 | c` as tree-sitter has it, a pipeline whose first segment is the
        // list: bash pipes only the list's last command, and a later `&& d` runs where the list
        // succeeded (working day fifteen: `d` was judged in an unknown directory).
        if let (Some((list, redirected)), None, None) =
            (piped_list(node), tail.redirected, tail.piped)
        {
            let tail = Tail {
                redirected,
                piped: Some(node),
            };
            return self.walk_list(list, src, ctx, tail);
        }
        // `(a && b) > f` as tree-sitter has it: the list, its last command redirected.
        if let Some(list) = redirected_list(node) {
            let tail = Tail {
                redirected: Some(node),
                piped: tail.piped,
            };
            return self.walk_list(list, src, ctx, tail);
        }
        let before = Directory::of(ctx);
        self.with_tail(node, src, ctx, tail);
        let after = Directory::of(ctx);
        if after == before || is_directory_change(node, src) {
            before
        } else {
            before.either(&after)
        }
    }

    /// Walks `node` with the redirects and pipe segments tree-sitter hung on its list.
    fn with_tail(&mut self, node: Node, src: &str, ctx: &mut Ctx, tail: Tail) {
        match (tail.redirected, tail.piped) {
            (None, None) => self.walk_node(node, src, ctx),
            (Some(redirected), None) => self.redirected_body(redirected, node, src, ctx),
            (redirected, Some(pipeline)) => {
                // The first segment of a pipeline runs in its own subshell.
                let mut first = ctx.clone();
                first.errexit_ignored = true;
                let before = self.out.len();
                match redirected {
                    Some(redirected) => self.redirected_body(redirected, node, src, &mut first),
                    None => self.walk_node(node, src, &mut first),
                }
                self.pipeline_rest(pipeline, src, ctx, before, &first);
            }
        }
    }

    /// The segments after the first of `pipeline`, each in its own subshell reading a pipe.
    /// `first_from` is where the first segment's commands start in `self.out`.
    pub(super) fn pipeline_rest(
        &mut self,
        pipeline: Node,
        src: &str,
        ctx: &Ctx,
        first_from: usize,
        first: &Ctx,
    ) {
        let mut source = self.pipe_source_of(first_from, first);
        let segments = named_children(pipeline);
        let last = segments.len().saturating_sub(1);
        for (i, segment) in segments.into_iter().enumerate().skip(1) {
            let mut inner = ctx.clone();
            inner.errexit_ignored |= i < last;
            inner.stdin = Stdin::Pipe;
            inner.pipe_source = source.take();
            let before = self.out.len();
            self.walk_node(segment, src, &mut inner);
            source = self.pipe_source_of(before, &inner);
        }
    }
}

/// For a pipeline whose first segment tree-sitter made a list (`cd x && b | c`, bash's
/// `cd x && (b | c)`): the list, and the redirected statement around it (`cd x && b 2>&1 | c`).
pub(super) fn piped_list(pipeline: Node) -> Option<(Node, Option<Node>)> {
    if pipeline.kind() != "pipeline" {
        return None;
    }
    let first = named_children(pipeline).first().copied()?;
    match first.kind() {
        "list" => Some((first, None)),
        "redirected_statement" => first
            .child_by_field_name("body")
            .filter(|b| b.kind() == "list")
            .map(|b| (b, Some(first))),
        _ => None,
    }
}

/// The list body of a redirected statement, if it has one.
pub(super) fn redirected_list(node: Node) -> Option<Node> {
    (node.kind() == "redirected_statement")
        .then(|| node.child_by_field_name("body"))
        .flatten()
        .filter(|b| b.kind() == "list")
}

/// `exit` or `return`: nothing after it runs in this shell.
fn ends_the_shell(node: Node, src: &str) -> bool {
    node.kind() == "command"
        && matches!(
            node_text(node, src).split_whitespace().next(),
            Some("exit" | "return")
        )
}

/// A plain `cd`, `pushd` or `popd`: when it fails, the directory has not moved.
fn is_directory_change(node: Node, src: &str) -> bool {
    node.kind() == "command"
        && matches!(
            node_text(node, src).split_whitespace().next(),
            Some("cd" | "pushd" | "popd")
        )
}

/// A statement that is a `cd` (perhaps redirected: `cd x 2>/dev/null`). The statement after it
/// runs whether it succeeded or not (`cd x; rm -rf *` runs `rm` where the shell was when `x` does
/// not exist), unless `set -e` ends the text on its failure.
pub(super) fn is_directory_change_statement(node: Node, src: &str) -> bool {
    let cd = if node.kind() == "redirected_statement" {
        node.child_by_field_name("body")
    } else {
        Some(node)
    };
    // A bare `cd` goes to the home directory, which does not fail.
    cd.is_some_and(|cd| {
        is_directory_change(cd, src) && node_text(cd, src).split_whitespace().nth(1).is_some()
    })
}
