package defacto

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/defacto-dev/defacto/internal/definition"
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
	name := e.cfg.Version
	if name == "" {
		name = e.act().defs.ContentHash[:8]
	}
	if err := e.register(ctx, tx, name, e.act().defs); err != nil {
		return err
	}
	return e.activate(ctx, tx, name, e.act().defs)
}

// register stores set as version name; the same content again is a no-op.
func (e *Engine) register(ctx context.Context, tx store.Tx, name string, set *definition.Set) error {
	if !versionRE.MatchString(name) || name == "main" || name == "temp" {
		return errorf(ErrValidation, "invalid version name %q: must match %s and not be main or temp", name, versionRE)
	}
	existing, err := tx.Version(ctx, name)
	if err != nil {
		return err
	}
	if existing != nil {
		if existing.ContentHash != set.ContentHash {
			return errorf(ErrDefinition, "version '%s' already exists with different content", name)
		}
		return nil
	}
	return tx.PutVersion(ctx, &store.VersionRecord{
		Name: name, Definitions: set.Canonical, ContentHash: set.ContentHash,
		EntitiesHash: set.EntitiesHash, IdentityHash: set.IdentityHash,
		SourceHashes: set.SourceHashes, CreatedAt: e.now(),
	})
}

// activate marks version name active, creates its store and, while the
// ledger is empty, marks it built at cursor 0 (builds.md §2, D1).
func (e *Engine) activate(ctx context.Context, tx store.Tx, name string, set *definition.Set) error {
	if err := tx.SetActive(ctx, name); err != nil {
		return err
	}
	if err := tx.EnsureVersionStore(ctx, name, set); err != nil {
		return err
	}
	e.setActive(name, set)

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
	bs, err := tx.BuildState(ctx, name, e.cfg.ShardID)
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
		Version: name, ShardID: e.cfg.ShardID, TotalShards: e.totalShards(), Built: true,
		EntitiesHash: set.EntitiesHash, IdentityEpoch: ie, NormalizationEpoch: ne,
		TickHorizon: horizon, LastBuildTime: store.NoTime,
	})
}

// RegisterResult describes a registered version and what activating it
// would build.
type RegisterResult struct {
	Version       string   `json:"version"`
	PredictedMode string   `json:"predicted_mode"`
	Reasons       []string `json:"reasons"`
}

// Register stores definitions as a version without activating it. An empty
// name means the first 8 characters of the content hash. Registering the
// same content under the same name again is a no-op; different content under
// an existing name is an ErrDefinition error.
func (e *Engine) Register(ctx context.Context, version string, defs *Definitions) (*RegisterResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	set := defs.set
	if version == "" {
		version = set.ContentHash[:8]
	}
	res := &RegisterResult{Version: version}
	err = e.write(ctx, "register", func(tx store.Tx) error {
		if err := e.register(ctx, tx, version, set); err != nil {
			return err
		}
		d, err := detectFor(ctx, tx, set, version, e.cfg.ShardID, BuildOptions{})
		if err != nil {
			return err
		}
		res.PredictedMode, res.Reasons = d.mode, d.reasons
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Activate makes a registered version the active one and builds it with the
// cheapest correct mode. Rolling back is activating an earlier version.
func (e *Engine) Activate(ctx context.Context, version string) (*BuildResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	raw, err := e.Definitions(ctx, version)
	if err != nil {
		return nil, err
	}
	set, res, err := definition.LoadBytes(raw, version+".json")
	if err := definitionsErr(res, err); err != nil {
		return nil, err
	}
	prev := e.act()
	if err := e.write(ctx, "activate", func(tx store.Tx) error { return e.activate(ctx, tx, version, set) }); err != nil {
		e.cur.Store(prev)
		return nil, err
	}
	return e.build(ctx, BuildOptions{}, nil)
}

// Definitions returns the canonical JSON of a stored version.
func (e *Engine) Definitions(ctx context.Context, version string) ([]byte, error) {
	var rec *store.VersionRecord
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.Version(ctx, version)
		return err
	}); err != nil {
		return nil, storageErr("get version", err)
	}
	if rec == nil {
		return nil, errorf(ErrNotFound, "unknown version '%s'", version)
	}
	return rec.Definitions, nil
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
			bs, err := tx.BuildState(ctx, v.Name, e.cfg.ShardID)
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

// Plan predicts the build the active version needs now (the same detection
// as BuildStatus's needed_mode).
func (e *Engine) Plan(ctx context.Context) (*RegisterResult, error) {
	out := &RegisterResult{Version: e.act().version}
	err := e.st.Read(ctx, func(tx store.Tx) error {
		d, err := e.detect(ctx, tx, BuildOptions{})
		if err != nil {
			return err
		}
		out.PredictedMode, out.Reasons = d.mode, d.reasons
		return nil
	})
	if err != nil {
		return nil, storageErr("plan", err)
	}
	return out, nil
}
