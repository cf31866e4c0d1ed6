-- Namespace tables (scale.md §1, ingestion.md §8, identity.md §9, privacy.md §3).
-- Instants are timestamptz, JSON is jsonb. The runner applies this with
-- search_path set to the namespace schema, inside the migration transaction
-- under the ddl lock, and writes format_version itself.

CREATE TABLE meta (
    "key"   text PRIMARY KEY,
    "value" text NOT NULL
);

CREATE TABLE definition_versions (
    version       text PRIMARY KEY,
    definitions   jsonb NOT NULL,
    content_hash  text NOT NULL,
    entities_hash text NOT NULL,
    identity_hash text NOT NULL,
    source_hashes jsonb NOT NULL,
    active        boolean NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX definition_versions_active ON definition_versions (active) WHERE active;

CREATE TABLE build_state (
    version             text NOT NULL,
    shard_id            integer NOT NULL,
    total_shards        integer NOT NULL,
    "cursor"            bigint NOT NULL,
    dirty               boolean NOT NULL,
    built               boolean NOT NULL,
    entities_hash       text NOT NULL,
    identity_epoch      bigint NOT NULL,
    normalization_epoch bigint NOT NULL,
    tick_horizon        timestamptz,
    last_build_time     timestamptz,
    last_build_mode     text,
    PRIMARY KEY (version, shard_id)
);

-- Identity sequences are never reused, even after erasure deletes the newest
-- rows. Append allocates them explicitly (OVERRIDING SYSTEM VALUE) so input
-- order maps to sequence order by construction.
CREATE TABLE ledger (
    "sequence"      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text NOT NULL,
    source          text NOT NULL,
    event_type      text NOT NULL,
    "timestamp"     timestamptz NOT NULL,
    data            jsonb NOT NULL,
    data_types      jsonb,
    raw             jsonb,
    hints           jsonb,
    duplicate_of    bigint,
    normalize_error text,
    redacted        boolean NOT NULL DEFAULT false,
    ingested_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX ledger_event_id ON ledger (event_id)
    WHERE duplicate_of IS NULL AND normalize_error IS NULL;
CREATE INDEX ledger_timestamp ON ledger ("timestamp", "sequence");

CREATE TABLE identity (
    key_hash    text PRIMARY KEY,
    entity_type text NOT NULL,
    field       text NOT NULL,
    entity_id   text NOT NULL,
    "value"     text,
    created_seq bigint NOT NULL
);
CREATE INDEX identity_entity_id ON identity (entity_id);
CREATE INDEX identity_created_seq ON identity (created_seq);

CREATE TABLE entity_ids (
    entity_id   text PRIMARY KEY,
    entity_type text NOT NULL,
    birth_seq   bigint NOT NULL,
    status      text NOT NULL CHECK (status IN ('active', 'merged')),
    merged_into text,
    shard_hash  bigint NOT NULL
);

CREATE TABLE event_entities (
    "sequence"         bigint NOT NULL,
    entity_type        text NOT NULL,
    entity_id          text NOT NULL,
    resolved_entity_id text NOT NULL,
    shard_hash         bigint NOT NULL,
    PRIMARY KEY ("sequence", entity_type)
);
CREATE INDEX event_entities_entity_id ON event_entities (entity_id, "sequence");
CREATE INDEX event_entities_resolved_entity_id ON event_entities (resolved_entity_id);
CREATE INDEX event_entities_shard_hash ON event_entities (shard_hash, "sequence");

CREATE TABLE merge_log (
    from_entity_id text PRIMARY KEY,
    into_entity_id text NOT NULL,
    entity_type    text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('auto', 'explicit')),
    reason         text,
    merge_seq      bigint NOT NULL,
    merged_at      timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX merge_log_into_entity_id ON merge_log (into_entity_id);
CREATE INDEX merge_log_merge_seq ON merge_log (merge_seq);

CREATE TABLE erasures (
    erasure_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_entity_id   text NOT NULL,
    entity_type           text NOT NULL,
    erased_ids            jsonb NOT NULL,
    events_deleted        bigint NOT NULL,
    events_scrubbed       bigint NOT NULL,
    identity_keys_deleted bigint NOT NULL,
    history_rows_deleted  bigint NOT NULL,
    entities_recomputed   bigint NOT NULL,
    erased_at             timestamptz NOT NULL
);

CREATE TABLE erased_events (
    event_id   text PRIMARY KEY,
    erasure_id bigint NOT NULL
);

CREATE TABLE invalidations (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_id   text NOT NULL,
    reason      text NOT NULL,
    recorded_at timestamptz NOT NULL
);

CREATE TABLE outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    text NOT NULL,
    entity_id  text NOT NULL,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
