//! The synthetic organisation: accounts, roles, users and the actors that produce traffic.
//!
//! [`World::sample`] builds the bundled sample's cast; [`World::add_replica`] adds one more slice
//! of background traffic (people, instances, functions, a CI repository) for large corpora.

use super::clock::Tz;
use super::ips::{self, Pool};
use super::rng::{derive, Draw};
use std::sync::Arc;

pub(crate) const REGIONS: [&str; 3] = ["us-east-1", "eu-central-1", "us-west-2"];
pub(crate) const USE1: u8 = 0;
pub(crate) const EUC1: u8 = 1;
pub(crate) const USW2: u8 = 2;

/// Named resources of an account, used in request parameters.
pub(crate) struct Account {
    pub id: String,
    pub env: String,
    pub buckets: Vec<String>,
    pub secrets: Vec<String>,
    pub params: Vec<String>,
    pub tables: Vec<String>,
    pub functions: Vec<String>,
    pub stacks: Vec<String>,
    pub log_groups: Vec<String>,
    pub kms_keys: Vec<String>,
    pub instances: Vec<String>,
    pub repos: Vec<String>,
    pub vpce: String,
}

pub(crate) struct Role {
    pub name: String,
    /// IAM path, `/` or e.g. `/aws-service-role/config.amazonaws.com/`.
    pub path: String,
    pub acct: usize,
    pub id: String,
}

pub(crate) struct User {
    pub name: String,
    pub acct: usize,
    pub id: String,
    pub key: String,
}

/// How a person gets credentials.
pub(crate) enum HumanMode {
    /// AKIA key + MFA -> AssumeRole(`role`, sourceIdentity = user name); sometimes chains on to
    /// `chain` (a role in another account) with probability `chain_prob` per burst.
    Mfa {
        role: usize,
        chain: Option<usize>,
        chain_prob: f64,
    },
    /// AKIA key + MFA -> GetSessionToken, then AssumeRole(`role`) from that session.
    Gst { role: usize },
    /// Console sign-in; console calls signed with ASIA keys; sometimes switches into `switch`.
    Console { switch: Option<usize> },
}

pub(crate) struct Human {
    pub user: usize,
    pub tz: Tz,
    pub home: [u8; 4],
    pub office: Option<[u8; 4]>,
    /// Weekdays (bit 0 = Monday) spent at the office.
    pub office_days: u8,
    pub start_h: f64,
    pub end_h: f64,
    /// Chance of a late-evening block (20:30-23:45 local) on a work day.
    pub evening: f64,
    pub mode: HumanMode,
    /// Weighted regions of the person's work.
    pub regions: Vec<(u32, u8)>,
    pub uas: Vec<Arc<str>>,
    pub tls12: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstKind {
    App,
    Batch,
}

pub(crate) struct Instance {
    pub id: String,
    pub role: usize,
    pub region: u8,
    pub eip: [u8; 4],
    /// Calls to SSM and Secrets Manager go through interface endpoints (private source address).
    pub vpce: Option<[u8; 4]>,
    pub kind: InstKind,
    pub ua: Arc<str>,
    /// Whether this instance's credentials get stolen (`credential_exfiltration`).
    pub victim: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LambdaKind {
    OrderSync,
    CostReporter,
}

pub(crate) struct Lambda {
    pub name: String,
    pub role: usize,
    pub acct: usize,
    pub region: u8,
    pub every_min: i64,
    pub offset_s: i64,
    pub kind: LambdaKind,
    pub pool: &'static Pool,
}

pub(crate) struct Ci {
    pub repo: String,
    pub role: usize,
    pub deploy: Option<usize>,
    pub runs_per_hour: f64,
}

pub(crate) struct Saml {
    pub subject: String,
    pub tz: Tz,
    pub home: [u8; 4],
    pub office: [u8; 4],
    pub role: usize,
    pub provider_hash: String,
    pub idp_id: String,
}

/// The fixed cast of the sample (indexes into the world's tables), used by the incidents.
pub(crate) struct Cast {
    pub identity: usize,
    pub staging: usize,
    pub prod: usize,
    pub security: usize,
    pub engineer: usize,
    pub readonly: usize,
    pub security_audit: usize,
    pub org_access: usize,
    pub staging_admin: usize,
    pub reporting_read: usize,
    pub jonas: usize,
    pub priya: usize,
    pub svc_reporting: usize,
    pub svc_portal: usize,
    pub config_role: usize,
}

pub(crate) struct World {
    pub seed: u64,
    pub start: i64,
    pub days: u32,
    pub end: i64,
    pub accounts: Vec<Account>,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub humans: Vec<Human>,
    pub instances: Vec<Instance>,
    pub lambdas: Vec<Lambda>,
    pub cis: Vec<Ci>,
    pub samls: Vec<Saml>,
    pub cast: Cast,
    pub bucket: String,
    pub trail: String,
    pub token_len: usize,
    pub replicas: u32,
}

pub(crate) fn ua(s: &str) -> Arc<str> {
    Arc::from(s)
}

impl World {
    pub(crate) fn role_arn(&self, r: usize) -> String {
        let r = &self.roles[r];
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.accounts[r.acct].id, r.path, r.name
        )
    }

