-- description: End-of-call gate denials: the agent tried to end a call before the record was complete (30 days).
SELECT call_date, call_id, from_unixtime(ts) AS at, reason, missing, state_from, state_to
FROM decisions
WHERE decision = 'end_call_gate' AND verdict = 'deny'
  AND call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY ts DESC
