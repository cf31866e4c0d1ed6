// Package interpret turns an entity's events into working state and SCD2 rows.
//
// Interpretation is a pure function of the entity's events, the definitions,
// relate resolution (through the Resolver the engine supplies) and the tick
// horizon (interpretation.md). It never reads a clock and knows nothing about
// SQL: the engine loads a State, starts a Run, applies events and advances time
// rules, then stores what the Run produced (rows, relationship rows, pending
// relations, failures, the new State).
//
// A Machine holds what is derived once per (definition set, entity type) and is
// shared by every Run. A Run is one session on one entity and is not safe for
// concurrent use; different entities run in parallel on their own Runs.
//
// Choices the spec leaves open are documented where they are implemented; the
// main ones are:
//
//   - A history row's EventSeq is the sequence of the last event whose
//     application changed the entity at that instant. A time-rule firing that
//     lands on the instant of such an event keeps that sequence (the row is not
//     "time rules alone"); rows of firings at other instants carry 0. This makes
//     streamed and recomputed rows identical however batches are cut.
//   - last_fired_time advances on every firing, including firings that changed
//     nothing or failed: each one consumed a fired mark, so an event older than
//     it must trigger a recompute.
//   - Relationship rows follow H1 as entity rows do: the final fact at an
//     instant wins, so a row opened at an instant and replaced at that same
//     instant is dropped rather than closed with zero length (see RelClose for
//     stored rows).
package interpret
