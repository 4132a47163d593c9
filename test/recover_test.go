package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingReceiver answers 500 while fail is set, 200 otherwise.
func failingReceiver(t *testing.T) (*receiver, *atomic.Bool) {
	t.Helper()
	var fail atomic.Bool
	fail.Store(true)
	rc := newScriptedReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return rc, &fail
}

// failedEvents records n clicks whose only series fails, and returns their
// event ids once the delivery log shows them failed.
func failedEvents(t *testing.T, svc *service, rc *receiver, n int) []string {
	t.Helper()
	for range n {
		svc.click(t, partnerClickURL, "")
	}
	rc.waitFor(t, 2*n, 60*time.Second) // two attempts each
	waitNoPending(t, svc)
	var ids []string
	rows, err := svc.db(t).Query(t.Context(), "SELECT event_id::text FROM webhook_deliveries WHERE status IN ('failed', 'exhausted') ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, n)
	return ids
}

// waitNoPending waits until no delivery is pending: every attempt that was
// going to be made has been made and recorded.
func waitNoPending(t *testing.T, svc *service) {
	t.Helper()
	conn := svc.db(t)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").Scan(&n))
		return n == 0
	}, 60*time.Second, 50*time.Millisecond)
}

type recoverReply struct {
	Count      int     `json:"count"`
	Since      string  `json:"since"`
	NextCursor *string `json:"next_cursor"`
}

func (s *service) recover(t *testing.T, body string) recoverReply {
	t.Helper()
	resp, raw := s.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
	var r recoverReply
	require.NoError(t, json.Unmarshal(raw, &r))
	assert.Contains(t, string(raw), `"next_cursor":`, "next_cursor is always present")
	return r
}

// sentPerEvent counts the requests the receiver got per event id.
func sentPerEvent(rc *receiver) map[string]int {
	n := map[string]int{}
	for _, d := range rc.deliveries() {
		n[d.Header.Get("webhook-id")]++
	}
	return n
}

// TestConcurrentRecoversReopenEachEventOnce: five recover calls at the same
// moment over 15 failed events open 15 new deliveries in all, and each event
// is sent again exactly once.
func TestConcurrentRecoversReopenEachEventOnce(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "100ms"})
	rc, fail := failingReceiver(t)
	svc.registerWebhook(t, rc.URL)
	ids := failedEvents(t, svc, rc, 15)
	fail.Store(false)

	start := make(chan struct{})
	var wg sync.WaitGroup
	var total atomic.Int64
	for range 5 {
		wg.Go(func() {
			<-start
			r := svc.recover(t, `{"since":"2000-01-01"}`)
			assert.Nil(t, r.NextCursor)
			total.Add(int64(r.Count))
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(15), total.Load(), "counts of the five answers together")

	waitNoPending(t, svc)
	assert.Equal(t, 30, svc.count(t, "webhook_deliveries"), "15 first series and 15 recovered ones")
	sent := sentPerEvent(rc)
	require.Len(t, sent, 15)
	for _, id := range ids {
		assert.Equal(t, 3, sent[id], "event %s: two failed attempts, then sent again exactly once", id)
	}
}

// TestRecoverPages: a recover larger than the page is answered page by
// page, each with a cursor to the next; every failed event is reopened
// exactly once by the pass, even one whose redelivery fails again before
// the pass ends; a new pass starts over.
func TestRecoverPages(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "100ms"})
	rc, fail := failingReceiver(t)
	svc.registerWebhook(t, rc.URL)
	ids := failedEvents(t, svc, rc, 12)

	first := svc.recover(t, `{"since":"2000-01-01","limit":5}`)
	assert.Equal(t, 5, first.Count)
	require.NotNil(t, first.NextCursor)
	// The five fail again before the pass goes on.
	waitNoPending(t, svc)
	second := svc.recover(t, fmt.Sprintf(`{"since":"2000-01-01","limit":5,"cursor":%q}`, *first.NextCursor))
	assert.Equal(t, 5, second.Count)
	require.NotNil(t, second.NextCursor)
	third := svc.recover(t, fmt.Sprintf(`{"since":"2000-01-01","limit":5,"cursor":%q}`, *second.NextCursor))
	assert.Equal(t, 2, third.Count)
	assert.Nil(t, third.NextCursor, "the last page")
	waitNoPending(t, svc)
	sent := sentPerEvent(rc)
	for _, id := range ids {
		assert.Equal(t, 4, sent[id], "event %s: two attempts in its first series, two in the one the pass opened", id)
	}

	// A new pass finds every event failed again, and they now arrive.
	fail.Store(false)
	again := svc.recover(t, `{"since":"2000-01-01"}`)
	assert.Equal(t, 12, again.Count)
	assert.Nil(t, again.NextCursor)
	waitNoPending(t, svc)
	assert.Equal(t, 36, svc.count(t, "webhook_deliveries"))

	for _, bad := range []string{
		`{"since":"2000-01-01","limit":0}`, `{"since":"2000-01-01","limit":1001}`, `{"since":"2000-01-01","limit":"5"}`,
		`{"since":"2000-01-01","cursor":"nope"}`, `{"since":"2000-01-01","cursor":5}`,
	} {
		resp, raw := svc.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), string(raw))
	}
	// A limit out of range is refused by the use case's rule; the problem
	// names the field and its range.
	for _, bad := range []string{`{"since":"2000-01-01","limit":0}`, `{"since":"2000-01-01","limit":1001}`} {
		resp, raw := svc.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
		assert.Contains(t, string(raw), `{"field":"limit","message":"must be a whole number from 1 to 1000"}`, bad)
	}
}

// TestRedeliverWhilePending: redelivering an event whose delivery is still
// pending opens no second series and names the pending one; five
// redeliveries of a failed event at once open one new series.
func TestRedeliverWhilePending(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "1h"})
	rc, _ := failingReceiver(t)
	svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")
	first := rc.waitFor(t, 1, 30*time.Second)[0]
	eventID := first.Header.Get("webhook-id")
	var pendingID int64
	conn := svc.db(t)
	require.Eventually(t, func() bool {
		var attempts int
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT id, attempts FROM webhook_deliveries").Scan(&pendingID, &attempts))
		return attempts == 1
	}, 30*time.Second, 50*time.Millisecond, "the first attempt is recorded; the next one is an hour away")

	redeliver := func() map[string]any {
		resp, raw := svc.do(t, http.MethodPost, "/api/integrations/topkee/events/"+eventID+"/redeliver", topkeeKey, nil)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}
	got := redeliver()
	assert.Equal(t, float64(pendingID), got["delivery_id"], "the pending delivery")
	assert.Equal(t, "pending", got["status"])
	assert.Equal(t, 1, svc.count(t, "webhook_deliveries"), "no second series")

	// Fail it for good, then five redeliveries at once open one series
	// (which stays pending: its first attempt fails too, the next is an
	// hour away).
	_, err := conn.Exec(t.Context(), "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, finished_at = now()")
	require.NoError(t, err)
	start := make(chan struct{})
	var wg sync.WaitGroup
	answers := make([]any, 5)
	for i := range 5 {
		wg.Go(func() {
			<-start
			answers[i] = redeliver()["delivery_id"]
		})
	}
	close(start)
	wg.Wait()
	for _, a := range answers {
		assert.Equal(t, answers[0], a, "every answer names the one new series")
	}
	assert.NotEqual(t, float64(pendingID), answers[0])
	assert.Equal(t, 2, svc.count(t, "webhook_deliveries"))
}
