// Package worker drives the delivery use cases in a worker process: a loop
// that claims due deliveries and runs each attempt in its own goroutine,
// and the heartbeat that keeps the process's claims its own. Deliveries are
// rows in PostgreSQL, so the loop holds only what it is sending: a backlog
// stays in the database, and any number of worker processes share it.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Options configure an Engine.
type Options struct {
	Work ports.DeliveryWork
	// Identity returns the process id its claims are made under (it changes
	// when the process had been declared dead and registered again).
	Identity func() string
	// MaySend reports whether the process can start attempts now (false
	// while it cannot prove to the others that it is alive).
	MaySend func() bool
	// Workers and RetryWorkers bound the first attempts and the retries in
	// flight in this process.
	Workers, RetryWorkers int
	// PollInterval is the longest the loop sleeps when nothing wakes it.
	PollInterval time.Duration
	// ClaimPause is the shortest time between two claim rounds: under load
	// the deliveries committed meanwhile are claimed together.
	ClaimPause time.Duration
	Logger     *slog.Logger
	Tracer     trace.Tracer
}

// Engine is one process's delivery loop.
type Engine struct {
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	working map[int64]bool // delivery id → is a retry
	firsts  int
	retries int

	attempts sync.WaitGroup
	// abortCtx is the context attempts run on; cancelling it cuts them
	// short (they are handed back unattempted). Abort cancels it for good
	// (shutdown), CutAttempts replaces it (lost liveness).
	abortCtx context.Context
	abort    context.CancelFunc

	stopped  bool
	errorLog *slog.Logger
	lastErr  time.Time

	// The configs the last look for due deliveries found, and when it was:
	// between looks a round claims from those directly (a claim finds
	// nothing when nothing is due), so a busy worker does not ask the
	// database where work is before every claim.
	due      []ports.DueConfig
	probedAt time.Time
	// hints are configs this process just opened deliveries for.
	hints map[string]bool
}

// probeEvery is the most often a worker looks for where work is due.
const probeEvery = 100 * time.Millisecond

// NewEngine returns an engine; Run starts it.
func NewEngine(o Options) *Engine {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{o: o, wake: make(chan struct{}, 1), working: map[int64]bool{}, abortCtx: ctx, abort: cancel,
		errorLog: o.Logger, hints: map[string]bool{}}
}

// Wake makes the loop look for due deliveries now (after a commit that
// opened some, a notification from another process, a freed slot).
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Working lists the deliveries this process is attempting now.
func (e *Engine) Working() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int64, 0, len(e.working))
	for id := range e.working {
		ids = append(ids, id)
	}
	return ids
}

// InFlight returns how many attempts are running.
func (e *Engine) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.firsts + e.retries
}

// Run claims and attempts deliveries until ctx ends, then waits for the
// attempts in flight to finish (Abort cuts them short).
func (e *Engine) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			e.attempts.Wait()
			return
		case <-e.wake:
		case <-timer.C:
		}
		next := e.round(ctx)
		if e.o.ClaimPause > 0 {
			pause := time.NewTimer(e.o.ClaimPause)
			select {
			case <-ctx.Done():
			case <-pause.C:
			}
			pause.Stop()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// Abort cancels the attempts still running, and every later one; each is
// handed back unattempted, for another process or the next start.
func (e *Engine) Abort() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.abort()
	e.stopped = true
}

// CutAttempts cancels the attempts running now (the process lost its
// liveness session, so another may soon take their deliveries); attempts
// started later run normally.
func (e *Engine) CutAttempts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return
	}
	e.abort()
	e.abortCtx, e.abort = context.WithCancel(context.Background())
}

func (e *Engine) attemptContext() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.abortCtx
}

// round claims what is due for every config there is room for, and returns
// how long the loop may sleep before the next round.
func (e *Engine) round(ctx context.Context) time.Duration {
	next := e.o.PollInterval
	if e.o.MaySend != nil && !e.o.MaySend() {
		return next
	}
	room := e.room()
	if room.FirstAttempts == 0 && room.Retries == 0 {
		return next // a finishing attempt wakes the loop
	}
	now := time.Now()
	if now.Sub(e.probedAt) >= probeEvery {
		due, err := e.o.Work.Due(ctx)
		if err != nil {
			e.logError(ctx, "looking for due deliveries failed; retrying", err)
			return min(next, time.Second)
		}
		e.due, e.probedAt = due, now
	}
	e.takeHints(now)
	for i := range e.due {
		d := &e.due[i]
		if wait := d.NextDue.Sub(now); wait > 0 {
			next = min(next, wait)
			continue
		}
		room = e.room()
		if !d.RetriesDue {
			room.Retries = 0
		}
		if room.FirstAttempts == 0 && room.Retries == 0 {
			continue
		}
		owner := e.o.Identity()
		cctx, span := startClaimSpan(ctx, e.o.Tracer, d.ConfigID)
		claimed, more, err := e.o.Work.Claim(cctx, owner, d.ConfigID, room)
		span.SetAttributes(AttrClaimed.Int(len(claimed)))
		if err != nil {
			span.SetStatus(codes.Error, "claim failed")
		}
		span.End()
		if err != nil {
			e.logError(ctx, "claiming deliveries failed; retrying", err)
			next = min(next, time.Second)
			continue
		}
		for _, c := range claimed {
			e.start(owner, c, span.SpanContext())
		}
		switch {
		case len(claimed) == room.FirstAttempts+room.Retries:
			next = 0 // the worker is full; there may be more
		case more:
			// The config's cap or rate limit held the rest back: try again
			// when an attempt of this process ends, or soon (the slots may
			// be held by other processes).
			next = min(next, heldBack)
		default:
			// Everything due was taken: nothing more until this process
			// opens deliveries for the config, or the next look.
			d.NextDue = now.Add(probeEvery)
		}
	}
	return next
}

