//! Issue 23's benchmark at the library level: what a checkpointed one-file `mv` and an `rm -rf`
//! of a 10,000-file directory cost in workspaces of growing size, for each way of taking the
//! checkpoint, against the same operation without one.
//!
//! `cargo run --release -p cordon-checkpoint --example checkpoint_bench -- DIR FILES [RUNS] [APPROACHES]`
//!
//! Builds `DIR/ws` with FILES files of 800 distinct bytes (1,000 per directory) and `a.txt`, then
//! for each approach (comma-separated; default `none,full,named,observed`) and workload runs one
//! warm-up and RUNS timed repetitions, each on a store that has already seen the workspace (as a
//! real one has), and prints one JSON line per (approach, workload) with the median, min and max
//! time and the median bytes added to the store (its allocated blocks, objects, manifests and
//! index included). The content the operation destroys is fresh each run, so the store cannot
//! have it already.
//!
//! Approaches: `none` performs the operation only (local mode without a checkpoint); `full`
//! snapshots the whole workspace first (today's behaviour); `named` snapshots only the paths
//! the command names (`a.txt` and `b.txt`; the directory); `observed` records through an
//! [`cordon_checkpoint::incremental::Recorder`] the changes a write broker would report,
//! performing each call after telling it (the broker's own syscall mediation is measured in
//! docs/sandbox.md, not here). Every checkpoint is signed, as the CLI's will be.

mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cordon_checkpoint::incremental::Recorder;
use cordon_checkpoint::{snapshot_signed, Coverage, Request, Signer, Store};

type Error = Box<dyn std::error::Error>;

const PER_DIR: u64 = 1000;
const VICTIM_FILES: u64 = 10_000;

fn build_workspace(ws: &Path, files: u64) -> Result<(), Error> {
    let _ = fs::remove_dir_all(ws);
    fs::create_dir_all(ws)?;
    for i in 0..files {
        let dir = ws.join(format!("d{:04}", i / PER_DIR));
        if i % PER_DIR == 0 {
            fs::create_dir(&dir)?;
        }
        fs::write(dir.join(format!("f{i:07}")), common::content(0, i, 800))?;
    }
    Ok(())
}

/// Bytes allocated under `dir` (what the store really costs on disk).
fn allocated(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                total += m.blocks() * 512;
                if m.is_dir() {
                    pending.push(e.path());
                }
            }
        }
    }
    total
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Mv,
    RmRf,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Mv => "mv_one_file",
            Workload::RmRf => "rm_rf_10000",
        }
    }

    /// Untimed: puts back what the operation needs, with fresh content (`seed`).
    fn prepare(self, ws: &Path, seed: u64) -> Result<(), Error> {
        match self {
            Workload::Mv => {
                let _ = fs::remove_file(ws.join("b.txt"));
                fs::write(ws.join("a.txt"), common::content(seed, 0, 800))?;
            }
            Workload::RmRf => {
                let victim = ws.join("victim");
                let _ = fs::remove_dir_all(&victim);
                for i in 0..VICTIM_FILES {
                    let dir = victim.join(format!("d{:02}", i / PER_DIR));
                    if i % PER_DIR == 0 {
                        fs::create_dir_all(&dir)?;
                    }
                    fs::write(dir.join(format!("f{i:05}")), common::content(seed, i, 800))?;
                }
            }
        }
        Ok(())
    }

    fn named(self, ws: &Path) -> Vec<PathBuf> {
        match self {
            Workload::Mv => vec![ws.join("a.txt"), ws.join("b.txt")],
            Workload::RmRf => vec![ws.join("victim")],
        }
    }

    /// The operation itself; with a recorder, each call is reported first, as a broker would.
    fn perform(self, ws: &Path, mut recorder: Option<&mut Recorder>) -> Result<(), Error> {
        match self {
            Workload::Mv => {
                if let Some(r) = recorder.as_deref_mut() {
                    let dir = File::open(ws)?;
                    r.before_change(dir.as_fd(), "a.txt".as_ref())?;
                    r.before_create(dir.as_fd(), "b.txt".as_ref())?;
                }
                fs::rename(ws.join("a.txt"), ws.join("b.txt"))?;
            }
            Workload::RmRf => remove_tree(&ws.join("victim"), &mut recorder)?,
        }
        Ok(())
    }
}

