//! Plans on the hand-made incident in tests/fixtures/playbook/incident.json (see make_incident.py).
//! moto does not evaluate aws:TokenIssueTime, so which sessions a cutoff cuts off is tested here.

use super::*;
use crate::event::parse_iso;
use crate::playbook::find;

const WEB: &str = "arn:aws:iam::111111111111:role/WebAppRole";

fn graph() -> Graph {
    let parsed = crate::ingest::parse::parse_text(include_bytes!(
        "../../../tests/fixtures/playbook/incident.json"
    ));
    assert!(parsed.bad_records.is_empty());
    let (events, _) = crate::ingest::finish_events(parsed.events);
    Graph::build(&events)
}

fn t(s: &str) -> Millis {
    parse_iso(s).unwrap()
}

fn req() -> Request {
    Request {
        now: t("2026-03-02T10:35:00Z"),
        ..Request::default()
    }
}

fn keys(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|r| r.access_key_id.as_str()).collect()
}

fn plan_of(name: &str, r: &Request, g: Option<&Graph>) -> Result<Plan> {
    build(&find(name, None).unwrap(), r, g)
}

#[test]
fn revoke_policy_is_the_consoles_document() {
    assert_eq!(
        revoke_document(t("2026-03-02T10:25:00Z")).to_string(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-02T10:25:00Z"}}}]}"#
    );
}

#[test]
fn revoke_role_cuts_off_sessions_issued_before_the_cutoff() {
    let g = graph();
    let r = Request {
        role: Some(WEB.into()),
        cutoff: Some(t("2026-03-02T10:25:00Z")),
        highlight_key: Some("ASIAATTACKER00000001".into()),
        ..req()
    };
    let p = plan_of("revoke-role-sessions", &r, Some(&g)).unwrap();
    assert_eq!(p.account.as_deref(), Some("111111111111"));
    assert_eq!(p.cutoff.as_deref(), Some("2026-03-02T10:25:00Z"));
    assert_eq!(
        p.calls,
        [Call::PutRolePolicy {
            role_name: "WebAppRole".into(),
            policy_name: "AWSRevokeOlderSessions".into(),
            policy_document: revoke_document(t("2026-03-02T10:25:00Z")),
        }]
    );
    assert_eq!(
        p.resources,
        [Resource::RoleInlinePolicy {
            role_name: "WebAppRole".into(),
            policy_name: "AWSRevokeOlderSessions".into()
        }]
    );
    let imp = p.sessions.unwrap();
    assert_eq!(
        keys(&imp.cut_off),
        ["ASIAWEBAPPALICE00001", "ASIAATTACKER00000001"]
    );
    assert!(imp.cut_off[1].target && !imp.cut_off[0].target);
    assert_eq!(keys(&imp.expired), ["ASIAWEBAPPOLD0000001"]);
    assert_eq!(keys(&imp.spared), ["ASIAWEBAPPNEW0000001"]);
    // The attacker's pivot into another account is not stopped, and the plan says how to stop it.
    assert_eq!(keys(&imp.not_stopped), ["ASIACROSSADMIN000001"]);
    assert_eq!(
        imp.not_stopped[0].next.as_deref(),
        Some("trailhound playbook run revoke-role-sessions --role arn:aws:iam::222222222222:role/CrossAdmin")
    );
    assert_eq!(imp.logs_end.as_deref(), Some("2026-03-02T10:31:00Z"));
}

#[test]
fn a_cutoff_at_the_issue_time_spares_the_key() {
    // DateLessThan is strict: a token issued exactly at the cutoff is not denied.
    let g = graph();
    for (cutoff, cut) in [
        ("2026-03-02T10:10:00Z", false),
        ("2026-03-02T10:10:01Z", true),
        ("2026-03-02T10:05:00Z", false),
    ] {
        let r = Request {
            role: Some(WEB.into()),
            cutoff: Some(t(cutoff)),
            ..req()
        };
        let imp = plan_of("revoke-role-sessions", &r, Some(&g))
            .unwrap()
            .sessions
            .unwrap();
        assert_eq!(
            keys(&imp.cut_off).contains(&"ASIAATTACKER00000001"),
            cut,
            "{cutoff}"
        );
        assert_eq!(
            keys(&imp.spared).contains(&"ASIAATTACKER00000001"),
            !cut,
            "{cutoff}"
        );
    }
}

#[test]
fn default_cutoff_is_now_rounded_up() {
    let r = Request {
        role: Some(WEB.into()),
        now: t("2026-03-02T10:35:00Z") + 1,
        ..Request::default()
    };
    let p = plan_of("revoke-role-sessions", &r, None).unwrap();
    assert_eq!(p.cutoff.as_deref(), Some("2026-03-02T10:35:01Z"));
    assert!(p.sessions.is_none());
}

#[test]
fn protected_roles_are_refused_with_the_reason() {
    for (role, why) in [
        (
            "arn:aws:iam::111111111111:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
            "service-linked role",
        ),
        (
            "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
            "revoked in IAM Identity Center",
        ),
        ("AWSReservedSSO_Admin_0123456789abcdef", "IAM Identity Center role"),
    ] {
        for pb in ["revoke-role-sessions", "lock-role-trust"] {
            let r = Request {
                role: Some(role.into()),
                ..req()
            };
            let e = plan_of(pb, &r, None).unwrap_err().to_string();
            assert!(e.starts_with("refused: ") && e.contains(why), "{pb} {role}: {e}");
        }
    }
}

#[test]
fn a_bare_role_name_takes_its_arn_from_the_logs() {
    let g = graph();
    let r = Request {
        role: Some("WebAppRole".into()),
        ..req()
    };
    let p = plan_of("revoke-role-sessions", &r, Some(&g)).unwrap();
    assert_eq!(
        p.target,
        Target::Role {
            name: "WebAppRole".into(),
            arn: Some(WEB.into()),
            path: Some("/".into())
        }
    );
    assert!(p.notes[0].contains("taken from the logs"));
    // An assumed-role ARN names its role too.
    let r = Request {
        role: Some("arn:aws:sts::111111111111:assumed-role/WebAppRole/ci".into()),
        ..req()
    };
    assert_eq!(
        plan_of("revoke-role-sessions", &r, None)
            .unwrap()
            .account
            .as_deref(),
        Some("111111111111")
    );
}

#[test]
fn contain_instance_denies_one_instance_of_a_shared_role() {
    let g = graph();
    let r = Request {
        instance: Some("i-0abc1234def567890".into()),
        region: Some("eu-west-1".into()),
        ..req()
    };
    let p = plan_of("contain-instance-credentials", &r, Some(&g)).unwrap();
    let arn = "arn:aws:ec2:eu-west-1:111111111111:instance/i-0abc1234def567890";
    assert_eq!(p.instance_arn.as_deref(), Some(arn));
    assert_eq!(
        p.calls,
        [Call::PutRolePolicy {
            role_name: "AppServerRole".into(),
            policy_name: "TrailhoundContain-i-0abc1234def567890".into(),
            policy_document: json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                    "Condition": {"ArnEquals": {"ec2:SourceInstanceARN": arn}}}]
            }),
        }]
    );
    let imp = p.sessions.unwrap();
    assert_eq!(keys(&imp.cut_off), ["ASIAINSTANCE00000001"]);
    assert_eq!(keys(&imp.spared), ["ASIAINSTANCE00000002"]);

    // Without a region: any region, with ArnLike.
    let r = Request {
        instance: Some("i-0abc1234def567890".into()),
        role: Some("arn:aws:iam::111111111111:role/AppServerRole".into()),
        ..req()
    };
    let p = plan_of("contain-instance-credentials", &r, None).unwrap();
    let Call::PutRolePolicy {
        policy_document, ..
    } = &p.calls[0]
    else {
        panic!()
    };
    assert_eq!(
        policy_document["Statement"][0]["Condition"],
        json!({"ArnLike": {"ec2:SourceInstanceARN": "arn:aws:ec2:*:111111111111:instance/i-0abc1234def567890"}})
    );
    // Without logs or --role there is no role to put the deny on.
    let r = Request {
        instance: Some("i-0abc1234def567890".into()),
        ..req()
    };
    assert!(plan_of("contain-instance-credentials", &r, None)
        .unwrap_err()
        .to_string()
        .contains("--role"));
}