    pub(crate) fn user_arn(&self, u: usize) -> String {
        let u = &self.users[u];
        format!("arn:aws:iam::{}:user/{}", self.accounts[u.acct].id, u.name)
    }

    pub(crate) fn mfa_serial(&self, u: usize) -> String {
        let u = &self.users[u];
        format!("arn:aws:iam::{}:mfa/{}", self.accounts[u.acct].id, u.name)
    }

    fn add_account(&mut self, id: String, env: &str) -> usize {
        let mut rng = derive(self.seed, &format!("account:{id}"));
        let e = env;
        let acct = Account {
            buckets: vec![
                format!("acme-{e}-artifacts-{id}"),
                format!("acme-{e}-data-lake"),
                format!("acme-{e}-static-assets"),
                format!("acme-{e}-backups-{id}"),
            ],
            secrets: vec![
                format!("{e}/orders/db-credentials"),
                format!("{e}/payments/stripe-api-key"),
                format!("{e}/app/session-secret"),
            ],
            params: vec![
                format!("/{e}/order-sync/config"),
                format!("/{e}/app/feature-flags"),
                format!("/{e}/app/db-host"),
                format!("/{e}/batch/settings"),
            ],
            tables: vec![
                format!("{e}-orders"),
                format!("{e}-customers"),
                format!("{e}-inventory"),
            ],
            functions: vec![
                "order-sync".to_string(),
                "cost-reporter".to_string(),
                "thumbnailer".to_string(),
            ],
            stacks: vec![
                format!("app-{e}"),
                format!("network-{e}"),
                format!("data-{e}"),
            ],
            log_groups: vec![
                "/aws/lambda/order-sync".to_string(),
                format!("/ecs/app-{e}"),
                "/aws/lambda/cost-reporter".to_string(),
            ],
            kms_keys: (0..2)
                .map(|_| super::rng::uuid_string(rng.u128()))
                .collect(),
            instances: (0..4).map(|_| rng.instance_id()).collect(),
            repos: vec!["acme/app".to_string(), "acme/worker".to_string()],
            vpce: format!("vpce-0{}", rng.hex(16)),
            id,
            env: env.to_string(),
        };
        self.accounts.push(acct);
        self.accounts.len() - 1
    }

