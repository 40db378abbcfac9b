//! Containment playbooks: plans on the hand-made incident (tests/fixtures/playbook/), and every
//! shipped playbook applied and rolled back against moto's IAM/STS server on 127.0.0.1 (the
//! emulator in tests/emulator.rs), reading the state back after each step (GetRolePolicy,
//! GetUserPolicy, GetRole, ListAccessKeys). Each test uses its own role and user names, so tests
//! run in parallel on one server.

use crate::common::{code, root, run, stderr, stdout};
use crate::emulator::{moto, Moto};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn incident() -> PathBuf {
    root().join("tests/fixtures/playbook/incident.json")
}

const WEB: &str = "arn:aws:iam::111111111111:role/WebAppRole";
pub(crate) const ACCOUNT: &str = "123456789012"; // moto's default account

// ---------------------------------------------------------------------------------------------
// IAM through the emulator.

impl Moto {
    pub(crate) fn iam(&self, call: &str, params: Value) -> Result<Value, String> {
        self.call_in(None, "iam", call, params)
    }

    pub(crate) fn ok(&self, call: &str, params: Value) -> Value {
        self.iam(call, params.clone())
            .unwrap_or_else(|e| panic!("{call} {params}: {e}"))
    }

    pub(crate) fn create_role(&self, name: &str, path: &str) -> Value {
        self.ok(
            "create_role",
            json!({"RoleName": name, "Path": path, "AssumeRolePolicyDocument": trust().to_string()}),
        )
    }

    /// The inline role policy, decoded; None when absent.
    pub(crate) fn role_policy(&self, role: &str, policy: &str) -> Option<Value> {
        match self.iam(
            "get_role_policy",
            json!({"RoleName": role, "PolicyName": policy}),
        ) {
            Ok(v) => Some(v["PolicyDocument"].clone()),
            Err(e) if e == "NoSuchEntity" => None,
            Err(e) => panic!("get_role_policy: {e}"),
        }
    }

    pub(crate) fn role_policies(&self, role: &str) -> Vec<String> {
        let v = self.ok("list_role_policies", json!({"RoleName": role}));
        serde_json::from_value(v["PolicyNames"].clone()).unwrap()
    }

    pub(crate) fn user_policy(&self, user: &str, policy: &str) -> Option<Value> {
        match self.iam(
            "get_user_policy",
            json!({"UserName": user, "PolicyName": policy}),
        ) {
            Ok(v) => Some(v["PolicyDocument"].clone()),
            Err(e) if e == "NoSuchEntity" => None,
            Err(e) => panic!("get_user_policy: {e}"),
        }
    }

    pub(crate) fn trust_policy(&self, role: &str) -> Value {
        self.ok("get_role", json!({"RoleName": role}))["Role"]["AssumeRolePolicyDocument"].clone()
    }

    pub(crate) fn key_status(&self, user: &str, key: &str) -> String {
        let v = self.ok("list_access_keys", json!({"UserName": user}));
        v["AccessKeyMetadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["AccessKeyId"] == key)
            .map(|k| k["Status"].as_str().unwrap().to_string())
            .expect("key listed")
    }
}

/// A trust policy for fixture roles.
pub(crate) fn trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]})
}

pub(crate) fn revoke_doc(cutoff: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]})
}

/// Runs the binary against the emulator with test credentials and the given audit log.
pub(crate) fn aws_run(m: &Moto, audit: &Path, args: &[&str]) -> Output {
    aws_cmd(Some(&m.url()), audit, args)
        .output()
        .expect("run trailhound")
}

/// The binary with test credentials (and nothing from the user's AWS config), the audit log, and
/// `--endpoint-url` when given.
pub(crate) fn aws_cmd(endpoint: Option<&str>, audit: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    c.args(args);
    if let Some(u) = endpoint {
        c.args(["--endpoint-url", u]);
    }
    c.arg("--audit-log")
        .arg(audit)
        .env("AWS_REGION", "us-east-1");
    crate::emulator::test_credentials(&mut c);
    c
}