#[test]
fn deny_source_identity_stops_one_person_on_a_shared_role() {
    let g = graph();
    let r = Request {
        role: Some("arn:aws:iam::111111111111:role/SharedAdmin".into()),
        source_identity: Some("carol".into()),
        ..req()
    };
    let p = plan_of("deny-source-identity", &r, Some(&g)).unwrap();
    assert_eq!(
        p.calls,
        [Call::PutRolePolicy {
            role_name: "SharedAdmin".into(),
            policy_name: "TrailhoundDenySourceIdentity-carol".into(),
            policy_document: source_identity_document("carol"),
        }]
    );
    assert_eq!(
        source_identity_document("carol")["Statement"][0]["Condition"],
        json!({"StringEquals": {"aws:SourceIdentity": "carol"}})
    );
    let imp = p.sessions.unwrap();
    assert_eq!(keys(&imp.cut_off), ["ASIASHAREDCAROL00001"]);
    assert_eq!(keys(&imp.spared), ["ASIASHAREDDAVE000001"]);
    let r = Request {
        source_identity: None,
        ..r
    };
    assert!(plan_of("deny-source-identity", &r, None)
        .unwrap_err()
        .to_string()
        .contains("--source-identity"));
}

#[test]
fn lock_trust_keeps_issued_sessions_running_and_says_so() {
    let g = graph();
    let r = Request {
        role: Some(WEB.into()),
        ..req()
    };
    let p = plan_of("lock-role-trust", &r, Some(&g)).unwrap();
    assert_eq!(
        p.calls,
        [Call::UpdateAssumeRolePolicy {
            role_name: "WebAppRole".into(),
            policy_document: locked_trust_document(),
        }]
    );
    assert_eq!(
        p.resources,
        [Resource::RoleTrustPolicy {
            role_name: "WebAppRole".into()
        }]
    );
    let imp = p.sessions.unwrap();
    assert!(imp.cut_off.is_empty());
    assert_eq!(
        keys(&imp.not_stopped),
        [
            "ASIAWEBAPPALICE00001",
            "ASIAATTACKER00000001",
            "ASIAWEBAPPNEW0000001"
        ]
    );
    assert_eq!(keys(&imp.expired), ["ASIAWEBAPPOLD0000001"]);
}

