-- AssumeRole* calls that were denied, by caller and the role asked for.
-- A caller with denials across many roles is enumerating; denials then a success is a break-in.
SELECT
  coalesce(principal_arn, principal_id, identity_type) AS caller,
  requested_role_arn,
  event_name,
  count(*) AS denials,
  count(DISTINCT source_ip) AS source_ips,
  min(event_time) AS first_denied,
  max(event_time) AS last_denied
FROM events
WHERE is_issuing_call AND NOT shared_copy
  AND (error_code = 'AccessDenied' OR error_code LIKE '%Unauthorized%')
GROUP BY 1, 2, 3
ORDER BY denials DESC, caller, requested_role_arn
