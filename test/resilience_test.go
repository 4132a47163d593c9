package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// idRecorder is a partner endpoint on a fixed address that records every
// event id it is sent, and can go down (connections refused) and come back.
type idRecorder struct {
	addr string
	mu   sync.Mutex
	seen map[string]int
	// first is when each event first arrived.
	first map[string]time.Time
	srv   *http.Server
	// schemas checks every body against the webhooks catalogue.
	schemas *webhookChecker
}

func newIDRecorder(t *testing.T) *idRecorder {
	t.Helper()
	r := &idRecorder{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), seen: map[string]int{}, first: map[string]time.Time{},
		schemas: newWebhookChecker(t)}
	r.up(t)
	t.Cleanup(func() { r.down() })
	return r
}

func (r *idRecorder) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return // cut short (the endpoint is going down): the service sends it again
		}
		r.schemas.check(req.Header.Get("X-Aurix-Event"), body)
		var e struct {
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(body, &e) == nil && e.EventID != "" {
			r.mu.Lock()
			r.seen[e.EventID]++
			if r.seen[e.EventID] == 1 {
				r.first[e.EventID] = time.Now()
			}
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *idRecorder) down() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (r *idRecorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

// postClicks posts n clicks from 8 clients, retrying a click whose request
// failed (the service was down) until it is accepted or the deadline passes.
func postClicks(t *testing.T, url func() string, n int, onAccepted func(int)) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Minute)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest(http.MethodPost, url()+"/api/widget/click",
						strings.NewReader(fmt.Sprintf(`{"click_url":"https://example.com/c%d?utm_source=crash"}`, i)))
					req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated {
							onAccepted(i)
							break
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

// eventIDs lists every widget.click event the service committed.
func eventIDs(t *testing.T, dbURL string) []string {
	t.Helper()
	svc := &service{DBURL: dbURL}
	rows, err := svc.db(t).Query(context.Background(), "SELECT event_id::text FROM outbox")
	require.NoError(t, err)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	return ids
}

// arrivals returns when each event first arrived.
func (r *idRecorder) arrivals() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.first))
	for k, v := range r.first {
		out[k] = v
	}
	return out
}

// crashEnv keeps the production defaults that decide how soon a dead
// process's deliveries are taken over (AURIX_WEBHOOK_TIMEOUT 10s, hence
// AURIX_PROCESS_DEAD_AFTER 15s); only the retries are quicker.
func crashEnv() map[string]string {
	return map[string]string{
		"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms,500ms,1s,2s,3s,5s,5s,5s,5s,5s",
	}
}

// TestNoEventLostWhenTheServiceIsKilled: 2,000 clicks while the service
// delivers, a kill -9 in the middle, a restart; every committed event reaches
// the partner at least once.
func TestNoEventLostWhenTheServiceIsKilled(t *testing.T) {
	t.Parallel()
	runCrash(t, false)
}

// TestNoEventLostWhenServiceAndReceiverFail: the same, with the partner's
// endpoint refusing connections for part of the run.
func TestNoEventLostWhenServiceAndReceiverFail(t *testing.T) {
	t.Parallel()
	runCrash(t, true)
}

func runCrash(t *testing.T, receiverOutage bool) {
	const clicks = 2000
	dbURL, port := pgtest.NewEmptyDatabase(t), freePort(t)
	rec := newIDRecorder(t)
	var mu sync.Mutex
	svc := startServiceOn(t, dbURL, port, crashEnv())
	svc.registerWebhook(t, "http://"+rec.addr+"/hook")
	current := func() string { mu.Lock(); defer mu.Unlock(); return svc.URL }

	var accepted atomic.Int64
	var restartedAt time.Time
	crashed := make(chan struct{})
	go func() {
		defer close(crashed)
		for accepted.Load() < clicks/2 {
			time.Sleep(5 * time.Millisecond)
		}
		if receiverOutage {
			rec.down()
		}
		mu.Lock()
		old := svc
		mu.Unlock()
		old.kill(t)
		time.Sleep(500 * time.Millisecond)
		restarted := startServiceOn(t, dbURL, port, crashEnv())
		mu.Lock()
		svc, restartedAt = restarted, time.Now()
		mu.Unlock()
		if receiverOutage {
			time.Sleep(3 * time.Second)
			rec.up(t)
		}
	}()
	postClicks(t, current, clicks, func(int) { accepted.Add(1) })
	<-crashed
	require.EqualValues(t, clicks, accepted.Load())

	ids := eventIDs(t, dbURL)
	// A click committed just before the kill whose answer never reached the
	// client is posted again, so there may be a few more events than clicks.
	require.GreaterOrEqual(t, len(ids), clicks, "every accepted click committed its event")
	require.Less(t, len(ids), clicks+50)
	// Issue 10: a restarted service takes over what the killed one held
	// within 30 s (River's stuck-job rescue took 81 s); every acknowledged
	// event must have arrived by then.
	const recoveryBound = 30 * time.Second
	var missing []string
	deadline := restartedAt.Add(recoveryBound)
	for {
		seen := rec.counts()
		missing = missing[:0]
		for _, id := range ids {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Zero(t, len(missing), "%d of %d events had not reached the partner %s after the restart", len(missing), len(ids),
		recoveryBound)
	twice := 0
	for _, n := range rec.counts() {
		if n > 1 {
			twice++
		}
	}
	// Recovery: from the restart to the last event received.
	var last time.Time
	for _, at := range rec.arrivals() {
		if at.After(last) {
			last = at
		}
	}
	t.Logf("outage=%t: %d events, all delivered; %d delivered more than once; the last arrived %.1f s after the restart",
		receiverOutage, len(ids), twice, last.Sub(restartedAt).Seconds())
}

// TestSlowPartnerDoesNotHoldOthers: with 8 workers and at most 4 attempts in
// flight per endpoint, a partner answering in 5 s cannot occupy every
// worker: the fast partner gets all its events before the slow one has
// answered even once.
func TestSlowPartnerDoesNotHoldOthers(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_WORKERS": "8", "AURIX_WEBHOOK_MAX_IN_FLIGHT": "4", "AURIX_WEBHOOK_TIMEOUT": "10s"})
	var slowAnswered atomic.Int64
	slow := newScriptedReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		time.Sleep(5 * time.Second)
		slowAnswered.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	fast := newReceiver(t)
	svc.registerWebhook(t, slow.URL)
	resp, raw := svc.do(t, http.MethodPut, "/api/integrations/other/webhook-config", otherKey, map[string]any{"url": fast.URL})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))

	const n = 20
	for i := range n {
		svc.click(t, fmt.Sprintf("https://example.com/s%d", i), "")
	}
	fast.waitFor(t, n, 30*time.Second)
	assert.Zero(t, slowAnswered.Load(), "the fast partner was served while the slow one was still answering its first requests")
	assert.LessOrEqual(t, len(slow.deliveries()), 4, "at most 4 attempts in flight to the slow partner")
}
