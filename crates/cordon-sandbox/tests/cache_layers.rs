//! Persistence through a shared cache (escape catalogue item 38, docs/sandbox.md): a confined
//! command that writes `~/.cargo/registry/src/*/build.rs`, a Go build object or an npx package
//! plants code that the user's next unconfined build runs. With cache layers the caches stay
//! writable for the run, but every write lands in the workspace's own layer under cordon's home:
//! the cache the user's tools read is unchanged, the workspace's later runs see their writes, and
//! another workspace's runs do not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use cordon_sandbox::{Confinement, Envelope, Error, RunReport};

const BUILD_RS: &str = ".cargo/registry/src/index-1/serde-1.0.0/build.rs";
const GO_OBJECT: &str = ".cache/go-build/ab/abcd-d";

/// A home with two projects, cordon's home, and two caches holding code.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = canon(dir.path());
        for d in [
            "project",
            "other",
            ".config/cordon",
            ".aws",
            ".cargo/registry/src/index-1/serde-1.0.0",
            ".cache/go-build/ab",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join(BUILD_RS), "fn main() {}\n").unwrap();
        std::fs::write(home.join(GO_OBJECT), "object\n").unwrap();
        std::fs::write(home.join(".aws/credentials"), "aws-secret").unwrap();
        Home { _dir: dir, home }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    fn layers(&self) -> PathBuf {
        self.path(".config/cordon/layers")
    }

    fn builder(&self, workspace: &str) -> cordon_sandbox::EnvelopeBuilder {
        Envelope::builder(self.path(workspace))
            .home(&self.home)
            .cordon_home(self.path(".config/cordon"))
            .never([self.path(".aws")])
            .caches([self.path(".cargo/registry"), self.path(".cache")])
    }

    fn layered(&self, workspace: &str) -> Confinement {
        Confinement::within(
            self.builder(workspace)
                .cache_layers(self.layers())
                .build()
                .unwrap(),
        )
    }

    fn direct(&self, workspace: &str) -> Confinement {
        Confinement::within(self.builder(workspace).build().unwrap())
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| format!("<{e}>"))
    }
}

/// Runs `sh -c script` in the workspace; returns the exit code, stdout+stderr and the report.
fn sh(h: &Home, conf: &Confinement, workspace: &str, script: &str) -> (i32, String, RunReport) {
    sh_in(conf, &h.path(workspace), script)
}

/// The attack: change a crate's build script, plant a new crate version, replace a Go object,
/// delete another, change a mode, and rename inside the cache (the last two go through the write
/// broker). Then print what the command sees.
fn plant(h: &Home) -> String {
    let src = h.path(".cargo/registry/src/index-1");
    let go = h.path(".cache/go-build/ab");
    format!(
        "set -e
         echo 'fn main() {{ evil() }}' > {src}/serde-1.0.0/build.rs
         mkdir -p {src}/serde-1.0.999 && echo planted > {src}/serde-1.0.999/build.rs
         echo poisoned > {go}/abcd-d
         echo new > {go}/efgh-d && mv {go}/efgh-d {go}/ijkl-d && chmod 600 {go}/ijkl-d
         rm {src}/serde-1.0.0/build.rs && echo 'fn main() {{ evil() }}' > {src}/serde-1.0.0/build.rs
         cat {src}/serde-1.0.0/build.rs {src}/serde-1.0.999/build.rs {go}/abcd-d {go}/ijkl-d",
        src = path_str(&src),
        go = path_str(&go),
    )
}

