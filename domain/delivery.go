package domain

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// DeliveryStatus is where one delivery series stands.
type DeliveryStatus string

// Delivery statuses. A delivery is pending until its event reached the
// partner (succeeded) or until it ends without having done so: failed when it
// was stopped early (the endpoint answered 410 Gone or was switched off),
// exhausted when every attempt of the retry schedule failed.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryExhausted DeliveryStatus = "exhausted"
)

// DeliveryStatuses are the statuses a delivery can be in, in the order of a
// delivery's life.
var DeliveryStatuses = []DeliveryStatus{DeliveryPending, DeliverySucceeded, DeliveryFailed, DeliveryExhausted}

// ParseDeliveryStatus returns the status s names, or an error saying which
// statuses there are.
func ParseDeliveryStatus(s string) (DeliveryStatus, error) {
	if i := slices.Index(DeliveryStatuses, DeliveryStatus(s)); i >= 0 {
		return DeliveryStatuses[i], nil
	}
	return "", errors.New("must be " + orList(DeliveryStatuses))
}

// Ended reports whether the status is final.
func (s DeliveryStatus) Ended() bool { return s != DeliveryPending }

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
// the config has status latest: only when that series ended without success
// (failed or exhausted; a pending one is still being attempted, a succeeded
// one arrived).
func MayRecover(latest DeliveryStatus) bool {
	return latest == DeliveryFailed || latest == DeliveryExhausted
}

// The receiver's answers the delivery rules act on, by their HTTP status
// codes: the numbers are the webhook contract (README "The delivery
// model"), so the domain names them itself rather than import the HTTP
// library for them.
const (
	statusGone               = 410
	statusTooManyRequests    = 429
	statusServiceUnavailable = 503
)

// MaxRetryAfter caps how long a receiver's Retry-After may hold a delivery.
const MaxRetryAfter = time.Hour

// ErrDeliveryEnded marks an attempt on a delivery that is no longer pending.
var ErrDeliveryEnded = errors.New("delivery has ended")

// AttemptResult is how one attempt went.
type AttemptResult struct {
	// StatusCode is the receiver's answer, 0 when none arrived.
	StatusCode int
	// Err says why no whole answer arrived (transport error, timeout,
	// blocked address, body cut short); nil when one did.
	Err error
	// RetryAfter is the receiver's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Duration is how long the attempt took.
	Duration time.Duration
	// Response is the start of the receiver's answer.
	Response []byte
}

// Succeeded reports a 2xx answer that arrived whole.
func (r AttemptResult) Succeeded() bool {
	return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300
}

// gone reports a 410 Gone: the partner says the endpoint is no more.
func (r AttemptResult) gone() bool { return r.StatusCode == statusGone }

// EndpointSignal is what an attempt says about the partner's endpoint; the
// webhook config's health rules act on it.
type EndpointSignal int

// Endpoint signals.
const (
	// EndpointAnswered: a 2xx arrived, the endpoint works.
	EndpointAnswered EndpointSignal = iota
	// EndpointFailing: no answer or a non-2xx answer other than 410.
	EndpointFailing
	// EndpointGone: 410 Gone.
	EndpointGone
)

// DeliveryAttempt is the record of one attempt, as the delivery log keeps it.
type DeliveryAttempt struct {
	DeliveryID  int64
	EventID     string
	ConfigID    string
	Attempt     int
	StatusCode  int
	Duration    time.Duration
	Error       string
	Response    []byte
	AttemptedAt time.Time
}

// Delivery is one delivery series of one event to one webhook config: the
// first attempt and its retries, until the event reached the partner or the
// delivery ended without it. A redelivery is a new series of the same event.
type Delivery struct {
	id             int64
	outboxID       int64
	eventID        string
	eventType      EventType
	configID       string
	leadKey        string
	series         int
	status         DeliveryStatus
	attempts       int
	lastStatusCode int
	lastError      string
	createdAt      time.Time
	nextAttemptAt  *time.Time
	finishedAt     *time.Time
}

// OpenDelivery opens series number series of the event to the config, its
// first attempt due at once.
func OpenDelivery(ev EventRef, configID string, series int, now time.Time) *Delivery {
	now = now.UTC().Truncate(time.Millisecond)
	return &Delivery{outboxID: ev.OutboxID, eventID: ev.EventID, eventType: ev.Type, configID: configID,
		leadKey: ev.LeadKey, series: series, status: DeliveryPending, createdAt: now, nextAttemptAt: &now}
}

// EventRef is what a delivery needs to know of its event.
type EventRef struct {
	// OutboxID is the stored event's row; 0 for an event stored in the
	// same write as its deliveries, which find it by EventID.
	OutboxID int64
	EventID  string
	Type     EventType
	// LeadKey groups the events of one lead for ordered delivery.
	LeadKey string
}

