package domain

import (
	"net/http"
	"time"
)

// DeliveryStatus is where one delivery series stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// MaxRecoverPage is the most events one recover call examines: a page is
// one transaction, with a new delivery and its job per event it reopens, and
// its memory is bounded by the page, not by how many deliveries failed.
const MaxRecoverPage = 1000

// MayRedeliver reports whether a new delivery series of an event may be
// opened when its latest series to the config has status latest ("" when it
// has none): not while that series is pending, because it will still be
// attempted and a second series would send the event twice at once. The
// caller must hold the event's lock from reading latest until the new series
// is written, or two callers could both see it finished.
func MayRedeliver(latest DeliveryStatus) bool { return latest != DeliveryPending }

// MayRecover reports whether recover reopens an event whose latest series to
// the config has status latest: only when that series failed (a pending one
// is still being attempted, a succeeded one arrived).
func MayRecover(latest DeliveryStatus) bool { return latest == DeliveryFailed }

// MaxRetryAfter caps how long a receiver's Retry-After may hold a delivery.
const MaxRetryAfter = time.Hour

// AttemptResult is how one attempt went.
type AttemptResult struct {
	// StatusCode is the receiver's answer, 0 when none arrived.
	StatusCode int
	// Failed is true when no answer arrived (transport error, timeout, blocked).
	Failed bool
	// RetryAfter is the receiver's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

// Succeeded reports a 2xx answer.
func (r AttemptResult) Succeeded() bool {
	return !r.Failed && r.StatusCode >= 200 && r.StatusCode < 300
}

// DeliveryDecision is what follows an attempt.
type DeliveryDecision struct {
	Status DeliveryStatus
	// RetryAt is when the next attempt runs (pending only).
	RetryAt time.Time
	// DeactivateConfig switches the endpoint off (410 Gone).
	DeactivateConfig bool
}

// DecideAfterAttempt applies the delivery rules to attempt number attempt:
// a 2xx succeeds; 410 Gone fails and switches the endpoint off; otherwise the
// next attempt follows the schedule (unit in [0,1) picks the jitter), or
// waits for a 429/503 Retry-After bounded to [scheduled delay, 1 hour]; when
// the schedule is used up the delivery fails.
func DecideAfterAttempt(attempt int, r AttemptResult, s RetrySchedule, unit float64, now time.Time) DeliveryDecision {
	switch {
	case r.Succeeded():
		return DeliveryDecision{Status: DeliverySucceeded}
	case !r.Failed && r.StatusCode == http.StatusGone:
		return DeliveryDecision{Status: DeliveryFailed, DeactivateConfig: true}
	case attempt >= s.MaxAttempts():
		return DeliveryDecision{Status: DeliveryFailed}
	}
	delay := s.Delay(attempt, unit)
	if !r.Failed && (r.StatusCode == http.StatusTooManyRequests || r.StatusCode == http.StatusServiceUnavailable) && r.RetryAfter > 0 {
		delay = max(delay, min(r.RetryAfter, MaxRetryAfter))
	}
	return DeliveryDecision{Status: DeliveryPending, RetryAt: now.Add(delay)}
}

// ShouldDisable reports whether an endpoint failing since failingSince has
// failed for long enough to be switched off.
func ShouldDisable(failingSince, now time.Time, after time.Duration) bool {
	return after > 0 && !failingSince.IsZero() && now.Sub(failingSince) >= after
}
