//! Containment playbooks: playbook files -> plan (pure) -> executor (IAM) -> audit record.
//!
//! - [`spec`]: TOML playbook files, validated with every problem reported at once
//! - [`plan`]: playbook + target + cutoff (+ session graph) -> the exact calls and documents
//! - [`exec`]: the only part that talks to AWS (IAM, STS), with retries and backoff
//! - [`audit`]: the append-only JSON-lines log that makes every applied run reversible
//! - [`derive`]: documents computed at apply time from the state read (restricted or rotated
//!   trust policies, a recreated role) and the redaction of external ids
//! - [`contain`]: `trailhound contain`: one plan and one run for a whole session chain
//! - [`verify`]: `trailhound verify RUN_ID`: did the containment hold, from the logs after it
//! - [`collect`]: `trailhound collect`: the evidence of a chain, hashed, with a `.tar.gz`
//!
//! Anything that changes an account is a dry run unless `--apply` is given.

pub mod audit;
pub mod collect;
pub mod contain;
pub mod derive;
pub mod exec;
pub mod plan;
pub mod respond;
pub mod spec;
pub mod text;
pub mod verify;

use spec::{Playbook, Problem};
use std::path::{Path, PathBuf};

/// The shipped playbooks, embedded so that they work from any directory.
pub const BUILTIN: [(&str, &str); 10] = [
    (
        "revoke-role-sessions",
        include_str!("../../playbooks/revoke-role-sessions.toml"),
    ),
    (
        "revoke-user-sessions",
        include_str!("../../playbooks/revoke-user-sessions.toml"),
    ),
    (
        "deactivate-access-key",
        include_str!("../../playbooks/deactivate-access-key.toml"),
    ),
    (
        "contain-instance-credentials",
        include_str!("../../playbooks/contain-instance-credentials.toml"),
    ),
    (
        "deny-source-identity",
        include_str!("../../playbooks/deny-source-identity.toml"),
    ),
    (
        "lock-role-trust",
        include_str!("../../playbooks/lock-role-trust.toml"),
    ),
    (
        "quarantine-key",
        include_str!("../../playbooks/quarantine-key.toml"),
    ),
    (
        "restrict-role-trust",
        include_str!("../../playbooks/restrict-role-trust.toml"),
    ),
    (
        "rotate-external-id",
        include_str!("../../playbooks/rotate-external-id.toml"),
    ),
    (
        "recreate-role",
        include_str!("../../playbooks/recreate-role.toml"),
    ),
];

/// Parses one file.
pub fn load_file(path: &Path) -> Result<Playbook, Vec<Problem>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            file: file.clone(),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        }]
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str());
    spec::parse(&text, &file, stem)
}

/// The `.toml` files in a folder (not recursive), sorted; a file is returned as itself.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    out.sort();
    Ok(out)
}

/// The built-in playbooks, then those of `dir` (a file there with a built-in's name replaces
/// it). Returns the playbooks and the problems of files that did not load.
pub fn load_all(dir: Option<&Path>) -> (Vec<Playbook>, Vec<Problem>) {
    let mut out: Vec<Playbook> = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in BUILTIN {
        match spec::parse(text, &format!("builtin:{name}"), Some(name)) {
            Ok(p) => out.push(p),
            Err(p) => problems.extend(p),
        }
    }
    if let Some(dir) = dir {
        match files_in(dir) {
            Ok(files) => {
                for f in files {
                    match load_file(&f) {
                        Ok(p) => {
                            out.retain(|x| x.name != p.name);
                            out.push(p);
                        }
                        Err(p) => problems.extend(p),
                    }
                }
            }
            Err(e) => problems.push(Problem {
                file: dir.display().to_string(),
                line: None,
                key: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    (out, problems)
}

/// A playbook by name (built-in or from `dir`), or by path to a `.toml` file.
pub fn find(name: &str, dir: Option<&Path>) -> crate::error::Result<Playbook> {
    use crate::error::Error;
    let as_path = Path::new(name);
    if name.ends_with(".toml") || name.contains(std::path::MAIN_SEPARATOR) {
        return load_file(as_path).map_err(|probs| {
            Error::Usage(
                probs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        });
    }
    let (all, problems) = load_all(dir);
    if let Some(p) = all.into_iter().find(|p| p.name == name) {
        return Ok(p);
    }
    let names: Vec<String> = load_all(dir).0.into_iter().map(|p| p.name).collect();
    let mut msg = format!(
        "no playbook named `{name}` (playbooks: {})",
        names.join(", ")
    );
    if !problems.is_empty() {
        msg.push_str(&format!(
            "; {} problem(s) in playbook files, see `trailhound playbook lint`",
            problems.len()
        ));
    }
    Err(Error::Usage(msg))
}

/// Now, in milliseconds since the epoch (UTC).
pub(crate) fn now() -> crate::event::Millis {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_valid_and_named_after_their_files() {
        let (all, problems) = load_all(None);
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "revoke-role-sessions",
                "revoke-user-sessions",
                "deactivate-access-key",
                "contain-instance-credentials",
                "deny-source-identity",
                "lock-role-trust",
                "quarantine-key",
                "restrict-role-trust",
                "rotate-external-id",
                "recreate-role"
            ]
        );
        for p in &all {
            assert!(
                !p.stops.is_empty() && !p.does_not_stop.is_empty(),
                "{}",
                p.name
            );
        }
    }
}
