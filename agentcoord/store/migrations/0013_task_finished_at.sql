-- Forecasts read the latest finished tasks of a capability set. Migration 0012 indexed tasks by
-- (capability_set, updated_at), and since every task write sets updated_at, no task update could
-- be a HOT update any more: each of a task's four or five writes added entries to every index
-- of tasks, and the index grew by the dead versions (11,590 entries for 3,040 tasks in one
-- benchmark run). A task's finish time is written once, on the move to a terminal state (there
-- is no move out of one), so an index on it leaves the other writes HOT, and free room on each
-- page (fillfactor) lets the new version stay on the page of the old.
ALTER TABLE tasks ADD COLUMN finished_at timestamptz;
UPDATE tasks SET finished_at = updated_at
WHERE state IN ('succeeded', 'failed', 'blocked_by_policy', 'accepted', 'rejected');
ALTER TABLE tasks ADD CONSTRAINT tasks_finished_at_iff_terminal CHECK (
    (finished_at IS NOT NULL) = (state IN ('succeeded', 'failed', 'blocked_by_policy', 'accepted', 'rejected'))
);
DROP INDEX tasks_capability_set_recent_idx;
CREATE INDEX tasks_finished_by_capability_set_idx ON tasks (capability_set, finished_at DESC)
    WHERE finished_at IS NOT NULL;
ALTER TABLE tasks SET (fillfactor = 80);
