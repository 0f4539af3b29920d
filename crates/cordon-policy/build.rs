//! Converts the data files people edit as YAML into forms that cost nothing to read, with the
//! same YAML reader the crate uses at run time (`src/yaml.rs`, included here as is). Every
//! `cordon exec` is a new process, and reading YAML costs a good part of its start-up:
//!
//! - the knowledge base (`data/commands.yaml`) becomes a sorted table of programs, each with its
//!   entry as JSON (shared `flag_sets` merged in, `src/flag_sets.rs`), which `knowledge.rs` reads only for the programs a command uses;
//! - the default policy pack (`data/default-policy.yaml`) becomes its document as JSON, which
//!   `native::policy_document` uses when a policy file holds exactly the pack's text;
//! - the toolchain table (`data/toolchains.yaml`) becomes JSON, which `Toolchains::builtin` reads;
//! - what the pack gives the envelope (its closing and cache globs) becomes JSON, which
//!   `envelope::PolicyGlobs::default_pack` reads, so a CSC run does not parse the pack.
//!
//! The YAML stays the source; unit tests hold the generated forms equal to it.

#[allow(dead_code)]
#[path = "src/yaml.rs"]
mod yaml;

#[path = "src/flag_sets.rs"]
mod flag_sets;

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=data/commands.yaml");
    println!("cargo::rerun-if-changed=data/default-policy.yaml");
    println!("cargo::rerun-if-changed=data/toolchains.yaml");
    println!("cargo::rerun-if-changed=src/yaml.rs");
    let Some(out) = std::env::var_os("OUT_DIR") else {
        panic!("OUT_DIR is not set");
    };
    let out = Path::new(&out);

    let commands = read_yaml("data/commands.yaml");
    let entries = match flag_sets::expand(&commands) {
        Ok(entries) => entries,
        Err(e) => panic!("data/commands.yaml: {e}"),
    };
    let mut table: Vec<(&String, String)> = entries
        .iter()
        .map(|(program, entry)| (program, to_json("data/commands.yaml", entry)))
        .collect();
    // Sorted by byte order, the order `str::cmp` gives, so the reader can binary-search.
    table.sort_by(|a, b| a.0.cmp(b.0));
    let mut source = String::from("&[\n");
    for (program, json) in table {
        // `{:?}` of a `str` is a valid Rust string literal.
        source.push_str(&format!("    ({program:?}, {json:?}),\n"));
    }
    source.push(']');
    write(&out.join("commands_table.rs"), &source);

    let pack = read_yaml("data/default-policy.yaml");
    write(
        &out.join("default-policy.json"),
        &to_json("data/default-policy.yaml", &pack),
    );
    write(
        &out.join("default-policy-envelope.json"),
        &to_json("data/default-policy.yaml", &envelope_globs(&pack)),
    );

    let toolchains = read_yaml("data/toolchains.yaml");
    write(
        &out.join("toolchains.json"),
        &to_json("data/toolchains.yaml", &toolchains),
    );
}

/// The pack's `PolicyGlobs` (`src/envelope.rs`) as JSON: `closed`, the globs of every deny rule
/// whose match has only `paths`, `reads` or `writes` and which has no `unless`, each with whether
/// it judges writes only; `caches`, every rule's `writes_outside`. A unit test holds this equal to
/// `PolicyGlobs::of` the parsed pack.
fn envelope_globs(pack: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    let mut closed = Vec::new();
    let mut caches = Vec::new();
    for rule in pack["rules"].as_array().into_iter().flatten() {
        let empty = serde_json::Map::new();
        let spec = rule["match"].as_object().unwrap_or(&empty);
        if let Some(outside) = spec.get("writes_outside").and_then(Value::as_array) {
            caches.extend(outside.iter().cloned());
        }
        let only_paths = spec.iter().all(|(key, value)| {
            matches!(key.as_str(), "paths" | "reads" | "writes") || value.is_null()
        });
        if rule["outcome"] != "deny" || present(rule.get("unless")) || !only_paths {
            continue;
        }
        let writes_only = !present(spec.get("paths")) && !present(spec.get("reads"));
        for key in ["paths", "reads", "writes"] {
            for glob in spec
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                closed.push(serde_json::json!([glob, writes_only]));
            }
        }
    }
    serde_json::json!({ "closed": closed, "caches": caches })
}

fn read_yaml(path: &str) -> serde_json::Value {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!("{path}: {e}"),
    };
    match yaml::parse(&text) {
        Ok(value) => value,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn to_json(path: &str, value: &serde_json::Value) -> String {
    match serde_json::to_string(value) {
        Ok(json) => json,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn write(path: &Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        panic!("{}: {e}", path.display());
    }
}
