-- Console sign-ins: who, from where, with or without MFA, and whether they worked.
SELECT
  event_time,
  coalesce(principal_arn, user_name, identity_type) AS who,
  source_ip,
  CASE WHEN regexp_like(response_elements, '"ConsoleLogin":\s*"Success"') THEN 'Success'
       WHEN error_message IS NOT NULL OR regexp_like(response_elements, '"ConsoleLogin":\s*"Failure"') THEN 'Failure'
       ELSE 'unknown' END AS result,
  CASE WHEN regexp_like(additional_event_data, '"MFAUsed":\s*"Yes"') THEN 'Yes' ELSE 'No' END AS mfa_used,
  error_message,
  user_agent
FROM events
WHERE event_name = 'ConsoleLogin'
ORDER BY event_time, who
