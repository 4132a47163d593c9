package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aurix/integrations/ports"
)

// Heartbeat keeps a worker process registered as alive. The others hand
// its deliveries to the living only once it has been silent for the
// registry's dead-after time; the process itself stops starting attempts
// well before that (FenceAfter without a successful heartbeat), so that no
// attempt of a process declared dead is still under way: a live process
// never loses what it is sending, and a partner never gets more attempts at
// once than the in-flight cap allows.
type Heartbeat struct {
	Registry ports.ProcessRegistry
	Info     ports.ProcessInfo
	// NewID mints a process id (a fresh one when the old was declared dead).
	NewID func() string
	// Interval between heartbeats.
	Interval time.Duration
	// FenceAfter without a successful heartbeat, MaySend turns false.
	FenceAfter time.Duration
	// Working lists the deliveries the process is attempting.
	Working func() []int64
	Logger  *slog.Logger

	mu     sync.Mutex
	id     string
	lastOK time.Time
}

// Start registers the process; it must succeed before any claim.
func (h *Heartbeat) Start(ctx context.Context) error {
	h.mu.Lock()
	h.id = h.NewID()
	info := h.Info
	info.ID = h.id
	h.mu.Unlock()
	if err := h.Registry.Register(ctx, info); err != nil {
		return fmt.Errorf("register worker process: %w", err)
	}
	h.mu.Lock()
	h.lastOK = time.Now()
	h.mu.Unlock()
	return nil
}

// ID returns the id the process claims under now.
func (h *Heartbeat) ID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id
}

// MaySend reports whether the last successful heartbeat is recent enough.
func (h *Heartbeat) MaySend() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Since(h.lastOK) < h.FenceAfter
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
	id := h.ID()
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, h.Interval*2)
	defer cancel()
	alive, err := h.Registry.Heartbeat(bctx, id, h.Working())
	if err != nil {
		if !h.MaySend() {
			h.Logger.WarnContext(ctx, "heartbeat failing; this process starts no delivery attempt until it succeeds", "err", err)
		}
		return
	}
	if !alive {
		// Declared dead (silent too long): whatever it owned is someone
		// else's now. Come back under a new identity.
		h.Logger.WarnContext(ctx, "this worker process had been declared dead; registering again", "old_process_id", id)
		if err := h.Start(ctx); err != nil {
			h.Logger.WarnContext(ctx, "registering again failed", "err", err)
		}
		return
	}
	h.mu.Lock()
	h.lastOK = start
	h.mu.Unlock()
}

// Stop deregisters the process: what it still owns is handed back at once.
func (h *Heartbeat) Stop(ctx context.Context) error {
	return h.Registry.Deregister(ctx, h.ID())
}
