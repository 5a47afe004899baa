-- description: Every decision of one call, in order (90 days).
-- parameters: call_id
SELECT from_unixtime(ts) AS at, decision, verdict, field, tool, turn_seq, missing, state_from, state_to, reason
FROM decisions
WHERE call_id = ?
  AND call_date >= date_format(current_date - interval '90' day, '%Y-%m-%d')
ORDER BY ts
