//! Converts the knowledge base (`data/commands.yaml`) to JSON at build time, with the same YAML
//! reader the crate uses at run time (`src/yaml.rs`, included here as is). Every `cordon exec` is
//! a new process that needs the knowledge base, and reading 31 KB of YAML costs about a millisecond
//! of its start-up while the same data as JSON costs a fraction of that. The YAML stays the source
//! people edit; a unit test holds the two equal.

#[allow(dead_code)]
#[path = "src/yaml.rs"]
mod yaml;

fn main() {
    println!("cargo::rerun-if-changed=data/commands.yaml");
    println!("cargo::rerun-if-changed=src/yaml.rs");
    let text = match std::fs::read_to_string("data/commands.yaml") {
        Ok(text) => text,
        Err(e) => panic!("data/commands.yaml: {e}"),
    };
    let value = match yaml::parse(&text) {
        Ok(value) => value,
        Err(e) => panic!("data/commands.yaml: {e}"),
    };
    let json = match serde_json::to_string(&value) {
        Ok(json) => json,
        Err(e) => panic!("data/commands.yaml: {e}"),
    };
    let Some(out) = std::env::var_os("OUT_DIR") else {
        panic!("OUT_DIR is not set");
    };
    let path = std::path::Path::new(&out).join("commands.json");
    if let Err(e) = std::fs::write(&path, json) {
        panic!("{}: {e}", path.display());
    }
}
