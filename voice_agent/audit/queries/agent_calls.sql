-- description: One agent's calls with the spec version each ran with, its minutes and its cost (90 days).
-- parameters: agent
SELECT call_id, call_date, spec_version, ended_by,
       round(call_seconds / 60.0, 2) AS minutes,
       round(cost_usd, 6) AS total_usd,
       cost.prices_set_on AS prices_set_on
FROM records
WHERE agent = ?
  AND call_date >= date_format(current_date - interval '90' day, '%Y-%m-%d')
ORDER BY started_ms DESC
