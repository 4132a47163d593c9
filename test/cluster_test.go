package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// capReceiver is one partner endpoint shared by every process of a
// deployment: it verifies each request's signature, holds it for hold
// before answering 204, and records how many requests were open at once and
// when each event first arrived.
type capReceiver struct {
	url    string
	secret atomic.Value // string
	hold   time.Duration

	mu       sync.Mutex
	open     int
	maxOpen  int
	starts   []time.Time
	byRef    map[string]int       // widget.click correlation id → times received
	firstAt  map[string]time.Time // correlation id → first arrival
	badSigns int
}

func newCapReceiver(t *testing.T, hold time.Duration) *capReceiver {
	t.Helper()
	r := &capReceiver{hold: hold, byRef: map[string]int{}, firstAt: map[string]time.Time{}}
	r.secret.Store("")
	schemas := newWebhookChecker(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		r.mu.Lock()
		r.open++
		r.maxOpen = max(r.maxOpen, r.open)
		r.starts = append(r.starts, now)
		r.mu.Unlock()
		defer func() { r.mu.Lock(); r.open--; r.mu.Unlock() }()
		body, err := io.ReadAll(req.Body)
		if err == nil {
			schemas.check(req.Header.Get("X-Aurix-Event"), body)
		}
		var e struct {
			Data struct {
				CorrelationID string `json:"correlation_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &e)
		ok := partnerVerify(body, req.Header.Get("x-hub-signature"), r.secret.Load().(string))
		time.Sleep(r.hold)
		r.mu.Lock()
		if !ok {
			r.badSigns++
		}
		r.byRef[e.Data.CorrelationID]++
		if r.byRef[e.Data.CorrelationID] == 1 {
			r.firstAt[e.Data.CorrelationID] = time.Now()
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/hook"
	return r
}

func (r *capReceiver) snapshot() (maxOpen, badSigns int, byRef map[string]int, firstAt map[string]time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byRef, firstAt = map[string]int{}, map[string]time.Time{}
	for k, v := range r.byRef {
		byRef[k] = v
	}
	for k, v := range r.firstAt {
		firstAt[k] = v
	}
	return r.maxOpen, r.badSigns, byRef, firstAt
}

// maxInAnySecond is the most requests that started within one second.
// startSpan is the time from the first attempt's start to the last's.
func (r *capReceiver) startSpan() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.starts) < 2 {
		return 0
	}
	first, last := r.starts[0], r.starts[0]
	for _, s := range r.starts {
		if s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	return last.Sub(first)
}

func (r *capReceiver) maxInAnySecond() int {
	r.mu.Lock()
	starts := append([]time.Time(nil), r.starts...)
	r.mu.Unlock()
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	best := 0
	for i := range starts {
		n := 0
		for _, s := range starts[i:] {
			if s.Sub(starts[i]) >= time.Second {
				break
			}
			n++
		}
		best = max(best, n)
	}
	return best
}

// waitAll waits until every acknowledged click's widget.click arrived, and
// returns the missing ones if some never did.
func (r *capReceiver) waitAll(refs []string, within time.Duration) (missing []string) {
	deadline := time.Now().Add(within)
	for {
		_, _, byRef, _ := r.snapshot()
		missing = missing[:0]
		for _, ref := range refs {
			if byRef[ref] == 0 {
				missing = append(missing, ref)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load posts clicks on a fixed schedule (open loop) to whichever url()
// names until stop is closed, and collects the correlation ids of the
// clicks that were acknowledged.
type load struct {
	mu    sync.Mutex
	refs  []string
	other map[int]int // status → count of clicks not acknowledged
	wg    sync.WaitGroup
}

func startLoad(url func() string, perSecond int, stop <-chan struct{}) *load {
	l := &load{other: map[int]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go func(i int) {
				defer l.wg.Done()
				req, _ := http.NewRequest(http.MethodPost, url()+"/api/widget/click",
					strings.NewReader(fmt.Sprintf(`{"click_url":"https://example.com/l%d?utm_source=cluster"}`, i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
				resp, err := client.Do(req)
				if err != nil {
					l.mu.Lock()
					l.other[0]++
					l.mu.Unlock()
					return
				}
				defer resp.Body.Close()
				var c clickReply
				_ = json.NewDecoder(resp.Body).Decode(&c)
				l.mu.Lock()
				defer l.mu.Unlock()
				if resp.StatusCode == http.StatusCreated {
					l.refs = append(l.refs, c.CorrelationID)
				} else {
					l.other[resp.StatusCode]++
				}
			}(i)
		}
	}()
	return l
}

func (l *load) wait() ([]string, map[int]int) {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.refs...), l.other
}

// cluster is several aurix processes on one database.
type cluster struct {
	dbURL string
	env   map[string]string
	procs map[string]*service
	ports map[string]int
}

func newCluster(t *testing.T, env map[string]string, roles map[string]string) *cluster {
	t.Helper()
	c := &cluster{dbURL: pgtest.NewEmptyDatabase(t), env: env, procs: map[string]*service{}, ports: map[string]int{}}
	names := make([]string, 0, len(roles))
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.ports[name] = freePort(t)
		c.start(t, name, roles[name])
	}
	return c
}

func (c *cluster) start(t *testing.T, name, role string) *service {
	t.Helper()
	env := map[string]string{"AURIX_ROLE": role}
	for k, v := range c.env {
		env[k] = v
	}
	s := startServiceOn(t, c.dbURL, c.ports[name], env)
	c.procs[name] = s
	return s
}

func (c *cluster) roles(t *testing.T) []string {
	t.Helper()
	svc := &service{DBURL: c.dbURL}
	rows, err := svc.db(t).Query(context.Background(), "SELECT role FROM aurix_processes ORDER BY role")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		out = append(out, r)
	}
	return out
}

func duplicates(byRef map[string]int) int {
	n := 0
	for _, v := range byRef {
		if v > 1 {
			n++
		}
	}
	return n
}

const clusterCap = 4

func clusterEnv() map[string]string {
	return map[string]string{
		"AURIX_WEBHOOK_MAX_IN_FLIGHT":  fmt.Sprint(clusterCap),
		"AURIX_WEBHOOK_WORKERS":        "16",
		"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms,500ms,1s,2s,3s,5s,5s",
	}
}

// TestOneAPIAndTwoWorkers: clicks go to the api process, the two workers
// deliver them; the partner never has more than the cap open from the
// whole deployment, and every event arrives.
func TestOneAPIAndTwoWorkers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterEnv(), map[string]string{"api": "api", "w1": "worker", "w2": "worker"})
	rc := newCapReceiver(t, 20*time.Millisecond)
	api := c.procs["api"]
	rc.secret.Store(api.registerWebhook(t, rc.url))
	assert.Equal(t, []string{"worker", "worker"}, c.roles(t), "only the workers take deliveries")

	resp, _ := c.procs["w1"].do(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a worker serves no API")
	resp, _ = c.procs["w1"].do(t, http.MethodGet, "/readyz", "", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = c.procs["w1"].do(t, http.MethodGet, "/metrics", "", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	stop := make(chan struct{})
	l := startLoad(func() string { return api.URL }, 100, stop)
	time.Sleep(4 * time.Second)
	close(stop)
	refs, other := l.wait()
	require.NotEmpty(t, refs)
	assert.Empty(t, other, "every click acknowledged")
	missing := rc.waitAll(refs, 30*time.Second)
	maxOpen, bad, byRef, _ := rc.snapshot()
	require.Empty(t, missing, "%d of %d acknowledged events never arrived", len(missing), len(refs))
	assert.Zero(t, bad, "every signature verifies")
	assert.LessOrEqual(t, maxOpen, clusterCap, "requests open at once to the partner, over both workers")
	t.Logf("api + 2 workers: %d clicks delivered, at most %d open at once (cap %d), %d delivered twice",
		len(refs), maxOpen, clusterCap, duplicates(byRef))
}

// TestKillAWorkerUnderLoad: a worker is killed (kill -9) while clicks keep
// coming; the survivor delivers everything acknowledged, what the dead one
// held within 30 s of its death, and the cap holds throughout.
func TestKillAWorkerUnderLoad(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterEnv(), map[string]string{"api": "api", "w1": "worker", "w2": "worker"})
	rc := newCapReceiver(t, 50*time.Millisecond)
	api := c.procs["api"]
	rc.secret.Store(api.registerWebhook(t, rc.url))

	stop := make(chan struct{})
	l := startLoad(func() string { return api.URL }, 60, stop)
	time.Sleep(3 * time.Second)
	c.procs["w1"].kill(t)
	killedAt := time.Now()
	time.Sleep(5 * time.Second)
	close(stop)
	refs, other := l.wait()
	assert.Empty(t, other, "the api process is unaffected")
	missing := rc.waitAll(refs, 30*time.Second-time.Since(killedAt))
	maxOpen, bad, byRef, firstAt := rc.snapshot()
	require.Empty(t, missing, "%d of %d acknowledged events did not arrive within 30 s of the kill", len(missing), len(refs))
	assert.Zero(t, bad)
	assert.LessOrEqual(t, maxOpen, clusterCap)
	var last time.Time
	for _, ref := range refs {
		last = maxTime(last, firstAt[ref])
	}
	t.Logf("kill -9 of one of two workers under 60 clicks/s: %d events, all delivered, the last %.1f s after the kill; %d twice; at most %d open",
		len(refs), last.Sub(killedAt).Seconds(), duplicates(byRef), maxOpen)
}

// TestRollingRestartOfWorkers: each worker in turn is stopped (SIGTERM) and
// started again under steady load; nothing is lost and the cap holds.
func TestRollingRestartOfWorkers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterEnv(), map[string]string{"api": "api", "w1": "worker", "w2": "worker"})
	rc := newCapReceiver(t, 30*time.Millisecond)
	api := c.procs["api"]
	rc.secret.Store(api.registerWebhook(t, rc.url))

	stop := make(chan struct{})
	l := startLoad(func() string { return api.URL }, 60, stop)
	for _, name := range []string{"w1", "w2"} {
		time.Sleep(2 * time.Second)
		c.procs[name].stop(t)
		c.start(t, name, "worker")
	}
	time.Sleep(2 * time.Second)
	close(stop)
	refs, other := l.wait()
	assert.Empty(t, other)
	missing := rc.waitAll(refs, 30*time.Second)
	maxOpen, bad, byRef, _ := rc.snapshot()
	require.Empty(t, missing, "%d of %d acknowledged events never arrived", len(missing), len(refs))
	assert.Zero(t, bad)
	assert.LessOrEqual(t, maxOpen, clusterCap)
	t.Logf("rolling restart of two workers under 60 clicks/s: %d events, all delivered; %d twice; at most %d open",
		len(refs), duplicates(byRef), maxOpen)
}

// logRecords are the service's JSON log lines whose msg is msg, in order.
func (s *service) logRecords(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestProcessesStartingTogetherMigrateOnce: two processes started at the
// same moment on an empty database both come up; one migrates, the other
// waits for it and finds nothing to do (their logs say which did what).
// Without the migration lock both would run River's DDL at once, and one
// would fail or both would report applying it.
func TestProcessesStartingTogetherMigrateOnce(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewEmptyDatabase(t)
	var wg sync.WaitGroup
	procs := make([]*service, 2)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i] = startServiceOn(t, dbURL, freePort(t), nil)
		}()
	}
	wg.Wait()
	for _, p := range procs {
		require.NotNil(t, p)
		resp, _ := p.do(t, http.MethodGet, "/readyz", "", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	var version int
	var dirty bool
	require.NoError(t, procs[0].db(t).QueryRow(context.Background(),
		"SELECT version, dirty FROM aurix_schema_migrations").Scan(&version, &dirty))
	assert.False(t, dirty)
	assert.Positive(t, version)

	var migrated, current []map[string]any
	for _, p := range procs {
		m, c := p.logRecords(t, "schema migrated"), p.logRecords(t, "schema already current; nothing to migrate")
		assert.Len(t, append(m, c...), 1, "each process says once whether it migrated")
		migrated, current = append(migrated, m...), append(current, c...)
	}
	require.Len(t, migrated, 1, "exactly one process applied the migrations")
	require.Len(t, current, 1, "the other found nothing to do")
	assert.NotEmpty(t, migrated[0]["river_versions_applied"], "it applied River's schema")
	assert.EqualValues(t, 0, migrated[0]["app_version_from"], "from an empty database")
	assert.EqualValues(t, version, migrated[0]["app_version_to"])
	assert.EqualValues(t, version, current[0]["app_version"])
}

// TestRateLimitHoldsAcrossWorkers: with "max_per_second": 20, two worker
// processes together start at most 20 attempts in any second.
func TestRateLimitHoldsAcrossWorkers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterEnv(), map[string]string{"api": "api", "w1": "worker", "w2": "worker"})
	rc := newCapReceiver(t, 0)
	api := c.procs["api"]
	resp, raw := api.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey,
		map[string]any{"url": rc.url, "max_per_second": 20})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var cfg struct {
		Secret       string `json:"secret"`
		MaxPerSecond int    `json:"max_per_second"`
	}
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, 20, cfg.MaxPerSecond)
	rc.secret.Store(cfg.Secret)

	stop := make(chan struct{})
	l := startLoad(func() string { return api.URL }, 80, stop)
	time.Sleep(time.Second)
	close(stop)
	refs, _ := l.wait()
	missing := rc.waitAll(refs, 30*time.Second)
	require.Empty(t, missing)
	took := rc.startSpan()
	// Attempts are scheduled exactly 1/20 s apart over both workers; a
	// timer that fires late on a busy machine (never early) can bring one
	// or two closer to the next, so a second may hold a couple more.
	assert.LessOrEqual(t, rc.maxInAnySecond(), 23, "attempts started in any one second, over both workers")
	assert.GreaterOrEqual(t, took.Seconds(), float64(len(refs)-1)/20*0.9, "%d events at 20/s, first attempt to last", len(refs))
	t.Logf("max_per_second 20 over two workers: %d events, first attempt to last %.1f s, at most %d in any second", len(refs), took.Seconds(), rc.maxInAnySecond())
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