/// `rm -rf`: children first, each reported before it goes.
fn remove_tree(path: &Path, recorder: &mut Option<&mut Recorder>) -> Result<(), Error> {
    let is_dir = fs::symlink_metadata(path)?.is_dir();
    if is_dir {
        let mut children: Vec<PathBuf> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            remove_tree(&child, recorder)?;
        }
    }
    if let Some(r) = recorder.as_deref_mut() {
        let parent = File::open(path.parent().ok_or("no parent")?)?;
        r.before_change(parent.as_fd(), path.file_name().ok_or("no name")?)?;
    }
    if is_dir {
        fs::remove_dir(path)?;
    } else {
        fs::remove_file(path)?;
    }
    Ok(())
}

struct Bench<'a> {
    ws: &'a Path,
    store_dir: &'a Path,
    signer: &'a Signer,
}

impl Bench<'_> {
    /// One timed run: checkpoint as `approach` says, then the operation. Returns seconds.
    fn run(&self, approach: &str, workload: Workload) -> Result<f64, Error> {
        let request = |scopes: Vec<PathBuf>, coverage| Request {
            scopes,
            workspace: Some(self.ws.to_path_buf()),
            label: workload.name().into(),
            coverage,
            ..Request::default()
        };
        let start = Instant::now();
        match approach {
            "none" => workload.perform(self.ws, None)?,
            "full" | "named" => {
                let store = Store::open(self.store_dir)?;
                let r = if approach == "full" {
                    request(vec![self.ws.to_path_buf()], Coverage::WholeScope)
                } else {
                    request(workload.named(self.ws), Coverage::Named)
                };
                snapshot_signed(&store, &r, self.signer)?;
                workload.perform(self.ws, None)?;
            }
            "observed" => {
                let store = Store::open(self.store_dir)?;
                let mut recorder = Recorder::begin(
                    store,
                    &request(vec![self.ws.to_path_buf()], Coverage::Observed),
                )?;
                workload.perform(self.ws, Some(&mut recorder))?;
                recorder.finish_signed(self.signer)?;
            }
            other => return Err(format!("unknown approach {other}").into()),
        }
        Ok(start.elapsed().as_secs_f64())
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: checkpoint_bench DIR FILES [RUNS] [APPROACHES]";
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let files: u64 = args.next().ok_or(usage)?.parse()?;
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let approaches = args
        .next()
        .unwrap_or_else(|| "none,full,named,observed".into());
    let ws = dir.join("ws");
    let built = Instant::now();
    build_workspace(&ws, files)?;
    eprintln!(
        "# built {files} files in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let signer = Signer::from_bytes(&[7u8; 32], "bench")?;
    for approach in approaches.split(',') {
        let store_dir = dir.join(format!("store-{approach}"));
        let _ = fs::remove_dir_all(&store_dir);
        let bench = Bench {
            ws: &ws,
            store_dir: &store_dir,
            signer: &signer,
        };
        for workload in [Workload::Mv, Workload::RmRf] {
            let mut times = Vec::new();
            let mut added = Vec::new();
            for run in 0..=runs {
                workload.prepare(&ws, (run as u64 + 1) * 7919 + files)?;
                // What the command destroys was on disk before it ran, not dirty in the page
                // cache for the checkpoint's `syncfs` to flush.
                nix::unistd::syncfs(File::open(&ws)?)?;
                let before = allocated(&store_dir);
                let t = bench.run(approach, workload)?;
                // Run 0 warms the store (a real store has seen the workspace before).
                if run > 0 {
                    times.push(t * 1000.0);
                    added.push((allocated(&store_dir) - before.min(allocated(&store_dir))) as f64);
                }
            }
            let (min, max) = (
                times.iter().cloned().fold(f64::INFINITY, f64::min),
                times.iter().cloned().fold(0.0, f64::max),
            );
            println!(
                "{}",
                serde_json::json!({
                    "files": files,
                    "workload": workload.name(),
                    "approach": approach,
                    "runs": runs,
                    "median_ms": (median(&mut times) * 1000.0).round() / 1000.0,
                    "min_ms": (min * 1000.0).round() / 1000.0,
                    "max_ms": (max * 1000.0).round() / 1000.0,
                    "store_bytes_added_median": median(&mut added) as u64,
                })
            );
        }
        let _ = fs::remove_dir_all(&store_dir);
    }
    let _ = fs::remove_dir_all(&ws);
    Ok(())
}
