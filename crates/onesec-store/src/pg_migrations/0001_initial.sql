-- Migration 1: the tables of the SQLite store, in PostgreSQL types.
-- Integers are BIGINT (ids, times in UTC ms, counts); JSON is kept as TEXT exactly as written
-- (the store reads it back whole and never queries inside it, so jsonb would only cost a parse).

-- Events: blocks of consecutive events by journal sequence (see blocks.rs); a block holds its
-- events' JSON lines in `data`, or refers to their journal records (`segment`, `segment_offset`
-- set, `data` empty).
CREATE TABLE event_blocks (
    first_id BIGINT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    min_time_ms BIGINT NOT NULL,
    max_time_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    data BYTEA NOT NULL,
    segment BIGINT,
    segment_offset BIGINT
);
CREATE INDEX event_blocks_time ON event_blocks (min_time_ms);
-- Person and site timelines: one row per event and resolved person or site.
CREATE TABLE event_keys (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (kind, key, time_ms, id)
);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    incident_id TEXT,
    json TEXT NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_first ON alerts (first_ms);
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    domain TEXT NOT NULL,
    priority TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX incidents_first ON incidents (first_ms);
CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    received_ms BIGINT NOT NULL,
    input TEXT NOT NULL,
    format TEXT NOT NULL,
    line BIGINT NOT NULL,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    byte_offset BIGINT
);
-- `detected_upto`: the journal sequence up to which detection results are stored.
CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);

-- The response side (detection never writes these).
CREATE TABLE incident_cases (
    incident_id TEXT PRIMARY KEY,
    owner_team TEXT NOT NULL,
    priority BIGINT NOT NULL,
    category TEXT NOT NULL,
    next_escalation_ms BIGINT,
    json TEXT NOT NULL
);
CREATE INDEX incident_cases_escalation ON incident_cases (next_escalation_ms);
CREATE TABLE incident_history (
    seq BIGSERIAL PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    comment TEXT NOT NULL
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, seq);
CREATE TABLE playbook_runs (
    incident_id TEXT PRIMARY KEY,
    playbook_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_wakeup_ms BIGINT,
    updated_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX playbook_runs_wakeup ON playbook_runs (next_wakeup_ms);
CREATE TABLE playbook_tasks (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    team TEXT NOT NULL,
    state TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX playbook_tasks_open ON playbook_tasks (state, team);
CREATE TABLE response_actions (
    seq BIGSERIAL PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX response_actions_incident ON response_actions (incident_id, seq);

-- Evidence on incidents, and merges and splits by hand (written with detection batches).
CREATE TABLE incident_evidence (
    seq BIGSERIAL PRIMARY KEY,
    incident_id TEXT NOT NULL,
    json TEXT NOT NULL,
    data BYTEA
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, seq);
CREATE TABLE incident_ops (
    seq BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    json TEXT NOT NULL
);

-- Devices as the events show them, their changes, and site and zone posture per day.
CREATE TABLE device_sightings (
    device TEXT PRIMARY KEY,
    known BOOLEAN NOT NULL,
    kind TEXT,
    site TEXT,
    zone TEXT,
    host TEXT,
    ip TEXT,
    format TEXT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    events BIGINT NOT NULL
);
CREATE TABLE device_changes (
    seq BIGSERIAL PRIMARY KEY,
    device TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT
);
CREATE INDEX device_changes_by_device ON device_changes (device, time_ms, seq);
CREATE TABLE posture_days (
    day TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    min BIGINT NOT NULL,
    devices BIGINT NOT NULL,
    findings BIGINT NOT NULL,
    PRIMARY KEY (scope, key, day)
);
