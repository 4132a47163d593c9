package http

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// queryLimiter admits at most n partner list queries at once and queues the
// rest in arrival order. Past that many concurrent queries the database and
// the scheduler only slice the same CPU thinner: each query takes longer
// and the slowest take far longer. Waiting in line in front of the handler
// keeps each query's own time short and the spread of latencies narrow. A
// request that has waited maxWait gets 503 with Retry-After.
//
// Each integration service also has a share: at most perService of the n
// slots run its queries. A freed slot goes to the longest-waiting query
// whose service is below its share, so one partner's burst (or its slow or
// stalled streams) waits behind that partner's own queries and always
// leaves n - perService slots to the others.
type queryLimiter struct {
	maxWait    time.Duration
	perService int

	mu      sync.Mutex
	free    int
	running map[string]int // by service
	waiting list.List      // of *queryWaiter, in arrival order
	// queued, when set, is told that a request of service has to wait,
	// once it is in line; tests order their arrivals by it.
	queued func(service string)
}

type queryWaiter struct {
	service string
	ready   chan struct{} // closed when the waiter has been given a slot
	granted bool
}

// newQueryLimiter returns nil (no limit) when n is 0 or less. Each service
// gets perService of the n slots (at most n; 0 or less: half of n, rounded
// up).
func newQueryLimiter(n, perService int, maxWait time.Duration) *queryLimiter {
	if n <= 0 {
		return nil
	}
	if perService <= 0 {
		perService = (n + 1) / 2
	}
	return &queryLimiter{maxWait: maxWait, perService: min(perService, n), free: n, running: map[string]int{}}
}

// wrap runs next once the request holds a slot. It runs behind the
// integration key check, so the path's service is a configured one and
// the per-service counts stay as few as the services.
func (l *queryLimiter) wrap(next http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		service := mux.Vars(r)["service"]
		if !l.acquire(w, r, service) {
			return
		}
		defer l.release(service)
		next(w, r)
	}
}

// acquire takes a slot for service, waiting in line when none is free to
// it. It returns false when it got none and has answered the request
// itself (503), or the client went away.
func (l *queryLimiter) acquire(w http.ResponseWriter, r *http.Request, service string) bool {
	l.mu.Lock()
	// A free slot means nobody who may take one is waiting: a release
	// hands slots to eligible waiters before anyone else sees them.
	if l.free > 0 && l.running[service] < l.perService {
		l.take(service)
		l.mu.Unlock()
		return true
	}
	wt := &queryWaiter{service: service, ready: make(chan struct{})}
	elem := l.waiting.PushBack(wt)
	l.mu.Unlock()
	if l.queued != nil {
		l.queued(service)
	}

	ctx := r.Context()
	if l.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.maxWait)
		defer cancel()
	}
	select {
	case <-wt.ready:
		return true
	case <-ctx.Done():
	}
	l.mu.Lock()
	if wt.granted { // given a slot just as the wait ended: give it back
		l.mu.Unlock()
		l.release(service)
	} else {
		l.waiting.Remove(elem)
		l.mu.Unlock()
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return false // the client went away; nobody reads an answer
	}
	w.Header().Set("Retry-After", "1")
	writeProblem(w, Problem{Type: "/problems/busy", Title: "Service busy", Status: http.StatusServiceUnavailable,
		Detail: "too many list queries at once; retry shortly"})
	return false
}

// take gives service a slot; l.mu is held.
func (l *queryLimiter) take(service string) {
	l.free--
	l.running[service]++
}

// release frees service's slot and hands the free slots to the
// longest-waiting queries whose services are below their share.
func (l *queryLimiter) release(service string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.free++
	if l.running[service]--; l.running[service] == 0 {
		delete(l.running, service)
	}
	for e := l.waiting.Front(); e != nil && l.free > 0; {
		next := e.Next()
		if wt := e.Value.(*queryWaiter); l.running[wt.service] < l.perService {
			l.waiting.Remove(e)
			l.take(wt.service)
			wt.granted = true
			close(wt.ready)
		}
		e = next
	}
}
