package helpdesk

import (
	"errors"
	"strings"
)

var (
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("not found")
	// ErrFenced: a fetch wrote with a fence older than the mailbox's current
	// one; it lost its lease and must stop.
	ErrFenced = errors.New("fenced off: another fetch holds a newer lease on this mailbox")
	// ErrInvalid: input failed validation; wrapped in a *ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrConflict: a unique value (e-mail address, name) is already taken.
	ErrConflict = errors.New("already exists")
	// ErrForbidden: the user may not act on this object.
	ErrForbidden = errors.New("forbidden")
)

// ValidationError lists what is wrong with each input field.
type ValidationError struct {
	Fields map[string]string // field name -> message
}

func (e *ValidationError) Error() string {
	var parts []string
	for k, v := range e.Fields {
		parts = append(parts, k+": "+v)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }
