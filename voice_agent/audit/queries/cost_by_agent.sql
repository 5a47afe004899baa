-- description: Calls, minutes and cost per agent per day, with the cost's parts and the prices' date (90 days).
SELECT agent, call_date, count(*) AS calls,
       round(sum(call_seconds) / 60.0, 2) AS minutes,
       round(sum(cost_usd), 4) AS total_usd,
       round(sum(cost.realtime_usd), 4) AS realtime_usd,
       round(sum(cost.transcription_usd), 4) AS transcription_usd,
       round(sum(cost.post_call_usd), 4) AS post_call_usd,
       round(sum(cost.telephony_usd), 4) AS telephony_usd,
       min(cost.prices_set_on) AS prices_set_on
FROM records
WHERE call_date >= date_format(current_date - interval '90' day, '%Y-%m-%d')
GROUP BY agent, call_date
ORDER BY call_date DESC, agent
