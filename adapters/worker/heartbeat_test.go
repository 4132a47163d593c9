package worker_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/adapters/worker"
	"github.com/aurix/integrations/ports"
)

// The timings of these tests, scaled down from the service's (heartbeat
// every second, fence after DeadAfter − attempt timeout − 1 s): a process
// that misses heartbeats stops starting attempts after fenceAfter, so an
// attempt it started just before ends (attemptTimeout) before the others
// may declare it dead (deadAfter).
const (
	beatEvery      = 100 * time.Millisecond
	fenceAfter     = time.Second
	attemptTimeout = time.Second
	deadAfter      = fenceAfter + attemptTimeout + 2*time.Second
	lockless       = time.Second
)

// newHeartbeat is a worker process's heartbeat on reg with the timings
// above.
func newHeartbeat(t *testing.T, reg ports.ProcessRegistry) *worker.Heartbeat {
	t.Helper()
	return &worker.Heartbeat{Registry: reg, Info: ports.ProcessInfo{Role: "worker", Hostname: "test", PID: 1},
		NewID: uuid.NewString, Interval: beatEvery, FenceAfter: fenceAfter, DeadAfter: deadAfter, Lockless: lockless,
		Working: func() []int64 { return nil }, Logger: testLogger(t)}
}

// runHeartbeat joins and beats until the test ends, then leaves.
func runHeartbeat(t *testing.T, hb *worker.Heartbeat) {
	t.Helper()
	require.NoError(t, hb.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = hb.Stop(context.Background())
	})
}

// stallableRegistry is the real registry whose heartbeats can be made to
// hang, as a write to a database that stopped answering does: while
// stalled, a heartbeat waits, past its own deadline, until unstall.
type stallableRegistry struct {
	ports.ProcessRegistry
	mu   sync.Mutex
	gate chan struct{}
}

func (r *stallableRegistry) Join(ctx context.Context, info ports.ProcessInfo) (ports.ProcessSession, error) {
	s, err := r.ProcessRegistry.Join(ctx, info)
	if err != nil {
		return nil, err
	}
	return &stallableSession{ProcessSession: s, r: r}, nil
}

func (r *stallableRegistry) stall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = make(chan struct{})
}

func (r *stallableRegistry) unstall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
}

type stallableSession struct {
	ports.ProcessSession
	r *stallableRegistry
}

func (s *stallableSession) Heartbeat(ctx context.Context) (bool, error) {
	s.r.mu.Lock()
	gate := s.r.gate
	s.r.mu.Unlock()
	if gate == nil {
		return s.ProcessSession.Heartbeat(ctx)
	}
	<-gate
	// The hung write goes through in the end.
	return s.ProcessSession.Heartbeat(context.WithoutCancel(ctx))
}

func registered(t *testing.T, db *postgres.DB, id string) bool {
	t.Helper()
	var n int
	require.NoError(t, db.SQL.QueryRow("SELECT count(*) FROM aurix_processes WHERE id = $1", id).Scan(&n))
	return n == 1
}

// TestHeartbeat_HealthyProcessMaySendThroughout: a process whose heartbeats
// succeed may send all along, for several times the fence's period, and
// the others never declare it dead.
func TestHeartbeat_HealthyProcessMaySendThroughout(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	reg := postgres.NewProcesses(db.Bun, db.Listener)
	hb := newHeartbeat(t, reg)
	runHeartbeat(t, hb)
	id := hb.ID()

	until := time.Now().Add(3 * fenceAfter)
	for time.Now().Before(until) {
		require.True(t, hb.MaySend(), "a process that heartbeats may send")
		time.Sleep(10 * time.Millisecond)
	}
	n, _, err := reg.ReleaseDead(context.Background(), deadAfter, lockless)
	require.NoError(t, err)
	assert.Zero(t, n, "nobody is declared dead")
	assert.Equal(t, id, hb.ID(), "it kept its id")
	var silent float64
	require.NoError(t, db.SQL.QueryRow("SELECT extract(epoch FROM now() - heartbeat_at) FROM aurix_processes WHERE id = $1", id).Scan(&silent))
	assert.Less(t, silent, fenceAfter.Seconds(), "its heartbeat is recorded as it beats")
}

// TestHeartbeat_StalledProcessStopsSendingBeforeOthersMayDeclareItDead: a
// process whose heartbeats hang stops starting attempts while the others
// still hold it alive, early enough that an attempt it started just before
// ends before they may take its deliveries; they then declare it dead, and
// once its heartbeat goes through it learns so, cuts its attempts and joins
// again under a new id. The healthy process may send throughout.
func TestHeartbeat_StalledProcessStopsSendingBeforeOthersMayDeclareItDead(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	registry := postgres.NewProcesses(db.Bun, db.Listener)
	reg := &stallableRegistry{ProcessRegistry: registry}
	stalled := newHeartbeat(t, reg)
	lost := make(chan struct{}, 4)
	stalled.LostSession = func() { lost <- struct{}{} }
	healthy := newHeartbeat(t, registry) // it declares the dead, in its heartbeats
	runHeartbeat(t, stalled)
	runHeartbeat(t, healthy)
	t.Cleanup(reg.unstall) // before the heartbeats stop (cleanups run last first)
	id := stalled.ID()
	require.True(t, stalled.MaySend())

	reg.stall()
	deadline := time.Now().Add(within)
	var fencedSilence float64
	for stalled.MaySend() {
		require.True(t, registered(t, db, id), "declared dead while it may still send")
		require.True(t, time.Now().Before(deadline), "a process whose heartbeats hang never stopped sending")
		time.Sleep(10 * time.Millisecond)
	}
	// It stopped sending: how long the others have seen it silent.
	err := db.SQL.QueryRow("SELECT extract(epoch FROM now() - heartbeat_at) FROM aurix_processes WHERE id = $1", id).Scan(&fencedSilence)
	require.NoError(t, err, "it stopped sending only once declared dead")
	assert.LessOrEqual(t, fencedSilence, (deadAfter - attemptTimeout).Seconds(),
		"it stopped sending with at least an attempt's timeout left before the others may declare it dead")

	for registered(t, db, id) {
		require.True(t, healthy.MaySend(), "the healthy process may send throughout")
		require.True(t, time.Now().Before(deadline), "the stalled process was never declared dead")
		assert.False(t, stalled.MaySend(), "the stalled process stays fenced")
		time.Sleep(20 * time.Millisecond)
	}

	reg.unstall()
	receive(t, lost, "the stalled process learning it was declared dead")
	require.Eventually(t, func() bool { return stalled.MaySend() && stalled.ID() != id && stalled.ID() != "" },
		within, 10*time.Millisecond, "it joins again under a new id")
	assert.True(t, registered(t, db, stalled.ID()))
}

// TestHeartbeat_LostSessionCutsAttemptsShortAndHandsThemBack: when the
// process's liveness session dies (its connection is terminated, so the
// others see its lock gone and may take its deliveries within Lockless),
// the attempt it is sending is cut short and the claim waiting for its
// start is handed back, under the id it was claimed by; the process then
// joins again and goes on.
func TestHeartbeat_LostSessionCutsAttemptsShortAndHandsThemBack(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	reg := postgres.NewProcesses(db.Bun, db.Listener)
	hb := newHeartbeat(t, reg)
	work := newFakeWork([]ports.Claimed{claimed(1, time.Time{}), claimed(2, time.Now().Add(time.Hour))})
	cut := make(chan int64, 4)
	work.attempt = func(ctx context.Context, c ports.Claimed) ports.AttemptReport {
		<-ctx.Done() // a partner that does not answer
		cut <- c.Job.Delivery.ID()
		return ports.AttemptReport{Attempt: 1, Interrupted: true}
	}
	e := runEngine(t, worker.Options{Work: work, Identity: hb.ID, MaySend: hb.MaySend})
	hb.Working = e.Working
	hb.LostSession = e.CutAttempts
	runHeartbeat(t, hb)
	owner := hb.ID()

	require.Equal(t, int64(1), receive(t, work.attempting, "the first attempt"))
	require.Eventually(t, func() bool { return len(e.Working()) == 2 }, within, 10*time.Millisecond)

	var terminated int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FILTER (WHERE pg_terminate_backend(l.pid))
		FROM pg_locks l JOIN aurix_processes p ON l.objid = p.lock_key::oid
		WHERE p.id = $1 AND l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, owner).Scan(&terminated))
	require.Equal(t, 1, terminated, "the liveness session's connection")

	assert.Equal(t, int64(1), receive(t, cut, "the running attempt cut short"))
	assert.Equal(t, release{owner: owner, ids: []int64{2}}, receive(t, work.released, "the waiting claim handed back"))
	require.Eventually(t, func() bool { return len(e.Working()) == 0 }, within, 10*time.Millisecond, "nothing left in flight")
	require.Eventually(t, func() bool { return hb.MaySend() && hb.ID() != owner && hb.ID() != "" },
		within, 10*time.Millisecond, "it joins again under a new id")
}

// slowHandBack is the real registry whose sessions hand back lost claims
// only when their caller gives up (a hand-back under way when the process
// stops).
type slowHandBack struct {
	ports.ProcessRegistry
	handing chan struct{}
	once    sync.Once
}

func (r *slowHandBack) Join(ctx context.Context, info ports.ProcessInfo) (ports.ProcessSession, error) {
	s, err := r.ProcessRegistry.Join(ctx, info)
	if err != nil {
		return nil, err
	}
	return &slowHandBackSession{ProcessSession: s, r: r}, nil
}

type slowHandBackSession struct {
	ports.ProcessSession
	r *slowHandBack
}

func (s *slowHandBackSession) HandBack(ctx context.Context, _ []int64) (int, error) {
	s.r.once.Do(func() { close(s.r.handing) })
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestHeartbeat_StoppingIsNoFailure: a hand-back of lost claims cut short
// because the process stops is not logged as a failure.
func TestHeartbeat_StoppingIsNoFailure(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	reg := &slowHandBack{ProcessRegistry: postgres.NewProcesses(db.Bun, db.Listener), handing: make(chan struct{})}
	hb := newHeartbeat(t, reg)
	// The first beat comes after one interval, and the hand-back's own
	// deadline (an interval) comes long after the test stops the process.
	hb.Interval = 2 * time.Second
	logs := &lockedBuffer{}
	hb.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	require.NoError(t, hb.Start(context.Background()))
	defer func() { _ = hb.Stop(context.Background()) }()
	stop := running(t, hb.Run)
	receive(t, reg.handing, "the heartbeat handing back lost claims")
	stop()
	assert.NotContains(t, logs.String(), `"level":"WARN"`)
}
