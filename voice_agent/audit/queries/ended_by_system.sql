-- description: Calls the system ended (no model session, maximum duration, bridge lost, draining), with what was missing (30 days).
SELECT call_date, call_id, ended_reason, missing_required, round((ended_ms - started_ms) / 1000.0, 1) AS seconds
FROM records
WHERE ended_by = 'system'
  AND call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY call_date DESC, call_id
