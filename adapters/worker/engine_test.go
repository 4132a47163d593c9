package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/worker"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// within is how long a test waits for something the loop does at once: a
// deadline for a stuck test on a busy machine, never a measure of speed.
const within = 15 * time.Second

const testConfig = "0190a000-0000-7000-8000-000000000001"

// release is one call of Release.
type release struct {
	owner string
	ids   []int64
}

// fakeWork is the delivery use cases as the loop sees them: one config is
// always due, each Claim hands out the next scripted batch (then nothing),
// an attempt runs attempt (by default it waits until its context ends, as
// a send to a partner that does not answer), and every Release is reported.
type fakeWork struct {
	mu      sync.Mutex
	batches [][]ports.Claimed
	claims  atomic.Int32
	// onClaim runs inside Claim, before it returns the batch.
	onClaim func()
	attempt func(ctx context.Context, c ports.Claimed) ports.AttemptReport

	claiming   chan struct{} // Claim was called
	attempting chan int64    // an attempt started (delivery id)
	attempted  chan int64    // an attempt returned
	released   chan release  // Release was called
}

func newFakeWork(batches ...[]ports.Claimed) *fakeWork {
	return &fakeWork{batches: batches, claiming: make(chan struct{}, 100), attempting: make(chan int64, 16), attempted: make(chan int64, 16),
		released: make(chan release, 16)}
}

var _ ports.DeliveryWork = (*fakeWork)(nil)

func (f *fakeWork) Due(context.Context) ([]ports.DueConfig, error) {
	return []ports.DueConfig{{ConfigID: testConfig}}, nil
}

func (f *fakeWork) Claim(_ context.Context, _, _ string, room ports.ClaimRoom) ([]ports.Claimed, bool, error) {
	f.claims.Add(1)
	select {
	case f.claiming <- struct{}{}:
	default:
	}
	if f.onClaim != nil {
		f.onClaim()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) == 0 {
		return nil, false, nil
	}
	batch := f.batches[0]
	if len(batch) > room.FirstAttempts {
		panic("the test's batch is larger than the room the engine offered")
	}
	f.batches = f.batches[1:]
	return batch, false, nil
}

func (f *fakeWork) Attempt(ctx context.Context, _ string, c ports.Claimed) (ports.AttemptReport, error) {
	id := c.Job.Delivery.ID()
	f.attempting <- id
	defer func() { f.attempted <- id }()
	if f.attempt != nil {
		return f.attempt(ctx, c), nil
	}
	<-ctx.Done()
	return ports.AttemptReport{Attempt: 1, Interrupted: true}, nil
}

func (f *fakeWork) Release(_ context.Context, owner string, ids []int64) error {
	f.released <- release{owner: owner, ids: append([]int64(nil), ids...)}
	return nil
}

// claimed is a first attempt of delivery id that may start at startAt.
func claimed(id int64, startAt time.Time) ports.Claimed {
	return ports.Claimed{
		Job: ports.DeliveryJob{
			Delivery: domain.RehydrateDelivery(domain.DeliveryRow{ID: id, ConfigID: testConfig, EventID: "0190a000-0000-7000-8000-0000000000e1",
				EventType: domain.EventWidgetClick, Status: domain.DeliveryPending, Series: 1}),
			Event: ports.OutboxEvent{EventID: "0190a000-0000-7000-8000-0000000000e1", Type: domain.EventWidgetClick},
		},
		Config:  domain.RehydrateWebhookConfig(domain.WebhookConfigRow{ID: testConfig, Service: "topkee", IsActive: true}),
		StartAt: startAt,
	}
}

// testLogger keeps the log and shows it when the test fails.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runEngine runs an engine until the test ends.
func runEngine(t *testing.T, o worker.Options) *worker.Engine {
	t.Helper()
	if o.Workers == 0 {
		o.Workers, o.RetryWorkers = 4, 1
	}
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	e := worker.NewEngine(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() {
		e.Abort()
		cancel()
		<-done
	})
	return e
}

// running starts run in a goroutine; stop ends its context and returns once
// run has returned (failing the test if it does not within the bound).
func running(t *testing.T, run func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); run(ctx) }()
	return func() {
		cancel()
		receive(t, done, "Run returning after its context ended")
	}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("%s did not happen within %s", what, within)
		panic("unreachable")
	}
}

// TestEngine_ClaimsNothingWhileItMayNotSend: while the heartbeat says the
// process may not send (it cannot prove to the others that it is alive),
// the loop claims nothing; once it may, it claims and attempts.
func TestEngine_ClaimsNothingWhileItMayNotSend(t *testing.T) {
	t.Parallel()
	work := newFakeWork([]ports.Claimed{claimed(1, time.Time{})})
	work.attempt = func(context.Context, ports.Claimed) ports.AttemptReport {
		return ports.AttemptReport{Attempt: 1, StatusCode: 204, Status: domain.DeliverySucceeded}
	}
	var may atomic.Bool
	asked := make(chan struct{}, 100)
	runEngine(t, worker.Options{Work: work, Identity: func() string { return "p-1" },
		MaySend: func() bool {
			select {
			case asked <- struct{}{}:
			default:
			}
			return may.Load()
		}})

	for range 5 {
		select {
		case <-asked:
		case <-work.claiming:
			t.Fatal("a claim while the process may not send")
		case <-time.After(within):
			t.Fatalf("the loop did not ask whether it may send within %s", within)
		}
	}
	assert.Zero(t, work.claims.Load(), "no claim while the process may not send")
	assert.Empty(t, work.attempting)

	may.Store(true)
	assert.Equal(t, int64(1), receive(t, work.attempting, "the attempt once the process may send"))
	assert.Positive(t, work.claims.Load())
}

// TestEngine_HandsBackAClaimWhenItMayNoLongerSendAtItsStart: a claimed
// delivery waits for its start (the config's rate limit); if by then the
// process may not send, it is handed back unattempted under the owner it
// was claimed by, so that another process takes it at once.
func TestEngine_HandsBackAClaimWhenItMayNoLongerSendAtItsStart(t *testing.T) {
	t.Parallel()
	var may atomic.Bool
	may.Store(true)
	work := newFakeWork([]ports.Claimed{claimed(7, time.Now().Add(200*time.Millisecond))})
	// The fence closes while the claim waits for its start.
	work.onClaim = func() { may.Store(false) }
	runEngine(t, worker.Options{Work: work, Identity: func() string { return "p-1" }, MaySend: may.Load})

	r := receive(t, work.released, "the hand-back")
	assert.Equal(t, release{owner: "p-1", ids: []int64{7}}, r)
	assert.Empty(t, work.attempting, "nothing sent")
}

// TestEngine_CutAttemptsCutsTheRunningOnesOnly: CutAttempts (the liveness
// session was lost) ends the attempts running now; attempts started later
// run normally.
func TestEngine_CutAttemptsCutsTheRunningOnesOnly(t *testing.T) {
	t.Parallel()
	work := newFakeWork([]ports.Claimed{claimed(1, time.Time{})})
	cutShort := make(chan int64, 4)
	work.attempt = func(ctx context.Context, c ports.Claimed) ports.AttemptReport {
		if c.Job.Delivery.ID() == 1 {
			<-ctx.Done()
			cutShort <- 1
			return ports.AttemptReport{Attempt: 1, Interrupted: true}
		}
		if ctx.Err() != nil {
			cutShort <- c.Job.Delivery.ID()
		}
		return ports.AttemptReport{Attempt: 1, StatusCode: 204, Status: domain.DeliverySucceeded}
	}
	e := runEngine(t, worker.Options{Work: work, Identity: func() string { return "p-1" }})
	require.Equal(t, int64(1), receive(t, work.attempting, "the first attempt"))
	assert.Equal(t, []int64{1}, e.Working())

	e.CutAttempts()
	assert.Equal(t, int64(1), receive(t, cutShort, "the running attempt cut short"))
	receive(t, work.attempted, "the cut attempt returning")

	work.mu.Lock()
	work.batches = append(work.batches, []ports.Claimed{claimed(2, time.Time{})})
	work.mu.Unlock()
	e.Wake()
	require.Equal(t, int64(2), receive(t, work.attempting, "a later attempt"))
	require.Equal(t, int64(2), receive(t, work.attempted, "the later attempt returning"))
	assert.Empty(t, cutShort, "a later attempt runs on a live context")
}

// stoppingWork finds due deliveries only once its caller gives up: a look
// that is under way when the process stops.
type stoppingWork struct {
	*fakeWork
	looking chan struct{}
}

func (s stoppingWork) Due(ctx context.Context) ([]ports.DueConfig, error) {
	close(s.looking)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestEngine_StoppingIsNoError: a look for due deliveries cut short because
// the process stops is not logged as an error (an operator alerting on
// ERROR lines would be paged at every deploy).
func TestEngine_StoppingIsNoError(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	work := stoppingWork{fakeWork: newFakeWork(), looking: make(chan struct{})}
	e := worker.NewEngine(worker.Options{Work: work, Identity: func() string { return "p1" }, Workers: 1, RetryWorkers: 1,
		PollInterval: time.Hour, Logger: logger})
	stop := running(t, e.Run)
	receive(t, work.looking, "the loop looking for due deliveries")
	stop()
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
}
