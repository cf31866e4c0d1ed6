package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// Batched reads of recomputes: the per-entity reads EntityEvents,
// CurrentRows and CurrentRelRows for a group of entities.
//
// A full rebuild's group is a run of consecutive entity ids (a slice of
// AllEntities), so each read is one range scan of an index led by the
// entity id, between the least and the greatest id of the group, and rows
// of ids outside the group are dropped here (a seek per id made a full
// rebuild 6-8% slower). Scattered ids (the late arrivals and
// merge winners of one ingest chunk) would turn that range into most of the
// table, so they are found one index seek each, through a JSON array
// parameter: SQLite seeks in id order, so the rows still come back in index
// order without a sort.

// idMatch returns the condition on column col that finds ids, its
// arguments, and ids as a set; ok is false for no ids.
func idMatch(col string, ids []string, consecutive bool) (cond string, args []any, set map[string]bool, ok bool) {
	if len(ids) == 0 {
		return "", nil, nil, false
	}
	set = make(map[string]bool, len(ids))
	lo, hi := ids[0], ids[0]
	for _, id := range ids {
		set[id] = true
		lo, hi = min(lo, id), max(hi, id)
	}
	if consecutive {
		return col + ` BETWEEN ? AND ?`, []any{lo, hi}, set, true
	}
	b, _ := json.Marshal(ids) // a []string always marshals
	return col + ` IN (SELECT value FROM json_each(?))`, []any{string(b)}, set, true
}

