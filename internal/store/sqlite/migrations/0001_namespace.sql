-- Namespace tables (scale.md §1, ingestion.md §8, identity.md §9, privacy.md §3).
-- Instants are INTEGER µs since the Unix epoch, JSON is TEXT, booleans are
-- INTEGER 0/1. Applied inside the migration transaction; format_version is
-- written by the runner.

CREATE TABLE meta (
    "key"   TEXT NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL
) STRICT;

CREATE TABLE definition_versions (
    version       TEXT NOT NULL PRIMARY KEY,
    definitions   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    entities_hash TEXT NOT NULL,
    identity_hash TEXT NOT NULL,
    source_hashes TEXT NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX definition_versions_active ON definition_versions (active) WHERE active = 1;

CREATE TABLE build_state (
    version             TEXT NOT NULL,
    shard_id            INTEGER NOT NULL,
    total_shards        INTEGER NOT NULL,
    "cursor"            INTEGER NOT NULL,
    dirty               INTEGER NOT NULL CHECK (dirty IN (0, 1)),
    built               INTEGER NOT NULL CHECK (built IN (0, 1)),
    entities_hash       TEXT NOT NULL,
    identity_epoch      INTEGER NOT NULL,
    normalization_epoch INTEGER NOT NULL,
    tick_horizon        INTEGER,
    last_build_time     INTEGER,
    last_build_mode     TEXT,
    PRIMARY KEY (version, shard_id)
) STRICT;

-- AUTOINCREMENT: sequences are never reused, even after erasure deletes the
-- newest rows.
CREATE TABLE ledger (
    "sequence"      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    source          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    "timestamp"     INTEGER NOT NULL,
    data            TEXT NOT NULL,
    data_types      TEXT,
    raw             TEXT,
    hints           TEXT,
    duplicate_of    INTEGER,
    normalize_error TEXT,
    redacted        INTEGER NOT NULL DEFAULT 0 CHECK (redacted IN (0, 1)),
    ingested_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX ledger_event_id ON ledger (event_id)
    WHERE duplicate_of IS NULL AND normalize_error IS NULL;
CREATE INDEX ledger_timestamp ON ledger ("timestamp", "sequence");

CREATE TABLE identity (
    key_hash    TEXT NOT NULL PRIMARY KEY,
    entity_type TEXT NOT NULL,
    field       TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    "value"     TEXT,
    created_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX identity_entity_id ON identity (entity_id);

CREATE TABLE entity_ids (
    entity_id   TEXT NOT NULL PRIMARY KEY,
    entity_type TEXT NOT NULL,
    birth_seq   INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'merged')),
    merged_into TEXT,
    shard_hash  INTEGER NOT NULL
) STRICT;

CREATE TABLE event_entities (
    "sequence"         INTEGER NOT NULL,
    entity_type        TEXT NOT NULL,
    entity_id          TEXT NOT NULL,
    resolved_entity_id TEXT NOT NULL,
    shard_hash         INTEGER NOT NULL,
    PRIMARY KEY ("sequence", entity_type)
) STRICT, WITHOUT ROWID;
CREATE INDEX event_entities_entity_id ON event_entities (entity_id, "sequence");
CREATE INDEX event_entities_resolved_entity_id ON event_entities (resolved_entity_id);
CREATE INDEX event_entities_shard_hash ON event_entities (shard_hash, "sequence");

CREATE TABLE merge_log (
    from_entity_id TEXT NOT NULL PRIMARY KEY,
    into_entity_id TEXT NOT NULL,
    entity_type    TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('auto', 'explicit')),
    reason         TEXT,
    merge_seq      INTEGER NOT NULL,
    merged_at      INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX merge_log_into_entity_id ON merge_log (into_entity_id);

CREATE TABLE erasures (
    erasure_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_entity_id   TEXT NOT NULL,
    entity_type           TEXT NOT NULL,
    erased_ids            TEXT NOT NULL,
    events_deleted        INTEGER NOT NULL,
    events_scrubbed       INTEGER NOT NULL,
    identity_keys_deleted INTEGER NOT NULL,
    history_rows_deleted  INTEGER NOT NULL,
    entities_recomputed   INTEGER NOT NULL,
    erased_at             INTEGER NOT NULL
) STRICT;

CREATE TABLE erased_events (
    event_id   TEXT NOT NULL PRIMARY KEY,
    erasure_id INTEGER NOT NULL
) STRICT;

CREATE TABLE invalidations (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
) STRICT;

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    version    TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
