-- description: Everything the post-call pass wrote: each backfilled value and each unproven candidate, with the caller's quote and its turn (30 days).
SELECT r.call_date, r.call_id, f.name AS field, 'value' AS written_as, r.fields[f.name].value AS value,
       r.fields[f.name].quote AS quote, r.fields[f.name].turn_seq AS quote_turn,
       r.fields[f.name].evidence AS rule_or_reason
FROM records r
CROSS JOIN UNNEST(map_keys(r.fields)) AS f(name)
WHERE r.fields[f.name].source = 'backfill'
  AND r.call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
UNION ALL
SELECT r.call_date, r.call_id, f.name AS field, 'candidate' AS written_as, r.fields[f.name].candidate.value AS value,
       r.fields[f.name].candidate.quote AS quote, r.fields[f.name].candidate.turn_seq AS quote_turn,
       r.fields[f.name].candidate.reason AS rule_or_reason
FROM records r
CROSS JOIN UNNEST(map_keys(r.fields)) AS f(name)
WHERE r.fields[f.name].candidate IS NOT NULL
  AND r.call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY call_date DESC, call_id, field
