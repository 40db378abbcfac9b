//! The catalog of ordinary API calls: names, sources, and the request parameters, responses and
//! resources each writes. `p` picks resources (the planner passes a fixed `p` for an actor that
//! always touches the same thing); the event id varies the rest.

use super::clock::iso_string;
use super::json::{array, esc, Obj};
use super::rng::{b64_from, derive128, uuid_string};
use super::world::Account;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    GetCallerIdentity,
    ListBuckets,
    GetBucketLocation,
    GetBucketPolicy,
    GetBucketAcl,
    GetBucketVersioning,
    DescribeInstances,
    DescribeSecurityGroups,
    DescribeVpcs,
    DescribeSubnets,
    DescribeTags,
    DescribeVolumes,
    DescribeRegions,
    ListUsers,
    ListRoles,
    GetRole,
    GetAccountAuthorizationDetails,
    GetAccountSummary,
    ListAttachedRolePolicies,
    ListMFADevices,
    ListAccessKeys,
    ListPolicies,
    ListSecrets,
    GetSecretValue,
    DescribeSecret,
    Decrypt,
    ListKeys,
    DescribeKey,
    ListAliases,
    GetParameter,
    GetParameters,
    GetParametersByPath,
    PutParameter,
    DescribeParameters,
    UpdateInstanceInformation,
    ListInstanceAssociations,
    DescribeTable,
    ListTables,
    DescribeStacks,
    ListStacks,
    CreateChangeSet,
    DescribeChangeSet,
    ExecuteChangeSet,
    DescribeStackEvents,
    ValidateTemplate,
    GetAuthorizationToken,
    DescribeImages,
    PutImage,
    ListFunctions,
    GetFunction,
    UpdateFunctionCode,
    DescribeLogGroups,
    DescribeLogStreams,
    CreateLogStream,
    DescribeDBInstances,
    GetCostAndUsage,
    LookupEvents,
    DescribeTrails,
    GetTrailStatus,
    GetEventSelectors,
    ListClusters,
    DescribeServices,
    StartQueryExecution,
    GetQueryExecution,
    ListWorkGroups,
    GetTable,
    GetDatabases,
    DescribeAlarms,
    GetMetricData,
    DescribeEventAggregates,
}

/// Request parameters, response elements, resources and additional data of one call.
#[derive(Default)]
pub(crate) struct Parts {
    pub request: Option<String>,
    pub response: Option<String>,
    pub resources: Option<String>,
    pub additional: Option<String>,
}

fn pick(xs: &[String], p: u32) -> &str {
    &xs[p as usize % xs.len()]
}

