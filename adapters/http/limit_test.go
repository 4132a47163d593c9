package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQueryLimiterQueuesInOrderAndSheds runs one query at a time: the
// others wait and are let in in the order they came, and one that waits too
// long gets a 503 problem with Retry-After. Arrivals are sequenced by the
// limiter telling when a request starts to wait, not by sleeping.
func TestQueryLimiterQueuesInOrderAndSheds(t *testing.T) {
	t.Parallel()
	l := newQueryLimiter(1, 5*time.Second)
	queued := make(chan struct{})
	l.queued = func() { queued <- struct{}{} }
	entered, release := make(chan struct{}), make(chan struct{})
	var (
		mu    sync.Mutex
		order []string
	)
	h := l.wrap(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		mu.Lock()
		order = append(order, n)
		mu.Unlock()
		if n == "first" {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	codes := make(map[string]int)
	var wg sync.WaitGroup
	call := func(n string) {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, "/leads?n="+n, nil))
		mu.Lock()
		codes[n] = rec.Code
		mu.Unlock()
	}
	wg.Go(func() { call("first") })
	<-entered
	for _, n := range []string{"a", "b", "c"} {
		wg.Go(func() { call(n) })
		<-queued // n waits in line before the next one arrives
	}
	mu.Lock()
	require.Equal(t, []string{"first"}, order, "nobody else runs while the slot is taken")
	mu.Unlock()
	close(release)
	wg.Wait()
	require.Equal(t, []string{"first", "a", "b", "c"}, order, "waiters are served first in, first out")
	for n, code := range codes {
		require.Equal(t, http.StatusOK, code, n)
	}

	// A query that cannot get in within the wait is shed with a 503.
	short := newQueryLimiter(1, 30*time.Millisecond)
	holding, block := make(chan struct{}), make(chan struct{})
	slow := short.wrap(func(http.ResponseWriter, *http.Request) { close(holding); <-block })
	go slow(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/leads", nil))
	<-holding
	rec := httptest.NewRecorder()
	short.wrap(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })(rec,
		httptest.NewRequest(http.MethodGet, "/leads", nil))
	close(block)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.EqualValues(t, 503, p["status"])

	require.Nil(t, newQueryLimiter(0, time.Second), "0 means no cap")
}
