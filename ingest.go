package defacto

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// records produces the raw records of an ingest call, passing each to
// yield in input order; it stops with the first error yield returns. ctx
// ends with the call.
type records func(ctx context.Context, yield func(record) error) error

// record is one raw input record of an ingest call.
type record struct {
	index int
	raw   []byte      // JSON as given (nil when it did not parse)
	val   value.Value // decoded object
	err   string      // parse problem, e.g. "line 3: invalid JSON: …"
	text  string      // the input as given when it is not a JSON object, for the failure's raw
	// flush marks no record: the input went idle, so the records so far
	// are committed now instead of when the chunk is full (idleFlush).
	flush bool
}

// Ingest normalizes, deduplicates and appends events from source. With
// Process it also resolves identity and interprets them before returning.
// Per-event problems are reported in the result, never as errors; an error
// means storage failed or ctx ended, and the result then describes the
// chunks committed before it.
func (e *Engine) Ingest(ctx context.Context, source string, events []Event, mode IngestMode) (*IngestResult, error) {
	return e.ingest(ctx, source, mode, nil, func(_ context.Context, yield func(record) error) error {
		for i, ev := range events {
			raw, err := json.Marshal(ev)
			r := record{index: i, raw: raw}
			if err != nil {
				r.raw, r.err = nil, fmt.Sprintf("record is not JSON-encodable: %v", err)
			} else if r.val, err = value.FromJSON(raw); err != nil {
				r.raw, r.text, r.err = nil, string(raw), fmt.Sprintf("record is not valid JSON: %v", err)
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadOptions tunes IngestReader.
type ReadOptions struct {
	// Progress, when set, is called after each committed chunk with the
	// records and bytes read so far.
	Progress func(records int, bytes int64)
	// FlushAfter commits a partial chunk once no record has arrived for
	// this long, so the events of a slow live stream become queryable
	// without waiting for BatchSize more (default DefaultFlushAfter;
	// negative: only full chunks and the end of the input commit).
	FlushAfter time.Duration
}

// DefaultFlushAfter is ReadOptions.FlushAfter's default.
const DefaultFlushAfter = time.Second

// IngestReader ingests events read from r: JSON Lines (one object per line;
// blank lines skipped) or one JSON array of objects. Input is streamed in
// chunks, so memory does not grow with the input; reading and normalizing
// run one chunk ahead of the chunk being committed. A line that is not a
// JSON object is a normalize failure naming the line; the rest proceeds.
func (e *Engine) IngestReader(ctx context.Context, source string, r io.Reader, mode IngestMode, opts *ReadOptions) (*IngestResult, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 1<<16)
	first, err := peekNonSpace(br)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, storageErr("read events", err)
	}
	var progress func(int)
	if opts != nil && opts.Progress != nil {
		// cr.n is written by the goroutine that reads (pipeline, idleFlush);
		// progress runs after a commit, while that goroutine reads ahead.
		progress = func(n int) { opts.Progress(n, cr.count()) }
	}
	each := func(_ context.Context, yield func(record) error) error { return readJSONLines(br, yield) }
	if first == '[' {
		each = func(_ context.Context, yield func(record) error) error { return readJSONArray(br, yield) }
	}
	after := DefaultFlushAfter
	if opts != nil && opts.FlushAfter != 0 {
		after = opts.FlushAfter
	}
	if after > 0 {
		each = idleFlush(after, each)
	}
	return e.ingest(ctx, source, mode, progress, each)
}

// idleFlush runs each on a goroutine of its own and passes its records on;
// when none has arrived for d after some did, it yields a flush marker.
// Reading therefore goes on while a chunk commits. If the consumer stops
// early (an error), the reading goroutine ends at its next record: it may
// outlive the call while blocked in a Read of the caller's reader. The end
// of ctx ends the call even while the input is idle.
func idleFlush(d time.Duration, each records) records {
	return func(ctx context.Context, yield func(record) error) error {
		recs := make(chan record, 256)
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- each(ctx, func(r record) error {
				select {
				case recs <- r:
					return nil
				case <-stop:
					return errStopped
				}
			})
			close(recs)
		}()
		defer close(stop)
		idle := time.NewTimer(d)
		defer idle.Stop()
		unflushed := false
		for {
			select {
			case r, ok := <-recs:
				if !ok {
					return <-done
				}
				if err := yield(r); err != nil {
					return err
				}
				unflushed = true
				idle.Reset(d)
			case <-idle.C:
				if unflushed {
					unflushed = false
					if err := yield(record{flush: true}); err != nil {
						return err
					}
				}
				idle.Reset(d)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// errDisturbed is ingestChunk's report that another connection committed
// since this engine's previous processing call.
var errDisturbed = errors.New("another connection committed since the previous call")

// errStopped ends a reading goroutine whose consumer has returned.
var errStopped = errors.New("ingest stopped")

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) count() int64 { return c.n.Load() }

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
		case 0xEF: // UTF-8 byte order mark
			bom, _ := br.Peek(3)
			if bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = br.Discard(3)
				continue
			}
			return b[0], nil
		default:
			return b[0], nil
		}
	}
}

func readJSONLines(br *bufio.Reader, yield func(record) error) error {
	line, index := 0, 0
	for {
		text, err := br.ReadBytes('\n')
		if len(text) > 0 {
			line++
			trimmed := bytes.TrimSpace(text)
			if len(trimmed) > 0 {
				r := record{index: index, raw: append([]byte(nil), trimmed...)}
				index++
				v, perr := value.FromJSON(trimmed)
				switch {
				case perr != nil: // perr says "invalid JSON: …"
					r.raw, r.text, r.err = nil, string(trimmed), fmt.Sprintf("line %d: %v", line, perr)
				case v.Kind() != value.KindObject:
					r.raw, r.text, r.err = nil, string(trimmed), fmt.Sprintf("line %d: expected a JSON object, got %s", line, v.Kind())
				default:
					r.val = v
				}
				if yerr := yield(r); yerr != nil {
					return yerr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func readJSONArray(br *bufio.Reader, yield func(record) error) error {
	dec := json.NewDecoder(br)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		return yield(record{index: 0, err: fmt.Sprintf("invalid JSON array: %v", err)})
	}
	index := 0
	for ; dec.More(); index++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The rest of the array cannot be framed; report and stop.
			return yield(record{index: index, err: fmt.Sprintf("element %d: invalid JSON: %v", index, err)})
		}
		r := record{index: index, raw: raw}
		v, err := value.FromJSON(raw)
		switch {
		case err != nil: // err says "invalid JSON: …"
			r.raw, r.text, r.err = nil, string(raw), fmt.Sprintf("element %d: %v", index, err)
		case v.Kind() != value.KindObject:
			r.raw, r.text, r.err = nil, string(raw), fmt.Sprintf("element %d: expected a JSON object, got %s", index, v.Kind())
		default:
			r.val = v
		}
		if err := yield(r); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return yield(record{index: index, err: fmt.Sprintf("invalid JSON array: %v", err)})
	}
	// Data after the array (a second array, stray objects) would otherwise be
	// dropped unread; it becomes one failure, so the caller learns of it.
	rest := bufio.NewReader(io.MultiReader(dec.Buffered(), br))
	if _, err := peekNonSpace(rest); err == nil {
		return yield(record{index: index, err: "unexpected data after the JSON array (one array per input; JSON Lines take any number of objects)"})
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ingest drives the chunked ingest of the records produced by each;
// progress, when set, hears the record count after every committed chunk.
func (e *Engine) ingest(ctx context.Context, source string, mode IngestMode, progress func(int), each records) (*IngestResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	start := time.Now()
	src := e.act().defs.Source(source)
	if src == nil {
		return nil, e.unknownSource(source)
	}
	res := &IngestResult{DuplicateIDs: []string{}, Merges: []Merge{}, Failures: []EventFailure{}}
	// A processing call first runs the build its definitions need
	// (autoBuild). Right after a successful processing call of this engine
	// that detection can only find work if another connection committed
	// since, so it is skipped and the first chunk's transaction checks
	// that nothing did (Tx.Undisturbed), falling back to the detection
	// when something did. A one-event call saves a read transaction of a
	// dozen queries (bench/README: BenchmarkIngestOneEvent).
	verify := mode == Process && e.wasSettled
	if mode == Process && !verify {
		b, err := e.autoBuild(ctx)
		if err != nil {
			return nil, err
		}
		res.Build = b
	}
	stats := newRunStats()
	var cache *stateCache
	if mode == Process {
		cache = newStateCache()
	}
	// The ledger-sources record only grows, so a source this engine has
	// seen recorded needs no read of it again.
	noted := e.notedSources[src.Name]
	// Chunks commit one transaction each: reads may run between and beside
	// them, on what is committed.
	e.shareWithReads()
	err = e.pipeline(ctx, src, each, func(p *preparedChunk) error {
		err := e.ingestChunk(ctx, src, p, mode, res, stats, cache, &noted, &verify)
		if errors.Is(err, errDisturbed) {
			// Another connection committed: detect as usual, then commit
			// the chunk again.
			e.excludeReads()
			b, berr := e.autoBuild(ctx)
			e.shareWithReads()
			if berr != nil {
				return berr
			}
			res.Build, verify = b, false
			err = e.ingestChunk(ctx, src, p, mode, res, stats, cache, &noted, &verify)
		}
		if err != nil {
			return err
		}
		if progress != nil {
			progress(res.EventsReceived)
		}
		return nil
	})
	// The last chunk's version-store commit may still run (writeTx).
	if serr := e.settle(ctx, "ingest"); err == nil {
		err = serr
	}
	if err == nil && verify {
		// No chunk was committed (no input), so nothing checked: detect.
		e.excludeReads()
		var b *BuildResult
		if b, err = e.autoBuild(ctx); err == nil {
			res.Build = b
		}
	}
	stats.fill(res)
	res.Timing.Total = time.Since(start).Seconds()
	e.deadLetters(res.Failures)
	if err != nil {
		return res, err
	}
	e.settled = mode == Process
	if noted {
		if e.notedSources == nil {
			e.notedSources = map[string]bool{}
		}
		e.notedSources[src.Name] = true
	}
	e.log.Info("ingest", "source", source, "received", res.EventsReceived, "ingested", res.EventsIngested,
		"duplicates", res.DuplicatesSkipped, "failed", res.EventsFailed, "processed", res.EventsProcessed)
	return res, nil
}

func (e *Engine) unknownSource(name string) error {
	names := make([]string, 0, len(e.act().defs.Sources))
	for _, s := range e.act().defs.Sources {
		names = append(names, s.Name)
	}
	msg := fmt.Sprintf("unknown source '%s'", name)
	if s := nearest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean '%s'?", s)
	} else if len(names) > 0 {
		msg += "; declared sources: " + strings.Join(names, ", ")
	}
	return errorf(ErrNotFound, "%s", msg)
}

// accepted is a normalized record ready to append.
type accepted struct {
	index int
	ev    *normalize.Event
	keys  []identity.EntityKeys
	row   store.LedgerRow
}

// preparedChunk is one chunk of records normalized: what its transaction
// needs, made without touching storage.
type preparedChunk struct {
	received int
	ready    []accepted
	failed   []EventFailure
	ignored  int
	took     float64 // seconds spent normalizing
}

// prepareChunk normalizes recs and extracts their identity keys. It reads
// only the active definitions, which cannot change during an ingest call
// (Engine.begin), so it may run beside the previous chunk's transaction.
func (e *Engine) prepareChunk(src *definition.Source, recs []record) (*preparedChunk, error) {
	t0 := time.Now()
	now := e.now()
	p := &preparedChunk{received: len(recs), ready: make([]accepted, 0, len(recs))}
	act := e.act()
	for _, r := range recs {
		if r.err != "" {
			f := EventFailure{Stage: StageNormalize, Index: r.index, Source: src.Name, Message: r.err}
			if r.text != "" {
				f.Raw = r.text // kept, so the dead letter holds what to fix and resend
			}
			p.failed = append(p.failed, f)
			continue
		}
		ev, ign, f := act.norm.Normalize(src, r.val, now, true)
		if ign {
			p.ignored++
			continue
		}
		if f != nil {
			p.failed = append(p.failed, recordFailure(f, r, src.Name))
			continue
		}
		keys, f := identity.Extract(act.defs, e.salt, ev)
		if f != nil {
			ef := recordFailure(f, r, src.Name)
			ef.EventID = ev.ID
			p.failed = append(p.failed, ef)
			continue
		}
		row, err := ledgerRow(ev, keys, r.raw, now)
		if err != nil {
			return nil, err
		}
		p.ready = append(p.ready, accepted{index: r.index, ev: ev, keys: keys, row: row})
	}
	p.took = time.Since(t0).Seconds()
	return p, nil
}

// pipeline reads each's records into chunks of BatchSize (or up to a flush
// marker) and normalizes them on a goroutine of its own, one chunk ahead
// of commit, which runs on the calling goroutine, chunk by chunk in input
// order. Normalization is pure CPU work, so on a second core it overlaps
// the previous chunk's transaction. The first error of either side ends
// both; pipeline returns once the reading side has stopped. A partial
// chunk is committed only when the input ended without error.
func (e *Engine) pipeline(ctx context.Context, src *definition.Source, each records, commit func(*preparedChunk) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan *preparedChunk, 1)
	var readErr error // the reading side's; read after chunks is closed
	go func() {
		defer close(chunks)
		chunk := make([]record, 0, e.cfg.BatchSize)
		prepare := func() error {
			if len(chunk) == 0 {
				return nil
			}
			p, err := e.prepareChunk(src, chunk)
			chunk = chunk[:0]
			if err != nil {
				return err
			}
			select {
			case chunks <- p:
				return nil
			case <-rctx.Done():
				return rctx.Err()
			}
		}
		err := each(rctx, func(r record) error {
			if err := rctx.Err(); err != nil {
				return err
			}
			if r.flush {
				return prepare()
			}
			chunk = append(chunk, r)
			if len(chunk) >= e.cfg.BatchSize {
				return prepare()
			}
			return nil
		})
		if err == nil {
			err = prepare()
		}
		readErr = err
	}()
	var err error
	for p := range chunks {
		if err != nil {
			continue // drain what the reading side sent before it stopped
		}
		if err = commit(p); err != nil {
			cancel()
		}
	}
	if err == nil {
		err = readErr
	}
	return err
}

// ingestChunk commits one prepared chunk in one transaction (processing it
// too with Process). noted says the source is already in the committed
// ledger-sources record (an earlier chunk or call put it there), so the
// chunk skips that read.
//
// With Process the transaction first asks whether another connection
// committed since this engine last asked (Tx.Undisturbed): if one did, the
// state cache is emptied, or, when verify is set (the build-mode detection
// was skipped), errDisturbed is returned and nothing committed. verify is
// cleared once the chunk is committed.
func (e *Engine) ingestChunk(ctx context.Context, src *definition.Source, p *preparedChunk, mode IngestMode, res *IngestResult, stats *runStats, cache *stateCache, noted, verify *bool) error {
	ready, failed, ignored := p.ready, p.failed, p.ignored
	res.Timing.Normalize += p.took

	var dups []string
	erased := 0
	var appended []accepted
	// Without processing a chunk only appends, so on PostgreSQL it need
	// not wait for shard processes interpreting (scale.md §2).
	scope := store.ScopeAll
	if mode != Process {
		scope = store.ScopeAppend
	}
	err := e.writeTx(ctx, "ingest", scope, true, func(tx store.Tx) error {
		if cache != nil {
			// Cached states, and a skipped build-mode detection, hold only
			// if no other connection committed since this engine last asked.
			ok, err := tx.Undisturbed(ctx, e.act().version)
			if err != nil {
				return err
			}
			if !ok && *verify {
				return errDisturbed
			}
			if !ok {
				cache.reset()
			}
		}
		dups, erased, appended = nil, 0, make([]accepted, 0, len(ready))
		ids := make([]string, len(ready))
		for i, a := range ready {
			ids[i] = a.ev.ID
		}
		live, er, err := tx.KnownEventIDs(ctx, ids)
		if err != nil {
			return err
		}
		seen := make(map[string]bool, len(ready))
		rows := make([]store.LedgerRow, 0, len(ready))
		for _, a := range ready {
			switch id := a.ev.ID; {
			case er[id]:
				erased++
			case live[id] || seen[id]:
				dups = append(dups, id)
			default:
				seen[id] = true
				appended = append(appended, a)
				rows = append(rows, a.row)
			}
		}
		t1 := time.Now()
		if len(rows) > 0 && !*noted {
			if err := e.noteLedgerSource(ctx, tx, src.Name); err != nil {
				return err
			}
		}
		if err := tx.Append(ctx, rows); err != nil {
			return err
		}
		for i := range appended {
			appended[i].row.Seq = rows[i].Seq
		}
		res.Timing.Append += time.Since(t1).Seconds()
		if mode != Process {
			return nil
		}
		mem := make([]resolvable, len(appended))
		for i, a := range appended {
			mem[i] = resolvable{seq: a.row.Seq, time: a.ev.Time, keys: a.keys, row: &appended[i].row, index: a.index}
		}
		return e.process(ctx, tx, mem, stats, &res.Timing, cache)
	})
	if err != nil {
		stats.discardPending()
		cache.reset() // the failed chunk's runs changed cached states
		return err
	}
	*verify = false
	stats.commitPending()
	if len(appended) > 0 {
		*noted = true
	}
	res.EventsReceived += p.received
	res.EventsIgnored += ignored
	res.EventsFailed += len(failed)
	res.Failures = append(res.Failures, failed...)
	res.EventsIngested += len(appended)
	res.DuplicatesSkipped += len(dups)
	res.DuplicateIDs = append(res.DuplicateIDs, dups...)
	res.ErasedSkipped += erased
	return nil
}

func recordFailure(f *normalize.Failure, r record, source string) EventFailure {
	ef := EventFailure{
		Stage: f.Stage, Index: r.index, Source: source, EventType: f.EventType,
		Field: f.Field, Message: f.Message,
	}
	if r.val.Kind() == value.KindObject {
		ef.Raw = r.val.ToAny()
	}
	return ef
}

// hintJSON is one identity key in the ledger's hints column.
type hintJSON struct {
	K string  `json:"k"`
	V *string `json:"v,omitempty"`
}

func ledgerRow(ev *normalize.Event, keys []identity.EntityKeys, raw []byte, now int64) (store.LedgerRow, error) {
	data, types := value.EncodeTagged(ev.Data)
	row := store.LedgerRow{
		EventID: ev.ID, Source: ev.Source, EventType: ev.Type, Time: ev.Time,
		Data: data, Raw: raw, IngestedAt: now,
	}
	if len(types) > 0 {
		b, err := json.Marshal(types)
		if err != nil {
			return row, err
		}
		row.DataTypes = b
	}
	hints := make(map[string]map[string]hintJSON, len(keys))
	for _, ek := range keys {
		m := make(map[string]hintJSON, len(ek.Keys))
		for _, k := range ek.Keys {
			h := hintJSON{K: k.Hash}
			if !k.Sensitive {
				v := k.Value
				h.V = &v
			}
			m[k.Field] = h
		}
		hints[ek.Entity] = m
	}
	b, err := json.Marshal(hints)
	if err != nil {
		return row, err
	}
	row.Hints = b
	return row, nil
}

// keysOf decodes a ledger row's hints into ordered keys: entity types
// ascending, fields in identity-field order of the active definitions.
func (e *Engine) keysOf(row *store.LedgerRow) ([]identity.EntityKeys, error) {
	if len(row.Hints) == 0 {
		return nil, nil
	}
	var hints map[string]map[string]hintJSON
	if err := json.Unmarshal(row.Hints, &hints); err != nil {
		return nil, fmt.Errorf("ledger row %d: hints: %w", row.Seq, err)
	}
	types := make([]string, 0, len(hints))
	for t := range hints {
		types = append(types, t)
	}
	sort.Strings(types)
	out := make([]identity.EntityKeys, 0, len(types))
	for _, t := range types {
		fields := hints[t]
		ek := identity.EntityKeys{Entity: t}
		order := fieldOrder(e.act().defs.Entity(t), fields)
		for _, f := range order {
			h := fields[f]
			k := identity.Key{Entity: t, Field: f, Hash: h.K, Sensitive: h.V == nil}
			if h.V != nil {
				k.Value = *h.V
			}
			ek.Keys = append(ek.Keys, k)
		}
		if len(ek.Keys) > 0 {
			out = append(out, ek)
		}
	}
	return out, nil
}

// fieldOrder orders hint fields by the entity's identity-field order; fields
// the definitions no longer know sort last, by name.
func fieldOrder(ent *definition.Entity, fields map[string]hintJSON) []string {
	out := make([]string, 0, len(fields))
	if ent != nil {
		for _, f := range ent.Identity {
			if _, ok := fields[f.Name]; ok {
				out = append(out, f.Name)
			}
		}
	}
	if len(out) == len(fields) {
		return out
	}
	var rest []string
	for f := range fields {
		if ent == nil || ent.IdentityField(f) == nil {
			rest = append(rest, f)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
