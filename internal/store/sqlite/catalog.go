package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/defacto-dev/defacto/internal/store"
)

// --- namespace metadata ---

func (t *tx) Meta(ctx context.Context, key string) (string, bool, error) {
	v, ok, err := t.getMeta(ctx, key)
	if err != nil {
		return "", false, fmt.Errorf("sqlite: read meta %q: %w", key, err)
	}
	return v, ok, nil
}

func (t *tx) SetMeta(ctx context.Context, key, val string) error {
	if err := t.setMeta(ctx, key, val); err != nil {
		return fmt.Errorf("sqlite: write meta %q: %w", key, err)
	}
	return nil
}

func (t *tx) getMeta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := t.queryRow(ctx, `SELECT "value" FROM meta WHERE "key" = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

func (t *tx) setMeta(ctx context.Context, key, val string) error {
	_, err := t.exec(ctx, `INSERT INTO meta ("key", "value") VALUES (?, ?)
		ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, key, val)
	return err
}

// --- definition versions ---

const versionCols = `version, definitions, content_hash, entities_hash, identity_hash, source_hashes, active, created_at`

func scanVersion(sc interface{ Scan(...any) error }) (*store.VersionRecord, error) {
	var (
		v       store.VersionRecord
		defs    string
		hashes  string
		active  int64
		created int64
	)
	if err := sc.Scan(&v.Name, &defs, &v.ContentHash, &v.EntitiesHash, &v.IdentityHash, &hashes, &active, &created); err != nil {
		return nil, err
	}
	v.Definitions = []byte(defs)
	if err := json.Unmarshal([]byte(hashes), &v.SourceHashes); err != nil {
		return nil, fmt.Errorf("source_hashes of %s: %w", v.Name, err)
	}
	v.Active = active == 1
	v.CreatedAt = created
	return &v, nil
}

