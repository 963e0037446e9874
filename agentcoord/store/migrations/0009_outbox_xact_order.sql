-- A lock-free outbox. Each event records the id of the transaction that wrote it, and consumers
-- read in (xact_id, event_id) order only the events of transactions older than every transaction
-- still running (pg_snapshot_xmin of the current snapshot). That prefix never changes again: a
-- transaction still open, or one that starts later, always has a larger id. So writers need no
-- shared lock, and a consumer reading after its offset never skips an event that commits late.
-- Events written before this migration (under the old global lock) keep their order as xact_id 0.
ALTER TABLE events ADD COLUMN xact_id bigint NOT NULL DEFAULT 0;
ALTER TABLE events ALTER COLUMN xact_id SET DEFAULT (pg_current_xact_id()::text::bigint);

CREATE INDEX events_position_idx ON events (xact_id, event_id);
DROP INDEX events_mission_idx;
CREATE INDEX events_mission_position_idx ON events (mission_id, xact_id, event_id);

-- A consumer's offset is a position in that order: (last_xact_id, last_event_id).
ALTER TABLE consumer_offsets ADD COLUMN last_xact_id bigint NOT NULL DEFAULT 0;
