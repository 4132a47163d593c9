package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/sync/semaphore"
)

// queryLimiter admits at most n partner list queries at once and queues the
// rest in arrival order (x/sync's semaphore serves waiters first in, first
// out). Past that many concurrent queries the database and the scheduler
// only slice the same CPU thinner: each query takes longer and the slowest
// take far longer. Waiting in line in front of the handler keeps each
// query's own time short and the spread of latencies narrow. A request that
// has waited maxWait gets 503 with Retry-After.
//
// Each integration service also has a share: at most perService of the n
// slots. A service's query first waits in its own line for one of its
// share, and only then in the common line, so one partner's burst (or its
// slow or stalled streams) waits behind that partner's own queries and
// always leaves n - perService slots to the others. The common line holds
// at most perService queries of any one service, so nobody waits behind
// more than that many of another's.
type queryLimiter struct {
	global   *semaphore.Weighted
	services map[string]*semaphore.Weighted
	maxWait  time.Duration
	// queued, when set, is told that a request of service found its
	// share or every slot taken and is about to wait (tests order their
	// arrivals by it).
	queued func(service string)
}

// newQueryLimiter returns nil (no limit) when n is 0 or less. Each of
// services gets perService of the n slots (at most n; 0 or less: half of
// n, rounded up).
func newQueryLimiter(n, perService int, services []string, maxWait time.Duration) *queryLimiter {
	if n <= 0 {
		return nil
	}
	if perService <= 0 {
		perService = (n + 1) / 2
	}
	perService = min(perService, n)
	l := &queryLimiter{global: semaphore.NewWeighted(int64(n)), services: make(map[string]*semaphore.Weighted, len(services)),
		maxWait: maxWait}
	for _, s := range services {
		l.services[s] = semaphore.NewWeighted(int64(perService))
	}
	return l
}

// wrap runs next once the request holds a slot of its service's share and
// one of the common slots. It must run behind the integration key check,
// which makes the path's service a configured one.
func (l *queryLimiter) wrap(next http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		service := mux.Vars(r)["service"]
		share := l.services[service] // nil only for a service the key check would have refused
		if !l.tryAcquire(share) && !l.await(w, r, service, share) {
			return
		}
		defer l.release(share)
		next(w, r)
	}
}

// tryAcquire takes a slot of share and a common one if both are free now.
func (l *queryLimiter) tryAcquire(share *semaphore.Weighted) bool {
	if share != nil && !share.TryAcquire(1) {
		return false
	}
	if !l.global.TryAcquire(1) {
		if share != nil {
			share.Release(1)
		}
		return false
	}
	return true
}

func (l *queryLimiter) release(share *semaphore.Weighted) {
	l.global.Release(1)
	if share != nil {
		share.Release(1)
	}
}

// await waits in the service's line, then in the common one. It returns
// false when it got no slot and has answered the request itself (503), or
// the client went away.
func (l *queryLimiter) await(w http.ResponseWriter, r *http.Request, service string, share *semaphore.Weighted) bool {
	if l.queued != nil {
		l.queued(service)
	}
	ctx := r.Context()
	if l.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.maxWait)
		defer cancel()
	}
	var err error
	if share != nil {
		err = share.Acquire(ctx, 1)
	}
	if err == nil {
		if err = l.global.Acquire(ctx, 1); err == nil {
			return true
		}
		if share != nil {
			share.Release(1)
		}
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return false // the client went away; nobody reads an answer
	}
	w.Header().Set("Retry-After", "1")
	writeProblem(w, Problem{Type: "/problems/busy", Title: "Service busy", Status: http.StatusServiceUnavailable,
		Detail: "too many list queries at once; retry shortly"})
	return false
}
