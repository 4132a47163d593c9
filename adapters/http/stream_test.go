package http

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// endlessClicks lists clicks without end (one with a limit) and reports
// the error that stopped an unlimited listing.
type endlessClicks struct{ stopped chan error }

func (endlessClicks) ListLeads(context.Context, ports.PageQuery, func(ports.LeadRecord) error) (*ports.PageKey, error) {
	return nil, nil
}

func (e endlessClicks) ListAttribution(_ context.Context, q ports.PageQuery, emit func(ports.AttributionRecord) error) (*ports.PageKey, error) {
	rec := ports.AttributionRecord{Click: domain.WidgetClickData{CorrelationID: "O-abcdef", ClickURL: "https://example.com/" +
		strings.Repeat("x", 1000)}, CreatedAt: time.Now()}
	for i := int64(1); ; i++ {
		rec.ID = i
		if err := emit(rec); err != nil {
			e.stopped <- err
			return nil, err
		}
		if q.Limit > 0 && int(i) == q.Limit {
			return nil, nil
		}
	}
}

// TestStalledStreamIsCutAndFreesItsSlot: a client that asks for an
// unpaged listing and then reads nothing loses the stream once a write has
// waited the stall timeout, and its slot goes to the next query (with one
// slot, that query could not run otherwise).
func TestStalledStreamIsCutAndFreesItsSlot(t *testing.T) {
	t.Parallel()
	stopped := make(chan error, 1)
	h := &handlers{deps: Deps{Partner: endlessClicks{stopped: stopped}, StreamStallTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}}
	lists := newQueryLimiter(1, 0, 30*time.Second)
	r := mux.NewRouter()
	r.HandleFunc("/api/integrations/{service}/attribution", lists.wrap(h.listAttribution))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	_, err = fmt.Fprintf(conn, "GET /api/integrations/a/attribution HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Listener.Addr())
	require.NoError(t, err)

	// The bound only keeps a stream that is never cut from hanging the test.
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the stream ends on its write deadline")
	case <-time.After(30 * time.Second):
		t.Fatal("a stream nobody reads was not cut")
	}

	resp, err := srv.Client().Get(srv.URL + "/api/integrations/a/attribution?limit=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the cut stream's slot is free: %s", body)
}
