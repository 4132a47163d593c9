package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
)

// TestQueryLimiterQueuesInOrderAndSheds runs one query at a time: the
// others wait and are let in in the order they came, and one that waits too
// long gets a 503 problem with Retry-After. Arrivals are sequenced by the
// limiter telling when a request starts to wait, not by sleeping.
func TestQueryLimiterQueuesInOrderAndSheds(t *testing.T) {
	t.Parallel()
	l := newQueryLimiter(1, 0, 5*time.Second)
	queued := make(chan struct{})
	l.queued = func(string) { queued <- struct{}{} }
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
	short := newQueryLimiter(1, 0, 30*time.Millisecond)
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

	require.Nil(t, newQueryLimiter(0, 0, time.Second), "0 means no cap")
}

// TestQueryLimiterGivesEachServiceItsShare: with four slots, a service gets
// half of them (the default share); its further queries wait in its own
// line while another service's query runs at once, and a freed slot of the
// service goes to its own waiters. Arrivals are sequenced by the limiter's
// queued signal and the handlers' entry, not by sleeping.
func TestQueryLimiterGivesEachServiceItsShare(t *testing.T) {
	t.Parallel()
	l := newQueryLimiter(4, 0, 10*time.Second)
	queued, entered := make(chan string), make(chan string)
	l.queued = func(service string) { queued <- "queued " + service }
	release := map[string]chan struct{}{}
	for _, n := range []string{"a1", "a2", "a3", "a4", "b1"} {
		release[n] = make(chan struct{})
	}
	h := l.wrap(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		entered <- "entered " + n
		<-release[n]
		w.WriteHeader(http.StatusOK)
	})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[string]int{}
	)
	start := func(service, n string) {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			req := mux.SetURLVars(httptest.NewRequest(http.MethodGet, "/leads?n="+n, nil), map[string]string{"service": service})
			h(rec, req)
			mu.Lock()
			codes[n] = rec.Code
			mu.Unlock()
		})
	}
	// next is what happened first: a handler entered or a request queued.
	// The bound only keeps a broken limiter from hanging the test.
	next := func() string {
		select {
		case s := <-entered:
			return s
		case s := <-queued:
			return s
		case <-time.After(10 * time.Second):
			return "nothing within 10s"
		}
	}

	start("a", "a1")
	require.Equal(t, "entered a1", next())
	start("a", "a2")
	require.Equal(t, "entered a2", next())
	start("a", "a3")
	require.Equal(t, "queued a", next(), "a's third query waits: its share is two of the four slots")
	start("a", "a4")
	require.Equal(t, "queued a", next())
	start("b", "b1")
	require.Equal(t, "entered b1", next(), "b runs at once while a waits for its share")
	close(release["b1"])

	close(release["a1"])
	require.Equal(t, "entered a3", next(), "a's freed slot goes to a's line, first come first served")
	close(release["a2"])
	require.Equal(t, "entered a4", next())
	close(release["a3"])
	close(release["a4"])
	wg.Wait()
	for n, code := range codes {
		require.Equal(t, http.StatusOK, code, n)
	}
}

// TestQueryLimiterSkipsWaitersAtTheirShare: a freed slot goes to the
// longest-waiting query whose service is below its share, not to an older
// one of a service that already runs its share.
func TestQueryLimiterSkipsWaitersAtTheirShare(t *testing.T) {
	t.Parallel()
	l := newQueryLimiter(3, 2, 10*time.Second)
	queued, entered := make(chan string), make(chan string)
	l.queued = func(service string) { queued <- "queued " + service }
	release := map[string]chan struct{}{}
	for _, n := range []string{"a1", "a2", "a3", "b1", "b2"} {
		release[n] = make(chan struct{})
	}
	h := l.wrap(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		entered <- "entered " + n
		<-release[n]
		w.WriteHeader(http.StatusOK)
	})
	var wg sync.WaitGroup
	start := func(service, n string) {
		wg.Go(func() {
			h(httptest.NewRecorder(), mux.SetURLVars(httptest.NewRequest(http.MethodGet, "/leads?n="+n, nil),
				map[string]string{"service": service}))
		})
	}
	next := func() string {
		select {
		case s := <-entered:
			return s
		case s := <-queued:
			return s
		case <-time.After(10 * time.Second):
			return "nothing within 10s"
		}
	}
	for _, s := range [][2]string{{"a", "a1"}, {"a", "a2"}, {"b", "b1"}} {
		start(s[0], s[1])
		require.Equal(t, "entered "+s[1], next())
	}
	start("a", "a3")
	require.Equal(t, "queued a", next())
	start("b", "b2")
	require.Equal(t, "queued b", next(), "every slot is taken")
	close(release["b1"])
	require.Equal(t, "entered b2", next(), "a3 came first but a already runs its share")
	close(release["a1"])
	require.Equal(t, "entered a3", next())
	for _, n := range []string{"a2", "a3", "b2"} {
		close(release[n])
	}
	wg.Wait()
}

// TestQueryLimiterShareBounds: the share defaults to half the slots,
// rounded up, and never exceeds them.
func TestQueryLimiterShareBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ n, perService, want int }{{4, 0, 2}, {5, 0, 3}, {1, 0, 1}, {4, 3, 3}, {4, 9, 4}} {
		require.Equal(t, tt.want, newQueryLimiter(tt.n, tt.perService, time.Second).perService, "%+v", tt)
	}
}
