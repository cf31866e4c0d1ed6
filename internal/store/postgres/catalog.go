package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// --- namespace metadata ---

func (t *tx) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := t.queryRow(ctx, `SELECT "value" FROM `+t.n.meta+` WHERE "key" = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("postgres: read meta %q: %w", key, err)
	}
	return v, true, nil
}

func (t *tx) SetMeta(ctx context.Context, key, val string) error {
	if err := t.later("write meta "+key, `INSERT INTO `+t.n.meta+` ("key", "value") VALUES ($1, $2)
		ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, key, val); err != nil {
		return fmt.Errorf("postgres: write meta %q: %w", key, err)
	}
	return nil
}

// --- definition versions ---

const versionCols = `version, definitions, content_hash, entities_hash, identity_hash, source_hashes, active, created_at`

func scanVersion(row pgx.Row) (*store.VersionRecord, error) {
	var (
		v       store.VersionRecord
		defs    []byte
		hashes  []byte
		created pgtype.Timestamptz
	)
	if err := row.Scan(&v.Name, &defs, &v.ContentHash, &v.EntitiesHash, &v.IdentityHash, &hashes, &v.Active, &created); err != nil {
		return nil, err
	}
	v.Definitions = canonical(defs)
	if err := json.Unmarshal(hashes, &v.SourceHashes); err != nil {
		return nil, fmt.Errorf("source_hashes of %s: %w", v.Name, err)
	}
	v.CreatedAt = usOf(created)
	return &v, nil
}

// canonical re-renders stored definitions as canonical JSON (JCS): they
// were written canonical, and jsonb keeps their value but not their bytes.
// Text that does not parse is returned as stored.
func canonical(b []byte) []byte {
	v, err := value.FromJSON(b)
	if err != nil {
		return b
	}
	return value.CanonicalJSON(v)
}

// Versions returns every version by creation time, then name.
func (t *tx) Versions(ctx context.Context) ([]store.VersionRecord, error) {
	rows, err := t.query(ctx, `SELECT `+versionCols+` FROM `+t.n.versions+` ORDER BY created_at, version COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list versions: %w", err)
	}
	defer rows.Close()
	var out []store.VersionRecord
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list versions: %w", err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list versions: %w", err)
	}
	return out, nil
}

func (t *tx) Version(ctx context.Context, name string) (*store.VersionRecord, error) {
	v, err := scanVersion(t.queryRow(ctx, `SELECT `+versionCols+` FROM `+t.n.versions+` WHERE version = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read version %s: %w", name, err)
	}
	return v, nil
}

// PutVersion inserts or replaces the record of v.Name.
func (t *tx) PutVersion(ctx context.Context, v *store.VersionRecord) error {
	hashes := v.SourceHashes
	if hashes == nil {
		hashes = map[string]string{}
	}
	hj, err := json.Marshal(hashes)
	if err != nil {
		return fmt.Errorf("postgres: write version %s: %w", v.Name, err)
	}
	_, err = t.exec(ctx, `INSERT INTO `+t.n.versions+` (`+versionCols+`)
		VALUES ($1, $2::text::jsonb, $3, $4, $5, $6::text::jsonb, $7, $8)
		ON CONFLICT (version) DO UPDATE SET
			definitions = excluded.definitions, content_hash = excluded.content_hash,
			entities_hash = excluded.entities_hash, identity_hash = excluded.identity_hash,
			source_hashes = excluded.source_hashes, active = excluded.active, created_at = excluded.created_at`,
		v.Name, jsonData(v.Definitions), v.ContentHash, v.EntitiesHash, v.IdentityHash, string(hj), v.Active, ts(v.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: write version %s: %w", v.Name, err)
	}
	return nil
}

// SetActive makes name the only active version. An unknown name is an
// error and changes nothing.
func (t *tx) SetActive(ctx context.Context, name string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT count(*) FROM `+t.n.versions+` WHERE version = $1`, name).Scan(&n); err != nil {
		return fmt.Errorf("postgres: activate version %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: activate version %s: no such version", name)
	}
	// Deactivate first: the unique index on active is checked row by row.
	if _, err := t.exec(ctx, `UPDATE `+t.n.versions+` SET active = false WHERE active AND version <> $1`, name); err != nil {
		return fmt.Errorf("postgres: activate version %s: %w", name, err)
	}
	if _, err := t.exec(ctx, `UPDATE `+t.n.versions+` SET active = true WHERE version = $1`, name); err != nil {
		return fmt.Errorf("postgres: activate version %s: %w", name, err)
	}
	return nil
}

// --- build state ---

// BuildState returns the build record of version and shard, or nil.
func (t *tx) BuildState(ctx context.Context, version string, shard int) (*store.BuildState, error) {
	var (
		b          store.BuildState
		tick, last pgtype.Timestamptz
		mode       pgtype.Text
	)
	err := t.queryRow(ctx, `SELECT version, shard_id, total_shards, "cursor", dirty, built, entities_hash,
			identity_epoch, normalization_epoch, tick_horizon, last_build_time, last_build_mode, tick_pending
		FROM `+t.n.buildState+` WHERE version = $1 AND shard_id = $2`, version, shard).Scan(
		&b.Version, &b.ShardID, &b.TotalShards, &b.Cursor, &b.Dirty, &b.Built, &b.EntitiesHash,
		&b.IdentityEpoch, &b.NormalizationEpoch, &tick, &last, &mode, &b.TickPending)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read build state of %s/%d: %w", version, shard, err)
	}
	b.TickHorizon, b.LastBuildTime, b.LastBuildMode = usOf(tick), usOf(last), mode.String
	return &b, nil
}

// PutBuildState writes the build record.
func (t *tx) PutBuildState(ctx context.Context, b *store.BuildState) error {
	err := t.later("write build state", `INSERT INTO `+t.n.buildState+` (version, shard_id, total_shards, "cursor", dirty, built,
			entities_hash, identity_epoch, normalization_epoch, tick_horizon, last_build_time, last_build_mode,
			tick_pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (version, shard_id) DO UPDATE SET
			total_shards = excluded.total_shards, "cursor" = excluded."cursor", dirty = excluded.dirty,
			built = excluded.built, entities_hash = excluded.entities_hash,
			identity_epoch = excluded.identity_epoch, normalization_epoch = excluded.normalization_epoch,
			tick_horizon = excluded.tick_horizon, last_build_time = excluded.last_build_time,
			last_build_mode = excluded.last_build_mode, tick_pending = excluded.tick_pending`,
		b.Version, b.ShardID, b.TotalShards, b.Cursor, b.Dirty, b.Built, b.EntitiesHash,
		b.IdentityEpoch, b.NormalizationEpoch, nullTS(b.TickHorizon), nullTS(b.LastBuildTime), nullText(b.LastBuildMode),
		b.TickPending)
	if err != nil {
		return fmt.Errorf("postgres: write build state of %s/%d: %w", b.Version, b.ShardID, err)
	}
	return nil
}
