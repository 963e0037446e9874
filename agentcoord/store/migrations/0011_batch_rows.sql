-- The rows of a batch sent as one JSON array (agentcoord.store.task_changes), one per element.
-- PostgreSQL estimates any set-returning call such as jsonb_to_recordset at 100 rows, so joining
-- a batch to tasks or attempts looked cheaper as a hash of the whole table than as 100 primary-key
-- lookups: every round of a mission read every task ever stored. A batch holds a round's tasks
-- (a handful), and this function says so (ROWS 8); plpgsql, so the estimate is not inlined away.
CREATE FUNCTION agentcoord_batch_rows(batch jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE STRICT ROWS 8 AS $$
BEGIN
    RETURN QUERY SELECT jsonb_array_elements(batch);
END
$$;
