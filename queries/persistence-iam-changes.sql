-- IAM changes attackers use to stay in: new users, keys, login profiles, policies and trust.
SELECT
  event_time,
  recipient_account_id AS account,
  coalesce(principal_arn, identity_type) AS caller,
  access_key_id,
  event_name,
  source_ip,
  error_code,
  request_parameters
FROM events
WHERE event_source = 'iam.amazonaws.com'
  AND event_name IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile',
                     'AttachUserPolicy', 'AttachRolePolicy', 'PutUserPolicy', 'PutRolePolicy',
                     'UpdateAssumeRolePolicy', 'CreateRole', 'AddUserToGroup')
ORDER BY event_time, event_name