/// Applies (`--apply --format json`), expects success, returns the run record.
pub(crate) fn apply(m: &Moto, audit: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--apply", "--format", "json", "-q"]);
    let o = aws_run(m, audit, &a);
    assert_eq!(
        code(&o),
        0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json output");
    assert_eq!(v["run"]["outcome"], "applied", "{v:#}");
    v["run"].clone()
}

pub(crate) fn rollback(m: &Moto, audit: &Path, run_id: &str) -> Value {
    apply(m, audit, &["playbook", "rollback", run_id])
}

pub(crate) fn audit_lines(audit: &Path) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Without the emulator.

#[test]
fn playbooks_list_show_and_lint_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["playbook", "list"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    for name in [
        "revoke-role-sessions",
        "revoke-user-sessions",
        "deactivate-access-key",
        "contain-instance-credentials",
        "deny-source-identity",
        "lock-role-trust",
        "quarantine-key",
        "restrict-role-trust",
        "rotate-external-id",
        "recreate-role",
    ] {
        assert!(s.contains(name), "{name} missing from:\n{s}");
        let o = run(["playbook", "show", name]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let show = stdout(&o);
        assert!(
            show.contains("\nStops:\n") && show.contains("\nDoes not stop:\n"),
            "{show}"
        );
    }
    let show = stdout(&run(["playbook", "show", "revoke-user-sessions"]));
    assert!(show.contains("long-term access keys (AKIA...)"), "{show}");
    let show = stdout(&run(["playbook", "show", "deactivate-access-key"]));
    assert!(
        show.contains(
            "federation tokens (GetFederationToken) made from the key before: they survive"
        ),
        "{show}"
    );

    let o = run(["playbook", "lint"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("10 file(s), 0 with problems, 0 problem(s)"));
    let o = run([
        "playbook",
        "lint",
        root().join("playbooks").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    let o = run(["playbook", "list", "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["playbooks"].as_array().unwrap().len(), 10);
    assert_eq!(v["playbooks"][0]["policy_name"], "AWSRevokeOlderSessions");
}

#[test]
fn lint_reports_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("my-revoke.toml");
    std::fs::write(
        &bad,
        "name = \"my-revoke\"\nsummary = \"s\"\ndescription = \"d\"\ntarget = \"group\"\naction = \"revoke-older-sessions\"\npolicy_name = \"bad name\"\nstops = \"everything\"\ndoes_not_stop = [\"x\"]\nseverity = \"high\"\n",
    )
    .unwrap();
    let good = dir.path().join("my-lock.toml");
    let text = std::fs::read_to_string(root().join("playbooks/lock-role-trust.toml"))
        .unwrap()
        .replace("name = \"lock-role-trust\"", "name = \"my-lock\"");
    std::fs::write(&good, text).unwrap();
    let o = run(["playbook", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let s = stdout(&o);
    let f = bad.display().to_string();
    for want in [
        format!("problem  {f}:9: key `severity`: unknown key (valid keys: name, summary"),
        format!("problem  {f}:4: key `target`: unknown variant `group`, expected one of `role`, `user`, `key`, `instance`"),
        format!("problem  {f}:6: key `policy_name`: `bad name`: IAM policy names are 1 to 128 of"),
        format!("problem  {f}:7: key `stops`: must be a list of strings"),
        format!("ok       {} (my-lock)", good.display()),
        "2 file(s), 1 with problems, 4 problem(s)".to_string(),
    ] {
        assert!(s.contains(&want), "missing {want:?} in:\n{s}");
    }
    assert!(stderr(&o).contains("4 problem(s) in 1 playbook file(s)"));
    // A user playbook from --playbooks, and one given by path, plan like shipped ones.
    let o = run([
        "playbook",
        "run",
        "my-lock",
        "--playbooks",
        dir.path().to_str().unwrap(),
        "--role",
        WEB,
    ]);
    assert!(
        stdout(&o).starts_with("Plan: my-lock\n"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = run([
        "playbook",
        "run",
        good.to_str().unwrap(),
        "--role",
        WEB,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["calls"][0]["api"], "iam:UpdateAssumeRolePolicy");
    let o = run(["playbook", "run", bad.to_str().unwrap(), "--role", WEB]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("key `severity`"), "{}", stderr(&o));
}

#[test]
fn dry_run_prints_the_exact_calls_and_documents() {
    let o = run([
        "playbook",
        "run",
        "revoke-role-sessions",
        "--role",
        WEB,
        "--cutoff",
        "2026-03-02T10:25:00Z",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "Plan: revoke-role-sessions\n",
        "  target   role WebAppRole (arn:aws:iam::111111111111:role/WebAppRole)\n",
        "  account  111111111111\n",
        "  cutoff   2026-03-02T10:25:00Z (tokens issued before it are denied)\n",
        "Checks before any change:\n  iam:GetRole RoleName=WebAppRole",
        "  iam:GetRolePolicy RoleName=WebAppRole PolicyName=AWSRevokeOlderSessions\n",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
    assert!(s.contains("  1. iam:PutRolePolicy\n       RoleName: WebAppRole\n       PolicyName: AWSRevokeOlderSessions\n       PolicyDocument:\n         {\n           \"Version\": \"2012-10-17\",\n"), "{s}");
    assert!(s.contains(r#"aws iam put-role-policy --role-name WebAppRole --policy-name AWSRevokeOlderSessions --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-02T10:25:00Z"}}}]}'"#), "{s}");
    assert!(
        s.ends_with("DRY RUN: nothing was changed. Add --apply to make these calls.\n"),
        "{s}"
    );
}

#[test]
fn revoke_key_plans_the_role_of_the_key_in_its_account() {
    let logs = incident();
    let o = run([
        "revoke",
        "--key",
        "ASIAATTACKER00000001",
        "--logs",
        logs.to_str().unwrap(),
        "--cutoff",
        "2026-03-02T10:25:00Z",
        "-q",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "Key ASIAATTACKER00000001 is a session of role arn:aws:iam::111111111111:role/WebAppRole in account 111111111111.\n",
        "by AssumeRole to arn:aws:iam::111111111111:user/deploy, session ci, chain depth 1, root principal arn:aws:iam::111111111111:user/deploy",
        "Plan: revoke-role-sessions\n",
        "  account  111111111111\n",
        "  CUT OFF (2):\n",
        "ASIAATTACKER00000001 *",
        "  spared (1):\n",
        "  already expired (1):\n",
        "  NOT STOPPED by this plan, and what would stop them:\n",
        "ASIACROSSADMIN000001: trailhound playbook run revoke-role-sessions --role arn:aws:iam::222222222222:role/CrossAdmin\n",
        "The chain above it (not touched by this plan):\n  AKIADEPLOY0000000001: long-term key of arn:aws:iam::111111111111:user/deploy, which started the chain\n",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
    let o = run([
        "revoke",
        "--key",
        "ASIAATTACKER00000001",
        "--logs",
        logs.to_str().unwrap(),
        "--cutoff",
        "2026-03-02T10:25:00Z",
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["key"]["access_key_id"], "ASIAATTACKER00000001");
    assert_eq!(v["plan"]["playbook"], "revoke-role-sessions");
    assert_eq!(
        v["plan"]["target"],
        json!({"kind": "role", "name": "WebAppRole", "arn": WEB, "path": "/"})
    );
    assert_eq!(v["plan"]["account"], "111111111111");
    assert_eq!(
        v["plan"]["calls"][0]["PolicyDocument"],
        revoke_doc("2026-03-02T10:25:00Z")
    );
    let cut: Vec<&str> = v["plan"]["sessions"]["cut_off"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(cut, ["ASIAWEBAPPALICE00001", "ASIAATTACKER00000001"]);
    assert_eq!(
        v["plan"]["sessions"]["spared"][0]["access_key_id"],
        "ASIAWEBAPPNEW0000001"
    );

    // The default cutoff (now) is after the key was issued: it is denied (the logs are old, so
    // its session has expired by now: the plan says so).
    let o = run([
        "revoke",
        "--key",
        "ASIAATTACKER00000001",
        "--logs",
        logs.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let expired: Vec<&str> = v["plan"]["sessions"]["expired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["access_key_id"].as_str().unwrap())
        .collect();
    assert!(expired.contains(&"ASIAATTACKER00000001"), "{v:#}");

    // A cutoff before the key was issued would not deny it.
    let o = run([
        "revoke",
        "--key",
        "ASIAATTACKER00000001",
        "--logs",
        logs.to_str().unwrap(),
        "--cutoff",
        "2026-03-02T10:00:00Z",
        "-q",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("is not after ASIAATTACKER00000001 was issued (2026-03-02T10:10:00Z)"),
        "{}",
        stderr(&o)
    );

    // An Identity Center session is refused with the reason; a key not in the logs is named.
    let o = run([
        "revoke",
        "--key",
        "ASIASSOADMIN00000001",
        "--logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("must be revoked in IAM"),
        "{}",
        stderr(&o)
    );
    let o = run([
        "revoke",
        "--key",
        "ASIANOTINTHELOGS0001",
        "--logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("key ASIANOTINTHELOGS0001 is not in the logs"),
        "{}",
        stderr(&o)
    );

    // A GetSessionToken key belongs to a user: its user's sessions are revoked.
    let o = run([
        "revoke",
        "--key",
        "ASIASESSIONTOKEN0001",
        "--logs",
        logs.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["playbook"], "revoke-user-sessions");
    assert_eq!(v["plan"]["calls"][0]["UserName"], "alice");
    // A long-term key is deactivated, with its user from the logs.
    let o = run([
        "revoke",
        "--key",
        "AKIADEPLOY0000000001",
        "--logs",
        logs.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["playbook"], "deactivate-access-key");
    assert_eq!(
        v["plan"]["calls"][0],
        json!({"api": "iam:UpdateAccessKey", "UserName": "deploy", "AccessKeyId": "AKIADEPLOY0000000001", "Status": "Inactive"})
    );
}

#[test]
fn revoke_key_on_the_sample_incidents_plans_the_right_role_and_account() {
    use trailhound_generate::{write_sample, SampleSpec};
    let dir = tempfile::tempdir().unwrap();
    let truth = write_sample(&SampleSpec::default(), dir.path()).unwrap();
    let mut checked = 0;
    let mut first = None;
    for inc in &truth.incidents {
        let Some(key) = inc
            .access_key_id
            .as_deref()
            .filter(|k| k.starts_with("ASIA"))
        else {
            continue;
        };
        let want = truth
            .sessions
            .iter()
            .find(|s| s.access_key_id == key)
            .expect("the incident's key is a session");
        let Some(role) = want.role_arn.as_deref() else {
            continue;
        };
        let o = run([
            "revoke",
            "--key",
            key,
            "--logs",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "-q",
        ]);
        assert_eq!(code(&o), 0, "{}: {}", inc.kind, stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let plan = &v["plan"];
        // (For instance credentials too: revoke --key denies the key's whole role; hunt --respond
        // names contain-instance-credentials for those.)
        assert_eq!(plan["playbook"], "revoke-role-sessions", "{}", inc.kind);
        assert_eq!(plan["target"]["arn"], role, "{}", inc.kind);
        assert_eq!(plan["account"], want.account.as_str(), "{}", inc.kind);
        // The key itself is denied by the plan's cutoff (now): listed among the sessions it covers.
        let listed: Vec<&Value> = ["cut_off", "expired"]
            .iter()
            .flat_map(|l| plan["sessions"][l].as_array().unwrap())
            .filter(|r| r["access_key_id"] == key)
            .collect();
        assert_eq!(listed.len(), 1, "{}: {plan:#}", inc.kind);
        assert_eq!(listed[0]["target"], true);
        checked += 1;
        first = first.or(Some(key));
    }
    assert!(checked >= 2, "only {checked} incidents with a role session");

    // With a cutoff just after the key was issued, the key is cut off and later sessions spared.
    let key = first.expect("an incident with a role session");
    let o = run([
        "revoke",
        "--key",
        key,
        "--logs",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let issued = v["key"]["issued_at"].as_str().unwrap();
    let issued = chrono::DateTime::parse_from_rfc3339(issued).unwrap();
    let cutoff =
        (issued + chrono::Duration::seconds(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let o = run([
        "revoke",
        "--key",
        key,
        "--logs",
        dir.path().to_str().unwrap(),
        "--cutoff",
        &cutoff,
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cut = &v["plan"]["sessions"]["cut_off"];
    assert!(
        cut.as_array()
            .unwrap()
            .iter()
            .any(|r| r["access_key_id"] == key),
        "{v:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the emulator.

#[test]
fn revoke_role_sessions_applies_refreshes_and_rolls_back() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-revoke-role";
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    m.create_role(role, "/");
    m.ok(
        "put_role_policy",
        json!({"RoleName": role, "PolicyName": "keep-me", "PolicyDocument": json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}).to_string()}),
    );

    // A dry run changes nothing.
    let o = aws_run(
        m,
        &audit,
        &["playbook", "run", "revoke-role-sessions", "--role", &arn],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(m.role_policy(role, "AWSRevokeOlderSessions"), None);
    assert!(!audit.exists());

    let c1 = "2026-03-02T10:25:00Z";
    let r1 = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            &arn,
            "--cutoff",
            c1,
        ],
    );
    assert_eq!(
        m.role_policy(role, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c1))
    );
    assert_eq!(r1["before"][0]["state"], Value::Null);
    assert_eq!(r1["after"][0]["state"], revoke_doc(c1));
    assert_eq!(r1["caller"]["account"], ACCOUNT);
    assert_eq!(r1["calls"][0]["status"], "ok");

    // Running it again moves the cutoff in the same policy.
    let c2 = "2026-03-02T11:00:00Z";
    let r2 = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            &arn,
            "--cutoff",
            c2,
        ],
    );
    assert_eq!(
        m.role_policy(role, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c2))
    );
    let mut names = m.role_policies(role);
    names.sort();
    assert_eq!(names, ["AWSRevokeOlderSessions", "keep-me"]);

    // Rolling back the first run now would undo the second: refused, state untouched.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            r1["run_id"].as_str().unwrap(),
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("changed since run"), "{}", stderr(&o));
    assert_eq!(
        m.role_policy(role, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c2))
    );

    // A rollback dry run lists the restoring call.
    let o = aws_run(
        m,
        &audit,
        &["playbook", "rollback", r2["run_id"].as_str().unwrap()],
    );
    assert!(
        stdout(&o).contains("aws iam put-role-policy --role-name pb-revoke-role"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        m.role_policy(role, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c2))
    );

    // Newest first: back to the first cutoff, then gone; the other inline policy stays.
    rollback(m, &audit, r2["run_id"].as_str().unwrap());
    assert_eq!(
        m.role_policy(role, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c1))
    );
    let rb = rollback(m, &audit, r1["run_id"].as_str().unwrap());
    assert_eq!(rb["calls"][0]["call"]["api"], "iam:DeleteRolePolicy");
    assert_eq!(m.role_policy(role, "AWSRevokeOlderSessions"), None);
    assert_eq!(m.role_policies(role), ["keep-me"]);

    // One audit line per applied run, rollbacks and the refused one included.
    let lines = audit_lines(&audit);
    let kinds: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("apply", "applied"),
            ("apply", "applied"),
            ("rollback", "refused"),
            ("rollback", "applied"),
            ("rollback", "applied")
        ]
    );
    assert_eq!(lines[3]["rolls_back"], r2["run_id"]);
}

#[test]
fn revoke_user_sessions_applies_and_rolls_back_to_the_old_policy() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let user = "pb-revoke-user";
    m.ok("create_user", json!({"UserName": user}));
    let old = revoke_doc("2025-01-01T00:00:00Z");
    m.ok(
        "put_user_policy",
        json!({"UserName": user, "PolicyName": "AWSRevokeOlderSessions", "PolicyDocument": old.to_string()}),
    );
    let c = "2026-03-02T10:25:00Z";
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-user-sessions",
            "--user",
            user,
            "--cutoff",
            c,
        ],
    );
    assert!(
        stdout(&o).contains("the user's long-term access keys keep working"),
        "{}",
        stdout(&o)
    );
    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-user-sessions",
            "--user",
            user,
            "--cutoff",
            c,
        ],
    );
    assert_eq!(
        m.user_policy(user, "AWSRevokeOlderSessions"),
        Some(revoke_doc(c))
    );
    assert_eq!(r["before"][0]["state"], old);
    rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(m.user_policy(user, "AWSRevokeOlderSessions"), Some(old));
}

#[test]
fn deactivate_access_key_applies_and_rolls_back() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let user = "pb-key-user";
    m.ok("create_user", json!({"UserName": user}));
    let key = m.ok("create_access_key", json!({"UserName": user}))["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("AKIA"));
    // No --user: the key's user is looked up (GetAccessKeyLastUsed).
    let r = apply(
        m,
        &audit,
        &["playbook", "run", "deactivate-access-key", "--key", &key],
    );
    assert_eq!(m.key_status(user, &key), "Inactive");
    assert_eq!(r["target"]["user"], user);
    assert_eq!(r["before"][0]["state"], "Active");
    assert_eq!(r["after"][0]["state"], "Inactive");
    let rb = rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(rb["calls"][0]["call"]["Status"], "Active");
    assert_eq!(m.key_status(user, &key), "Active");
    // A key of another user is not touched.
    m.ok("create_user", json!({"UserName": "pb-key-other"}));
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "deactivate-access-key",
            "--key",
            &key,
            "--user",
            "pb-key-other",
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("is not a key of user pb-key-other"),
        "{}",
        stderr(&o)
    );
    assert_eq!(m.key_status(user, &key), "Active");
}

#[test]
fn contain_instance_credentials_applies_and_rolls_back() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-app-server";
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    m.create_role(role, "/");
    let i = "i-0abc1234def567890";
    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "contain-instance-credentials",
            "--instance",
            i,
            "--role",
            &arn,
            "--region",
            "eu-west-1",
        ],
    );
    let policy = format!("TrailhoundContain-{i}");
    assert_eq!(
        m.role_policy(role, &policy),
        Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"ArnEquals": {"ec2:SourceInstanceARN": format!("arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/{i}")}}}]})
        )
    );
    rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(m.role_policy(role, &policy), None);

    // From the logs: the role and region of the instance-profile session. That role is in account
    // 111111111111, not the emulator's: refused before any change, and recorded.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "contain-instance-credentials",
            "--instance",
            i,
            "--logs",
            incident().to_str().unwrap(),
            "-q",
        ],
    );
    assert!(
        stdout(&o).contains(
            "  instance arn:aws:ec2:eu-west-1:111111111111:instance/i-0abc1234def567890\n"
        ),
        "{}",
        stdout(&o)
    );
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "contain-instance-credentials",
            "--instance",
            i,
            "--logs",
            incident().to_str().unwrap(),
            "-q",
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("the target is in account 111111111111 but the credentials are for account 123456789012: act there with --assume-role arn:aws:iam::111111111111:role/ROLE"),
        "{}",
        stderr(&o)
    );
    assert_eq!(audit_lines(&audit).last().unwrap()["outcome"], "refused");
}

#[test]
fn deny_source_identity_applies_and_rolls_back() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-shared-admin";
    m.create_role(role, "/");
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "deny-source-identity",
            "--role",
            &arn,
            "--source-identity",
            "carol@example.com",
        ],
    );
    assert_eq!(
        m.role_policy(role, "TrailhoundDenySourceIdentity-carol@example.com"),
        Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"StringEquals": {"aws:SourceIdentity": "carol@example.com"}}}]})
        )
    );
    rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(m.role_policies(role), Vec::<String>::new());
}

