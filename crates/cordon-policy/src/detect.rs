//! `cordon policy hosts --detect`: the registries the user's own tools are configured to use,
//! proposed as host-list entries for the user to accept into `policy.yaml`.
//!
//! [`gather`] reads the tools' configuration files and the workspace's manifests (the only I/O
//! here); [`detect`] turns them into proposals, purely. Sources:
//!
//! | tool | read from | default when the workspace uses the tool and nothing is configured |
//! |---|---|---|
//! | npm | `~/.npmrc`, the workspace's `.npmrc`, `npm_config_registry`: `registry`, `@scope:registry` | `registry.npmjs.org` |
//! | pip | `pip.conf` (user, `PIP_CONFIG_FILE`, `/etc`), `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`: `index-url`, `extra-index-url` | `pypi.org`, `files.pythonhosted.org` |
//! | cargo | `~/.cargo/config.toml`, the workspace's `.cargo/config.toml`, `CARGO_REGISTRIES_*_INDEX`: `[source.*] registry`, `[registries.*] index` | `index.crates.io`, `static.crates.io` |
//! | go | `GOPROXY`, `GOSUMDB`, go's env file (`GOENV`, `~/.config/go/env`) | `proxy.golang.org`, `sum.golang.org` |
//! | git | the workspace's `.git/config`: each remote's `url` (not `pushurl`: a push still asks) | — |
//!
//! Only `http(s)` URLs become entries: an ssh remote or a `direct` Go fetch does not go through
//! the proxy, and the notes say so. The default pack ships no host names.

use std::collections::BTreeMap;
use std::path::Path;

use cordon_core::hosts::{HostList, HostPattern};
use serde::Serialize;

/// A tool whose configuration names hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Npm,
    Pip,
    Cargo,
    Go,
    Git,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Npm => "npm",
            Tool::Pip => "pip",
            Tool::Cargo => "cargo",
            Tool::Go => "go",
            Tool::Git => "git",
        }
    }

    /// The default pack's rule that runs this tool's dependency installs, where a `hosts:` for
    /// its registries belongs; `None` for a tool no rule of the pack runs with a list.
    pub fn pack_rule(self) -> Option<&'static str> {
        match self {
            Tool::Npm => Some("npm-install"),
            Tool::Pip => Some("pip-install"),
            Tool::Cargo | Tool::Go | Tool::Git => None,
        }
    }
}

/// A configuration file's text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

/// What detection reads; [`gather`] fills it from the machine, tests build it by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectInputs {
    pub npmrc: Vec<Source>,
    pub pip_conf: Vec<Source>,
    pub cargo_config: Vec<Source>,
    pub go_env: Vec<Source>,
    pub git_config: Vec<Source>,
    /// The environment variables the tools read (the others are not kept).
    pub env: BTreeMap<String, String>,
    /// Tools whose manifest the workspace holds (`package.json`, `requirements.txt`, ...).
    pub workspace_uses: Vec<Tool>,
}

/// One proposed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub host: HostPattern,
    pub tool: Tool,
    /// The file or variable that names it, or the tool's default.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub proposals: Vec<Proposal>,
    /// What was found and not proposed, and why.
    pub notes: Vec<String>,
}

impl Detection {
    /// The proposals as a list, for `policy.yaml`.
    pub fn hosts(&self) -> HostList {
        HostList::new(self.proposals.iter().map(|p| p.host.clone()))
    }

