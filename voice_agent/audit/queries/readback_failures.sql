-- description: Read-back checks that did not pass: the digits the agent read aloud were not the recorded ones, so it read again (retry) or gave up (fail) (30 days).
SELECT call_date, call_id, from_unixtime(ts) AS at, field, verdict, attempt, masked AS heard, reason
FROM decisions
WHERE decision = 'readback' AND verdict IN ('retry', 'fail')
  AND call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY ts DESC
