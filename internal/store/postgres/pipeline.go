package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipe is the transaction a tx talks to: a pgx.Tx that holds back the
// statements nobody waits for (the advisory locks of a write transaction,
// and writes whose only result is an error) and sends them in the same
// round trip as the next statement whose answer is needed, or at Commit.
//
// A chunk of a Process ingest sends a few dozen statements, about half of
// them such writes; each used to cost a round trip, which on a loaded
// server is a wait for the server process to be scheduled as much as
// network time. Statements still run in the order they were issued, in
// one session, so a read sees every earlier write. An error of a held-back
// statement is reported by the call that sends it (or Commit), prefixed
// with what the statement did; the transaction is then aborted anyway,
// and the engine never continues after a storage error.
type pipe struct {
	tx      pgx.Tx
	pending *pgx.Batch
	what    []string // per pending statement, for errors
}

// later queues a statement whose result is not needed now. what names it
// in errors ("" when the statement's own check already does). The returned QueuedQuery may carry a check of the result
// (QueuedQuery.Exec or Query), which runs when the statement is sent.
func (p *pipe) later(what, sql string, args ...any) *pgx.QueuedQuery {
	if p.pending == nil {
		p.pending = &pgx.Batch{}
	}
	p.what = append(p.what, what)
	return p.pending.Queue(sql, args...)
}

// laterBatch queues every statement of b, which must not be read by the
// caller (pgx.Batch callbacks, if set, run when the statements are sent).
func (p *pipe) laterBatch(what string, b *pgx.Batch) {
	if b.Len() == 0 {
		return
	}
	if p.pending == nil {
		p.pending = &pgx.Batch{}
	}
	for _, q := range b.QueuedQueries {
		p.what = append(p.what, what)
		p.pending.QueuedQueries = append(p.pending.QueuedQueries, q)
	}
}

// send sends the pending statements followed by those of b (nil: none) in
// one round trip, reads the results of the pending ones and returns the
// batch results positioned at b's first statement. Without pending
// statements it is SendBatch.
func (p *pipe) send(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if p.pending == nil {
		if b == nil {
			b = &pgx.Batch{}
		}
		return p.tx.SendBatch(ctx, b)
	}
	all, what := p.pending, p.what
	p.pending, p.what = nil, nil
	n := len(all.QueuedQueries)
	if b != nil {
		all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	}
	br := p.tx.SendBatch(ctx, all)
	for i := range n {
		q := all.QueuedQueries[i]
		var err error
		if q.Fn != nil {
			err = q.Fn(br)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			if what[i] != "" {
				err = fmt.Errorf("%s: %w", what[i], err)
			}
			return failedBatch{err}
		}
	}
	return br
}

// flush sends the pending statements, if any, and waits for them.
func (p *pipe) flush(ctx context.Context) error {
	if p.pending == nil {
		return nil
	}
	return p.send(ctx, nil).Close()
}

// discard drops the pending statements (the transaction is rolled back).
func (p *pipe) discard() { p.pending, p.what = nil, nil }

func (p *pipe) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.pending == nil {
		return p.tx.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := p.send(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (p *pipe) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.pending == nil {
		return p.tx.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := p.send(ctx, b)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (p *pipe) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if p.pending == nil {
		return p.tx.QueryRow(ctx, sql, args...)
	}
	rows, err := p.Query(ctx, sql, args...)
	return pipeRow{rows: rows, err: err}
}

// SendBatch sends b after the pending statements; the caller reads b's
// results as usual.
func (p *pipe) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return p.send(ctx, b)
}

// Commit sends the pending statements, then commits. A failed pending
// statement aborts the transaction, so Commit then fails too.
func (p *pipe) Commit(ctx context.Context) error {
	if err := p.flush(ctx); err != nil {
		_ = p.tx.Rollback(ctx)
		return err
	}
	return p.tx.Commit(ctx)
}

func (p *pipe) Rollback(ctx context.Context) error {
	p.discard()
	return p.tx.Rollback(ctx)
}

// batchRows are the rows of the last statement of a batch: closing them
// closes the batch, which returns the connection to the transaction.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// pipeRow is pgx.Row over batchRows, with QueryRow's semantics.
type pipeRow struct {
	rows pgx.Rows
	err  error
}

func (r pipeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// failedBatch is the BatchResults of a batch whose pending statements
// failed: every call reports that error.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return pipeRow{err: f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }
