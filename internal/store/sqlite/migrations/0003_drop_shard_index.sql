-- A SQLite namespace is never sharded (scale.md §3: sharding needs the
-- PostgreSQL backend), so nothing reads event_entities by shard_hash, and
-- the index cost a write to a randomly keyed B-tree page for every event.
DROP INDEX IF EXISTS event_entities_shard_hash;
