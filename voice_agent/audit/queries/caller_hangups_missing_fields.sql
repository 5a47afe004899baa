-- description: Calls the caller ended before every required field was captured or declined (30 days).
SELECT call_date, call_id, ended_reason, missing_required, language, category
FROM records
WHERE ended_by = 'caller' AND cardinality(missing_required) > 0
  AND call_date >= date_format(current_date - interval '30' day, '%Y-%m-%d')
ORDER BY call_date DESC, call_id
