-- description: Calls, total and per-call model cost by day (90 days).
SELECT call_date, count(*) AS calls,
       round(sum(cost_usd), 4) AS total_usd,
       round(avg(cost_usd), 4) AS avg_usd_per_call,
       round(approx_percentile(cost_usd, 0.95), 4) AS p95_usd_per_call,
       round(avg((ended_ms - started_ms) / 1000.0), 1) AS avg_seconds
FROM records
WHERE call_date >= date_format(current_date - interval '90' day, '%Y-%m-%d')
GROUP BY call_date
ORDER BY call_date DESC
