//! Imported prefix rules against the ways an agent can write the same command: global options
//! before the subcommand (`git -C dir push`, `npm --prefix web publish`, `cargo +nightly
//! publish`), wrappers, and a working directory moved out of the workspace. An imported deny or
//! ask must catch every spelling; an imported allow must stay as narrow as what the user wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::import;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;

const HOME: &str = "/home/agent";
const WORKSPACE: &str = "/work/project";

fn decide(policy: &LoadedNativePolicy, text: &str) -> Outcome {
    let context = Context {
        workspace: WORKSPACE.into(),
        home: HOME.into(),
    };
    let compiled = CompiledPolicy::compile(policy, &context).unwrap();
    let session = Session {
        cwd: WORKSPACE.into(),
        home: HOME.into(),
    };
    native::decide(text, &session, &compiled).1.outcome
}

/// Broad allows, narrower denies and asks: the shape of a real settings file, where the deny
/// or ask is all that stands between the agent and the command.
const CLAUDE: &str = r#"{"permissions": {
  "allow": ["Bash(git:*)", "Bash(npm:*)", "Bash(cargo:*)", "Bash(kubectl:*)", "Bash(docker:*)",
            "Bash(gh:*)", "Bash(terraform:*)", "Bash(aws:*)", "Bash(make:*)", "Bash(pnpm:*)"],
  "ask": ["Bash(git push:*)", "Bash(npm publish:*)", "Bash(pnpm publish)", "Bash(make deploy)"],
  "deny": ["Bash(git reset --hard:*)", "Bash(cargo publish:*)", "Bash(kubectl delete:*)",
           "Bash(docker push:*)", "Bash(gh release create:*)", "Bash(terraform destroy:*)",
           "Bash(aws s3 rm:*)"]
}}"#;

/// Every line is a command an imported deny or ask names, written so that the words the user
/// wrote are not at the start of the argv.
const BYPASS_ATTEMPTS: &[(&str, Outcome)] = &[
    ("git -C /work/project push origin main", Outcome::Ask),
    ("git -C sub push", Outcome::Ask),
    ("git -c user.name=x push", Outcome::Ask),
    ("git -c core.pager=cat push", Outcome::Ask),
    ("git --git-dir=.git push", Outcome::Ask),
    ("git --git-dir .git --work-tree . push", Outcome::Ask),
    ("git --no-pager push --force", Outcome::Ask),
    ("env GIT_TRACE=1 git -C . push", Outcome::Ask),
    ("git -C . reset --hard HEAD~3", Outcome::Deny),
    ("git --no-pager reset --hard", Outcome::Deny),
    ("git reset -q --hard", Outcome::Deny),
    ("npm --prefix web publish", Outcome::Ask),
    ("npm -w packages/a publish --access public", Outcome::Ask),
    ("npm --registry=https://r.example publish", Outcome::Ask),
    ("pnpm -C web publish", Outcome::Ask),
    ("pnpm --filter app publish --no-git-checks", Outcome::Ask),
    ("make -C infra deploy", Outcome::Ask),
    ("make -j4 deploy", Outcome::Ask),
    ("cargo +nightly publish", Outcome::Deny),
    ("cargo --locked publish --allow-dirty", Outcome::Deny),
    ("cargo -Z unstable-options publish", Outcome::Deny),
    ("kubectl -n prod delete pod api-0", Outcome::Deny),
    (
        "kubectl --context=prod delete deployment api",
        Outcome::Deny,
    ),
    (
        "kubectl --kubeconfig ~/k.yaml -n prod delete ns x",
        Outcome::Deny,
    ),
    (
        "docker --context prod push registry.example/app",
        Outcome::Deny,
    ),
    ("docker -H tcp://10.0.0.1:2375 push app", Outcome::Deny),
    ("gh -R owner/repo release create v1.0.0", Outcome::Deny),
    (
        "terraform -chdir=infra destroy -auto-approve",
        Outcome::Deny,
    ),
    ("aws --profile prod s3 rm s3://bucket/key", Outcome::Deny),
    (
        "aws s3 --region eu-west-1 rm --recursive s3://bucket",
        Outcome::Deny,
    ),
    ("timeout 60 kubectl -n prod delete pod x", Outcome::Deny),
    ("cd sub && cargo +stable publish", Outcome::Deny),
];