#[test]
fn cat38_a_cache_write_stays_in_the_workspace_layer() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.layered("project");
    let (code, out, report) = sh(&h, &conf, "project", &plant(&h));
    // Inside the run every write worked, and the command sees its own writes.
    assert_eq!(code, 0, "{out}\n{:?}", report.enforcement.envelope.notes);
    assert_eq!(out, "fn main() { evil() }\nplanted\npoisoned\nnew\n");
    let layers = &report.enforcement.envelope.cache_layers;
    assert_eq!(layers.len(), 2, "{layers:?}");
    for layer in layers {
        assert!(layer.layer.starts_with(h.layers()), "{layer:?}");
        assert!(report.enforcement.envelope.write.contains(&layer.cache));
    }
    // The caches the user's own tools read are as they were.
    assert_eq!(h.read(BUILD_RS), "fn main() {}\n");
    assert_eq!(h.read(GO_OBJECT), "object\n");
    for planted in [
        ".cargo/registry/src/index-1/serde-1.0.999",
        ".cache/go-build/ab/ijkl-d",
        ".cache/go-build/ab/efgh-d",
    ] {
        assert!(!h.path(planted).exists(), "{planted} reached the cache");
    }

    // The workspace's next run sees what it wrote: its caches stay warm.
    let (code, out, _) = sh(
        &h,
        &conf,
        "project",
        &format!(
            "cat {}/serde-1.0.999/build.rs",
            path_str(&h.path(".cargo/registry/src/index-1"))
        ),
    );
    assert_eq!((code, out.as_str()), (0, "planted\n"));

    // Another workspace does not: what one run planted never runs in another's commands.
    let (_, out, _) = sh(
        &h,
        &h.layered("other"),
        "other",
        &format!(
            "cat {} {}; ls {}",
            path_str(&h.path(BUILD_RS)),
            path_str(&h.path(GO_OBJECT)),
            path_str(&h.path(".cargo/registry/src/index-1"))
        ),
    );
    assert_eq!(out, "fn main() {}\nobject\nserde-1.0.0\n");

    // No command reaches a layer directly: it lies in cordon's home (whose names a listing of
    // the home shows, as for every closed path, but not its contents).
    let upper = &layers[0].layer;
    let (_, out, _) = sh(
        &h,
        &conf,
        "project",
        &format!(
            "cat {0}/index-1/serde-1.0.999/build.rs || echo refused; \
             echo x > {0}/new || echo refused",
            path_str(&upper.join("src"))
        ),
    );
    assert_eq!(out.matches("refused").count(), 2, "{out}");
    assert_eq!(out.matches("Permission denied").count(), 2, "{out}");
    assert!(!out.contains("planted"), "{out}");
    // The runs reuse their work directories: one per run at a time, and nothing else is left.
    for layer in layers {
        let dir = layer.layer.parent().unwrap();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let slot = name
                .strip_prefix("work.")
                .map(|n| n.trim_end_matches(".lock"))
                .and_then(|n| n.parse::<usize>().ok());
            assert!(name == "upper" || slot.is_some_and(|n| n < 4), "{name}");
        }
        // The helper removed the volatile marker its mount left, while the run went on, so the
        // next run that takes the work directory has nothing to remove before its mount (it
        // still would, were the helper killed first). The last helper may still be finishing.
        let marker = |n: usize| dir.join(format!("work.{n}/work/incompat/volatile/dirty"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while (0..4).any(|n| marker(n).exists()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for n in 0..4 {
            assert!(!marker(n).exists(), "{} was left", marker(n).display());
            // Control: the work directory was used (the marker's parent holds overlay's own).
            if n == 0 {
                assert!(dir.join("work.0/work").exists());
            }
        }
    }
}

#[test]
fn cat38_positive_control_without_layers_the_cache_itself_is_written() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let (code, out, report) = sh(&h, &h.direct("project"), "project", &plant(&h));
    assert_eq!(code, 0, "{out}");
    assert!(report.enforcement.envelope.cache_layers.is_empty());
    // This is the attack the layers stop: the user's next `cargo build` would run it.
    assert_eq!(h.read(BUILD_RS), "fn main() { evil() }\n");
    assert_eq!(
        h.read(".cargo/registry/src/index-1/serde-1.0.999/build.rs"),
        "planted\n"
    );
    assert_eq!(h.read(GO_OBJECT), "poisoned\n");
}

#[test]
fn cat38_a_closed_file_in_a_cache_is_stood_in_for_inside_its_layer() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    std::fs::create_dir_all(h.path(".cache/huggingface")).unwrap();
    std::fs::write(h.path(".cache/huggingface/token"), "cache-secret").unwrap();
    let conf = Confinement::within(
        h.builder("project")
            .never([h.path(".cache/huggingface/token")])
            .cache_layers(h.layers())
            .build()
            .unwrap(),
    );
    let token = path_str(&h.path(".cache/huggingface/token"));
    let (_, out, report) = sh(
        &h,
        &conf,
        "project",
        &format!(
            "echo \"[$(cat {token})]\"; echo x >> {go} && cat {go}; \
             (echo stolen > {token}) 2>/dev/null || echo unwritable; \
             rm -f {token} 2>/dev/null || echo kept; \
             cp -r {hf} {copy} && echo \"[$(cat {copy}/token)]\"",
            go = path_str(&h.path(GO_OBJECT)),
            hf = path_str(&h.path(".cache/huggingface")),
            copy = path_str(&h.path(".cache/hf-copy")),
        ),
    );
    // The secret reads as empty through every path, cannot be replaced or removed, and the cache
    // around it keeps its layer.
    assert!(!out.contains("cache-secret"), "{out}");
    assert_eq!(out, "[]\nobject\nx\nunwritable\nkept\n[]\n", "{report:?}");
    assert_eq!(report.enforcement.envelope.cache_layers.len(), 2);
    assert!(
        report
            .enforcement
            .envelope
            .stand_ins
            .contains(&h.path(".cache/huggingface/token")),
        "{:?}",
        report.enforcement.envelope.stand_ins
    );
    assert_eq!(h.read(".cache/huggingface/token"), "cache-secret");
    assert_eq!(h.read(GO_OBJECT), "object\n");
    // Positive control: without the never path the same text reads the secret.
    let open = h.layered("project");
    let (_, out, _) = sh(&h, &open, "project", &format!("cat {token}"));
    assert_eq!(out, "cache-secret");
}