// Versions returns every version by creation time, then name.
func (t *tx) Versions(ctx context.Context) ([]store.VersionRecord, error) {
	rows, err := t.query(ctx, `SELECT `+versionCols+` FROM definition_versions ORDER BY created_at, version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list versions: %w", err)
	}
	defer rows.Close()
	var out []store.VersionRecord
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list versions: %w", err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list versions: %w", err)
	}
	return out, nil
}

func (t *tx) Version(ctx context.Context, name string) (*store.VersionRecord, error) {
	v, err := scanVersion(t.queryRow(ctx, `SELECT `+versionCols+` FROM definition_versions WHERE version = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read version %s: %w", name, err)
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
		return fmt.Errorf("sqlite: write version %s: %w", v.Name, err)
	}
	_, err = t.exec(ctx, `INSERT INTO definition_versions (`+versionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (version) DO UPDATE SET
			definitions = excluded.definitions, content_hash = excluded.content_hash,
			entities_hash = excluded.entities_hash, identity_hash = excluded.identity_hash,
			source_hashes = excluded.source_hashes, active = excluded.active, created_at = excluded.created_at`,
		v.Name, string(v.Definitions), v.ContentHash, v.EntitiesHash, v.IdentityHash, string(hj), boolInt(v.Active), v.CreatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: write version %s: %w", v.Name, err)
	}
	return nil
}

// SetActive makes name the only active version. An unknown name is an
// error and changes nothing.
func (t *tx) SetActive(ctx context.Context, name string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT count(*) FROM definition_versions WHERE version = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: activate version %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: activate version %s: no such version", name)
	}
	// Deactivate first: the unique index on active is checked row by row.
	if _, err := t.exec(ctx, `UPDATE definition_versions SET active = 0 WHERE active = 1 AND version <> ?`, name); err != nil {
		return fmt.Errorf("sqlite: activate version %s: %w", name, err)
	}
	if _, err := t.exec(ctx, `UPDATE definition_versions SET active = 1 WHERE version = ?`, name); err != nil {
		return fmt.Errorf("sqlite: activate version %s: %w", name, err)
	}
	return nil
}

// --- build state ---

// BuildState returns the build record of version and shard, or nil. A
// version store whose commit marks disagree with the namespace's is reported
// dirty (see the package comment), unless it is exactly one pipelined
// commit behind: then the record as it was before that commit is returned,
// and the next interpretation redoes the commit's work (side.go, undo).
func (t *tx) BuildState(ctx context.Context, version string, shard int) (*store.BuildState, error) {
	b, err := t.buildStateRow(ctx, version, shard)
	if err != nil || b == nil || b.Dirty {
		return b, err
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: read build state of %s/%d: check version store: %w", version, shard, err)
	}
	storeMark, torn, err := t.torn(ctx, version)
	if err != nil {
		return nil, fail(err)
	}
	if !torn {
		return b, nil
	}
	prev, ok, err := t.undone(ctx, version, shard, storeMark)
	if err != nil {
		return nil, fail(err)
	}
	if ok && prev == nil {
		return b, nil // the missed commit left this record as it is
	}
	if ok {
		t.s.log.Info("version store one commit behind the namespace; resuming from the cursor before it",
			"version", version, "shard", shard, "cursor", prev.Cursor)
		return prev, nil
	}
	t.s.log.Warn("version store out of step with the namespace; reporting it dirty", "version", version)
	b.Dirty = true
	return b, nil
}

// buildStateRow reads the build_state row as stored; a write transaction
// remembers it for its undo record (rememberPrev).
func (t *tx) buildStateRow(ctx context.Context, version string, shard int) (*store.BuildState, error) {
	var (
		b                     store.BuildState
		dirty, built, pending int64
		tick, last            sql.NullInt64
		mode                  sql.NullString
	)
	err := t.queryRow(ctx, `SELECT version, shard_id, total_shards, "cursor", dirty, built, entities_hash,
			identity_epoch, normalization_epoch, tick_horizon, last_build_time, last_build_mode, tick_pending
		FROM build_state WHERE version = ? AND shard_id = ?`, version, shard).Scan(
		&b.Version, &b.ShardID, &b.TotalShards, &b.Cursor, &dirty, &built, &b.EntitiesHash,
		&b.IdentityEpoch, &b.NormalizationEpoch, &tick, &last, &mode, &pending)
	if errors.Is(err, sql.ErrNoRows) {
		t.rememberPrev(version, shard, nil)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read build state of %s/%d: %w", version, shard, err)
	}
	b.Dirty, b.Built, b.TickPending = dirty == 1, built == 1, pending == 1
	b.TickHorizon, b.LastBuildTime, b.LastBuildMode = timeOf(tick), timeOf(last), mode.String
	t.rememberPrev(version, shard, &b)
	return &b, nil
}

// PutBuildState writes the build record. It also renews the version store's
// commit mark, so the record and the store it describes are seen committed
// together.
func (t *tx) PutBuildState(ctx context.Context, b *store.BuildState) error {
	if err := t.noteUndo(ctx, b.Version, b.ShardID); err != nil {
		return fmt.Errorf("sqlite: write build state of %s/%d: %w", b.Version, b.ShardID, err)
	}
	var err error
	if t.side != nil && !t.isSide {
		// Only the mark is written there, at commit: no need to wait for
		// the writes queued on the side.
		t.side.markTouched(b.Version)
	} else {
		side, serr := t.on(ctx, b.Version, false)
		if serr == nil {
			_, serr = side.writeTo(ctx, b.Version)
		}
		if serr != nil && !errors.Is(serr, errNoStore) {
			return fmt.Errorf("sqlite: write build state of %s/%d: %w", b.Version, b.ShardID, serr)
		}
	}
	_, err = t.exec(ctx, `INSERT INTO build_state (version, shard_id, total_shards, "cursor", dirty, built,
			entities_hash, identity_epoch, normalization_epoch, tick_horizon, last_build_time, last_build_mode,
			tick_pending)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (version, shard_id) DO UPDATE SET
			total_shards = excluded.total_shards, "cursor" = excluded."cursor", dirty = excluded.dirty,
			built = excluded.built, entities_hash = excluded.entities_hash,
			identity_epoch = excluded.identity_epoch, normalization_epoch = excluded.normalization_epoch,
			tick_horizon = excluded.tick_horizon, last_build_time = excluded.last_build_time,
			last_build_mode = excluded.last_build_mode, tick_pending = excluded.tick_pending`,
		b.Version, b.ShardID, b.TotalShards, b.Cursor, boolInt(b.Dirty), boolInt(b.Built), b.EntitiesHash,
		b.IdentityEpoch, b.NormalizationEpoch, nullTime(b.TickHorizon), nullTime(b.LastBuildTime), nullText(b.LastBuildMode),
		boolInt(b.TickPending))
	if err != nil {
		return fmt.Errorf("sqlite: write build state of %s/%d: %w", b.Version, b.ShardID, err)
	}
	return nil
}