    /// The proposals as `hosts:` lists for `policy.yaml`, one per rule they belong in: the
    /// default pack's rule for the tool, else a rule of the user's own. Each entry says where it
    /// was found. Empty when nothing was proposed.
    pub fn policy_snippet(&self) -> String {
        let mut out = String::new();
        let mut places: Vec<Option<&'static str>> = Vec::new();
        for proposal in &self.proposals {
            let place = proposal.tool.pack_rule();
            if !places.contains(&place) {
                places.push(place);
            }
        }
        for place in places {
            match place {
                Some(rule) => out.push_str(&format!("# under the rule `{rule}`:\n")),
                None => out.push_str(
                    "# in a rule of your own (no rule of the default pack runs these with a list):\n",
                ),
            }
            out.push_str("    hosts:\n");
            for proposal in self
                .proposals
                .iter()
                .filter(|p| p.tool.pack_rule() == place)
            {
                out.push_str(&format!(
                    "      - \"{}\"  # {}: {}\n",
                    proposal.host,
                    proposal.tool.name(),
                    proposal.source.replace('\n', " ")
                ));
            }
        }
        out
    }

    fn propose(&mut self, tool: Tool, url: &str, source: &str) {
        match url_host(url) {
            Ok(host) if !self.proposals.iter().any(|p| p.host == host) => {
                self.proposals.push(Proposal {
                    host,
                    tool,
                    source: source.to_string(),
                })
            }
            Ok(_) => {}
            Err(why) => self.notes.push(format!("{source}: {url}: {why}")),
        }
    }
}

/// The host and port of a registry URL, or why it cannot go through the proxy.
fn url_host(text: &str) -> Result<HostPattern, String> {
    let bare = ["sparse+", "registry+", "git+"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    let url = url::Url::parse(bare).map_err(|_| {
        if bare.contains('@') && bare.contains(':') {
            "an ssh address does not go through the proxy; use an https:// URL".to_string()
        } else {
            "not a URL".to_string()
        }
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!(
            "{}:// does not go through the proxy; only http and https do",
            url.scheme()
        ));
    }
    let host = url.host_str().ok_or("the URL names no host")?;
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    format!("{host}:{port}")
        .parse()
        .map_err(|e: cordon_core::hosts::HostError| e.to_string())
}

/// Proposes entries from `inputs`.
pub fn detect(inputs: &DetectInputs) -> Detection {
    let mut found = Detection::default();
    npm(inputs, &mut found);
    pip(inputs, &mut found);
    cargo(inputs, &mut found);
    go(inputs, &mut found);
    git(inputs, &mut found);
    found
}

fn uses(inputs: &DetectInputs, tool: Tool) -> bool {
    inputs.workspace_uses.contains(&tool)
}

/// `.npmrc` is npm's `ini` format, where keys hold `:` (`@scope:registry`, `//host/:_authToken`);
/// INI readers that also split on `:` misread it, so each line is split at its first `=`, as
/// npm's own reader does.
fn npm(inputs: &DetectInputs, found: &mut Detection) {
    let mut default_replaced = false;
    for source in &inputs.npmrc {
        for line in source.text.lines().map(str::trim) {
            if line.starts_with([';', '#']) {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim().trim_matches(['"', '\'']));
            if key == "registry" {
                default_replaced = true;
            }
            if key == "registry" || key.ends_with(":registry") {
                found.propose(Tool::Npm, value, &source.origin);
            }
        }
    }
    for name in ["npm_config_registry", "NPM_CONFIG_REGISTRY"] {
        if let Some(url) = inputs.env.get(name) {
            default_replaced = true;
            found.propose(Tool::Npm, url, name);
        }
    }
    if !default_replaced && uses(inputs, Tool::Npm) {
        let source = "npm's default registry (package.json in the workspace)";
        found.propose(Tool::Npm, "https://registry.npmjs.org/", source);
    }
}

fn pip(inputs: &DetectInputs, found: &mut Detection) {
    let mut index_set = false;
    let options = || ini::ParseOption {
        enabled_indented_mutiline_value: true,
        ..ini::ParseOption::default()
    };
    for source in &inputs.pip_conf {
        let Ok(conf) = ini::Ini::load_from_str_opt(&source.text, options()) else {
            found
                .notes
                .push(format!("{}: not a pip configuration file", source.origin));
            continue;
        };
        for section in ["global", "install", "download"] {
            for key in [
                "index-url",
                "extra-index-url",
                "index_url",
                "extra_index_url",
            ] {
                let Some(value) = conf.get_from(Some(section), key) else {
                    continue;
                };
                index_set |= key.starts_with("index");
                for url in value.split_whitespace() {
                    found.propose(Tool::Pip, url, &source.origin);
                }
            }
        }
    }
    for name in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"] {
        if let Some(value) = inputs.env.get(name) {
            index_set |= name == "PIP_INDEX_URL";
            for url in value.split_whitespace() {
                found.propose(Tool::Pip, url, name);
            }
        }
    }
    if index_set {
        found.notes.push(
            "pip: an index may link to files on other hosts; a run that needs them shows them as refused in its receipt".into(),
        );
    } else if uses(inputs, Tool::Pip) {
        let source = "pip's default index (Python requirements in the workspace)";
        found.propose(Tool::Pip, "https://pypi.org/simple/", source);
        found.propose(Tool::Pip, "https://files.pythonhosted.org/", source);
    }
}

