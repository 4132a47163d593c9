package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

// decodeError is a body that is not the JSON the endpoint expects.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return e.msg }

// mediaTypeError is a body declared as something other than JSON.
type mediaTypeError struct{ msg string }

func (e *mediaTypeError) Error() string { return e.msg }

// checkJSONContentType accepts application/json, with no charset or
// charset=utf-8 (any case). Anything else, a missing Content-Type included,
// is refused before the body is read: the API is JSON in and out, and a
// body labelled otherwise was not meant for it.
func checkJSONContentType(r *http.Request) error {
	const want = "request body must be sent as Content-Type: application/json"
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &mediaTypeError{msg: want}
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return &mediaTypeError{msg: want + " (UTF-8, the only charset)"}
		}
	}
	return nil
}

// decodeJSON reads one JSON object of at most MaxBodyBytes into v. A body
// not declared as application/json is a mediaTypeError; wrong types,
// malformed JSON, invalid UTF-8, a value other than an object and trailing
// data are decodeErrors; an oversized body is an *http.MaxBytesError.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return &decodeError{msg: "could not read request body"}
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD, so the value
	// stored would silently differ from the one sent.
	if !utf8.Valid(body) {
		return &decodeError{msg: "request body must be UTF-8"}
	}
	// Only an object: encoding/json would take null as "no fields".
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
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
