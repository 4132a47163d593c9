package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leadMessage is Meta's sample message from a sender of its own, quoting ref.
func leadMessage(t *testing.T, ref string, n int) []byte {
	return sample(t, "text-with-ref.json", "O-xY123z", ref, "16505551234", fmt.Sprintf("1650555%04d", n),
		"US.13491208655302741918", fmt.Sprintf("US.%d", 1000+n), "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
		fmt.Sprintf("wamid.ORDER%04d", n))
}

// orderReceiver is a partner's endpoint that answers each request with the
// status its script picks and notes the order in which events were
// accepted (answered 2xx), as "event_type correlation_id".
type orderReceiver struct {
	*receiver
	mu       sync.Mutex
	accepted []string       // "event_type correlation_id"
	tries    map[string]int // "event_type correlation_id" → requests so far
	failRef  string
	failed   int

	holding  chan struct{} // a request is being held open
	released chan struct{} // closed: held requests are answered
	unholdMu sync.Once
}

// leadScript picks the status of a request: e is its event, try counts the
// requests of that event type and lead so far, this one included. It is
// called without o.mu held, so it may wait (for r's context, say).
type leadScript func(o *orderReceiver, w http.ResponseWriter, r *http.Request, e event, try int) int

// newLeadReceiver answers by script. Each request's event is decoded from
// the body recorded for that very request (request n), not from the last
// one recorded: requests are answered concurrently.
func newLeadReceiver(t *testing.T, script leadScript) *orderReceiver {
	t.Helper()
	rc := newReceiver(t)
	o := &orderReceiver{receiver: rc, tries: map[string]int{}, holding: make(chan struct{}, 1), released: make(chan struct{})}
	// Registered after the receiver's own Close, so it runs before it: Close
	// waits for the requests being answered.
	t.Cleanup(o.unhold)
	rc.mu.Lock()
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		var e event
		_ = json.Unmarshal(rc.request(n).Body, &e)
		key := e.Type + " " + refOf(e)
		o.mu.Lock()
		o.tries[key]++
		try := o.tries[key]
		o.mu.Unlock()
		status := script(o, w, r, e, try)
		if status/100 == 2 {
			// Noted before the answer leaves: a later event of the lead
			// can only be sent once this answer arrived.
			o.mu.Lock()
			o.accepted = append(o.accepted, key)
			o.mu.Unlock()
		}
		w.WriteHeader(status)
	}
	rc.mu.Unlock()
	return o
}

// newOrderReceiver answers 500 to the first `failures` lead.correlated
// requests of the first lead it hears of, 204 to everything else.
func newOrderReceiver(t *testing.T, failures int) *orderReceiver {
	t.Helper()
	return newLeadReceiver(t, func(o *orderReceiver, _ http.ResponseWriter, _ *http.Request, e event, _ int) int {
		ref := refOf(e)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.failRef == "" {
			o.failRef = ref
		}
		if e.Type == "lead.correlated" && ref == o.failRef && o.failed < failures {
			o.failed++
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
}

func refOf(e event) string {
	ref, _ := e.Data["correlation_id"].(string)
	return ref
}

// request is the n-th request the receiver got (n counts from 1).
func (rc *receiver) request(n int) delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.got[n-1]
}

func (o *orderReceiver) acceptedList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.accepted...)
}

func (o *orderReceiver) waitAccepted(t *testing.T, what string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, a := range o.acceptedList() {
			if a == what {
				return true
			}
		}
		return false
	}, within, 20*time.Millisecond, "%s not accepted; accepted: %v", what, o.acceptedList())
}

func indexOf(list []string, what string) int {
	for i, s := range list {
		if s == what {
			return i
		}
	}
	return -1
}

func countOf(list []string, what string) int {
	n := 0
	for _, s := range list {
		if s == what {
			n++
		}
	}
	return n
}

