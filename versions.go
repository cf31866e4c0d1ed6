package defacto

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// VersionInfo describes one stored definition version.
type VersionInfo struct {
	Version     string `json:"version"`
	ContentHash string `json:"content_hash"`
	Active      bool   `json:"active"`
	Built       bool   `json:"built"`
	CreatedAt   string `json:"created_at"`
}

// registerActive stores the engine's definitions as a version (a no-op when
// that content is already registered) and activates it. A version that
// becomes active while the ledger is empty counts as built at cursor 0.
func (e *Engine) registerActive(ctx context.Context, tx store.Tx) error {
	set := e.defs
	name := e.cfg.Version
	if name == "" {
		name = set.ContentHash[:8]
	}
	existing, err := tx.Version(ctx, name)
	if err != nil {
		return err
	}
	now := e.now()
	if existing != nil && existing.ContentHash != set.ContentHash {
		return errorf(ErrDefinition, "version '%s' already exists with different content", name)
	}
	if existing == nil {
		err := tx.PutVersion(ctx, &store.VersionRecord{
			Name: name, Definitions: set.Canonical, ContentHash: set.ContentHash,
			EntitiesHash: set.EntitiesHash, IdentityHash: set.IdentityHash,
			SourceHashes: set.SourceHashes, CreatedAt: now,
		})
		if err != nil {
			return err
		}
	}
	if err := tx.SetActive(ctx, name); err != nil {
		return err
	}
	if err := tx.EnsureVersionStore(ctx, name, set); err != nil {
		return err
	}
	e.version = name

	head, err := tx.LedgerHead(ctx)
	if err != nil {
		return err
	}
	if head != 0 {
		return nil
	}
	// Empty ledger: the records and the build state adopt this version.
	if err := tx.SetMeta(ctx, metaIdentityRecord, set.IdentityHash); err != nil {
		return err
	}
	rec, _ := json.Marshal(set.SourceHashes)
	if err := tx.SetMeta(ctx, metaNormalizationRec, string(rec)); err != nil {
		return err
	}
	bs, err := tx.BuildState(ctx, name, 0)
	if err != nil {
		return err
	}
	if bs != nil && bs.Built && !bs.Dirty && bs.EntitiesHash == set.EntitiesHash {
		return nil
	}
	ie, ne, err := epochs(ctx, tx)
	if err != nil {
		return err
	}
	horizon := store.NoTime
	if bs != nil {
		horizon = bs.TickHorizon
	}
	return tx.PutBuildState(ctx, &store.BuildState{
		Version: name, ShardID: 0, TotalShards: 1, Built: true,
		EntitiesHash: set.EntitiesHash, IdentityEpoch: ie, NormalizationEpoch: ne,
		TickHorizon: horizon, LastBuildTime: store.NoTime,
	})
}

func epochs(ctx context.Context, tx store.Tx) (identity, normalization int64, err error) {
	if identity, err = metaInt(ctx, tx, metaIdentityEpoch); err != nil {
		return 0, 0, err
	}
	normalization, err = metaInt(ctx, tx, metaNormalizationEpoch)
	return identity, normalization, err
}

func metaInt(ctx context.Context, tx store.Tx, key string) (int64, error) {
	s, ok, err := tx.Meta(ctx, key)
	if err != nil || !ok || s == "" {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// Versions lists the stored definition versions by creation time, then name.
func (e *Engine) Versions(ctx context.Context) ([]VersionInfo, error) {
	var out []VersionInfo
	err := e.st.Read(ctx, func(tx store.Tx) error {
		vs, err := tx.Versions(ctx)
		if err != nil {
			return err
		}
		for _, v := range vs {
			bs, err := tx.BuildState(ctx, v.Name, 0)
			if err != nil {
				return err
			}
			out = append(out, VersionInfo{
				Version: v.Name, ContentHash: v.ContentHash, Active: v.Active,
				Built: bs != nil && bs.Built, CreatedAt: value.FormatTime(v.CreatedAt),
			})
		}
		return nil
	})
	if err != nil {
		return nil, storageErr("list versions", err)
	}
	return out, nil
}

// now reads the engine clock as µs.
func (e *Engine) now() int64 {
	return value.Time(e.cfg.Clock()).Micros()
}
