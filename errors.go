package defacto

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; the concrete errors wrap them
// and carry the details (names, places, hints).
var (
	// ErrNotFound: unknown source, version, entity or hint.
	ErrNotFound = errors.New("not found")
	// ErrDefinition: invalid definitions or a version conflict.
	ErrDefinition = errors.New("invalid definitions")
	// ErrValidation: a bad argument to an API call.
	ErrValidation = errors.New("invalid argument")
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("invalid configuration")
	// ErrStorage wraps a database error and names the operation.
	ErrStorage = errors.New("storage error")
	// ErrQuery: an invalid query (unknown column, bad operator, rejected SQL).
	ErrQuery = errors.New("invalid query")
	// ErrBuildRequired: a processing call needs a build and AutoBuild is off.
	ErrBuildRequired = errors.New("build required")
	// ErrAssertion: AssertEntity found mismatches.
	ErrAssertion = errors.New("assertion failed")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("engine closed")
)

// StorageError is a database failure during a named operation.
type StorageError struct {
	Op  string // e.g. "append ledger rows"
	Err error  // the driver error
}

func (e *StorageError) Error() string { return fmt.Sprintf("storage: %s: %v", e.Op, e.Err) }

// Unwrap lets errors.Is match both ErrStorage and the driver error.
func (e *StorageError) Unwrap() []error { return []error{ErrStorage, e.Err} }

func storageErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *StorageError
	if errors.As(err, &se) {
		return err
	}
	return &StorageError{Op: op, Err: err}
}

// kindError pairs a sentinel with a message, so errors.Is(err, sentinel)
// holds while the text stays specific.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
