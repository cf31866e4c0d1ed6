package postgres

import "context"

// Undisturbed reports false: a Postgres namespace is shared by design, and
// no cheap signal tells that no other session wrote since the last
// transaction, so callers reload what they need.
func (t *tx) Undisturbed(ctx context.Context, version string) (bool, error) {
	return false, nil
}