// heldBack is how soon a config where a claim found nothing is tried again
// when nothing tells the loop of new work for it.
const heldBack = 50 * time.Millisecond

// WakeFor makes the loop claim for these configs now: deliveries to them
// were just committed in this process.
func (e *Engine) WakeFor(configIDs []string) {
	e.mu.Lock()
	for _, id := range configIDs {
		e.hints[id] = true
	}
	e.mu.Unlock()
	e.Wake()
}

// takeHints marks the configs this process opened deliveries for as due now
// (adding those the last look did not list).
func (e *Engine) takeHints(now time.Time) {
	e.mu.Lock()
	hints := e.hints
	e.hints = map[string]bool{}
	e.mu.Unlock()
	for i := range e.due {
		if hints[e.due[i].ConfigID] {
			e.due[i].NextDue = now
			delete(hints, e.due[i].ConfigID)
		}
	}
	for id := range hints {
		e.due = append(e.due, ports.DueConfig{ConfigID: id, NextDue: now})
	}
}

func (e *Engine) room() ports.ClaimRoom {
	e.mu.Lock()
	defer e.mu.Unlock()
	return ports.ClaimRoom{FirstAttempts: max(0, e.o.Workers-e.firsts), Retries: max(0, e.o.RetryWorkers-e.retries)}
}

// start runs one claimed delivery's attempt in its own goroutine; claim is
// the span context of the claim that took it.
func (e *Engine) start(owner string, c ports.Claimed, claim trace.SpanContext) {
	id, retry := c.Job.Delivery.ID(), c.Job.Delivery.Attempts() > 0
	e.mu.Lock()
	e.working[id] = retry
	if retry {
		e.retries++
	} else {
		e.firsts++
	}
	e.mu.Unlock()
	e.attempts.Add(1)
	go func() {
		defer e.finish(id, retry)
		e.attempt(owner, c, claim)
	}()
}

func (e *Engine) finish(id int64, retry bool) {
	e.mu.Lock()
	delete(e.working, id)
	if retry {
		e.retries--
	} else {
		e.firsts--
	}
	e.mu.Unlock()
	e.attempts.Done()
	e.Wake()
}

func (e *Engine) attempt(owner string, c ports.Claimed, claim trace.SpanContext) {
	ctx := e.attemptContext()
	if wait := time.Until(c.StartAt); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if ctx.Err() != nil || (e.o.MaySend != nil && !e.o.MaySend()) {
		// Not sent: hand it back so that it is due again at once.
		rctx, span := startReleaseSpan(context.WithoutCancel(ctx), e.o.Tracer, c, claim)
		defer span.End()
		if err := e.o.Work.Release(rctx, owner, []int64{c.Job.Delivery.ID()}); err != nil {
			span.SetStatus(codes.Error, "hand-back failed")
			e.logError(rctx, "handing back an unsent delivery failed; the heartbeat will", err)
		}
		return
	}
	ctx, span := startAttemptSpan(ctx, e.o.Tracer, c, claim)
	defer span.End()
	report, err := e.o.Work.Attempt(ctx, owner, c)
	annotateAttempt(span, c, report)
	if err != nil || report.Err != "" {
		span.SetStatus(codes.Error, "delivery attempt failed")
	}
	if err != nil {
		e.logError(ctx, "recording a delivery attempt failed; it will be made again", err,
			"delivery_id", c.Job.Delivery.ID(), "webhook_config_id", c.Config.ID())
		return
	}
	if report.Status == domain.DeliveryExhausted || report.Status == domain.DeliveryFailed {
		e.o.Logger.WarnContext(ctx, "webhook delivery failed for good",
			"delivery_id", c.Job.Delivery.ID(), "webhook_config_id", c.Config.ID(), "integration", c.Config.Service(),
			"attempt", report.Attempt, "status_code", report.StatusCode, "status", string(report.Status))
	}
}

// logError logs at most one error a second, so a database outage does not
// flood the log.
func (e *Engine) logError(ctx context.Context, msg string, err error, args ...any) {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// The process is stopping: what it cut short is no error.
		return
	}
	e.mu.Lock()
	if time.Since(e.lastErr) < time.Second {
		e.mu.Unlock()
		return
	}
	e.lastErr = time.Now()
	e.mu.Unlock()
	e.errorLog.ErrorContext(ctx, msg, append(args, "err", err)...)
}
