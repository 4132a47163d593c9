package openapi_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/http/openapi"
)

func TestDescriptionIsValid(t *testing.T) {
	t.Parallel()
	doc, err := openapi.Load()
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	b, err := openapi.JSON()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m, "webhooks")
	require.Contains(t, m["paths"], "/api/widget/click")
}
