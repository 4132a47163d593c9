// Package openapi holds the OpenAPI 3.1 description of the service's HTTP
// surface, embedded in the binary: the router serves it at /openapi.json
// and the end-to-end tests validate every request and response against it.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var source []byte

// Load parses and validates the description.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(source)
	if err != nil {
		return nil, fmt.Errorf("load openapi description: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi description is invalid: %w", err)
	}
	return doc, nil
}

// JSON returns the description as JSON.
func JSON() ([]byte, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal openapi description: %w", err)
	}
	return b, nil
}