#[test]
fn revoke_user_cuts_off_its_own_temporary_credentials_only() {
    let g = graph();
    let r = Request {
        user: Some("alice".into()),
        cutoff: Some(t("2026-03-02T10:25:00Z")),
        ..req()
    };
    let p = plan_of("revoke-user-sessions", &r, Some(&g)).unwrap();
    assert_eq!(
        p.calls,
        [Call::PutUserPolicy {
            user_name: "alice".into(),
            policy_name: "AWSRevokeOlderSessions".into(),
            policy_document: revoke_document(t("2026-03-02T10:25:00Z")),
        }]
    );
    let imp = p.sessions.unwrap();
    assert_eq!(
        keys(&imp.cut_off),
        ["ASIASESSIONTOKEN0001", "ASIAFEDERATION000001"]
    );
    // Role sessions she assumed with her long-term key keep working (those alive at the cutoff).
    let ns = keys(&imp.not_stopped);
    assert!(
        ns.contains(&"ASIAWEBAPPALICE00001") && ns.contains(&"ASIASHAREDCAROL00001"),
        "{ns:?}"
    );
    assert!(!ns.contains(&"ASIAWEBAPPOLD0000001"), "{ns:?}");
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("long-term access keys keep working")));
}

#[test]
fn deactivate_key_finds_the_user_and_lists_what_survives() {
    let g = graph();
    let r = Request {
        key: Some("AKIADEPLOY0000000001".into()),
        ..req()
    };
    let p = plan_of("deactivate-access-key", &r, Some(&g)).unwrap();
    assert_eq!(
        p.calls,
        [Call::UpdateAccessKey {
            user_name: Some("deploy".into()),
            access_key_id: "AKIADEPLOY0000000001".into(),
            status: "Inactive".into(),
        }]
    );
    assert_eq!(p.account.as_deref(), Some("111111111111"));
    let imp = p.sessions.unwrap();
    assert_eq!(keys(&imp.not_stopped), ["ASIAATTACKER00000001"]);
    assert!(imp.not_stopped[0]
        .next
        .as_deref()
        .unwrap()
        .contains("revoke-role-sessions --role"));
    // Federation tokens survive: the plan says so for alice's key.
    let r = Request {
        key: Some("AKIAALICE00000000001".into()),
        ..req()
    };
    let imp = plan_of("deactivate-access-key", &r, Some(&g))
        .unwrap()
        .sessions
        .unwrap();
    let fed = imp
        .not_stopped
        .iter()
        .find(|r| r.access_key_id == "ASIAFEDERATION000001")
        .unwrap();
    assert!(fed.why.contains("survives deactivation"));
    // Without logs or --user the user is looked up at apply time.
    let p = plan_of("deactivate-access-key", &r, None).unwrap();
    assert!(p.checks[0].starts_with("iam:GetAccessKeyLastUsed"));
    // Temporary keys cannot be deactivated.
    let r = Request {
        key: Some("ASIAATTACKER00000001".into()),
        ..req()
    };
    let e = plan_of("deactivate-access-key", &r, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("temporary keys cannot be deactivated") && e.contains("trailhound revoke --key"),
        "{e}"
    );
}

