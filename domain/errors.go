package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors classify failures so that driving adapters can map them to a
// response with errors.Is, however deeply they were wrapped.
var (
	// ErrInvalidInput marks input that breaks a rule of the domain.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound marks a missing aggregate.
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a uniqueness clash, such as a correlation id already taken.
	ErrConflict = errors.New("conflict")
	// ErrUnprocessable marks a well-formed request that cannot be carried out
	// in the aggregate's current state (for example completing a lead that
	// lacks required fields).
	ErrUnprocessable = errors.New("unprocessable")
	// ErrUnavailable marks work that could not be done because something the
	// service depends on cannot take it now: the database is unreachable,
	// restarting, or out of connections or resources. It is neither the
	// caller's fault nor a defect, and the same request may succeed shortly.
	ErrUnavailable = errors.New("unavailable")
)

// FieldError names one offending field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError collects every field that failed validation. It matches
// ErrInvalidInput (or Kind, when set) with errors.Is.
type ValidationError struct {
	Fields []FieldError
	// Kind is the sentinel the error matches; ErrInvalidInput when nil.
	Kind error
}

// Error lists the offending fields.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return fmt.Sprintf("%v: %s", e.kind(), strings.Join(parts, "; "))
}

// Is lets errors.Is match the error's kind.
func (e *ValidationError) Is(target error) bool { return target == e.kind() }

func (e *ValidationError) kind() error {
	if e.Kind == nil {
		return ErrInvalidInput
	}
	return e.Kind
}

// invalid builds a ValidationError for a single field.
func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// validation accumulates field errors.
type validation struct{ fields []FieldError }

func (v *validation) add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validation) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}
