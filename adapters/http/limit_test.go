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
// long gets a 503 problem with Retry-After.
func TestQueryLimiterQueuesInOrderAndSheds(t *testing.T) {
	t.Parallel()
	l := newQueryLimiter(1, 2*time.Second)
	release := make(chan struct{})
	var (
		mu    sync.Mutex
		order []string
	)
	h := l.wrap(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Query().Get("n"))
		mu.Unlock()
		if r.URL.Query().Get("n") == "first" {
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
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 }, 2*time.Second, time.Millisecond)
	for _, n := range []string{"a", "b", "c"} {
		wg.Go(func() { call(n) })
		time.Sleep(20 * time.Millisecond) // arrive one after another
	}
	time.Sleep(50 * time.Millisecond)
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
	block := make(chan struct{})
	slow := short.wrap(func(w http.ResponseWriter, _ *http.Request) { <-block })
	go slow(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/leads", nil))
	time.Sleep(10 * time.Millisecond)
	rec := httptest.NewRecorder()
	slow(rec, httptest.NewRequest(http.MethodGet, "/leads", nil))
	close(block)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.EqualValues(t, 503, p["status"])

	require.Nil(t, newQueryLimiter(0, time.Second), "0 means no cap")
}