#[test]
fn targets_and_options_must_fit_the_playbook() {
    let e = plan_of(
        "revoke-role-sessions",
        &Request {
            user: Some("alice".into()),
            ..req()
        },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("acts on a role: give --role"), "{e}");
    let e = plan_of(
        "lock-role-trust",
        &Request {
            role: Some(WEB.into()),
            cutoff: Some(0),
            ..req()
        },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--cutoff applies to revoke playbooks"), "{e}");
    assert!(parse_role("arn:aws:iam::1:user/x").is_err());
    assert_eq!(
        parse_role("arn:aws:iam::111111111111:role/team/App").unwrap(),
        (
            "App".to_string(),
            Some("/team/".to_string()),
            Some("arn:aws:iam::111111111111:role/team/App".to_string()),
            Some("111111111111".to_string())
        )
    );
}

#[test]
fn rollback_restores_each_resource() {
    let r = Resource::RoleInlinePolicy {
        role_name: "R".into(),
        policy_name: "P".into(),
    };
    assert_eq!(
        r.restore(None),
        Some(Call::DeleteRolePolicy {
            role_name: "R".into(),
            policy_name: "P".into()
        })
    );
    let k = Resource::AccessKey {
        user_name: Some("u".into()),
        access_key_id: "AKIAX".into(),
    };
    assert_eq!(
        k.restore(Some(&json!("Active"))),
        Some(Call::UpdateAccessKey {
            user_name: Some("u".into()),
            access_key_id: "AKIAX".into(),
            status: "Active".into()
        })
    );
    assert_eq!(
        Resource::RoleTrustPolicy {
            role_name: "R".into()
        }
        .restore(None),
        None
    );
}

#[test]
fn aws_cli_lines_are_quoted_for_the_shell() {
    let c = Call::PutRolePolicy {
        role_name: "R".into(),
        policy_name: "P".into(),
        policy_document: json!({"a": "it's"}),
    };
    assert_eq!(
        c.aws_cli(),
        r#"aws iam put-role-policy --role-name R --policy-name P --policy-document '{"a":"it'\''s"}'"#
    );
}

#[test]
fn respond_commands_name_the_playbook() {
    use crate::playbook::respond::respond_command;
    let g = graph();
    let cmd = |k: &str| respond_command(g.get(k).unwrap());
    assert_eq!(
        cmd("ASIAATTACKER00000001"),
        Some((
            "revoke-role-sessions".into(),
            format!("trailhound playbook run revoke-role-sessions --role {WEB}")
        ))
    );
    assert_eq!(
        cmd("ASIAINSTANCE00000001"),
        Some((
            "contain-instance-credentials".into(),
            "trailhound playbook run contain-instance-credentials --instance i-0abc1234def567890 --role arn:aws:iam::111111111111:role/AppServerRole".into()
        ))
    );
    assert_eq!(
        cmd("ASIASESSIONTOKEN0001"),
        Some((
            "revoke-user-sessions".into(),
            "trailhound playbook run revoke-user-sessions --user arn:aws:iam::111111111111:user/alice".into()
        ))
    );
    assert_eq!(cmd("ASIASSOADMIN00000001"), None);
}
