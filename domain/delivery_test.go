package domain_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

var (
	t0       = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	schedule = domain.RetrySchedule{5 * time.Second, 5 * time.Minute}
)

func openDelivery() *domain.Delivery {
	return domain.OpenDelivery(domain.EventRef{OutboxID: 7, EventID: "e1", Type: domain.EventWidgetClick, LeadKey: "O-abc123"}, "c1", 0, t0)
}

func TestOpenDelivery_IsDueAtOnce(t *testing.T) {
	t.Parallel()
	d := openDelivery()
	r := d.Row()
	assert.Equal(t, domain.DeliveryPending, r.Status)
	assert.Equal(t, 0, r.Attempts)
	require.NotNil(t, r.NextAttemptAt)
	assert.Equal(t, t0, *r.NextAttemptAt)
	assert.Equal(t, "O-abc123", r.LeadKey)
	assert.Equal(t, 1, d.NextAttempt())
}

func TestRecordAttempt(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Second)
	tests := []struct {
		name       string
		prior      int // attempts already failed
		result     domain.AttemptResult
		unit       float64
		wantStatus domain.DeliveryStatus
		wantSignal domain.EndpointSignal
		wantNext   time.Duration // after at; 0 when none
		wantError  string
	}{
		{"2xx succeeds", 0, domain.AttemptResult{StatusCode: 204}, 0.5, domain.DeliverySucceeded, domain.EndpointAnswered, 0, ""},
		{"500 retries on the schedule", 0, domain.AttemptResult{StatusCode: 500}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "receiver answered 500"},
		{"jitter low end", 0, domain.AttemptResult{StatusCode: 500}, 0, domain.DeliveryPending, domain.EndpointFailing, 4 * time.Second, "receiver answered 500"},
		{"no answer retries", 0, domain.AttemptResult{Err: errors.New("timed out")}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "timed out"},
		{"2xx cut short is a failure", 0, domain.AttemptResult{StatusCode: 200, Err: errors.New("read response: timed out")}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "read response: timed out"},
		{"410 fails and says gone", 0, domain.AttemptResult{StatusCode: http.StatusGone}, 0.5, domain.DeliveryFailed, domain.EndpointGone, 0, "receiver answered 410"},
		{"302 is a failure", 0, domain.AttemptResult{StatusCode: 302}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "receiver answered 302"},
		{"second retry uses the second delay", 1, domain.AttemptResult{StatusCode: 500}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Minute, "receiver answered 500"},
		{"last attempt exhausts", 2, domain.AttemptResult{StatusCode: 500}, 0.5, domain.DeliveryExhausted, domain.EndpointFailing, 0, "receiver answered 500"},
		{"429 Retry-After longer than the schedule", 0, domain.AttemptResult{StatusCode: 429, RetryAfter: time.Minute}, 0.5, domain.DeliveryPending, domain.EndpointFailing, time.Minute, "receiver answered 429"},
		{"503 Retry-After shorter than the schedule", 0, domain.AttemptResult{StatusCode: 503, RetryAfter: time.Second}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "receiver answered 503"},
		{"Retry-After capped at an hour", 0, domain.AttemptResult{StatusCode: 503, RetryAfter: 5 * time.Hour}, 0.5, domain.DeliveryPending, domain.EndpointFailing, time.Hour, "receiver answered 503"},
		{"Retry-After ignored on a 500", 0, domain.AttemptResult{StatusCode: 500, RetryAfter: time.Hour}, 0.5, domain.DeliveryPending, domain.EndpointFailing, 5 * time.Second, "receiver answered 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := openDelivery()
			for i := range tt.prior {
				_, _, err := d.RecordAttempt(domain.AttemptResult{StatusCode: 500}, schedule, 0.5, t0.Add(time.Duration(i)*time.Millisecond))
				require.NoError(t, err)
			}
			rec, sig, err := d.RecordAttempt(tt.result, schedule, tt.unit, at)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, d.Status())
			assert.Equal(t, tt.wantSignal, sig)
			assert.Equal(t, tt.prior+1, rec.Attempt)
			assert.Equal(t, tt.prior+1, d.Attempts())
			assert.Equal(t, tt.wantError, rec.Error)
			assert.Equal(t, tt.result.StatusCode, rec.StatusCode)
			r := d.Row()
			if tt.wantNext == 0 {
				assert.Nil(t, r.NextAttemptAt, "an ended delivery has no next attempt")
				require.NotNil(t, r.FinishedAt)
				assert.Equal(t, at, *r.FinishedAt)
			} else {
				require.NotNil(t, r.NextAttemptAt)
				assert.Equal(t, at.Add(tt.wantNext), *r.NextAttemptAt)
				assert.Nil(t, r.FinishedAt)
			}
		})
	}
}

