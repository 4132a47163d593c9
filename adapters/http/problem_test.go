package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// TestUnavailableIs503WithRetryAfter: an error that says the database
// cannot serve, however deeply wrapped, is a 503 problem with Retry-After,
// and its detail says nothing of the cause.
func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	cause := errors.New("failed to connect to `user=postgres database=aurix`: 10.0.0.5:5432: connection refused")
	err := fmt.Errorf("record click: transaction: %w", fmt.Errorf("%w: %w", domain.ErrUnavailable, cause))
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodPost, "/api/widget/click", nil), slog.New(slog.DiscardHandler), err)

	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.Equal(t, unavailableRetryAfter, rec.Header().Get("Retry-After"))
	var p Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: p.Detail}, p)
	require.NotContains(t, p.Detail, "10.0.0.5")
	require.NotContains(t, p.Detail, "postgres")
	require.NotEmpty(t, p.Detail)
}
