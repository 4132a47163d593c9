package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aurix/integrations/domain"
)

func newConfig() *domain.WebhookConfig {
	return domain.NewWebhookConfig("c1", "topkee", "https://a.example/h", domain.DeliverySettings{Ordering: domain.OrderingLead},
		true, domain.NewSecret("x"), t0)
}

func TestEndpointHealth_FailingClockAndDisableRule(t *testing.T) {
	t.Parallel()
	const after = 5 * 24 * time.Hour
	cfg := newConfig()
	assert.True(t, cfg.FailingSince().IsZero())
	assert.False(t, cfg.NoteSuccess(), "a healthy endpoint's success changes nothing")

	assert.True(t, cfg.Note(domain.EndpointFailing, t0, after), "the first failure starts the clock (a change)")
	assert.Equal(t, t0, cfg.FailingSince())
	assert.False(t, cfg.Note(domain.EndpointFailing, t0.Add(time.Hour), after), "later failures keep the clock")
	assert.Equal(t, t0, cfg.FailingSince())
	assert.True(t, cfg.IsActive())

	assert.True(t, cfg.Note(domain.EndpointAnswered, t0.Add(2*time.Hour), after), "a success stops the clock")
	assert.True(t, cfg.FailingSince().IsZero())

	cfg.NoteFailure(t0.Add(3*time.Hour), after)
	assert.True(t, cfg.NoteFailure(t0.Add(3*time.Hour+after), after), "failing for the whole period switches it off")
	assert.False(t, cfg.IsActive())
	assert.Equal(t, "every delivery failed since 2026-12-01T15:00:00.000Z", cfg.DisabledReason())
	assert.Equal(t, t0.Add(3*time.Hour+after), cfg.DisabledAt())

	on := true
	cfg.Update("https://a.example/h", cfg.Settings(), &on, t0.Add(10*after))
	assert.True(t, cfg.IsActive())
	assert.Empty(t, cfg.DisabledReason())
	assert.True(t, cfg.DisabledAt().IsZero())
	assert.True(t, cfg.FailingSince().IsZero(), "switching on again starts with a clean bill of health")
}

func TestEndpointHealth_NeverDisabledWhenDisableAfterIsZero(t *testing.T) {
	t.Parallel()
	cfg := newConfig()
	cfg.NoteFailure(t0, 0)
	assert.False(t, cfg.NoteFailure(t0.Add(1000*time.Hour), 0))
	assert.False(t, cfg.CheckFailing(t0.Add(1000*time.Hour), 0))
	assert.True(t, cfg.IsActive())
}

func TestEndpointHealth_GoneSwitchesOffAtOnce(t *testing.T) {
	t.Parallel()
	cfg := newConfig()
	assert.True(t, cfg.Note(domain.EndpointGone, t0, time.Hour))
	assert.False(t, cfg.IsActive())
	assert.Equal(t, domain.ReasonGone, cfg.DisabledReason())
	assert.Equal(t, t0, cfg.DisabledAt())
	assert.False(t, cfg.NoteGone(t0.Add(time.Minute)), "already off")
	assert.Equal(t, t0, cfg.DisabledAt(), "since when stays the first time")
}

func TestEndpointHealth_SweepSwitchesOffAnEndpointNoAttemptReaches(t *testing.T) {
	t.Parallel()
	cfg := newConfig()
	cfg.NoteFailure(t0, time.Hour)
	assert.False(t, cfg.CheckFailing(t0.Add(59*time.Minute), time.Hour))
	assert.True(t, cfg.CheckFailing(t0.Add(time.Hour), time.Hour))
	assert.False(t, cfg.IsActive())
}

func TestEndpointHealth_PartnerSwitchesOff(t *testing.T) {
	t.Parallel()
	cfg := newConfig()
	off := false
	cfg.Update("https://a.example/h", cfg.Settings(), &off, t0.Add(time.Minute))
	assert.False(t, cfg.IsActive())
	assert.Equal(t, domain.ReasonSwitchedOffByPartner, cfg.DisabledReason())
	assert.Equal(t, t0.Add(time.Minute), cfg.DisabledAt())

	gone := newConfig()
	gone.NoteGone(t0)
	gone.Update("https://a.example/h", gone.Settings(), &off, t0.Add(time.Hour))
	assert.Equal(t, domain.ReasonGone, gone.DisabledReason(), "switching off an endpoint that is off keeps why and since when")
	assert.Equal(t, t0, gone.DisabledAt())
}