// RecordAttempt applies the delivery rules to an attempt that has just been
// made and returns its record and what it says of the endpoint:
//   - a 2xx succeeds;
//   - 410 Gone fails the delivery and tells the config the endpoint is gone;
//   - any other failure schedules the next attempt on the schedule (unit in
//     [0,1) picks the jitter), or for a 429/503 with Retry-After not before
//     that, bounded to an hour; when the schedule is used up the delivery is
//     exhausted.
func (d *Delivery) RecordAttempt(r AttemptResult, s RetrySchedule, unit float64, now time.Time) (DeliveryAttempt, EndpointSignal, error) {
	if d.status.Ended() {
		return DeliveryAttempt{}, EndpointFailing, fmt.Errorf("attempt on delivery %d: %w", d.id, ErrDeliveryEnded)
	}
	now = now.UTC()
	d.attempts++
	d.lastStatusCode = r.StatusCode
	d.lastError = ""
	switch {
	case r.Err != nil:
		d.lastError = r.Err.Error()
	case !r.Succeeded():
		d.lastError = fmt.Sprintf("receiver answered %d", r.StatusCode)
	}
	rec := DeliveryAttempt{DeliveryID: d.id, EventID: d.eventID, ConfigID: d.configID, Attempt: d.attempts,
		StatusCode: r.StatusCode, Duration: r.Duration, Error: d.lastError, Response: r.Response, AttemptedAt: now}
	switch {
	case r.Succeeded():
		d.finish(DeliverySucceeded, now)
		return rec, EndpointAnswered, nil
	case r.Err == nil && r.gone():
		d.finish(DeliveryFailed, now)
		return rec, EndpointGone, nil
	case d.attempts >= s.MaxAttempts():
		d.finish(DeliveryExhausted, now)
		return rec, EndpointFailing, nil
	}
	delay := s.Delay(d.attempts, unit)
	if r.RetryAfter > 0 && (r.StatusCode == statusTooManyRequests || r.StatusCode == statusServiceUnavailable) {
		delay = max(delay, min(r.RetryAfter, MaxRetryAfter))
	}
	next := now.Add(delay)
	d.nextAttemptAt = &next
	return rec, EndpointFailing, nil
}

// WaitsForEarlier is the lead-ordering rule: under settings that order a
// config's events by lead ("ordering": "lead", the default), a delivery of a
// lead's event is not due while an earlier event of the same lead (one
// written before it: a smaller outbox id) has a pending delivery to the
// same config, whichever series that is (a retry scheduled, or a new series
// opened by redeliver or recover). It goes once that delivery succeeded,
// failed or exhausted its retries. A delivery never waits for another
// lead's events, for a later event, or when its event belongs to no lead;
// under "ordering": "none" nothing waits. others may hold any deliveries:
// those of other configs or leads are not considered.
//
// The claim applies this rule in storage (adapters/postgres, claimSQL in
// bypass_hotpath.go) as a NOT EXISTS over the config's pending deliveries:
// a claim picks its deliveries in one set-based statement, which cannot
// call Go for each row. The two must agree; a test holds them to it.
func (d *Delivery) WaitsForEarlier(s DeliverySettings, others []*Delivery) bool {
	if !s.Ordered() || d.leadKey == "" {
		return false
	}
	for _, e := range others {
		if e.configID == d.configID && e.leadKey == d.leadKey && e.status == DeliveryPending && e.outboxID < d.outboxID {
			return true
		}
	}
	return false
}

// Abandon ends a pending delivery without an attempt, because its endpoint
// no longer takes events (switched off by its partner or by the service).
func (d *Delivery) Abandon(reason string, now time.Time) {
	if d.status.Ended() {
		return
	}
	d.lastError = reason
	d.finish(DeliveryFailed, now.UTC())
}

func (d *Delivery) finish(s DeliveryStatus, now time.Time) {
	d.status, d.nextAttemptAt, d.finishedAt = s, nil, &now
}

// ID returns the delivery's id (0 until stored).
func (d *Delivery) ID() int64 { return d.id }

// Status returns where the delivery stands.
func (d *Delivery) Status() DeliveryStatus { return d.status }

// Attempts returns how many attempts were made in this series.
func (d *Delivery) Attempts() int { return d.attempts }

// NextAttempt returns the number the next attempt will carry.
func (d *Delivery) NextAttempt() int { return d.attempts + 1 }

// ConfigID returns the webhook config the delivery goes to.
func (d *Delivery) ConfigID() string { return d.configID }

// EventID returns the delivered event's id.
func (d *Delivery) EventID() string { return d.eventID }

// DeliveryRow is the stored form of a Delivery.
type DeliveryRow struct {
	ID             int64
	OutboxID       int64
	EventID        string
	EventType      EventType
	ConfigID       string
	LeadKey        string
	Series         int
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	NextAttemptAt  *time.Time
	FinishedAt     *time.Time
}

// RehydrateDelivery rebuilds a delivery from storage.
func RehydrateDelivery(r DeliveryRow) *Delivery {
	return &Delivery{id: r.ID, outboxID: r.OutboxID, eventID: r.EventID, eventType: r.EventType, configID: r.ConfigID,
		leadKey: r.LeadKey, series: r.Series, status: r.Status, attempts: r.Attempts, lastStatusCode: r.LastStatusCode,
		lastError: r.LastError, createdAt: r.CreatedAt, nextAttemptAt: r.NextAttemptAt, finishedAt: r.FinishedAt}
}

// Row returns the stored form.
func (d *Delivery) Row() DeliveryRow {
	return DeliveryRow{ID: d.id, OutboxID: d.outboxID, EventID: d.eventID, EventType: d.eventType, ConfigID: d.configID,
		LeadKey: d.leadKey, Series: d.series, Status: d.status, Attempts: d.attempts, LastStatusCode: d.lastStatusCode,
		LastError: d.lastError, CreatedAt: d.createdAt, NextAttemptAt: d.nextAttemptAt, FinishedAt: d.finishedAt}
}