/// A read-only path beneath a cache cannot be kept read-only inside a layer that grants the
/// whole cache, so that cache gets none and is read-only; the other caches keep theirs.
#[test]
fn cat38_a_cache_with_a_read_only_path_beneath_gets_no_layer_and_is_read_only() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    std::fs::write(h.path(".cache/settings"), "kept").unwrap();
    let conf = Confinement::within(
        h.builder("project")
            .read_only([h.path(".cache/settings")])
            .cache_layers(h.layers())
            .build()
            .unwrap(),
    );
    let (_, out, report) = sh(
        &h,
        &conf,
        "project",
        &format!(
            "echo x >> {go} || echo read-only; cat {go}; echo y >> {rs} && echo layered",
            go = path_str(&h.path(GO_OBJECT)),
            rs = path_str(&h.path(BUILD_RS)),
        ),
    );
    let notes = &report.enforcement.envelope.notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains(".cache") && n.contains("no layer and is read-only")),
        "{notes:?}"
    );
    assert!(out.starts_with("read-only\nobject\nlayered\n"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    assert_eq!(h.read(GO_OBJECT), "object\n");
    assert_eq!(h.read(BUILD_RS), "fn main() {}\n");
    assert_eq!(report.enforcement.envelope.cache_layers.len(), 1);
}

#[test]
fn cat38_a_cache_that_holds_the_workspace_gets_no_layer() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    std::fs::create_dir_all(h.path(".cache/proj")).unwrap();
    let conf = h.layered(".cache/proj");
    let (code, out, report) = sh(
        &h,
        &conf,
        ".cache/proj",
        &format!(
            "echo kept > made.txt && (echo x >> {go} || echo read-only)",
            go = path_str(&h.path(GO_OBJECT))
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("read-only\n"), "{out}");
    // The workspace's write reached the workspace itself, not a layer.
    assert_eq!(h.read(".cache/proj/made.txt"), "kept\n");
    assert_eq!(h.read(GO_OBJECT), "object\n");
    let notes = &report.enforcement.envelope.notes;
    assert!(
        notes.iter().any(|n| n.contains("holds the workspace")),
        "{notes:?}"
    );
    // Positive control: the other cache still gets its layer.
    let layers = &report.enforcement.envelope.cache_layers;
    assert_eq!(layers.len(), 1, "{layers:?}");
    assert_eq!(layers[0].cache, h.path(".cargo/registry"));
}

/// A cache inside the workspace keeps its layer only where no command can move the layer away:
/// one whose holder can be renamed gets none (it is the workspace's), one right under the
/// workspace keeps it (its mount point cannot be renamed).
#[test]
fn cat38_a_cache_inside_the_workspace_is_layered_only_where_it_cannot_be_moved() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    for cache in ["project/m2", "project/deep/m2"] {
        std::fs::create_dir_all(h.path(cache)).unwrap();
        std::fs::write(h.path(&format!("{cache}/a.jar")), "orig\n").unwrap();
    }
    let conf = Confinement::within(
        h.builder("project")
            .caches([h.path("project/m2"), h.path("project/deep/m2")])
            .cache_layers(h.layers())
            .build()
            .unwrap(),
    );
    let (code, out, report) = sh(
        &h,
        &conf,
        "project",
        "echo new > m2/a.jar; mv m2 m3 || echo stays; echo new > deep/m2/a.jar && mv deep deep2 && echo moved",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stays") && out.contains("moved"), "{out}");
    assert!(out.contains("busy"), "{out}");
    let envelope = &report.enforcement.envelope;
    let layered: Vec<_> = envelope.cache_layers.iter().map(|l| &l.cache).collect();
    // Right under the workspace: layered, the workspace's copy unchanged.
    assert!(layered.contains(&&h.path("project/m2")), "{layered:?}");
    assert_eq!(h.read("project/m2/a.jar"), "orig\n");
    // Under a directory a command can rename: no layer, written as the workspace is.
    assert!(
        !layered.contains(&&h.path("project/deep/m2")),
        "{layered:?}"
    );
    assert_eq!(h.read("project/deep2/m2/a.jar"), "new\n");
    assert!(
        envelope
            .notes
            .iter()
            .any(|n| n.contains("could move its layer away")),
        "{:?}",
        envelope.notes
    );
}

/// The home as the workspace: the home is granted around its closed paths (list-only), so no
/// command can move a cache's holder, and the caches keep their layers.
#[test]
fn cat38_with_the_home_as_the_workspace_the_caches_keep_their_layers() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.layered("");
    let (_, out, report) = sh(
        &h,
        &conf,
        "",
        &format!("echo evil > {BUILD_RS}; mv .cargo .cargo2 || echo kept; cat {BUILD_RS}"),
    );
    assert!(out.starts_with("kept\nevil\n"), "{out}");
    assert_eq!(h.read(BUILD_RS), "fn main() {}\n");
    let layered: Vec<_> = report
        .enforcement
        .envelope
        .cache_layers
        .iter()
        .map(|l| &l.cache)
        .collect();
    assert_eq!(
        layered.len(),
        2,
        "{layered:?} {:?}",
        report.enforcement.envelope.notes
    );
}