// EventsOfEntities returns, per id, the live rows linked to it with sequence
// <= maxSeq, by (timestamp, sequence), without Raw and Hints.
func (t *tx) EventsOfEntities(ctx context.Context, ids []string, consecutive bool, maxSeq int64) (map[string][]store.LedgerRow, error) {
	cond, args, set, ok := idMatch("e.entity_id", ids, consecutive)
	out := make(map[string][]store.LedgerRow, len(set))
	if !ok {
		return out, nil
	}
	fail := func(err error) error { return fmt.Errorf("sqlite: read events of %d entities: %w", len(ids), err) }
	// The entity_id index gives the links in (entity_id, sequence) order, so
	// SQLite sorts nothing; each entity's few rows are sorted by time below.
	rows, err := t.query(ctx, `SELECT e.entity_id, l."sequence", l.event_id, l.source, l.event_type, l."timestamp",
			l.data, l.data_types, l.redacted, l.ingested_at
		FROM event_entities e JOIN ledger l ON l."sequence" = e."sequence"
		WHERE `+cond+` AND e."sequence" <= ?
			AND l.duplicate_of IS NULL AND l.normalize_error IS NULL
		ORDER BY e.entity_id, e."sequence"`, append(args, maxSeq)...)
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	var (
		id, prev string
		types    sql.NullString
		redacted int64
		data     string
		cur      []store.LedgerRow
	)
	for rows.Next() {
		var r store.LedgerRow
		if err := rows.Scan(&id, &r.Seq, &r.EventID, &r.Source, &r.EventType, &r.Time, &data, &types, &redacted,
			&r.IngestedAt); err != nil {
			return nil, fail(err)
		}
		if !set[id] {
			continue
		}
		r.Data, r.DataTypes, r.Redacted = []byte(data), bytesOf(types), redacted == 1
		if id != prev && cur != nil {
			out[prev] = byTime(cur)
			cur = nil
		}
		prev = id
		cur = append(cur, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	if cur != nil {
		out[prev] = byTime(cur)
	}
	return out, nil
}

// byTime sorts one entity's rows, read by sequence, by (timestamp,
// sequence).
func byTime(rs []store.LedgerRow) []store.LedgerRow {
	slices.SortStableFunc(rs, func(a, b store.LedgerRow) int { return cmp.Compare(a.Time, b.Time) })
	return rs
}

// CurrentRowsOf returns, per id, every current-belief row by valid_from.
func (t *tx) CurrentRowsOf(ctx context.Context, version string, ent *definition.Entity, ids []string, consecutive bool) (map[string][]store.HistoryRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: read rows of %d %s in %s: %w", len(ids), entName(ent), version, err)
	}
	h, err := t.history(ctx, version, ent, false)
	if err != nil {
		return nil, fail(err)
	}
	cond, args, set, ok := idMatch(h.id, ids, consecutive)
	out := make(map[string][]store.HistoryRow, len(set))
	if !ok {
		return out, nil
	}
	// The "current" index is (id, valid_from) over current belief: the
	// scan or the seeks return the rows in the order wanted.
	rows, err := t.query(ctx, h.selRows+cond+` ORDER BY `+h.id+`, "valid_from"`, args...)
	if err != nil {
		return nil, fail(err)
	}
	keep := func(id string) bool { return set[id] }
	add := func(r store.HistoryRow) { out[r.EntityID] = append(out[r.EntityID], r) }
	if err := scanHistory(rows, h, keep, add); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// CurrentRelRowsOf returns, per source id, every current-belief row of r by
// (target, valid_from).
func (t *tx) CurrentRelRowsOf(ctx context.Context, version string, r *definition.Relationship, ids []string, consecutive bool) (map[string][]store.RelRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: read relationships %s of %d sources: %w", r.Type, len(ids), err)
	}
	h, err := t.rel(ctx, version, r, false)
	if err != nil {
		return nil, fail(err)
	}
	cond, args, set, ok := idMatch(`"source_id"`, ids, consecutive)
	out := make(map[string][]store.RelRow, len(set))
	if !ok {
		return out, nil
	}
	// The "current" index is (source_id, target_id, valid_from).
	rows, err := t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL
		AND `+cond+` ORDER BY "source_id", "target_id", "valid_from"`, args...)
	if err != nil {
		return nil, fail(err)
	}
	err = scanRels(rows, h, func(x store.RelRow) {
		if set[x.SourceID] {
			out[x.SourceID] = append(out[x.SourceID], x)
		}
	})
	if err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// ClearPendingOf deletes every pending relation of ids.
func (t *tx) ClearPendingOf(ctx context.Context, version string, ids []string) error {
	ids = slices.Clone(ids)
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.clearPendingOf(ctx, version, ids) })
}

func (t *tx) clearPendingOf(ctx context.Context, version string, ids []string) error {
	return t.deleteOf(ctx, version, "pending_relations", "source_id", ids)
}

// ClearFailuresOf deletes the recorded failed events of ids.
func (t *tx) ClearFailuresOf(ctx context.Context, version string, ids []string) error {
	ids = slices.Clone(ids)
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.clearFailuresOf(ctx, version, ids) })
}

func (t *tx) clearFailuresOf(ctx context.Context, version string, ids []string) error {
	return t.deleteOf(ctx, version, "failed_events", "entity_id", ids)
}

// deleteOf deletes the rows of a version store table whose col is one of
// ids, with one statement per chunk of ids. Both tables are keyed by the
// entity first, so each id is one index seek, usually finding nothing.
func (t *tx) deleteOf(ctx context.Context, version, table, col string, ids []string) error {
	sc, err := t.writeTo(ctx, version)
	if err == nil {
		err = inChunks(uniq(ids), inChunk, func(c []string) error {
			_, err := t.exec(ctx, `DELETE FROM `+sc+`.`+quote(table)+` WHERE `+quote(col)+` IN (`+params(len(c))+`)`, anys(c)...)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: clear %s of %d entities: %w", table, len(ids), err)
	}
	return nil
}

// readSession is a store.ReadSession on one reader connection.
type readSession struct {
	s    *Store
	conn *sql.Conn
	hold bool
	held *tx // the held read transaction, when hold and begun
}

var _ store.SessionReader = (*Store)(nil)

// ReadSession takes one connection of the reader pool for a series of read
// transactions (store.SessionReader).
//
// Holding one transaction is what makes a session pay on SQLite: a read
// transaction that begins after another connection committed drops the
// connection's page cache and unmaps the memory-mapped file, so every page
// is mapped and parsed again, which cost a full rebuild that reads the
// ledger group by group (each group a commit of the build) a third of its
// time. A held transaction keeps its WAL snapshot, which also keeps a
// checkpoint from restarting the WAL of a file it read until it ends.
func (s *Store) ReadSession(ctx context.Context, hold bool) (store.ReadSession, error) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read session: %w", err)
	}
	return &readSession{s: s, conn: conn, hold: hold}, nil
}

// Read runs f in a read-only transaction on the session's connection.
func (r *readSession) Read(ctx context.Context, f func(store.Tx) error) error {
	if r.held != nil {
		return f(r.held)
	}
	t, err := r.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	tx := newTx(r.s, t, true)
	if r.hold {
		r.held = tx
		return f(tx)
	}
	defer tx.Rollback()
	return f(tx)
}

// Refresh ends the held read transaction.
func (r *readSession) Refresh() error {
	if r.held == nil {
		return nil
	}
	err := r.held.Rollback()
	r.held = nil
	return err
}

// Close ends the held read transaction and returns the connection to the
// pool.
func (r *readSession) Close() error {
	return errors.Join(r.Refresh(), r.conn.Close())
}