/// The same programs doing what the allows cover: they must still be allowed, so the table
/// above is not passing because everything is refused.
const ALLOWED_CONTROLS: &[&str] = &[
    "git status",
    "git -C sub status",
    "git commit -m push",
    "git log --grep publish",
    "npm --prefix web test",
    "npm run publish-docs",
    "cargo +nightly build",
    "kubectl -n prod get pods",
    "docker --context prod ps",
    "gh -R owner/repo release list",
    "terraform -chdir=infra plan",
    "aws --profile prod s3 ls s3://bucket",
    "make -C infra test",
    "pnpm -C web test",
];

#[test]
fn imported_denies_and_asks_catch_global_options_and_wrappers() {
    let imported = import::claude(CLAUDE).unwrap();
    for (text, expected) in BYPASS_ATTEMPTS {
        assert_eq!(decide(&imported.policy, text), *expected, "{text}");
    }
    for text in ALLOWED_CONTROLS {
        assert_eq!(decide(&imported.policy, text), Outcome::Allow, "{text}");
    }
}

/// Positive control for the table: the exact `argv` reading of the same rules (what the
/// importer made before) lets the global-option spellings through, so the table can fail.
#[test]
fn the_exact_argv_reading_misses_them() {
    let imported = import::claude(CLAUDE).unwrap();
    let exact = imported
        .yaml
        .replace("argv_skip_options:", "argv:")
        .replace("Imported from", "Exact reading of");
    let exact = LoadedNativePolicy::parse(exact.as_bytes()).unwrap();
    let missed: Vec<&str> = BYPASS_ATTEMPTS
        .iter()
        .filter(|(text, _)| decide(&exact, text) == Outcome::Allow)
        .map(|(text, _)| *text)
        .collect();
    for text in [
        "npm --prefix web publish",
        "cargo +nightly publish",
        "kubectl -n prod delete pod api-0",
        "aws --profile prod s3 rm s3://bucket/key",
        "git reset -q --hard",
    ] {
        assert!(
            missed.contains(&text),
            "{text} was caught without skipping options"
        );
    }
}

/// An imported allow covers the words the user wrote, in the workspace. The front end removes
/// git's global options before rules see the argv, so `git -C /etc push` is `git push` there;
/// the allow still does not reach it, because its working directory is outside the workspace.
#[test]
fn imported_allows_stay_in_the_workspace() {
    let imported =
        import::claude(r#"{"permissions": {"allow": ["Bash(git push:*)", "Bash(npm test)"]}}"#)
            .unwrap();
    let p = &imported.policy;
    for (text, expected) in [
        ("git push", Outcome::Allow),
        ("git push origin main", Outcome::Allow),
        ("git -C sub push", Outcome::Allow),
        ("npm test", Outcome::Allow),
        // The working directory left the workspace: the default (ask) applies.
        ("git -C /etc push", Outcome::Ask),
        ("git --work-tree=/srv/app push", Outcome::Ask),
        ("cd /tmp && git push", Outcome::Ask),
        ("cd .. && npm test", Outcome::Ask),
        // Not the words the user wrote.
        ("npm --prefix web test", Outcome::Ask),
        ("npm test --watch", Outcome::Ask),
        ("git pushx", Outcome::Ask),
        // git -c keys outside the safe list stay unresolved, whatever an allow says.
        ("git -c core.sshCommand=evil push", Outcome::Ask),
    ] {
        assert_eq!(decide(p, text), expected, "{text}");
    }
}

const CODEX: &str = r#"
prefix_rule(pattern = ["git", "push"], decision = "prompt")
prefix_rule(pattern = ["npm", ["publish", "unpublish"]], decision = "forbidden")
prefix_rule(pattern = ["kubectl", "delete"], decision = "forbidden")
prefix_rule(pattern = ["git"], decision = "allow")
prefix_rule(pattern = ["npm"], decision = "allow")
prefix_rule(pattern = ["kubectl"], decision = "allow")
"#;

#[test]
fn codex_prefix_rules_get_the_same_treatment() {
    let imported = import::codex(CODEX).unwrap();
    let p = &imported.policy;
    for (text, expected) in [
        ("git push", Outcome::Ask),
        ("git -C sub push", Outcome::Ask),
        ("git --no-pager push -f", Outcome::Ask),
        ("npm --prefix web publish", Outcome::Deny),
        ("npm -w a unpublish x@1", Outcome::Deny),
        ("kubectl -n prod delete pod x", Outcome::Deny),
        // Controls.
        ("git status", Outcome::Allow),
        ("git commit -m push", Outcome::Allow),
        ("npm --prefix web test", Outcome::Allow),
        ("kubectl -n prod get pods", Outcome::Allow),
        ("git -C /etc status", Outcome::Ask),
    ] {
        assert_eq!(decide(p, text), expected, "{text}");
    }
}
