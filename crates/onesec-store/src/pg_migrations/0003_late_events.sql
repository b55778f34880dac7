-- Events that arrived beyond the allowed lateness behind detection's watermark (stored like every
-- event in event_blocks; listed here because correlations that had ended did not see them).
CREATE TABLE late_events (
    id BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    watermark_ms BIGINT NOT NULL,
    source TEXT NOT NULL
);
