package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aurix/integrations/ports"
)

// Heartbeat keeps a worker process registered as alive, and hands the
// deliveries of dead processes to the living.
//
// The others take a process's deliveries when it has been silent for
// DeadAfter, or for Lockless while its liveness session (a connection
// holding a lock, which PostgreSQL drops when the connection closes) is
// gone: a killed process is noticed within seconds. A live process never
// loses what it is sending to another, and a partner never gets more
// attempts at once than the cap allows: a process stops starting attempts
// after FenceAfter without a successful heartbeat (FenceAfter plus one
// attempt's timeout is less than DeadAfter), and when its liveness session
// fails it cuts its attempts short at once, well within Lockless.
type Heartbeat struct {
	Registry ports.ProcessRegistry
	Info     ports.ProcessInfo
	// NewID mints a process id (a fresh one each time the process joins).
	NewID func() string
	// Interval between heartbeats.
	Interval time.Duration
	// FenceAfter without a successful heartbeat, MaySend turns false.
	FenceAfter time.Duration
	// DeadAfter and Lockless decide when another process is dead.
	DeadAfter, Lockless time.Duration
	// Working lists the deliveries the process is attempting.
	Working func() []int64
	// LostSession is called when the liveness session failed: attempts
	// in flight must stop now.
	LostSession func()
	Logger      *slog.Logger

	mu      sync.Mutex
	session ports.ProcessSession
	lastOK  time.Time
	failing bool
}

// Start joins the registry; it must succeed before any claim.
func (h *Heartbeat) Start(ctx context.Context) error {
	info := h.Info
	info.ID = h.NewID()
	s, err := h.Registry.Join(ctx, info)
	if err != nil {
		return fmt.Errorf("register worker process: %w", err)
	}
	h.mu.Lock()
	h.session, h.lastOK = s, time.Now()
	h.mu.Unlock()
	return nil
}

// ID returns the id the process claims under now ("" while it has none).
func (h *Heartbeat) ID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.session == nil {
		return ""
	}
	return h.session.ID()
}

// MaySend reports whether the process may start attempts: it is joined and
// its last successful heartbeat is recent enough.
func (h *Heartbeat) MaySend() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.session != nil && time.Since(h.lastOK) < h.FenceAfter
}

// Run beats until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) {
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.beat(ctx)
	}
}

func (h *Heartbeat) beat(ctx context.Context) {
	h.mu.Lock()
	s := h.session
	h.mu.Unlock()
	if s == nil {
		h.rejoin(ctx, "")
		return
	}
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, h.Interval*2)
	alive, err := s.Heartbeat(bctx)
	cancel()
	switch {
	case err != nil:
		// The liveness connection is failing: the others may soon see the
		// lock gone. Stop every attempt now, and come back as a new process.
		h.drop(s)
		if h.LostSession != nil {
			h.LostSession()
		}
		h.logOnce(ctx, "the liveness session failed; attempts stopped until this process joins again", err)
		h.rejoin(ctx, s.ID())
		return
	case !alive:
		h.drop(s)
		if h.LostSession != nil {
			h.LostSession()
		}
		h.Logger.WarnContext(ctx, "this worker process had been declared dead; joining again", "old_process_id", s.ID())
		h.rejoin(ctx, s.ID())
		return
	}
	h.mu.Lock()
	h.lastOK, h.failing = start, false
	h.mu.Unlock()
	// Lost claims are not urgent: a busy pool must not hold up the next
	// heartbeat for them.
	hctx, cancel := context.WithTimeout(ctx, h.Interval)
	_, err = s.HandBack(hctx, h.Working())
	cancel()
	if err != nil {
		h.logOnce(ctx, "handing back lost claims failed; the next heartbeat tries again", err)
	}
	procs, dels, err := h.Registry.ReleaseDead(ctx, h.DeadAfter, h.Lockless)
	if err != nil {
		h.logOnce(ctx, "looking for dead worker processes failed", err)
		return
	}
	if procs > 0 {
		h.Logger.WarnContext(ctx, "declared worker processes dead; their deliveries are due again",
			"processes", procs, "deliveries", dels, "by_process_id", s.ID())
	}
}

func (h *Heartbeat) drop(s ports.ProcessSession) {
	h.mu.Lock()
	if h.session == s {
		h.session = nil
	}
	h.mu.Unlock()
	s.Close()
}

func (h *Heartbeat) rejoin(ctx context.Context, old string) {
	if err := h.Start(ctx); err != nil {
		h.logOnce(ctx, "joining again failed; retrying", err)
		return
	}
	h.Logger.InfoContext(ctx, "worker process joined again", "process_id", h.ID(), "old_process_id", old)
}

// logOnce logs a failure once per run of failures.
func (h *Heartbeat) logOnce(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// The process is stopping: what it cut short is no failure.
		return
	}
	h.mu.Lock()
	first := !h.failing
	h.failing = true
	h.mu.Unlock()
	if first {
		h.Logger.WarnContext(ctx, msg, "err", err)
	}
}

// Stop leaves the registry: what the process still owns is handed back at
// once.
func (h *Heartbeat) Stop(ctx context.Context) error {
	h.mu.Lock()
	s := h.session
	h.session = nil
	h.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Leave(ctx)
}
