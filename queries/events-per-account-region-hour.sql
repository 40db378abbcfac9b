-- Event volume per account, region and hour (UTC): spikes and silent gaps stand out.
SELECT
  recipient_account_id AS account,
  aws_region,
  strftime(event_time, '%Y-%m-%dT%H:00Z') AS hour,
  count(*) AS events,
  sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors
FROM events
GROUP BY 1, 2, 3
ORDER BY account, aws_region, hour
