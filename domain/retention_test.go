package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

var retentionNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return retentionNow.Add(-d) }

func agoPtr(d time.Duration) *time.Time { t := ago(d); return &t }

func TestRetentionCutoffs(t *testing.T) {
	t.Parallel()
	p := domain.RetentionPolicy{DeliveryLog: 720 * time.Hour, MessageIDs: 24 * time.Hour, UncorrelatedClicks: 2160 * time.Hour,
		CorrelationWindow: 168 * time.Hour}
	c := p.Cutoffs(retentionNow)
	require.NotNil(t, c.DeliveryLog)
	assert.Equal(t, ago(720*time.Hour), *c.DeliveryLog)
	assert.Equal(t, ago(24*time.Hour), *c.MessageIDs)
	assert.Equal(t, ago(2160*time.Hour), *c.Clicks)
	assert.Nil(t, c.Leads, "0 keeps leads forever")

	// A click that can still be correlated stays, whatever its retention.
	short := domain.RetentionPolicy{UncorrelatedClicks: time.Hour, CorrelationWindow: 168 * time.Hour}.Cutoffs(retentionNow)
	assert.Equal(t, ago(168*time.Hour), *short.Clicks)
	// 0 keeps every kind forever, whatever the window.
	none := domain.RetentionPolicy{CorrelationWindow: time.Hour}.Cutoffs(retentionNow)
	assert.Equal(t, domain.RetentionCutoffs{}, none)
	assert.False(t, none.EventMayGo(domain.StoredEventFacts{CreatedAt: ago(1e6 * time.Hour)}))
	assert.False(t, none.ClickMayGo(domain.StoredClickFacts{CreatedAt: ago(1e6 * time.Hour)}))
	assert.False(t, none.LeadMayGo(domain.StoredLeadFacts{CreatedAt: ago(1e6 * time.Hour)}))
	assert.False(t, none.MessageMayGo(domain.StoredMessageFacts{ReceivedAt: ago(1e6 * time.Hour)}))
}

func TestEventMayGo(t *testing.T) {
	t.Parallel()
	c := domain.RetentionPolicy{DeliveryLog: 10 * time.Hour}.Cutoffs(retentionNow)
	tests := []struct {
		name string
		e    domain.StoredEventFacts
		want bool
	}{
		{"finished long ago", domain.StoredEventFacts{CreatedAt: ago(30 * time.Hour), LastFinished: agoPtr(20 * time.Hour)}, true},
		{"a delivery still pending", domain.StoredEventFacts{CreatedAt: ago(30 * time.Hour), Pending: 1, LastFinished: agoPtr(20 * time.Hour)}, false},
		{"old but finished recently (retries, a redelivery)", domain.StoredEventFacts{CreatedAt: ago(30 * time.Hour), LastFinished: agoPtr(time.Hour)}, false},
		{"no config received it, written long ago", domain.StoredEventFacts{CreatedAt: ago(11 * time.Hour)}, true},
		{"no config received it, written recently", domain.StoredEventFacts{CreatedAt: ago(9 * time.Hour)}, false},
		{"finished exactly at the cutoff", domain.StoredEventFacts{CreatedAt: ago(30 * time.Hour), LastFinished: agoPtr(10 * time.Hour)}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, c.EventMayGo(tt.e), tt.name)
	}
	at, ok := domain.EventFinishedAt(domain.StoredEventFacts{CreatedAt: ago(2 * time.Hour), Pending: 2})
	assert.False(t, ok)
	assert.True(t, at.IsZero())
}

func TestClickAndLeadAndMessageMayGo(t *testing.T) {
	t.Parallel()
	c := domain.RetentionPolicy{UncorrelatedClicks: 10 * time.Hour, Leads: 100 * time.Hour, MessageIDs: time.Hour,
		CorrelationWindow: time.Hour}.Cutoffs(retentionNow)
	assert.True(t, c.ClickMayGo(domain.StoredClickFacts{CreatedAt: ago(11 * time.Hour)}))
	assert.False(t, c.ClickMayGo(domain.StoredClickFacts{CreatedAt: ago(9 * time.Hour)}))
	assert.False(t, c.ClickMayGo(domain.StoredClickFacts{CreatedAt: ago(11 * time.Hour), Correlated: true}), "a lead's click lives with the lead")

	assert.True(t, c.LeadMayGo(domain.StoredLeadFacts{CreatedAt: ago(200 * time.Hour)}))
	assert.False(t, c.LeadMayGo(domain.StoredLeadFacts{CreatedAt: ago(200 * time.Hour), CompletedAt: agoPtr(50 * time.Hour)}),
		"a lead completed recently is recent")
	assert.False(t, c.LeadMayGo(domain.StoredLeadFacts{CreatedAt: ago(200 * time.Hour), CorrelatedAt: agoPtr(99 * time.Hour)}))
	assert.Equal(t, ago(50*time.Hour), domain.LeadLastChange(domain.StoredLeadFacts{CreatedAt: ago(200 * time.Hour),
		CorrelatedAt: agoPtr(190 * time.Hour), CompletedAt: agoPtr(50 * time.Hour)}))

	assert.True(t, c.MessageMayGo(domain.StoredMessageFacts{ReceivedAt: ago(2 * time.Hour)}))
	assert.False(t, c.MessageMayGo(domain.StoredMessageFacts{ReceivedAt: ago(30 * time.Minute)}))
}