fn cargo(inputs: &DetectInputs, found: &mut Detection) {
    let mut crates_io_replaced = false;
    for source in &inputs.cargo_config {
        let Ok(config) = source.text.parse::<toml::Table>() else {
            found
                .notes
                .push(format!("{}: not a cargo configuration file", source.origin));
            continue;
        };
        let tables = |name: &str| -> Vec<(String, toml::Table)> {
            match config.get(name).and_then(toml::Value::as_table) {
                Some(t) => t
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_table()?.clone())))
                    .collect(),
                None => Vec::new(),
            }
        };
        for (name, table) in tables("source") {
            if name == "crates-io" && table.contains_key("replace-with") {
                crates_io_replaced = true;
            }
            if let Some(url) = table.get("registry").and_then(toml::Value::as_str) {
                found.propose(Tool::Cargo, url, &source.origin);
            }
        }
        for (_, table) in tables("registries") {
            if let Some(url) = table.get("index").and_then(toml::Value::as_str) {
                found.propose(Tool::Cargo, url, &source.origin);
            }
        }
    }
    for (name, value) in &inputs.env {
        if name.starts_with("CARGO_REGISTRIES_") && name.ends_with("_INDEX") {
            found.propose(Tool::Cargo, value, name);
        }
    }
    if !crates_io_replaced && uses(inputs, Tool::Cargo) {
        let source = "cargo's default registry (Cargo.toml in the workspace)";
        found.propose(Tool::Cargo, "https://index.crates.io/", source);
        found.propose(Tool::Cargo, "https://static.crates.io/", source);
    }
}

fn go(inputs: &DetectInputs, found: &mut Detection) {
    // The environment wins over go's env file, as in `go env`.
    let mut settings: BTreeMap<String, (String, String)> = BTreeMap::new();
    for source in &inputs.go_env {
        for line in source.text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                settings.insert(k.trim().into(), (v.trim().into(), source.origin.clone()));
            }
        }
    }
    for name in ["GOPROXY", "GOSUMDB"] {
        if let Some(v) = inputs.env.get(name) {
            settings.insert(name.into(), (v.clone(), name.into()));
        }
    }
    let uses_go = uses(inputs, Tool::Go);
    match settings.get("GOPROXY") {
        Some((value, origin)) => {
            for entry in value.split([',', '|']).map(str::trim) {
                match entry {
                    "direct" => found.notes.push(format!(
                        "{origin}: GOPROXY includes `direct`: modules fetched from their version control hosts need those hosts listed"
                    )),
                    "off" | "" => {}
                    url => found.propose(Tool::Go, url, origin),
                }
            }
        }
        None if uses_go => found.propose(
            Tool::Go,
            "https://proxy.golang.org/",
            "go's default module proxy (go.mod in the workspace)",
        ),
        None => {}
    }
    match settings.get("GOSUMDB") {
        Some((value, _)) if value == "off" => {}
        Some((value, origin)) => {
            let mut words = value.split_whitespace();
            let name = words.next().unwrap_or_default();
            match words.next() {
                Some(url) => found.propose(Tool::Go, url, origin),
                None => {
                    let host = name.split('+').next().unwrap_or_default();
                    found.propose(Tool::Go, &format!("https://{host}/"), origin);
                }
            }
        }
        None if uses_go => found.propose(
            Tool::Go,
            "https://sum.golang.org/",
            "go's default checksum database (go.mod in the workspace)",
        ),
        None => {}
    }
}

