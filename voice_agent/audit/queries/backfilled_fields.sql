-- description: Calls whose record has fields the post-call pass filled in, with the caller's quote and its turn (30 days).
SELECT r.call_date, r.call_id, f.name AS field, r.fields[f.name].value AS value,
       r.fields[f.name].quote AS quote, r.fields[f.name].turn_seq AS quote_turn, r.fields[f.name].evidence AS evidence
FROM records r
CROSS JOIN UNNEST(map_keys(r.fields)) AS f(name)
WHERE r.fields[f.name].source = 'backfill'
  AND r.call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY r.call_date DESC, r.call_id, field
