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

// orderReceiver answers 500 to the first `failures` lead.correlated
// requests of the first lead it hears of, 204 to everything else, and notes
// the order in which events were accepted.
type orderReceiver struct {
	*receiver
	mu       sync.Mutex
	accepted []string // "event_type correlation_id"
	failRef  string
	failed   int
}

func newOrderReceiver(t *testing.T, failures int) *orderReceiver {
	o := &orderReceiver{}
	o.receiver = newScriptedReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		var e event
		_ = json.NewDecoder(strings.NewReader(string(o.lastBody()))).Decode(&e)
		ref, _ := e.Data["correlation_id"].(string)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.failRef == "" {
			o.failRef = ref
		}
		if e.Type == "lead.correlated" && ref == o.failRef && o.failed < failures {
			o.failed++
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		o.accepted = append(o.accepted, e.Type+" "+ref)
		w.WriteHeader(http.StatusNoContent)
	})
	return o
}

// lastBody is the body of the request being answered (the receiver
// records each request before it is answered, one at a time per request).
func (o *orderReceiver) lastBody() []byte {
	d := o.deliveries()
	return d[len(d)-1].Body
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
	var convID int64
	require.Eventually(t, func() bool {
		return svc.db(t).QueryRow(t.Context(), "SELECT conversation_id FROM leads WHERE correlation_id = $1", c.CorrelationID).Scan(&convID) == nil
	}, 10*time.Second, 20*time.Millisecond)
	code, lead := svc.patchLead(t, convID, `{"lead_data":{"name":"Lead `+c.CorrelationID+`","email":"lead@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	require.Equal(t, "complete", lead["lead_status"])
	return c.CorrelationID
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