#[test]
fn lock_role_trust_applies_and_restores_the_old_trust_policy() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-lock-trust";
    m.create_role(role, "/");
    // The endpoint from the environment this time, and the role by name.
    let o = aws_cmd(
        None,
        &audit,
        &[
            "playbook",
            "run",
            "lock-role-trust",
            "--role",
            role,
            "--apply",
            "--format",
            "json",
        ],
    )
    .env("AWS_ENDPOINT_URL", m.url())
    .output()
    .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: Value = serde_json::from_slice::<Value>(&o.stdout).unwrap()["run"].clone();
    assert_eq!(r["endpoint_url"], m.url());
    let locked = m.trust_policy(role);
    assert_eq!(locked["Statement"][0]["Effect"], "Deny");
    assert_eq!(locked["Statement"][0]["Principal"], "*");
    assert_eq!(r["before"][0]["state"], trust());
    rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(m.trust_policy(role), trust());
}

#[test]
fn refusals_and_missing_targets_say_what_state_was_left() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    // A role under /aws-service-role/, named without the usual prefix: refused once IAM says its path.
    m.create_role("pb-linked", "/aws-service-role/support.amazonaws.com/");
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            "pb-linked",
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("refused: pb-linked is a service-linked role")
            && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(m.role_policy("pb-linked", "AWSRevokeOlderSessions"), None);
    // Identity Center roles are refused before any call.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            "AWSReservedSSO_Admin_0123456789abcdef",
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("must be revoked in IAM"),
        "{}",
        stderr(&o)
    );
    // Missing role and user.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "lock-role-trust",
            "--role",
            &format!("arn:aws:iam::{ACCOUNT}:role/pb-nope"),
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("role pb-nope does not exist in account 123456789012 (iam:GetRole: NoSuchEntity); nothing was changed"),
        "{}",
        stderr(&o)
    );
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-user-sessions",
            "--user",
            "pb-nobody",
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("user pb-nobody does not exist"),
        "{}",
        stderr(&o)
    );
    // Each attempt is in the audit log, with nothing run.
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for l in &lines {
        assert!(
            l["calls"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["status"] == "not-run"),
            "{l:#}"
        );
    }
    // Nothing to roll back from a run that changed nothing.
    let o = aws_run(
        m,
        &audit,
        &["playbook", "rollback", lines[2]["run_id"].as_str().unwrap()],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("there is nothing to roll back"),
        "{}",
        stderr(&o)
    );
    // An unreachable endpoint is an error naming the endpoint, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = aws_cmd(
        Some(&format!("http://127.0.0.1:{closed}")),
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            "pb-linked",
            "--apply",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("cannot tell who the credentials are (sts:GetCallerIdentity)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn assume_role_acts_in_another_account() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let other = "222222222222";
    let role = "pb-victim";
    let arn = format!("arn:aws:iam::{other}:role/{role}");
    m.call_in(
        Some(other),
        "iam",
        "create_role",
        json!({"RoleName": role, "AssumeRolePolicyDocument": trust().to_string()}),
    )
    .unwrap();
    // Without --assume-role the credentials are for the wrong account: refused.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            &arn,
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(&format!("--assume-role arn:aws:iam::{other}:role/ROLE")),
        "{}",
        stderr(&o)
    );
    let ir = format!("arn:aws:iam::{other}:role/incident-response");
    let c = "2026-03-02T10:25:00Z";
    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            &arn,
            "--cutoff",
            c,
            "--assume-role",
            &ir,
            "--external-id",
            "x-123",
        ],
    );
    assert_eq!(r["caller"]["account"], other);
    assert_eq!(r["assumed_role"], ir);
    let got = m
        .call_in(
            Some(other),
            "iam",
            "get_role_policy",
            json!({"RoleName": role, "PolicyName": "AWSRevokeOlderSessions"}),
        )
        .unwrap();
    assert_eq!(got["PolicyDocument"], revoke_doc(c));
    // The external id is not written anywhere.
    assert!(!std::fs::read_to_string(&audit).unwrap().contains("x-123"));
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            r["run_id"].as_str().unwrap(),
            "--apply",
        ],
    );
    assert_eq!(
        code(&o),
        2,
        "rollback from the wrong account must be refused"
    );
    assert!(
        stderr(&o).contains(&format!("--assume-role {ir}")),
        "{}",
        stderr(&o)
    );
    apply(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            r["run_id"].as_str().unwrap(),
            "--assume-role",
            &ir,
        ],
    );
    assert!(m
        .call_in(
            Some(other),
            "iam",
            "get_role_policy",
            json!({"RoleName": role, "PolicyName": "AWSRevokeOlderSessions"})
        )
        .is_err());
}

