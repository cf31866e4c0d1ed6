-- Two indexes of event_entities that cost a write to a randomly placed page
-- for every event and that nothing needs on SQLite (docs/design.md):
-- * shard_hash: a SQLite namespace is never sharded (scale.md §3).
-- * resolved_entity_id: a link's entity_id is always on the merged_into
--   chain of its resolved_entity_id, so the reads by first owner (a merge's
--   loser, erasure) reach the links through the entity_id index and filter.
DROP INDEX IF EXISTS event_entities_shard_hash;
DROP INDEX IF EXISTS event_entities_resolved_entity_id;
