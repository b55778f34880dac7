-- The inventory (devices.csv) as last read, so that the next start or reload records what
-- changed in device_changes (Store::sync_inventory).
CREATE TABLE inventory_state (
    device TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device, field)
);