// nthIndex is the index of the n-th (from 1) what in list, -1 if none.
func nthIndex(list []string, what string, n int) int {
	for i, s := range list {
		if s == what {
			if n--; n == 0 {
				return i
			}
		}
	}
	return -1
}

// failLead names the lead whose events a script treats differently.
func (o *orderReceiver) failLead(ref string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failRef = ref
}

// failing reports whether e is the named lead's event of type typ.
func (o *orderReceiver) failing(e event, typ string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return e.Type == typ && o.failRef != "" && refOf(e) == o.failRef
}

// hold keeps a request open until unhold, or until its sender goes away
// (a killed process's connection closes).
func (o *orderReceiver) hold(r *http.Request) {
	select {
	case o.holding <- struct{}{}:
	default:
	}
	select {
	case <-o.released:
	case <-r.Context().Done():
	}
}

func (o *orderReceiver) unhold() { o.unholdMu.Do(func() { close(o.released) }) }

// waitHolding waits until a request is being held.
func (o *orderReceiver) waitHolding(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-o.holding:
	case <-time.After(within):
		t.Fatalf("no request was held within %s; accepted: %v", within, o.acceptedList())
	}
}

// triesOf is how many requests of "event_type correlation_id" arrived.
func (o *orderReceiver) triesOf(what string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tries[what]
}

// leadOrder is the lead's accepted event types, in the order accepted.
func (o *orderReceiver) leadOrder(ref string) []string {
	var out []string
	for _, a := range o.acceptedList() {
		if typ, r, _ := strings.Cut(a, " "); r == ref {
			out = append(out, typ)
		}
	}
	return out
}

// assertLeadOrder asserts what a partner notices of each lead's events:
// widget.click, lead.correlated and lead.complete all accepted, and each
// accepted for the first time only after the one before it.
func (o *orderReceiver) assertLeadOrder(t *testing.T, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		got := o.leadOrder(ref)
		click, correlated, complete := indexOf(got, "widget.click"), indexOf(got, "lead.correlated"), indexOf(got, "lead.complete")
		if assert.True(t, click >= 0 && correlated >= 0 && complete >= 0, "lead %s: every event accepted: %v", ref, got) {
			assert.Less(t, click, correlated, "lead %s: widget.click before lead.correlated: %v", ref, got)
			assert.Less(t, correlated, complete, "lead %s: lead.correlated before lead.complete: %v", ref, got)
		}
	}
}

// verifySignatures checks every request the receiver got the way a
// partner does: x-hub-signature and the Standard Webhooks headers.
func (o *orderReceiver) verifySignatures(t *testing.T, secret string) {
	t.Helper()
	for _, d := range o.deliveries() {
		assert.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret), "x-hub-signature of %s", d.Body)
		assert.NoError(t, standardWebhooksVerify(d.Header, d.Body, whsec(secret)), "Standard Webhooks signature of %s", d.Body)
	}
}

// ownerOf names the cluster process that owns (is sending) the lead's
// pending delivery of an event type.
func ownerOf(t *testing.T, c *cluster, ref, eventType string) string {
	t.Helper()
	var pid int
	require.NoError(t, c.procs["api"].db(t).QueryRow(t.Context(), `SELECT p.pid FROM webhook_deliveries d
		JOIN outbox o ON o.id = d.outbox_id JOIN aurix_processes p ON p.id = d.owner
		WHERE o.correlation_id = $1 AND d.event_type = $2 AND d.status = 'pending'`, ref, eventType).Scan(&pid))
	for name, p := range c.procs {
		if p.cmd.Process.Pid == pid {
			return name
		}
	}
	t.Fatalf("no process of the cluster has pid %d", pid)
	return ""
}

// leadUntilComplete takes one lead from click to lead.complete and returns
// its correlation id.
func leadUntilComplete(t *testing.T, svc *service, n int, wait func(string)) string {
	t.Helper()
	c := svc.click(t, partnerClickURL, "")
	msg := leadMessage(t, c.CorrelationID, n)
	status, body := svc.postWhatsApp(t, msg, metaSignature(msg))
	require.Equal(t, http.StatusOK, status, string(body))
	if wait != nil {
		wait(c.CorrelationID)
	}
	completeLead(t, svc, c.CorrelationID)
	return c.CorrelationID
}

