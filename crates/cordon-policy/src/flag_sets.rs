//! Shared option sets of the knowledge base (`data/commands.yaml`, `flag_sets:`), merged into the
//! entries that name them. git's diff options, for one, belong to `diff`, `show`, `log`,
//! `format-patch` and `stash show` alike: written once, named by each.
//!
//! This file is also compiled into build.rs (which has only `serde_json`), so the table the build
//! makes and the base a test parses from YAML are merged by the same code.

use serde_json::{Map, Value};

/// Merges every `flag_sets: [name, …]` of every entry (subcommands included) into that entry and
/// drops the top-level `flag_sets` map: lists are appended without repeats, `short_flags` strings
/// concatenated, and a scalar the entry sets itself wins over the set's. Returns the `commands` map. An unknown set name, or a set that is not a mapping
/// of lists and strings, is an error naming it.
pub fn expand(document: &Value) -> Result<Map<String, Value>, String> {
    let sets = match document.get("flag_sets") {
        None => Map::new(),
        Some(Value::Object(sets)) => sets.clone(),
        Some(_) => return Err("`flag_sets` must be a mapping of set names".to_string()),
    };
    let Some(Value::Object(commands)) = document.get("commands") else {
        return Err("expected a `commands` mapping".to_string());
    };
    let mut out = Map::new();
    for (program, entry) in commands {
        let mut entry = entry.clone();
        merge_sets(&mut entry, &sets, program)?;
        out.insert(program.clone(), entry);
    }
    Ok(out)
}

fn merge_sets(entry: &mut Value, sets: &Map<String, Value>, at: &str) -> Result<(), String> {
    let Value::Object(fields) = entry else {
        return Ok(());
    };
    if let Some(names) = fields.remove("flag_sets") {
        let Value::Array(names) = names else {
            return Err(format!("{at}: `flag_sets` must be a list of set names"));
        };
        for name in names {
            let name = name.as_str().unwrap_or_default();
            let Some(Value::Object(set)) = sets.get(name) else {
                return Err(format!("{at}: no flag set named `{name}`"));
            };
            for (key, value) in set {
                merge_field(fields, key, value).map_err(|e| format!("{at}: set `{name}`: {e}"))?;
            }
        }
    }
    if let Some(Value::Object(subcommands)) = fields.get_mut("subcommands") {
        for (name, sub) in subcommands.iter_mut() {
            merge_sets(sub, sets, &format!("{at} {name}"))?;
        }
    }
    Ok(())
}

fn merge_field(fields: &mut Map<String, Value>, key: &str, value: &Value) -> Result<(), String> {
    match (fields.get_mut(key), value) {
        (None, _) => {
            fields.insert(key.to_string(), value.clone());
        }
        (Some(Value::Array(have)), Value::Array(add)) => {
            for item in add {
                if !have.contains(item) {
                    have.push(item.clone());
                }
            }
        }
        (Some(Value::String(have)), Value::String(add)) => {
            let extra: String = add.chars().filter(|c| !have.contains(*c)).collect();
            have.push_str(&extra);
        }
        // A scalar the entry sets itself (`number_flag`) overrides the set's.
        (Some(have), add) if !have.is_array() && !have.is_object() && !add.is_array() => {}
        _ => return Err(format!("`{key}` cannot be merged")),
    }
    Ok(())
}
