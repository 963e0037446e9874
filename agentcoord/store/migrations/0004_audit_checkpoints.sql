-- Signed checkpoints of the audit log's Merkle tree, and the application role that may append
-- to the audit tables but never change them.
CREATE TABLE audit_checkpoints (
    tree_size  bigint PRIMARY KEY CHECK (tree_size >= 0),
    root_hash  bytea NOT NULL,
    signed_at  timestamptz NOT NULL,
    note       text NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- agentcoord_app: the role the services run as (operators grant it to their login role, see
-- docs/audit-format.md). It may read and write every table, but only read and append the audit
-- tables: UPDATE, DELETE and TRUNCATE on them are refused by privileges as well as by triggers.
-- Roles belong to the whole server, so another database may have created it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentcoord_app') THEN
        CREATE ROLE agentcoord_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created concurrently by a migration of another database
END;
$$;
GRANT USAGE ON SCHEMA public TO agentcoord_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO agentcoord_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO agentcoord_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM agentcoord_app;
-- Tables later migrations create get the same grants (the audit tables above keep theirs).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agentcoord_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO agentcoord_app;