impl Api {
    /// `(eventSource, eventName, readOnly)`.
    pub(crate) fn def(self) -> (&'static str, &'static str, bool) {
        use Api::*;
        match self {
            GetCallerIdentity => ("sts.amazonaws.com", "GetCallerIdentity", true),
            ListBuckets => ("s3.amazonaws.com", "ListBuckets", true),
            GetBucketLocation => ("s3.amazonaws.com", "GetBucketLocation", true),
            GetBucketPolicy => ("s3.amazonaws.com", "GetBucketPolicy", true),
            GetBucketAcl => ("s3.amazonaws.com", "GetBucketAcl", true),
            GetBucketVersioning => ("s3.amazonaws.com", "GetBucketVersioning", true),
            DescribeInstances => ("ec2.amazonaws.com", "DescribeInstances", true),
            DescribeSecurityGroups => ("ec2.amazonaws.com", "DescribeSecurityGroups", true),
            DescribeVpcs => ("ec2.amazonaws.com", "DescribeVpcs", true),
            DescribeSubnets => ("ec2.amazonaws.com", "DescribeSubnets", true),
            DescribeTags => ("ec2.amazonaws.com", "DescribeTags", true),
            DescribeVolumes => ("ec2.amazonaws.com", "DescribeVolumes", true),
            DescribeRegions => ("ec2.amazonaws.com", "DescribeRegions", true),
            ListUsers => ("iam.amazonaws.com", "ListUsers", true),
            ListRoles => ("iam.amazonaws.com", "ListRoles", true),
            GetRole => ("iam.amazonaws.com", "GetRole", true),
            GetAccountAuthorizationDetails => {
                ("iam.amazonaws.com", "GetAccountAuthorizationDetails", true)
            }
            GetAccountSummary => ("iam.amazonaws.com", "GetAccountSummary", true),
            ListAttachedRolePolicies => ("iam.amazonaws.com", "ListAttachedRolePolicies", true),
            ListMFADevices => ("iam.amazonaws.com", "ListMFADevices", true),
            ListAccessKeys => ("iam.amazonaws.com", "ListAccessKeys", true),
            ListPolicies => ("iam.amazonaws.com", "ListPolicies", true),
            ListSecrets => ("secretsmanager.amazonaws.com", "ListSecrets", true),
            GetSecretValue => ("secretsmanager.amazonaws.com", "GetSecretValue", true),
            DescribeSecret => ("secretsmanager.amazonaws.com", "DescribeSecret", true),
            Decrypt => ("kms.amazonaws.com", "Decrypt", true),
            ListKeys => ("kms.amazonaws.com", "ListKeys", true),
            DescribeKey => ("kms.amazonaws.com", "DescribeKey", true),
            ListAliases => ("kms.amazonaws.com", "ListAliases", true),
            GetParameter => ("ssm.amazonaws.com", "GetParameter", true),
            GetParameters => ("ssm.amazonaws.com", "GetParameters", true),
            GetParametersByPath => ("ssm.amazonaws.com", "GetParametersByPath", true),
            PutParameter => ("ssm.amazonaws.com", "PutParameter", false),
            DescribeParameters => ("ssm.amazonaws.com", "DescribeParameters", true),
            UpdateInstanceInformation => ("ssm.amazonaws.com", "UpdateInstanceInformation", false),
            ListInstanceAssociations => ("ssm.amazonaws.com", "ListInstanceAssociations", true),
            DescribeTable => ("dynamodb.amazonaws.com", "DescribeTable", true),
            ListTables => ("dynamodb.amazonaws.com", "ListTables", true),
            DescribeStacks => ("cloudformation.amazonaws.com", "DescribeStacks", true),
            ListStacks => ("cloudformation.amazonaws.com", "ListStacks", true),
            CreateChangeSet => ("cloudformation.amazonaws.com", "CreateChangeSet", false),
            DescribeChangeSet => ("cloudformation.amazonaws.com", "DescribeChangeSet", true),
            ExecuteChangeSet => ("cloudformation.amazonaws.com", "ExecuteChangeSet", false),
            DescribeStackEvents => ("cloudformation.amazonaws.com", "DescribeStackEvents", true),
            ValidateTemplate => ("cloudformation.amazonaws.com", "ValidateTemplate", true),
            GetAuthorizationToken => ("ecr.amazonaws.com", "GetAuthorizationToken", true),
            DescribeImages => ("ecr.amazonaws.com", "DescribeImages", true),
            PutImage => ("ecr.amazonaws.com", "PutImage", false),
            ListFunctions => ("lambda.amazonaws.com", "ListFunctions20150331", true),
            GetFunction => ("lambda.amazonaws.com", "GetFunction20150331v2", true),
            UpdateFunctionCode => (
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                false,
            ),
            DescribeLogGroups => ("logs.amazonaws.com", "DescribeLogGroups", true),
            DescribeLogStreams => ("logs.amazonaws.com", "DescribeLogStreams", true),
            CreateLogStream => ("logs.amazonaws.com", "CreateLogStream", false),
            DescribeDBInstances => ("rds.amazonaws.com", "DescribeDBInstances", true),
            GetCostAndUsage => ("ce.amazonaws.com", "GetCostAndUsage", true),
            LookupEvents => ("cloudtrail.amazonaws.com", "LookupEvents", true),
            DescribeTrails => ("cloudtrail.amazonaws.com", "DescribeTrails", true),
            GetTrailStatus => ("cloudtrail.amazonaws.com", "GetTrailStatus", true),
            GetEventSelectors => ("cloudtrail.amazonaws.com", "GetEventSelectors", true),
            ListClusters => ("ecs.amazonaws.com", "ListClusters", true),
            DescribeServices => ("ecs.amazonaws.com", "DescribeServices", true),
            StartQueryExecution => ("athena.amazonaws.com", "StartQueryExecution", false),
            GetQueryExecution => ("athena.amazonaws.com", "GetQueryExecution", true),
            ListWorkGroups => ("athena.amazonaws.com", "ListWorkGroups", true),
            GetTable => ("glue.amazonaws.com", "GetTable", true),
            GetDatabases => ("glue.amazonaws.com", "GetDatabases", true),
            DescribeAlarms => ("monitoring.amazonaws.com", "DescribeAlarms", true),
            GetMetricData => ("monitoring.amazonaws.com", "GetMetricData", true),
            DescribeEventAggregates => ("health.amazonaws.com", "DescribeEventAggregates", true),
        }
    }