#[test]
fn cat38_the_layers_must_lie_where_no_command_reaches() {
    let h = Home::new();
    let err = h
        .builder("project")
        .cache_layers(h.path("project/.layers"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Envelope(_)), "{err}");
    assert!(err.to_string().contains("inside cordon's home"), "{err}");
    // Positive control: inside cordon's home, one directory per workspace.
    let a = h
        .builder("project")
        .cache_layers(h.layers())
        .build()
        .unwrap();
    let b = h.builder("other").cache_layers(h.layers()).build().unwrap();
    let (a, b) = (a.layers.unwrap(), b.layers.unwrap());
    assert!(a.starts_with(h.layers()) && b.starts_with(h.layers()));
    assert_ne!(a, b);
}

/// The same attack with the supervisor run by an unprivileged user: the layers are mounted in a
/// user namespace of the helper's own, which each command joins.
#[test]
fn cat38_unprivileged_runs_write_the_layer_too() {
    if landlock_missing() {
        return;
    }
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        skip!(
            "root",
            "an unprivileged run needs root and setpriv to drop to nobody"
        );
        return;
    }
    let h = Home::new();
    // nobody must be able to reach its home: the temp directory's parents are world-searchable.
    chown_tree(&h.home, 65534);
    let runner = env!("CARGO_BIN_EXE_cordon-sandbox-run");
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(runner)
        .args(["--hardened", "--report", "--workspace"])
        .arg(h.path("project"))
        .arg("--home")
        .arg(&h.home)
        .arg("--never")
        .arg(h.path(".config/cordon"))
        .args(["--cache"])
        .arg(h.path(".cargo/registry"))
        .arg("--cache")
        .arg(h.path(".cache"))
        .arg("--cache-layers")
        .arg(h.layers())
        .args(["--", "/bin/sh", "-c", &plant(&h)])
        .current_dir(h.path("project"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(&stderr[stderr.find('{').unwrap()..])
        .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let envelope = &report["enforcement"]["envelope"];
    if envelope["cache_layers"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        let notes = envelope["notes"].to_string();
        if notes.contains("no user namespace") {
            skip!(
                "user-namespace",
                "no user namespace for nobody here: {notes}"
            );
            return;
        }
        panic!("no layers: {notes}\n{stdout}");
    }
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "fn main() { evil() }\nplanted\npoisoned\nnew\n");
    assert_eq!(h.read(BUILD_RS), "fn main() {}\n");
    assert_eq!(h.read(GO_OBJECT), "object\n");
    assert!(!h.path(".cargo/registry/src/index-1/serde-1.0.999").exists());
}

fn chown_tree(root: &Path, uid: u32) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).unwrap();
        if p.is_dir() && !p.is_symlink() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
}
