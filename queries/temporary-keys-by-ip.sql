-- Calls made with temporary (ASIA) keys, per key and source address.
-- One key used from addresses of different networks is worth a look (stolen session).
SELECT
  access_key_id,
  source_ip,
  min(identity_type) AS identity_type,
  min(coalesce(session_issuer_arn, principal_arn)) AS issuer,
  count(*) AS calls,
  sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen
FROM events
WHERE access_key_id LIKE 'ASIA%' AND NOT shared_copy
GROUP BY 1, 2
ORDER BY access_key_id, calls DESC, source_ip
