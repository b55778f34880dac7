-- Migration 4: retention, erasure and legal holds (docs/privacy.md), the tables of
-- sqlite_privacy.rs. `seq` keeps the order removals happened in (SQLite's rowid).
CREATE TABLE legal_holds (
    incident_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_ms BIGINT NOT NULL
);
CREATE TABLE removed_events (
    seq BIGSERIAL PRIMARY KEY,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    removed_ms BIGINT NOT NULL,
    why TEXT NOT NULL
);
-- Removing an expired incident deletes its team tasks by incident.
CREATE INDEX playbook_tasks_incident ON playbook_tasks (incident_id);