    fn add_role(&mut self, acct: usize, name: &str) -> usize {
        let mut rng = derive(
            self.seed,
            &format!("role:{}:{name}", self.accounts[acct].id),
        );
        let (path, name) = match name.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name),
            None => ("/".to_string(), name),
        };
        self.roles.push(Role {
            path,
            name: name.to_string(),
            acct,
            id: rng.unique_id("AROA"),
        });
        self.roles.len() - 1
    }

    fn add_user(&mut self, acct: usize, name: &str) -> usize {
        let mut rng = derive(
            self.seed,
            &format!("user:{}:{name}", self.accounts[acct].id),
        );
        self.users.push(User {
            name: name.to_string(),
            acct,
            id: rng.unique_id("AIDA"),
            key: rng.key_id("AKIA"),
        });
        self.users.len() - 1
    }

    /// The sample's organisation: four accounts, three regions, five people, two service users,
    /// three instances, two functions and a CI repository.
    pub(crate) fn sample(seed: u64, start_day: i64, days: u32) -> World {
        let start = start_day * 86_400;
        let mut w = World {
            seed,
            start,
            days,
            end: start + i64::from(days) * 86_400,
            accounts: Vec::new(),
            roles: Vec::new(),
            users: Vec::new(),
            humans: Vec::new(),
            instances: Vec::new(),
            lambdas: Vec::new(),
            cis: Vec::new(),
            samls: Vec::new(),
            cast: Cast {
                identity: 0,
                staging: 0,
                prod: 0,
                security: 0,
                engineer: 0,
                readonly: 0,
                security_audit: 0,
                org_access: 0,
                staging_admin: 0,
                reporting_read: 0,
                jonas: 0,
                priya: 0,
                svc_reporting: 0,
                svc_portal: 0,
                config_role: 0,
            },
            bucket: "acme-org-cloudtrail-205836417790".to_string(),
            trail: "acme-management-events".to_string(),
            token_len: 200,
            replicas: 0,
        };
        let identity = w.add_account("310915732205".into(), "identity");
        let staging = w.add_account("739204618823".into(), "staging");
        let prod = w.add_account("482719305561".into(), "prod");
        let security = w.add_account("205836417790".into(), "security");

        let engineer = w.add_role(staging, "Engineer");
        let staging_admin = w.add_role(staging, "Admin");
        let gha = w.add_role(staging, "GitHubActionsCI");
        let readonly = w.add_role(prod, "ReadOnly");
        let deploy = w.add_role(prod, "DeployRole");
        let app_role = w.add_role(prod, "app-server-role");
        let web_role = w.add_role(prod, "web-server-role");
        let batch_role = w.add_role(prod, "batch-worker-role");
        let order_sync_role = w.add_role(prod, "order-sync-role");
        let cost_role = w.add_role(prod, "cost-reporter-role");
        let reporting_read = w.add_role(prod, "ReportingRead");
        let okta = w.add_role(prod, "OktaDataAnalyst");
        let org_access = w.add_role(prod, "OrganizationAccountAccessRole");
        let security_audit = w.add_role(security, "SecurityAudit");
        let config_role = w.add_role(
            prod,
            "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
        );

        let maria = w.add_user(identity, "maria.gonzalez");
        let jonas = w.add_user(identity, "jonas.weber");
        let priya = w.add_user(identity, "priya.raman");
        let tom = w.add_user(identity, "tom.harris");
        let svc_reporting = w.add_user(identity, "svc-reporting");
        let svc_portal = w.add_user(identity, "svc-portal");

        w.humans.push(Human {
            user: maria,
            tz: Tz::NewYork,
            home: ips::NY_HOME.nth(0),
            office: Some(ips::NY_OFFICE.nth(0)),
            office_days: 0b01110,
            start_h: 9.0,
            end_h: 17.5,
            evening: 0.0,
            mode: HumanMode::Gst { role: engineer },
            regions: vec![(8, USE1), (2, USW2)],
            uas: vec![
                ua("aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64 prompt/off"),
                ua("APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/macos lang/go#1.21.8 md/GOOS#darwin md/GOARCH#amd64"),
            ],
            tls12: false,
        });
        w.humans.push(Human {
            user: jonas,
            tz: Tz::Berlin,
            home: ips::BERLIN_HOME.nth(0),
            office: Some(ips::BERLIN_OFFICE.nth(0)),
            office_days: 0b00111,
            start_h: 8.5,
            end_h: 17.25,
            evening: 0.0,
            mode: HumanMode::Mfa {
                role: engineer,
                chain: Some(readonly),
                chain_prob: 0.3,
            },
            regions: vec![(7, EUC1), (3, USE1)],
            uas: vec![
                ua("aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-21-generic exe/x86_64.ubuntu.22 prompt/off"),
                ua("Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#6.5.0-21-generic md/arch#x86_64 lang/python#3.11.5 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.40"),
            ],
            tls12: false,
        });
        w.humans.push(Human {
            user: priya,
            tz: Tz::Chicago,
            home: ips::AUSTIN_HOME.nth(0),
            office: Some(ips::AUSTIN_COWORK.nth(0)),
            office_days: 0b00100,
            start_h: 11.0,
            end_h: 18.0,
            evening: 0.8,
            mode: HumanMode::Mfa {
                role: engineer,
                chain: Some(readonly),
                chain_prob: 0.35,
            },
            regions: vec![(6, USE1), (4, USW2)],
            uas: vec![
                ua("aws-cli/2.15.10 Python/3.11.6 Windows/10 exe/AMD64 prompt/off"),
                ua("aws-sdk-go-v2/1.24.1 os/windows lang/go#1.21.5 md/GOOS#windows md/GOARCH#amd64 api/sts#1.26.7"),
            ],
            tls12: false,
        });
        w.humans.push(Human {
            user: tom,
            tz: Tz::London,
            home: ips::LONDON_HOME.nth(0),
            office: Some(ips::LONDON_OFFICE.nth(0)),
            office_days: 0b01011,
            start_h: 9.25,
            end_h: 17.5,
            evening: 0.0,
            mode: HumanMode::Console {
                switch: Some(engineer),
            },
            regions: vec![(7, USE1), (3, EUC1)],
            uas: vec![ua(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
            )],
            tls12: false,
        });

        let mut rng = derive(seed, "sample-cast");
        let app_ua = ua("aws-sdk-go/1.50.33 (go1.21.7; linux; amd64)");
        let batch_ua = ua("Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.1.72-96.166.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51");
        for (i, (region, kind)) in [
            (USE1, InstKind::App),
            (USE1, InstKind::App),
            (USW2, InstKind::Batch),
        ]
        .into_iter()
        .enumerate()
        {
            let id = rng.instance_id();
            w.accounts[prod].instances[i] = id.clone();
            w.instances.push(Instance {
                id,
                // app-1 (the victim) calls AWS only through VPC endpoints; app-2 and batch-1
                // from their public addresses.
                role: match (kind, i) {
                    (InstKind::App, 0) => app_role,
                    (InstKind::App, _) => web_role,
                    _ => batch_role,
                },
                region,
                eip: ips::EC2_EIPS.nth(i),
                vpce: (i == 0).then(|| ips::VPC_PRIVATE.draw(&mut rng)),
                kind,
                ua: if kind == InstKind::App {
                    app_ua.clone()
                } else {
                    batch_ua.clone()
                },
                victim: i == 0,
            });
        }
        w.lambdas.push(Lambda {
            name: "order-sync".into(),
            role: order_sync_role,
            acct: prod,
            region: USE1,
            every_min: 15,
            offset_s: 40,
            kind: LambdaKind::OrderSync,
            pool: &ips::AWS_US_EAST_1,
        });
        w.lambdas.push(Lambda {
            name: "cost-reporter".into(),
            role: cost_role,
            acct: prod,
            region: USE1,
            every_min: 360,
            offset_s: 95,
            kind: LambdaKind::CostReporter,
            pool: &ips::AWS_US_EAST_1,
        });
        w.cis.push(Ci {
            repo: "acme/app".into(),
            role: gha,
            deploy: Some(deploy),
            runs_per_hour: 0.3,
        });
        w.samls.push(Saml {
            subject: "li.chen@acme.example".into(),
            tz: Tz::LosAngeles,
            home: ips::LA_HOME.nth(0),
            office: ips::LA_OFFICE.nth(0),
            role: okta,
            provider_hash: format!("{}=", rng.b64(27)),
            idp_id: format!("exk{}", rng.alnum(17)),
        });
        w.cast = Cast {
            identity,
            staging,
            prod,
            security,
            engineer,
            readonly,
            security_audit,
            org_access,
            staging_admin,
            reporting_read,
            jonas,
            priya,
            svc_reporting,
            svc_portal,
            config_role,
        };
        w
    }

    /// Adds one slice of background traffic for corpora: two people, a handful of instances, two
    /// functions and a busy CI repository; every 25th slice lives in a new workload account,
    /// the others in prod (mostly us-east-1), so that busy files hold hundreds of records.
    pub(crate) fn add_replica(&mut self) {
        let r = self.replicas + 1;
        self.replicas = r;
        let mut rng = derive(self.seed, &format!("replica:{r}"));
        let (acct, engineer, readonly) = if r.is_multiple_of(25) {
            let id = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
            let a = self.add_account(id, &format!("wl{r:03}"));
            let e = self.add_role(a, "Engineer");
            let ro = self.add_role(a, "ReadOnly");
            (a, e, ro)
        } else {
            (self.cast.prod, self.cast.engineer, self.cast.readonly)
        };
        let app_role = self.add_role(acct, &format!("svc{r:03}-app-role"));
        let fn_role = self.add_role(acct, &format!("svc{r:03}-lambda-role"));
        let ci_role = self.add_role(acct, &format!("svc{r:03}-github-ci"));
        const FIRST: [&str; 12] = [
            "alex", "sam", "kim", "noah", "lena", "omar", "sofia", "yuki", "ivan", "chloe", "ravi",
            "emma",
        ];
        const LAST: [&str; 12] = [
            "smith", "muller", "brown", "schmidt", "taylor", "fischer", "jones", "wagner", "patel",
            "becker", "wilson", "hoffmann",
        ];
        for k in 0..2 {
            let name = format!("{}.{}{}", rng.pick(&FIRST), rng.pick(&LAST), r * 2 + k);
            let user = self.add_user(self.cast.identity, &name);
            let (tz, pool, region) = match rng.below(4) {
                0 => (Tz::NewYork, &ips::CORPUS_US, USE1),
                1 => (Tz::LosAngeles, &ips::CORPUS_US, USW2),
                2 => (Tz::Berlin, &ips::CORPUS_DE, EUC1),
                _ => (Tz::London, &ips::CORPUS_GB, EUC1),
            };
            let home = pool.draw(&mut rng);
            let office = pool.draw(&mut rng);
            let start_h = 8.0 + rng.unit() * 2.0;
            self.humans.push(Human {
                user,
                tz,
                home,
                office: Some(office),
                office_days: (rng.below(31) as u8) | 0b00100,
                start_h,
                end_h: start_h + 8.0 + rng.unit(),
                evening: if rng.chance(0.2) { 0.5 } else { 0.0 },
                mode: HumanMode::Mfa {
                    role: engineer,
                    chain: Some(readonly),
                    chain_prob: 0.2,
                },
                regions: vec![(6, region), (3, USE1), (1, USW2)],
                uas: vec![ua(&format!(
                    "aws-cli/2.15.{} Python/3.11.{} Linux/6.5.0-{}-generic exe/x86_64.ubuntu.22 prompt/off",
                    rng.below(40),
                    rng.below(9),
                    rng.between(10, 40)
                ))],
                tls12: rng.chance(0.2),
            });
        }
        let app_ua = ua(&format!(
            "aws-sdk-go/1.{}.{} (go1.21.{}; linux; amd64)",
            rng.between(44, 51),
            rng.below(300),
            rng.below(9)
        ));
        let region = if acct == self.cast.prod {
            *rng.pick(&[USE1, USE1, USE1, USE1, USE1, USE1, USW2, EUC1])
        } else {
            USE1
        };
        let pool: &'static Pool = match region {
            USE1 => &ips::AWS_US_EAST_1,
            USW2 => &ips::AWS_US_WEST_2,
            _ => &ips::AWS_EU_CENTRAL_1,
        };
        for i in 0..6 {
            let id = rng.instance_id();
            self.instances.push(Instance {
                id,
                role: app_role,
                region,
                eip: pool.draw(&mut rng),
                vpce: (i % 2 == 0).then(|| ips::VPC_PRIVATE.draw(&mut rng)),
                kind: if i == 5 {
                    InstKind::Batch
                } else {
                    InstKind::App
                },
                ua: app_ua.clone(),
                victim: false,
            });
        }
        for (i, every) in [5i64, 10].into_iter().enumerate() {
            self.lambdas.push(Lambda {
                name: format!("svc{r:03}-fn{i}"),
                role: fn_role,
                acct,
                region,
                every_min: every,
                offset_s: rng.between(0, 50),
                kind: LambdaKind::OrderSync,
                pool,
            });
        }
        self.cis.push(Ci {
            repo: format!("acme/service-{r:03}"),
            role: ci_role,
            deploy: None,
            runs_per_hour: 1.5,
        });
    }
}