    /// Recorded in us-east-1 whatever the caller's region (IAM, ListBuckets, Cost Explorer,
    /// Health).
    pub(crate) fn global(self) -> bool {
        let (src, name, _) = self.def();
        matches!(
            src,
            "iam.amazonaws.com" | "ce.amazonaws.com" | "health.amazonaws.com"
        ) || name == "ListBuckets"
    }

    pub(crate) fn version(self) -> &'static str {
        match self.def().0 {
            "ec2.amazonaws.com" => "1.09",
            "s3.amazonaws.com" => "1.09",
            _ => "1.08",
        }
    }

    /// The host name a client would have sent (for `tlsDetails`).
    pub(crate) fn host(self, region: &str, acct: &Account, p: u32) -> String {
        let (src, name, _) = self.def();
        let svc = src.trim_end_matches(".amazonaws.com");
        match svc {
            "iam" => "iam.amazonaws.com".to_string(),
            "s3" if name == "ListBuckets" => "s3.amazonaws.com".to_string(),
            "s3" => format!("{}.s3.{region}.amazonaws.com", pick(&acct.buckets, p)),
            "monitoring" => format!("monitoring.{region}.amazonaws.com"),
            "ce" => "ce.us-east-1.amazonaws.com".to_string(),
            "health" => "health.us-east-1.amazonaws.com".to_string(),
            _ => format!("{svc}.{region}.amazonaws.com"),
        }
    }

    /// The call's request parameters and the rest, in `acct` / `region`.
    pub(crate) fn parts(self, p: u32, id: u128, acct: &Account, region: &str, t: i64) -> Parts {
        use Api::*;
        let a = &acct.id;
        let r = derive128(id, 0x5EED);
        let mut parts = Parts::default();
        let bucket = pick(&acct.buckets, p);
        let s3_host = || format!("{bucket}.s3.{region}.amazonaws.com");
        let bucket_res = || {
            array(&[Obj::new()
                .s("accountId", a)
                .s("type", "AWS::S3::Bucket")
                .s("ARN", &format!("arn:aws:s3:::{bucket}"))
                .end()])
        };
        match self {
            GetCallerIdentity
            | ListUsers
            | ListRoles
            | GetAccountSummary
            | ListSecrets
            | ListKeys
            | ListClusters
            | ListWorkGroups
            | DescribeEventAggregates
            | GetAccountAuthorizationDetails => {
                if self == GetAccountAuthorizationDetails {
                    parts.request = Some(
                        Obj::new()
                            .strs(
                                "filter",
                                &[
                                    "User",
                                    "Role",
                                    "Group",
                                    "LocalManagedPolicy",
                                    "AWSManagedPolicy",
                                ],
                            )
                            .end(),
                    );
                }
                if self == ListSecrets && p % 2 == 1 {
                    parts.request = Some(r#"{"maxResults":100}"#.to_string());
                }
                if self == DescribeEventAggregates {
                    parts.request = Some(
                        r#"{"aggregateField":"eventTypeCategory","filter":{"eventStatusCodes":["open","upcoming"]}}"#
                            .to_string(),
                    );
                }
            }
            ListBuckets => {
                parts.request = Some(r#"{"Host":"s3.amazonaws.com"}"#.to_string());
                parts.additional = Some(s3_additional(r, 0, 2_000 + (p % 4_000) as i64));
            }
            GetBucketLocation | GetBucketPolicy | GetBucketAcl | GetBucketVersioning => {
                let sub = match self {
                    GetBucketLocation => "location",
                    GetBucketPolicy => "policy",
                    GetBucketAcl => "acl",
                    _ => "versioning",
                };
                parts.request = Some(
                    Obj::new()
                        .s("bucketName", bucket)
                        .s("Host", &s3_host())
                        .s(sub, "")
                        .end(),
                );
                parts.additional = Some(s3_additional(r, 0, 100 + (r % 900) as i64));
                parts.resources = Some(bucket_res());
            }
            DescribeInstances => {
                parts.request = Some(if p.is_multiple_of(3) {
                    format!(
                        r#"{{"instancesSet":{{"items":[{{"instanceId":"{}"}}]}},"filterSet":{{}}}}"#,
                        pick(&acct.instances, p / 3)
                    )
                } else {
                    r#"{"instancesSet":{},"filterSet":{}}"#.to_string()
                });
            }
            DescribeSecurityGroups => {
                parts.request = Some(
                    r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#.to_string(),
                );
            }
            DescribeVpcs => {
                parts.request = Some(r#"{"vpcSet":{},"filterSet":{}}"#.to_string());
            }
            DescribeSubnets => {
                parts.request = Some(r#"{"subnetSet":{},"filterSet":{}}"#.to_string());
            }
            DescribeTags => {
                parts.request = Some(format!(
                    r#"{{"filterSet":{{"items":[{{"name":"resource-id","valueSet":{{"items":[{{"value":"{}"}}]}}}}]}}}}"#,
                    pick(&acct.instances, p)
                ));
            }
            DescribeVolumes => {
                parts.request = Some(r#"{"volumeSet":{},"filterSet":{}}"#.to_string());
            }
            DescribeRegions => {
                parts.request = Some(r#"{"regionSet":{},"allRegions":false}"#.to_string());
            }
            GetRole | ListAttachedRolePolicies => {
                const ROLES: [&str; 5] = [
                    "Engineer",
                    "ReadOnly",
                    "DeployRole",
                    "app-server-role",
                    "order-sync-role",
                ];
                parts.request = Some(
                    Obj::new()
                        .s("roleName", ROLES[p as usize % ROLES.len()])
                        .end(),
                );
            }
            ListMFADevices | ListAccessKeys => {
                const USERS: [&str; 4] =
                    ["maria.gonzalez", "jonas.weber", "priya.raman", "tom.harris"];
                parts.request = Some(
                    Obj::new()
                        .s("userName", USERS[p as usize % USERS.len()])
                        .end(),
                );
            }
            ListPolicies => {
                parts.request = Some(r#"{"scope":"Local","onlyAttached":false,"policyUsageFilter":"PermissionsPolicy"}"#.to_string());
            }
            GetSecretValue | DescribeSecret => {
                parts.request = Some(Obj::new().s("secretId", pick(&acct.secrets, p)).end());
            }
            Decrypt => {
                let key = pick(&acct.kms_keys, p);
                parts.request = Some(format!(
                    r#"{{"encryptionContext":{{"SecretARN":"arn:aws:secretsmanager:{region}:{a}:secret:{}","SecretVersionId":"{}"}},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#,
                    pick(&acct.secrets, p),
                    uuid_string(derive128(u128::from(p), 9))
                ));
                parts.resources = Some(kms_res(a, region, key));
            }
            DescribeKey => {
                let key = pick(&acct.kms_keys, p);
                parts.request = Some(Obj::new().s("keyId", key).end());
                parts.resources = Some(kms_res(a, region, key));
            }
            ListAliases => {
                parts.request = Some(r#"{"limit":100}"#.to_string());
            }
            GetParameter => {
                parts.request = Some(
                    Obj::new()
                        .s("name", pick(&acct.params, p))
                        .b("withDecryption", true)
                        .end(),
                );
            }
            GetParameters => {
                parts.request = Some(
                    Obj::new()
                        .strs("names", &[pick(&acct.params, p), pick(&acct.params, p + 1)])
                        .b("withDecryption", true)
                        .end(),
                );
            }
            GetParametersByPath => {
                parts.request = Some(format!(
                    r#"{{"path":"/{}/app","recursive":true,"withDecryption":true}}"#,
                    acct.env
                ));
            }
            PutParameter => {
                parts.request = Some(
                    Obj::new()
                        .s("name", pick(&acct.params, p))
                        .s("type", "String")
                        .b("overwrite", true)
                        .end(),
                );
                parts.response = Some(format!(r#"{{"version":{},"tier":"Standard"}}"#, 2 + r % 40));
            }
            DescribeParameters => {
                parts.request = Some(r#"{"maxResults":50}"#.to_string());
            }
            UpdateInstanceInformation => {
                let inst = pick(&acct.instances, p);
                parts.request = Some(
                    Obj::new()
                        .s("instanceId", inst)
                        .s("agentVersion", "3.3.131.0")
                        .s("agentStatus", "Active")
                        .s("platformType", "Linux")
                        .s("platformName", "Amazon Linux")
                        .s("platformVersion", "2023")
                        .s(
                            "iPAddress",
                            &format!("10.20.{}.{}", 1 + p % 200, 4 + p % 240),
                        )
                        .s(
                            "computerName",
                            &format!("ip-10-20-{}-{}.ec2.internal", 1 + p % 200, 4 + p % 240),
                        )
                        .s("agentName", "amazon-ssm-agent")
                        .s("availabilityZone", &format!("{region}a"))
                        .s("availabilityZoneId", "use1-az4")
                        .end(),
                );
            }
            ListInstanceAssociations => {
                parts.request = Some(
                    Obj::new()
                        .s("instanceId", pick(&acct.instances, p))
                        .n("maxResults", 20)
                        .end(),
                );
            }
            DescribeTable => {
                parts.request = Some(Obj::new().s("tableName", pick(&acct.tables, p)).end());
                parts.resources = Some(array(&[Obj::new()
                    .s("accountId", a)
                    .s("type", "AWS::DynamoDB::Table")
                    .s(
                        "ARN",
                        &format!(
                            "arn:aws:dynamodb:{region}:{a}:table/{}",
                            pick(&acct.tables, p)
                        ),
                    )
                    .end()]));
            }
            ListTables => {}
            DescribeStacks | DescribeStackEvents => {
                parts.request = Some(Obj::new().s("stackName", pick(&acct.stacks, p)).end());
            }
            ListStacks => {
                parts.request = Some(
                    r#"{"stackStatusFilter":["CREATE_COMPLETE","UPDATE_COMPLETE","UPDATE_ROLLBACK_COMPLETE"]}"#
                        .to_string(),
                );
            }
            CreateChangeSet | DescribeChangeSet | ExecuteChangeSet => {
                let stack = pick(&acct.stacks, p);
                let cs = format!("deploy-{}", (r >> 20) % 100_000_000);
                let stack_id = format!(
                    "arn:aws:cloudformation:{region}:{a}:stack/{stack}/{}",
                    uuid_string(derive128(u128::from(p), 3))
                );
                match self {
                    CreateChangeSet => {
                        parts.request = Some(
                            Obj::new()
                                .s("stackName", stack)
                                .s(
                                    "templateURL",
                                    &format!(
                                        "https://{}.s3.amazonaws.com/cfn/{stack}/{cs}.yaml",
                                        acct.buckets[0]
                                    ),
                                )
                                .strs("capabilities", &["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
                                .s("changeSetName", &cs)
                                .s("changeSetType", "UPDATE")
                                .end(),
                        );
                        parts.response = Some(
                            Obj::new()
                                .s(
                                    "id",
                                    &format!(
                                        "arn:aws:cloudformation:{region}:{a}:changeSet/{cs}/{}",
                                        uuid_string(r)
                                    ),
                                )
                                .s("stackId", &stack_id)
                                .end(),
                        );
                    }
                    DescribeChangeSet => {
                        parts.request = Some(
                            Obj::new()
                                .s("changeSetName", &cs)
                                .s("stackName", stack)
                                .end(),
                        );
                    }
                    _ => {
                        parts.request = Some(
                            Obj::new()
                                .s("changeSetName", &cs)
                                .s("stackName", stack)
                                .end(),
                        );
                    }
                }
            }
            ValidateTemplate => {
                parts.request = Some(format!(
                    r#"{{"templateURL":"https://{}.s3.amazonaws.com/cfn/pr-{}/template.yaml"}}"#,
                    acct.buckets[0],
                    r % 9000
                ));
            }
            GetAuthorizationToken => {
                parts.request = Some(format!(r#"{{"registryIds":["{a}"]}}"#));
            }
            DescribeImages | PutImage => {
                let repo = pick(&acct.repos, p);
                parts.request = Some(if self == PutImage {
                    Obj::new()
                        .s("repositoryName", repo)
                        .s("imageTag", &format!("sha-{:07x}", r as u32 >> 4))
                        .s(
                            "imageManifestMediaType",
                            "application/vnd.docker.distribution.manifest.v2+json",
                        )
                        .end()
                } else {
                    Obj::new()
                        .s("repositoryName", repo)
                        .s("registryId", a)
                        .end()
                });
                parts.resources = Some(array(&[Obj::new()
                    .s("accountId", a)
                    .s(
                        "ARN",
                        &format!("arn:aws:ecr:{region}:{a}:repository/{repo}"),
                    )
                    .end()]));
            }
            ListFunctions => {}
            GetFunction => {
                parts.request = Some(Obj::new().s("functionName", pick(&acct.functions, p)).end());
            }
            UpdateFunctionCode => {
                let f = pick(&acct.functions, p);
                let mut sha = String::new();
                b64_from(r, 43, &mut sha);
                sha.push('=');
                parts.request = Some(
                    Obj::new()
                        .s(
                            "functionName",
                            &format!("arn:aws:lambda:{region}:{a}:function:{f}"),
                        )
                        .s("s3Bucket", &acct.buckets[0])
                        .s("s3Key", &format!("lambda/{f}/{:x}.zip", r >> 64))
                        .b("publish", false)
                        .b("dryRun", false)
                        .end(),
                );
                parts.response = Some(
                    Obj::new()
                        .s("functionName", f)
                        .s(
                            "functionArn",
                            &format!("arn:aws:lambda:{region}:{a}:function:{f}"),
                        )
                        .s("runtime", "python3.12")
                        .s("role", &format!("arn:aws:iam::{a}:role/{f}-role"))
                        .s("handler", "app.handler")
                        .n("codeSize", 48_000 + (r % 20_000) as i64)
                        .s("description", "")
                        .n("timeout", 60)
                        .n("memorySize", 256)
                        .s("lastModified", &iso_string(t).replace('Z', ".000+0000"))
                        .s("codeSha256", &sha)
                        .s("version", "$LATEST")
                        .s("state", "Active")
                        .s("lastUpdateStatus", "InProgress")
                        .strs("architectures", &["x86_64"])
                        .end(),
                );
            }
            DescribeLogGroups => {
                parts.request = Some(
                    Obj::new()
                        .s("logGroupNamePrefix", pick(&acct.log_groups, p))
                        .end(),
                );
            }
            DescribeLogStreams => {
                parts.request = Some(
                    Obj::new()
                        .s("logGroupName", pick(&acct.log_groups, p))
                        .s("orderBy", "LastEventTime")
                        .b("descending", true)
                        .n("limit", 50)
                        .end(),
                );
            }
            CreateLogStream => {
                parts.request = Some(
                    Obj::new()
                        .s("logGroupName", pick(&acct.log_groups, p))
                        .s(
                            "logStreamName",
                            &format!(
                                "{}/[$LATEST]{:032x}",
                                &iso_string(t)[..10].replace('-', "/"),
                                r
                            ),
                        )
                        .end(),
                );
            }
            DescribeDBInstances => {
                if p.is_multiple_of(2) {
                    parts.request = Some(format!(
                        r#"{{"dBInstanceIdentifier":"{}-orders-db"}}"#,
                        acct.env
                    ));
                }
            }
            GetCostAndUsage => {
                let day = t.div_euclid(86_400) * 86_400;
                parts.request = Some(format!(
                    r#"{{"timePeriod":{{"start":"{}","end":"{}"}},"granularity":"DAILY","metrics":["UnblendedCost"],"groupBy":[{{"type":"DIMENSION","key":"SERVICE"}}]}}"#,
                    &iso_string(day - 7 * 86_400)[..10],
                    &iso_string(day)[..10]
                ));
            }
            LookupEvents => {
                parts.request = Some(format!(
                    r#"{{"startTime":"{}","endTime":"{}","maxResults":50}}"#,
                    iso_string(t - 86_400).replace('Z', ".000Z"),
                    iso_string(t).replace('Z', ".000Z")
                ));
            }
            DescribeTrails => {
                parts.request = Some(r#"{"includeShadowTrails":true}"#.to_string());
            }
            GetTrailStatus | GetEventSelectors => {
                let key = if self == GetTrailStatus {
                    "name"
                } else {
                    "trailName"
                };
                parts.request = Some(
                    Obj::new()
                        .s(
                            key,
                            &format!(
                                "arn:aws:cloudtrail:us-east-1:{a}:trail/acme-management-events"
                            ),
                        )
                        .end(),
                );
            }
            DescribeServices => {
                parts.request = Some(format!(
                    r#"{{"cluster":"app-{}","services":["web","worker"]}}"#,
                    acct.env
                ));
            }
            StartQueryExecution => {
                parts.request = Some(
                    Obj::new()
                        .s(
                            "queryString",
                            &format!(
                                "SELECT order_date, count(*) AS orders, sum(total) AS revenue FROM orders WHERE order_date >= date_add('day', -{}, current_date) GROUP BY 1 ORDER BY 1",
                                1 + p % 30
                            ),
                        )
                        .s("clientRequestToken", &uuid_string(r))
                        .raw("queryExecutionContext", r#"{"database":"analytics","catalog":"AwsDataCatalog"}"#)
                        .s("workGroup", "primary")
                        .end(),
                );
                parts.response = Some(
                    Obj::new()
                        .s("queryExecutionId", &uuid_string(derive128(r, 1)))
                        .end(),
                );
            }
            GetQueryExecution => {
                parts.request = Some(
                    Obj::new()
                        .s(
                            "queryExecutionId",
                            &uuid_string(derive128(u128::from(p), 1)),
                        )
                        .end(),
                );
            }
            GetTable => {
                const TABLES: [&str; 3] = ["orders", "customers", "events"];
                parts.request = Some(format!(
                    r#"{{"databaseName":"analytics","name":"{}"}}"#,
                    TABLES[p as usize % TABLES.len()]
                ));
            }
            GetDatabases => {
                parts.request = Some(r#"{"resourceShareType":"ALL"}"#.to_string());
            }
            DescribeAlarms => {
                parts.request = Some(r#"{"maxRecords":100}"#.to_string());
            }
            GetMetricData => {
                parts.request = Some(format!(
                    r#"{{"metricDataQueries":[{{"id":"m1","metricStat":{{"metric":{{"namespace":"AWS/Lambda","metricName":"Errors","dimensions":[{{"name":"FunctionName","value":"{}"}}]}},"period":300,"stat":"Sum"}},"returnData":true}}],"startTime":"{}","endTime":"{}"}}"#,
                    pick(&acct.functions, p),
                    iso_string(t - 3 * 3600),
                    iso_string(t)
                ));
            }
        }
        parts
    }
}

fn kms_res(a: &str, region: &str, key: &str) -> String {
    array(&[Obj::new()
        .s("accountId", a)
        .s("type", "AWS::KMS::Key")
        .s("ARN", &format!("arn:aws:kms:{region}:{a}:key/{key}"))
        .end()])
}

/// S3's additionalEventData (with its random `x-amz-id-2`).
fn s3_additional(r: u128, bytes_in: i64, bytes_out: i64) -> String {
    let mut id2 = String::new();
    b64_from(derive128(r, 2), 76, &mut id2);
    let mut o = String::from(
        r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":"#,
    );
    o.push_str(&bytes_in.to_string());
    o.push_str(r#","AuthenticationMethod":"AuthHeader","x-amz-id-2":"#);
    esc(&mut o, &id2);
    o.push_str(r#","bytesTransferredOut":"#);
    o.push_str(&bytes_out.to_string());
    o.push('}');
    o
}
