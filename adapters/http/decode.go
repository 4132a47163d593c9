package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

// decodeError is a body that is not the JSON the endpoint expects.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return e.msg }

// decodeJSON reads one JSON object of at most MaxBodyBytes into v. Wrong
// types, malformed JSON and trailing data are decodeErrors; an oversized body
// is an *http.MaxBytesError.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return &decodeError{msg: "could not read request body"}
	}
	if len(body) == 0 {
		return &decodeError{msg: "request body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			if te.Field == "" {
				return &decodeError{msg: "request body must be a JSON object"}
			}
			return &decodeError{msg: fmt.Sprintf("field %s must be of type %s", te.Field, jsonType(te.Type.Kind().String()))}
		case errors.As(err, &se):
			return &decodeError{msg: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
		default:
			return &decodeError{msg: "malformed JSON"}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &decodeError{msg: "request body must hold a single JSON value"}
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "ptr":
		return "the documented type"
	default:
		return "number"
	}
}