#[test]
fn the_audit_log_defaults_to_the_data_dir() {
    let m = moto();
    let data = tempfile::tempdir().unwrap();
    let role = "pb-default-audit";
    m.create_role(role, "/");
    let c = aws_cmd(
        Some(&m.url()),
        Path::new("unused"),
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            role,
            "--apply",
        ],
    );
    // The same command without --audit-log.
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    c.args(&args[..args.len() - 2])
        .env("XDG_DATA_HOME", data.path())
        .env("AWS_REGION", "us-east-1");
    crate::emulator::test_credentials(&mut c);
    let o = c.output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = data.path().join("trailhound/audit.jsonl");
    let lines = audit_lines(&log);
    assert_eq!(lines.len(), 1);
    let id = lines[0]["run_id"].as_str().unwrap();
    let s = stdout(&o);
    assert!(
        s.contains(&format!("Run {id} (revoke-role-sessions): applied\n")),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "Undo: trailhound playbook rollback {id} --endpoint-url {} --apply\n",
            m.url()
        )),
        "{s}"
    );
    assert!(
        !s.contains("testing") && !stderr(&o).contains("testing"),
        "a secret was printed"
    );
}

// ---------------------------------------------------------------------------------------------
// The response playbooks (issue 15), against the emulator.

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

fn attached_user_policies(m: &Moto, user: &str) -> Vec<String> {
    let v = m.ok("list_attached_user_policies", json!({"UserName": user}));
    v["AttachedPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyArn"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn quarantine_key_attaches_the_aws_policy_and_rollback_detaches_it() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let user = "pb-quarantine";
    m.ok("create_user", json!({"UserName": user}));
    let key = m.ok("create_access_key", json!({"UserName": user}))["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();

    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "quarantine-key",
            "--key",
            &key,
            "--user",
            user,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains(&format!(
            "aws iam attach-user-policy --user-name {user} --policy-arn {QUARANTINE}"
        )),
        "{s}"
    );
    assert!(attached_user_policies(m, user).is_empty(), "dry run");

    let r = apply(
        m,
        &audit,
        &["playbook", "run", "quarantine-key", "--key", &key],
    );
    assert_eq!(attached_user_policies(m, user), [QUARANTINE]);
    assert_eq!(r["calls"][0]["call"]["api"], "iam:AttachUserPolicy");
    assert_eq!(
        r["calls"][0]["call"]["UserName"], user,
        "looked up at apply time"
    );
    assert_eq!(r["before"][1]["state"], Value::Null);
    assert_eq!(r["after"][1]["state"], true);
    assert_eq!(
        m.key_status(user, &key),
        "Active",
        "the key itself is untouched"
    );

    let rb = rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(rb["calls"][0]["call"]["api"], "iam:DetachUserPolicy");
    assert!(attached_user_policies(m, user).is_empty());
}

#[test]
fn restrict_role_trust_keeps_principals_and_rolls_back_to_the_old_trust() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-restrict";
    m.create_role(role, "/");
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let args = [
        "playbook",
        "run",
        "restrict-role-trust",
        "--role",
        &arn,
        "--allow-network",
        "203.0.113.0/24",
        "198.51.100.7/32",
        "--allow-vpc",
        "vpc-0123abcd",
    ];
    let o = aws_run(m, &audit, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"aws:SourceIp\""), "{}", stdout(&o));
    assert_eq!(m.trust_policy(role), trust(), "dry run");
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "restrict-role-trust",
            "--role",
            &arn,
            "--allow-network",
            "10.0.0.0",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("CIDR"), "{}", stderr(&o));

    let r = apply(m, &audit, &args);
    let got = m.trust_policy(role);
    let st = got["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 2, "{got:#}");
    for s in st {
        assert_eq!(s["Principal"], trust()["Statement"][0]["Principal"]);
        assert_eq!(s["Action"], "sts:AssumeRole");
    }
    assert_eq!(
        st[0]["Condition"],
        json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"]}})
    );
    assert_eq!(
        st[1]["Condition"],
        json!({"StringEquals": {"aws:SourceVpc": ["vpc-0123abcd"]}})
    );
    assert_eq!(r["before"][0]["state"], trust());
    assert_eq!(r["calls"][0]["call"]["PolicyDocument"], got);

    rollback(m, &audit, r["run_id"].as_str().unwrap());
    assert_eq!(m.trust_policy(role), trust());
}

#[test]
fn rotate_external_id_prints_the_new_id_once_and_stores_only_its_hash() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-rotate";
    let old = "old-partner-id-4711";
    let mut t = trust();
    t["Statement"][0]["Condition"] = json!({"StringEquals": {"sts:ExternalId": old}});
    m.ok(
        "create_role",
        json!({"RoleName": role, "AssumeRolePolicyDocument": t.to_string()}),
    );
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let o = aws_run(
        m,
        &audit,
        &["playbook", "run", "rotate-external-id", "--role", &arn],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("NO ROLLBACK"), "{}", stdout(&o));

    let mut a = vec!["playbook", "run", "rotate-external-id", "--role", &arn];
    a.extend(["--apply", "--format", "json", "-q"]);
    let o = aws_run(m, &audit, &a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let new = v["new_external_id"].as_str().unwrap().to_string();
    assert_eq!(new.len(), 32);
    let got = m.trust_policy(role);
    assert_eq!(
        got["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        new.as_str()
    );
    assert_eq!(
        got["Statement"][0]["Principal"],
        t["Statement"][0]["Principal"]
    );
    // Neither the new id nor the old one is in the audit log; the new one's hash is.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(!log.contains(&new) && !log.contains(old), "{log}");
    assert!(log.contains(&trailhound::playbook::derive::hash_secret(&new)));
    assert_eq!(
        v["run"]["new_external_id_sha256"],
        trailhound::playbook::derive::hash_secret(&new)
    );
    // Printed once: the JSON output holds it only at the top.
    assert_eq!(stdout(&o).matches(&new).count(), 1, "{}", stdout(&o));
    // Rollback is refused and says why.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            v["run"]["run_id"].as_str().unwrap(),
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("old external id is not kept"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        m.trust_policy(role)["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        new.as_str()
    );
}

#[test]
fn recreate_role_restores_everything_under_a_new_role_id() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "pb-recreate";
    let boundary = m.ok(
        "create_policy",
        json!({"PolicyName": "pb-recreate-boundary", "PolicyDocument": json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}).to_string()}),
    )["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let created = m.ok(
        "create_role",
        json!({"RoleName": role, "Path": "/app/", "AssumeRolePolicyDocument": trust().to_string(),
            "Description": "the app's role", "MaxSessionDuration": 7200,
            "PermissionsBoundary": boundary, "Tags": [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}]}),
    );
    let old_id = created["Role"]["RoleId"].as_str().unwrap().to_string();
    let inline = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    m.ok(
        "put_role_policy",
        json!({"RoleName": role, "PolicyName": "read", "PolicyDocument": inline.to_string()}),
    );
    m.ok(
        "attach_role_policy",
        json!({"RoleName": role, "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
    );
    m.ok(
        "create_instance_profile",
        json!({"InstanceProfileName": "pb-recreate-profile"}),
    );
    m.ok(
        "add_role_to_instance_profile",
        json!({"InstanceProfileName": "pb-recreate-profile", "RoleName": role}),
    );
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/app/{role}");
    let state = |m: &Moto| {
        let r = m.ok("get_role", json!({"RoleName": role}))["Role"].clone();
        let tags = m.ok("list_role_tags", json!({"RoleName": role}))["Tags"].clone();
        let pols = m.ok("list_role_policies", json!({"RoleName": role}))["PolicyNames"].clone();
        let att = m.ok("list_attached_role_policies", json!({"RoleName": role}))
            ["AttachedPolicies"]
            .clone();
        let prof = m.ok("list_instance_profiles_for_role", json!({"RoleName": role}))
            ["InstanceProfiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["InstanceProfileName"].clone())
            .collect::<Vec<_>>();
        (
            r["RoleId"].as_str().unwrap().to_string(),
            json!({"Path": r["Path"], "Arn": r["Arn"], "Trust": r["AssumeRolePolicyDocument"],
                "Description": r["Description"], "Max": r["MaxSessionDuration"],
                "Boundary": r["PermissionsBoundary"]["PermissionsBoundaryArn"], "Tags": tags,
                "Inline": pols, "Attached": att, "Profiles": prof,
                "Doc": m.role_policy(role, "read")}),
        )
    };
    let (_, before) = state(m);

    // The dry run says what cannot come back; --apply without the confirmation is refused.
    let o = aws_run(
        m,
        &audit,
        &["playbook", "run", "recreate-role", "--role", &arn],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("NO ROLLBACK") && s.contains("cannot come back"),
        "{s}"
    );
    assert!(
        s.contains("iam:DeleteRole") && s.contains("iam:CreateRole"),
        "{s}"
    );
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "recreate-role",
            "--role",
            &arn,
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--confirm-new-role-id"),
        "{}",
        stderr(&o)
    );
    assert_eq!(state(m).0, old_id);

    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "recreate-role",
            "--role",
            &arn,
            "--confirm-new-role-id",
        ],
    );
    let (new_id, after) = state(m);
    assert_ne!(new_id, old_id, "a new role id");
    assert_eq!(after, before, "everything else restored");
    assert_eq!(after["Doc"], inline);
    let apis: Vec<&str> = r["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"]["api"].as_str().unwrap())
        .collect();
    assert_eq!(
        apis,
        [
            "iam:RemoveRoleFromInstanceProfile",
            "iam:DetachRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:AddRoleToInstanceProfile"
        ]
    );
    assert_eq!(r["before"][0]["state"]["RoleId"], old_id.as_str());
    assert_eq!(r["after"][0]["state"]["RoleId"], new_id.as_str());
    // No rollback: refused, with the reason.
    let o = aws_run(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            r["run_id"].as_str().unwrap(),
            "--apply",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot come back"), "{}", stderr(&o));
    assert_eq!(state(m).0, new_id);
}
