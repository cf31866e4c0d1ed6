// Package defacto is an entity engine that turns operational events into
// temporal, queryable state.
//
// Entities (customer, order, device, …) are declared as state machines in
// YAML; sources declare how raw events from each system map onto normalized
// events and which fields identify which entities. Raw events go in through
// Ingest; defacto appends them to an append-only ledger, resolves identity
// (merging entities when one event proves two are the same), interprets them
// through the state machines, and writes SCD Type 2 history. Table, History
// and AsOf answer current-state, full-history and point-in-time questions.
//
// A tour:
//
//	d, err := defacto.Open(ctx, "my-project/", nil) // SQLite in my-project/.defacto/
//	if err != nil { ... }
//	defer d.Close()
//
//	res, err := d.Ingest(ctx, "app", events, defacto.Process)
//	rows, err := d.Table("customer").Execute(ctx)                      // current state
//	rows, err = d.History("customer").AsOf("2024-01-10").Execute(ctx) // point in time
//	fmt.Print(rows)                                                    // aligned table
//
// Every call that does I/O takes a context first. Errors match the exported
// sentinels (ErrNotFound, ErrDefinition, …) with errors.Is; per-event problems
// are never errors but EventFailure records in results.
package defacto