// completeLead has the agent complete the lead of a correlated click.
func completeLead(t *testing.T, svc *service, ref string) {
	t.Helper()
	var convID int64
	require.Eventually(t, func() bool {
		return svc.db(t).QueryRow(t.Context(), "SELECT conversation_id FROM leads WHERE correlation_id = $1", ref).Scan(&convID) == nil
	}, 10*time.Second, 20*time.Millisecond)
	code, lead := svc.patchLead(t, convID, `{"lead_data":{"name":"Lead `+ref+`","email":"lead@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	require.Equal(t, "complete", lead["lead_status"])
}

// TestLeadOrderHoldsWhileAnEarlierEventRetries: a receiver that fails
// lead.correlated three times and then accepts it never sees lead.complete
// before it, and another lead's events flow meanwhile.
func TestLeadOrderHoldsWhileAnEarlierEventRetries(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "1500ms,1500ms,1500ms"})
	rc := newOrderReceiver(t, 3)
	svc.registerWebhook(t, rc.URL)
	first := svc.click(t, partnerClickURL, "").CorrelationID
	rc.waitAccepted(t, "widget.click "+first, 10*time.Second)

	msg := leadMessage(t, first, 1)
	status, _ := svc.postWhatsApp(t, msg, metaSignature(msg))
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.failed >= 1 }, 10*time.Second, 20*time.Millisecond,
		"lead.correlated was not tried")
	var convID int64
	require.NoError(t, svc.db(t).QueryRow(t.Context(), "SELECT conversation_id FROM leads WHERE correlation_id = $1", first).Scan(&convID))
	code, lead := svc.patchLead(t, convID, `{"lead_data":{"name":"First Lead","email":"first@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)

	// Another lead goes all the way while the first one's lead.correlated
	// is still failing.
	second := leadUntilComplete(t, svc, 2, nil)
	rc.waitAccepted(t, "lead.complete "+second, 10*time.Second)
	got := rc.acceptedList()
	assert.Equal(t, -1, indexOf(got, "lead.correlated "+first), "the first lead's correlation is still failing: %v", got)
	assert.Equal(t, -1, indexOf(got, "lead.complete "+first), "and its completion waits: %v", got)

	rc.waitAccepted(t, "lead.complete "+first, 30*time.Second)
	got = rc.acceptedList()
	rc.mu.Lock()
	assert.Equal(t, 3, rc.failed)
	rc.mu.Unlock()
	assert.Less(t, indexOf(got, "lead.correlated "+first), indexOf(got, "lead.complete "+first), "%v", got)
	assert.Less(t, indexOf(got, "lead.complete "+second), indexOf(got, "lead.correlated "+first),
		"the other lead did not wait for the failing one: %v", got)
	for _, ref := range []string{first, second} {
		assert.Equal(t, 1, strings.Count(strings.Join(got, "\n"), "lead.complete "+ref), "lead.complete of %s once", ref)
	}
}

// TestOrderingNoneDoesNotWait: with "ordering": "none" the completion is
// sent while the correlation still fails.
func TestOrderingNoneDoesNotWait(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "1500ms,1500ms,1500ms"})
	rc := newOrderReceiver(t, 3)
	resp, raw := svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey,
		map[string]any{"url": rc.URL, "ordering": "none"})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	assert.Contains(t, string(raw), `"ordering":"none"`)
	c := svc.click(t, partnerClickURL, "")
	rc.waitAccepted(t, "widget.click "+c.CorrelationID, 10*time.Second)
	msg := leadMessage(t, c.CorrelationID, 3)
	status, _ := svc.postWhatsApp(t, msg, metaSignature(msg))
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.failed >= 1 }, 10*time.Second, 20*time.Millisecond)
	var convID int64
	require.NoError(t, svc.db(t).QueryRow(t.Context(), "SELECT conversation_id FROM leads WHERE correlation_id = $1", c.CorrelationID).Scan(&convID))
	code, lead := svc.patchLead(t, convID, `{"lead_data":{"name":"No Order","email":"none@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	rc.waitAccepted(t, "lead.complete "+c.CorrelationID, 10*time.Second)
	assert.Equal(t, -1, indexOf(rc.acceptedList(), "lead.correlated "+c.CorrelationID), "completion went first: %v", rc.acceptedList())
	rc.waitAccepted(t, "lead.correlated "+c.CorrelationID, 30*time.Second)
}

// clusterOf starts one api process and two worker processes with the
// cluster tests' settings and a webhook timeout long enough that a request
// a test holds open ends by the test (or a kill), not by the timeout.
func clusterOf(t *testing.T) *cluster {
	t.Helper()
	env := clusterEnv()
	env["AURIX_WEBHOOK_TIMEOUT"] = "60s"
	return newCluster(t, env, map[string]string{"api": "api", "w1": "worker", "w2": "worker"})
}

// TestLeadOrderAcrossWorkers: with one api process and two worker
// processes, a receiver that fails the first lead's lead.correlated three
// times and then accepts it never accepts that lead's lead.complete before
// it, while four other leads go from click to lead.complete meanwhile
// (the third failure is held open until they are through); every lead's
// events arrive in order, once, signed.
func TestLeadOrderAcrossWorkers(t *testing.T) {
	t.Parallel()
	c := clusterOf(t)
	api := c.procs["api"]
	rc := newLeadReceiver(t, func(o *orderReceiver, _ http.ResponseWriter, r *http.Request, e event, try int) int {
		if !o.failing(e, "lead.correlated") || try > 3 {
			return http.StatusNoContent
		}
		if try == 3 {
			o.hold(r)
		}
		return http.StatusInternalServerError
	})
	secret := api.registerWebhook(t, rc.URL)

	first := startHeldLead(t, api, rc)

	var others []string
	for n := 2; n <= 5; n++ {
		others = append(others, leadUntilComplete(t, api, n, nil))
	}
	for _, ref := range others {
		rc.waitAccepted(t, "lead.complete "+ref, 60*time.Second)
	}
	got := rc.acceptedList()
	assert.Equal(t, -1, indexOf(got, "lead.correlated "+first), "the first lead's correlation is still failing: %v", got)
	assert.Equal(t, -1, indexOf(got, "lead.complete "+first), "and its completion waits: %v", got)

	rc.unhold()
	rc.waitAccepted(t, "lead.complete "+first, 60*time.Second)
	assert.Equal(t, 4, rc.triesOf("lead.correlated "+first), "three failures, then accepted")
	rc.assertLeadOrder(t, append([]string{first}, others...)...)
	got = rc.acceptedList()
	for _, ref := range append([]string{first}, others...) {
		for _, typ := range []string{"widget.click", "lead.correlated", "lead.complete"} {
			assert.Equal(t, 1, countOf(got, typ+" "+ref), "%s of %s accepted once: %v", typ, ref, got)
		}
	}
	rc.verifySignatures(t, secret)
}

// TestLeadOrderAfterAWorkerIsKilled: a lead's lead.correlated fails once;
// its retry is in flight from one of two worker processes when that
// process is killed (kill -9). The survivor takes the delivery over and
// sends it again, and the lead's lead.complete, pending all along, is
// accepted only after it; another lead started after the kill arrives too.
func TestLeadOrderAfterAWorkerIsKilled(t *testing.T) {
	t.Parallel()
	c := clusterOf(t)
	api := c.procs["api"]
	rc := newLeadReceiver(t, func(o *orderReceiver, _ http.ResponseWriter, r *http.Request, e event, try int) int {
		if !o.failing(e, "lead.correlated") || try > 2 {
			return http.StatusNoContent
		}
		if try == 2 {
			o.hold(r) // until its sender is killed
		}
		return http.StatusInternalServerError
	})
	secret := api.registerWebhook(t, rc.URL)

	first := startHeldLead(t, api, rc)

	victim := ownerOf(t, c, first, "lead.correlated")
	c.procs[victim].kill(t)
	second := leadUntilComplete(t, api, 2, nil)

	rc.waitAccepted(t, "lead.complete "+first, 60*time.Second)
	rc.waitAccepted(t, "lead.complete "+second, 60*time.Second)
	assert.GreaterOrEqual(t, rc.triesOf("lead.correlated "+first), 3, "failed, lost with %s, sent again by the survivor", victim)
	t.Logf("killed %s while it sent lead.correlated; requests of it: %d; accepted: %v", victim, rc.triesOf("lead.correlated "+first), rc.leadOrder(first))
	rc.assertLeadOrder(t, first, second)
	rc.verifySignatures(t, secret)
}

// reopenSchedule has enough attempts for a series to keep failing while a
// later event's retry comes due.
var reopenSchedule = strings.TrimSuffix(strings.Repeat("200ms,", 16), ",")

// runReopenHoldsLaterEvents: a lead's lead.correlated gets firstSeries to
// every attempt of its first series; its lead.complete is refused once with
// Retry-After: 2 and so stays pending; then reopen opens a new series of
// lead.correlated. That series fails until two of its attempts came after
// lead.complete's retry was due (a claim made then would have taken
// lead.complete too, were it not held back), and is then accepted. The
// partner must accept lead.complete only after the new series'
// lead.correlated.
func runReopenHoldsLaterEvents(t *testing.T, firstSeries int, reopen func(svc *service, rc *orderReceiver)) {
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": reopenSchedule})
	var (
		reopened    bool
		completeDue time.Time
		afterDue    int
	)
	rc := newLeadReceiver(t, func(o *orderReceiver, w http.ResponseWriter, _ *http.Request, e event, _ int) int {
		o.mu.Lock()
		defer o.mu.Unlock()
		switch {
		case e.Type == "lead.complete" && !reopened:
			w.Header().Set("Retry-After", "2")
			return http.StatusServiceUnavailable
		case e.Type == "lead.correlated" && !reopened:
			return firstSeries
		case e.Type == "lead.correlated":
			if time.Now().After(completeDue) {
				afterDue++
			}
			if afterDue < 2 {
				return http.StatusInternalServerError
			}
		}
		return http.StatusNoContent
	})
	secret := svc.registerWebhook(t, rc.URL)

	ref := svc.click(t, partnerClickURL, "").CorrelationID
	rc.waitAccepted(t, "widget.click "+ref, 30*time.Second)
	msg := leadMessage(t, ref, 1)
	status, body := svc.postWhatsApp(t, msg, metaSignature(msg))
	require.Equal(t, http.StatusOK, status, string(body))
	completeLead(t, svc, ref)

	// lead.correlated's first series has ended, and lead.complete was
	// refused once: it is pending, its retry due in 2 s.
	conn := svc.db(t)
	var due time.Time
	require.Eventually(t, func() bool {
		var correlatedPending int
		require.NoError(t, conn.QueryRow(t.Context(),
			"SELECT count(*) FROM webhook_deliveries WHERE event_type = 'lead.correlated' AND status = 'pending'").Scan(&correlatedPending))
		err := conn.QueryRow(t.Context(), `SELECT next_attempt_at FROM webhook_deliveries
			WHERE event_type = 'lead.complete' AND status = 'pending' AND attempts >= 1`).Scan(&due)
		return correlatedPending == 0 && err == nil
	}, 60*time.Second, 20*time.Millisecond, "lead.correlated's first series ends, lead.complete is refused once")
	rc.mu.Lock()
	reopened, completeDue = true, due
	rc.mu.Unlock()
	reopen(svc, rc)

	// The partner accepts lead.correlated once more (twice in all when its
	// first series was accepted), and only then lead.complete.
	want := 1
	if firstSeries/100 == 2 {
		want = 2
	}
	var got []string
	require.Eventually(t, func() bool {
		got = rc.leadOrder(ref)
		return nthIndex(got, "lead.correlated", want) >= 0 && indexOf(got, "lead.complete") >= 0
	}, 60*time.Second, 20*time.Millisecond, "lead.correlated accepted %d times and lead.complete accepted", want)
	assert.Less(t, nthIndex(got, "lead.correlated", want), indexOf(got, "lead.complete"),
		"lead.complete waited for the new series of lead.correlated: %v", got)
	assert.Equal(t, 2, rc.triesOf("lead.complete "+ref), "lead.complete: refused once, then sent once the new series ended")
	rc.verifySignatures(t, secret)

	// The new series is the same event: same id and bytes, attempts from 1.
	var firstReq, reopenedReq *delivery
	for _, d := range rc.deliveries() {
		if d.Header.Get("X-Aurix-Event") != "lead.correlated" {
			continue
		}
		if firstReq == nil {
			firstReq = &d
		} else if d.Header.Get("X-Aurix-Attempt") == "1" {
			reopenedReq = &d
		}
	}
	require.NotNil(t, reopenedReq, "a new series, counted from attempt 1")
	assert.Equal(t, firstReq.Header.Get("webhook-id"), reopenedReq.Header.Get("webhook-id"))
	assert.Equal(t, firstReq.Body, reopenedReq.Body)
}

// TestRedeliverHoldsTheLeadsLaterEvents: redelivering a lead's
// lead.correlated (already accepted) while its lead.complete is pending
// holds lead.complete back until the new series of lead.correlated ended.
func TestRedeliverHoldsTheLeadsLaterEvents(t *testing.T) {
	t.Parallel()
	runReopenHoldsLaterEvents(t, http.StatusNoContent, func(svc *service, rc *orderReceiver) {
		var eventID string
		for _, d := range rc.deliveries() {
			if d.Header.Get("X-Aurix-Event") == "lead.correlated" {
				eventID = d.Header.Get("webhook-id")
			}
		}
		require.NotEmpty(t, eventID)
		resp, raw := svc.do(t, http.MethodPost, "/api/integrations/topkee/events/"+eventID+"/redeliver", topkeeKey, nil)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		assert.Equal(t, "pending", out["status"])
	})
}

// TestRecoverHoldsTheLeadsLaterEvents: recovering a lead's lead.correlated
// whose every attempt failed, while its lead.complete is pending, holds
// lead.complete back until the recovered series ended.
func TestRecoverHoldsTheLeadsLaterEvents(t *testing.T) {
	t.Parallel()
	runReopenHoldsLaterEvents(t, http.StatusInternalServerError, func(svc *service, _ *orderReceiver) {
		assert.Equal(t, 1, svc.recover(t, `{"since":"2000-01-01"}`).Count, "the exhausted lead.correlated is sent again")
	})
}

// startHeldLead clicks, marks the click's lead as the one whose
// lead.correlated rc fails, correlates and completes it, and returns its
// reference once rc holds a failing attempt of that lead.correlated open.
func startHeldLead(t *testing.T, api *service, rc *orderReceiver) string {
	t.Helper()
	ref := api.click(t, partnerClickURL, "").CorrelationID
	rc.waitAccepted(t, "widget.click "+ref, 30*time.Second)
	rc.failLead(ref)
	msg := leadMessage(t, ref, 1)
	status, body := api.postWhatsApp(t, msg, metaSignature(msg))
	require.Equal(t, http.StatusOK, status, string(body))
	completeLead(t, api, ref)
	rc.waitHolding(t, 60*time.Second)
	return ref
}
