package domain

import (
	"fmt"
	"time"
)

// Why an endpoint was switched off.
const (
	ReasonGone                 = "the endpoint answered 410 Gone"
	ReasonSwitchedOffByPartner = "switched off by the partner (is_active false)"
)

func reasonFailing(since time.Time) string {
	return fmt.Sprintf("every delivery failed since %s", FormatTime(since))
}

// NoteSuccess records that the endpoint answered 2xx: it is healthy again.
// It reports whether that changed anything (so a healthy endpoint's success
// needs no write).
func (c *WebhookConfig) NoteSuccess() bool {
	if c.failingSince.IsZero() {
		return false
	}
	c.failingSince = time.Time{}
	return true
}

// NoteFailure records a failed attempt at at: the failure clock starts if it
// was not running, and an endpoint that has failed without a success for
// disableAfter (0: never) is switched off. It reports whether the endpoint
// was switched off now.
func (c *WebhookConfig) NoteFailure(at time.Time, disableAfter time.Duration) bool {
	at = at.UTC().Truncate(time.Millisecond)
	if c.failingSince.IsZero() {
		c.failingSince = at
	}
	return c.CheckFailing(at, disableAfter)
}

// CheckFailing switches off an endpoint that has been failing without a
// success for disableAfter (0: never), as the periodic sweep does for one
// that gets no attempts any more. It reports whether it did now.
func (c *WebhookConfig) CheckFailing(now time.Time, disableAfter time.Duration) bool {
	if !c.isActive || disableAfter <= 0 || c.failingSince.IsZero() || now.Sub(c.failingSince) < disableAfter {
		return false
	}
	c.disable(reasonFailing(c.failingSince), now)
	return true
}

// NoteGone records a 410 Gone: the endpoint is switched off at once. It
// reports whether it was active until now.
func (c *WebhookConfig) NoteGone(at time.Time) bool {
	if !c.isActive {
		return false
	}
	c.disable(ReasonGone, at.UTC().Truncate(time.Millisecond))
	return true
}

// Reactivate switches the endpoint on with a clean bill of health.
func (c *WebhookConfig) Reactivate() {
	c.isActive, c.disabledReason, c.disabledAt, c.failingSince = true, "", time.Time{}, time.Time{}
}

func (c *WebhookConfig) disable(reason string, at time.Time) {
	c.isActive, c.disabledReason, c.disabledAt = false, reason, at
}

// Note applies what an attempt said of the endpoint and reports whether the
// config changed (and so must be stored).
func (c *WebhookConfig) Note(sig EndpointSignal, at time.Time, disableAfter time.Duration) bool {
	switch sig {
	case EndpointAnswered:
		return c.NoteSuccess()
	case EndpointGone:
		return c.NoteGone(at)
	default:
		wasFailing := !c.failingSince.IsZero()
		return c.NoteFailure(at, disableAfter) || !wasFailing
	}
}