fn git(inputs: &DetectInputs, found: &mut Detection) {
    for source in &inputs.git_config {
        let Ok(config) = ini::Ini::load_from_str(&source.text) else {
            found
                .notes
                .push(format!("{}: not a git configuration file", source.origin));
            continue;
        };
        for (section, properties) in config.iter() {
            let Some(remote) = section.and_then(|s| s.strip_prefix("remote ")) else {
                continue;
            };
            for url in properties.get_all("url") {
                let origin = format!("{} (remote {})", source.origin, remote.trim_matches('"'));
                found.propose(Tool::Git, url, &origin);
            }
        }
    }
}

/// Reads the tools' configuration under `home` and `workspace`, and the variables of `env`
/// they read. Missing files are skipped; nothing is written.
pub fn gather(
    home: &Path,
    workspace: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> DetectInputs {
    let env: BTreeMap<String, String> = env
        .into_iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "npm_config_registry"
                    | "NPM_CONFIG_REGISTRY"
                    | "PIP_INDEX_URL"
                    | "PIP_EXTRA_INDEX_URL"
                    | "PIP_CONFIG_FILE"
                    | "GOPROXY"
                    | "GOSUMDB"
                    | "GOENV"
            ) || (name.starts_with("CARGO_REGISTRIES_") && name.ends_with("_INDEX"))
        })
        .collect();
    let read = |paths: Vec<std::path::PathBuf>| -> Vec<Source> {
        paths
            .into_iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).ok()?;
                Some(Source {
                    origin: p.display().to_string(),
                    text,
                })
            })
            .collect()
    };
    let mut pip_files = vec![
        "/etc/pip.conf".into(),
        "/etc/xdg/pip/pip.conf".into(),
        home.join(".pip/pip.conf"),
        home.join(".config/pip/pip.conf"),
    ];
    if let Some(file) = env.get("PIP_CONFIG_FILE") {
        pip_files.push(file.into());
    }
    let go_env = match env.get("GOENV") {
        Some(file) => file.into(),
        None => home.join(".config/go/env"),
    };
    let manifests: [(&str, Tool); 8] = [
        ("package.json", Tool::Npm),
        ("requirements.txt", Tool::Pip),
        ("pyproject.toml", Tool::Pip),
        ("setup.py", Tool::Pip),
        ("Pipfile", Tool::Pip),
        ("Cargo.toml", Tool::Cargo),
        ("go.mod", Tool::Go),
        (".git", Tool::Git),
    ];
    let mut workspace_uses: Vec<Tool> = manifests
        .iter()
        .filter(|(file, _)| workspace.join(file).exists())
        .map(|&(_, tool)| tool)
        .collect();
    workspace_uses.dedup();
    DetectInputs {
        npmrc: read(vec![home.join(".npmrc"), workspace.join(".npmrc")]),
        pip_conf: read(pip_files),
        cargo_config: read(vec![
            home.join(".cargo/config.toml"),
            home.join(".cargo/config"),
            workspace.join(".cargo/config.toml"),
        ]),
        go_env: read(vec![go_env]),
        git_config: read(vec![workspace.join(".git/config")]),
        env,
        workspace_uses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(origin: &str, text: &str) -> Vec<Source> {
        vec![Source {
            origin: origin.into(),
            text: text.into(),
        }]
    }

    fn entries(d: &Detection) -> Vec<String> {
        d.proposals.iter().map(|p| p.host.to_string()).collect()
    }

    #[test]
    fn nothing_configured_and_no_manifest_proposes_nothing() {
        let d = detect(&DetectInputs::default());
        assert!(d.proposals.is_empty() && d.notes.is_empty(), "{d:?}");
    }

    #[test]
    fn defaults_follow_the_workspace_manifests() {
        let inputs = DetectInputs {
            workspace_uses: vec![Tool::Npm, Tool::Pip, Tool::Cargo, Tool::Go],
            ..DetectInputs::default()
        };
        assert_eq!(
            entries(&detect(&inputs)),
            [
                "registry.npmjs.org:443",
                "pypi.org:443",
                "files.pythonhosted.org:443",
                "index.crates.io:443",
                "static.crates.io:443",
                "proxy.golang.org:443",
                "sum.golang.org:443"
            ]
        );
    }

    #[test]
    fn the_snippet_puts_each_tools_entries_under_the_pack_rule_that_runs_it() {
        let inputs = DetectInputs {
            git_config: source(
                "ws/.git/config",
                "[remote \"origin\"]\n\turl = https://github.com/acme/app.git\n",
            ),
            workspace_uses: vec![Tool::Npm, Tool::Pip, Tool::Git],
            ..DetectInputs::default()
        };
        let snippet = detect(&inputs).policy_snippet();
        assert_eq!(
            snippet,
            "# under the rule `npm-install`:\n    hosts:\n      - \"registry.npmjs.org:443\"  # npm: npm's default registry (package.json in the workspace)\n\
             # under the rule `pip-install`:\n    hosts:\n      - \"pypi.org:443\"  # pip: pip's default index (Python requirements in the workspace)\n      - \"files.pythonhosted.org:443\"  # pip: pip's default index (Python requirements in the workspace)\n\
             # in a rule of your own (no rule of the default pack runs these with a list):\n    hosts:\n      - \"github.com:443\"  # git: ws/.git/config (remote origin)\n"
        );
        // Each list reads back as the entries proposed.
        for block in snippet.split("    hosts:\n").skip(1) {
            let yaml = format!("hosts:\n{block}");
            let value = crate::yaml::parse(&yaml).unwrap();
            let list: HostList = serde_json::from_value(value["hosts"].clone()).unwrap();
            assert!(!list.is_empty(), "{yaml}");
        }
        assert_eq!(DetectInputs::default().workspace_uses, []);
        assert_eq!(detect(&DetectInputs::default()).policy_snippet(), "");
    }

    #[test]
    fn the_pack_rules_the_snippet_names_exist_and_name_no_hosts() {
        let pack = crate::native::LoadedNativePolicy::default_pack().unwrap();
        for tool in [Tool::Npm, Tool::Pip, Tool::Cargo, Tool::Go, Tool::Git] {
            let Some(id) = tool.pack_rule() else { continue };
            let rule = pack.policy.rules.iter().find(|r| r.id == id);
            let rule = rule.unwrap_or_else(|| panic!("the pack has no rule {id}"));
            assert_eq!(
                rule.hosts, None,
                "the default pack ships no host names ({id})"
            );
        }
    }

    #[test]
    fn configured_registries_replace_the_defaults() {
        let inputs = DetectInputs {
            npmrc: source(
                "~/.npmrc",
                "; comment\nregistry=https://npm.corp.example/\n@team:registry = \"https://npm.team.example:8443/\"\n//npm.corp.example/:_authToken=secret\n",
            ),
            pip_conf: source(
                "~/.config/pip/pip.conf",
                "[global]\nindex-url = https://pypi.corp.example/simple\nextra-index-url =\n    https://extra.example/simple\n    http://plain.example:8080/simple\n",
            ),
            cargo_config: source(
                "~/.cargo/config.toml",
                "[source.crates-io]\nreplace-with = \"corp\"\n[source.corp]\nregistry = \"sparse+https://cargo.corp.example/index/\"\n[registries.other]\nindex = \"https://github.com/other/index\"\n",
            ),
            go_env: source("~/.config/go/env", "GOPROXY=https://goproxy.corp.example,direct\nGOSUMDB=off\n"),
            git_config: source(
                "ws/.git/config",
                "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://github.com/acme/app.git\n\tpushurl = https://push.example/acme/app.git\n[remote \"fork\"]\n\turl = git@gitlab.com:me/app.git\n",
            ),
            workspace_uses: vec![Tool::Npm, Tool::Pip, Tool::Cargo, Tool::Go, Tool::Git],
            ..DetectInputs::default()
        };
        let d = detect(&inputs);
        assert_eq!(
            entries(&d),
            [
                "npm.corp.example:443",
                "npm.team.example:8443",
                "pypi.corp.example:443",
                "extra.example:443",
                "plain.example:8080",
                "cargo.corp.example:443",
                "github.com:443",
                "goproxy.corp.example:443",
            ]
        );
        let notes = d.notes.join("\n");
        assert!(
            notes.contains("ssh address does not go through the proxy"),
            "{notes}"
        );
        assert!(notes.contains("GOPROXY includes `direct`"), "{notes}");
        assert!(
            notes.contains("an index may link to files on other hosts"),
            "{notes}"
        );
        assert!(!notes.contains("secret") && !entries(&d).join(",").contains("push.example"));
        assert_eq!(d.proposals[0].source, "~/.npmrc");
        assert_eq!(d.hosts().entries().len(), 8);
    }

    #[test]
    fn the_environment_counts_like_the_tools_read_it() {
        let env: BTreeMap<String, String> = [
            ("npm_config_registry", "https://npm.env.example/"),
            ("PIP_INDEX_URL", "https://pypi.env.example/simple"),
            ("GOPROXY", "https://proxy.env.example|off"),
            ("GOSUMDB", "sum.env.example+abc123"),
            (
                "CARGO_REGISTRIES_CORP_INDEX",
                "sparse+https://cargo.env.example/",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let inputs = DetectInputs {
            env,
            go_env: source("go env", "GOPROXY=https://ignored.example\n"),
            workspace_uses: vec![Tool::Npm, Tool::Go],
            ..DetectInputs::default()
        };
        assert_eq!(
            entries(&detect(&inputs)),
            [
                "npm.env.example:443",
                "pypi.env.example:443",
                "cargo.env.example:443",
                "proxy.env.example:443",
                "sum.env.example:443"
            ]
        );
    }

    #[test]
    fn gather_reads_the_files_where_the_tools_keep_them() {
        let home = tempfile::tempdir().unwrap();
        let ws = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".npmrc"),
            "registry=https://npm.home.example/\n",
        )
        .unwrap();
        std::fs::create_dir_all(ws.path().join(".git")).unwrap();
        std::fs::write(
            ws.path().join(".git/config"),
            "[remote \"origin\"]\n\turl = https://git.example/a.git\n",
        )
        .unwrap();
        std::fs::write(ws.path().join("Cargo.toml"), "[package]\n").unwrap();
        let env = [
            ("GOPROXY".to_string(), "off".to_string()),
            ("HOME".into(), "/x".into()),
        ];
        let inputs = gather(home.path(), ws.path(), env);
        assert_eq!(inputs.npmrc.len(), 1);
        assert_eq!(inputs.git_config.len(), 1);
        assert_eq!(inputs.workspace_uses, [Tool::Cargo, Tool::Git]);
        assert_eq!(inputs.env.keys().collect::<Vec<_>>(), ["GOPROXY"]);
        assert_eq!(
            entries(&detect(&inputs)),
            [
                "npm.home.example:443",
                "index.crates.io:443",
                "static.crates.io:443",
                "git.example:443"
            ]
        );
    }
}
