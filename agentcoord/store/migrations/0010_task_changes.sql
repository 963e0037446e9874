-- A guard for set-based writes (agentcoord.store.task_changes): one statement moves a whole round
-- of tasks with a compare-and-set each, and calls this with whether every compare-and-set held.
-- Raising aborts the statement, so a round whose task changed underneath writes nothing at all.
-- SQLSTATE AC409 is ours; the store turns it into ConflictError.
CREATE FUNCTION agentcoord_require(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION USING ERRCODE = 'AC409', MESSAGE = message;
    END IF;
    RETURN true;
END
$$;
