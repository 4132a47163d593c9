package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// queryLimiter admits at most n partner list queries at once and queues the
// rest in arrival order (x/sync's semaphore serves waiters first in, first
// out). Past that many concurrent queries the database and the scheduler
// only slice the same CPU thinner: each query takes longer and the slowest
// take far longer. Waiting in line in front of the handler keeps each
// query's own time short and the spread of latencies narrow. A request that
// has waited maxWait gets 503 with Retry-After.
type queryLimiter struct {
	sem     *semaphore.Weighted
	maxWait time.Duration
	// queued, when set, is told that a request found every slot taken
	// and is about to wait (tests order their arrivals by it).
	queued func()
}

// newQueryLimiter returns nil (no limit) when n is 0 or less.
func newQueryLimiter(n int, maxWait time.Duration) *queryLimiter {
	if n <= 0 {
		return nil
	}
	return &queryLimiter{sem: semaphore.NewWeighted(int64(n)), maxWait: maxWait}
}

func (l *queryLimiter) wrap(next http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !l.sem.TryAcquire(1) && !l.await(w, r) {
			return
		}
		defer l.sem.Release(1)
		next(w, r)
	}
}

// await waits in line for a slot. It returns false when it got none and has
// answered the request itself (503), or the client went away.
func (l *queryLimiter) await(w http.ResponseWriter, r *http.Request) bool {
	if l.queued != nil {
		l.queued()
	}
	ctx := r.Context()
	if l.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.maxWait)
		defer cancel()
	}
	if err := l.sem.Acquire(ctx, 1); err == nil {
		return true
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return false // the client went away; nobody reads an answer
	}
	w.Header().Set("Retry-After", "1")
	writeProblem(w, Problem{Type: "/problems/busy", Title: "Service busy", Status: http.StatusServiceUnavailable,
		Detail: "too many list queries at once; retry shortly"})
	return false
}