func TestRecordAttempt_OnAnEndedDeliveryIsRefused(t *testing.T) {
	t.Parallel()
	d := openDelivery()
	_, _, err := d.RecordAttempt(domain.AttemptResult{StatusCode: 200}, schedule, 0.5, t0)
	require.NoError(t, err)
	_, _, err = d.RecordAttempt(domain.AttemptResult{StatusCode: 200}, schedule, 0.5, t0)
	assert.ErrorIs(t, err, domain.ErrDeliveryEnded)
	assert.Equal(t, 1, d.Attempts())
}

func TestAbandon(t *testing.T) {
	t.Parallel()
	d := openDelivery()
	d.Abandon("webhook config is inactive", t0)
	r := d.Row()
	assert.Equal(t, domain.DeliveryFailed, r.Status)
	assert.Equal(t, 0, r.Attempts)
	assert.Equal(t, "webhook config is inactive", r.LastError)
	assert.Nil(t, r.NextAttemptAt)
	d.Abandon("again", t0.Add(time.Hour))
	assert.Equal(t, "webhook config is inactive", d.Row().LastError, "an ended delivery stays as it ended")
}

func TestRehydrateDelivery_RoundTrips(t *testing.T) {
	t.Parallel()
	d := openDelivery()
	_, _, err := d.RecordAttempt(domain.AttemptResult{StatusCode: 500}, schedule, 0.5, t0)
	require.NoError(t, err)
	assert.Equal(t, d.Row(), domain.RehydrateDelivery(d.Row()).Row())
}

// TestReopenRules: what redeliver and recover may reopen, by the status of
// the event's latest series ("" when it has none).
func TestReopenRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		latest               domain.DeliveryStatus
		redeliver, recovered bool
	}{
		{"", true, false},
		{domain.DeliveryPending, false, false},
		{domain.DeliverySucceeded, true, false},
		{domain.DeliveryFailed, true, true},
		{domain.DeliveryExhausted, true, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.redeliver, domain.MayRedeliver(tt.latest), "redeliver after %q", tt.latest)
		assert.Equal(t, tt.recovered, domain.MayRecover(tt.latest), "recover after %q", tt.latest)
	}
}

// TestWaitsForEarlier: the lead-ordering rule, case by case.
func TestWaitsForEarlier(t *testing.T) {
	t.Parallel()
	lead, none := domain.DeliverySettings{Ordering: domain.OrderingLead}, domain.DeliverySettings{Ordering: domain.OrderingNone}
	del := func(outboxID int64, config, leadKey string, status domain.DeliveryStatus) *domain.Delivery {
		return domain.RehydrateDelivery(domain.DeliveryRow{ID: outboxID * 10, OutboxID: outboxID, ConfigID: config, LeadKey: leadKey,
			Status: status})
	}
	// The delivery asked about: event 5 of lead L to config c1.
	d := del(5, "c1", "L", domain.DeliveryPending)
	tests := []struct {
		name     string
		settings domain.DeliverySettings
		d        *domain.Delivery
		others   []*domain.Delivery
		want     bool
	}{
		{"an earlier event of the lead is pending", lead, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliveryPending)}, true},
		{"the earlier event succeeded", lead, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliverySucceeded)}, false},
		{"the earlier event exhausted its retries", lead, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliveryExhausted)}, false},
		{"the earlier event failed", lead, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliveryFailed)}, false},
		{"a new series of the earlier event is pending again", lead, d,
			[]*domain.Delivery{del(4, "c1", "L", domain.DeliveryFailed), del(4, "c1", "L", domain.DeliveryPending)}, true},
		{"only a later event is pending", lead, d, []*domain.Delivery{del(6, "c1", "L", domain.DeliveryPending)}, false},
		{"another lead's earlier event is pending", lead, d, []*domain.Delivery{del(4, "c1", "M", domain.DeliveryPending)}, false},
		{"the lead's earlier event is pending to another config", lead, d, []*domain.Delivery{del(4, "c2", "L", domain.DeliveryPending)}, false},
		{"its own delivery", lead, d, []*domain.Delivery{d}, false},
		{"an event of no lead", lead, del(5, "c1", "", domain.DeliveryPending), []*domain.Delivery{del(4, "c1", "", domain.DeliveryPending)}, false},
		{"ordering none", none, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliveryPending)}, false},
		{"no settings given orders by lead", domain.DeliverySettings{}, d, []*domain.Delivery{del(4, "c1", "L", domain.DeliveryPending)}, true},
		{"nothing else", lead, d, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.d.WaitsForEarlier(tt.settings, tt.others))
		})
	}
}
