package domain

import "time"

// RetentionPolicy says how long each kind of data is kept; 0 keeps it
// forever.
type RetentionPolicy struct {
	// DeliveryLog keeps the outbox payloads, deliveries and attempts of an
	// event this long after its last delivery ended.
	DeliveryLog time.Duration
	// MessageIDs keeps the WhatsApp message keys used for deduplication
	// this long after the message arrived.
	MessageIDs time.Duration
	// UncorrelatedClicks keeps a click that never became a lead this long
	// after it was made.
	UncorrelatedClicks time.Duration
	// Leads keeps a lead, with its conversation and click, this long after
	// its last change (started, correlated, completed).
	Leads time.Duration
	// CorrelationWindow is how long a click can still become a lead: a
	// click is never purged while it can.
	CorrelationWindow time.Duration
}

// RetentionCutoffs are the times before which each kind of data may go, as
// of one moment; a nil cutoff keeps that kind forever.
type RetentionCutoffs struct {
	DeliveryLog, MessageIDs, Clicks, Leads *time.Time
}

// Cutoffs returns the policy's cutoffs at now. A click's is the earlier of
// its retention and its correlation window, so a click that may still be
// correlated stays whatever its retention says.
func (p RetentionPolicy) Cutoffs(now time.Time) RetentionCutoffs {
	before := func(d time.Duration) *time.Time {
		if d <= 0 {
			return nil
		}
		t := now.Add(-d)
		return &t
	}
	c := RetentionCutoffs{
		DeliveryLog: before(p.DeliveryLog),
		MessageIDs:  before(p.MessageIDs),
		Leads:       before(p.Leads),
	}
	if p.UncorrelatedClicks > 0 {
		c.Clicks = before(max(p.UncorrelatedClicks, p.CorrelationWindow))
	}
	return c
}

// StoredEventFacts is what the purge knows of one stored event: when it
// was written and how its deliveries stand.
type StoredEventFacts struct {
	OutboxID  int64
	CreatedAt time.Time
	// Pending counts its deliveries still pending.
	Pending int
	// LastFinished is when the last of its deliveries ended; nil when it
	// has none.
	LastFinished *time.Time
}

// EventFinishedAt is when an event is finished: none of its deliveries is
// pending, and the last one ended then (an event no config received is
// finished when it was written). ok is false while a delivery is pending.
func EventFinishedAt(e StoredEventFacts) (at time.Time, ok bool) {
	if e.Pending > 0 {
		return time.Time{}, false
	}
	if e.LastFinished == nil || e.LastFinished.Before(e.CreatedAt) {
		return e.CreatedAt, true
	}
	return *e.LastFinished, true
}

// EventMayGo reports whether an event's payload, deliveries and attempts
// may be purged: it is finished, and was before the delivery-log cutoff. A
// pending delivery (a retry due, a redelivery asked for) keeps it.
func (c RetentionCutoffs) EventMayGo(e StoredEventFacts) bool {
	if c.DeliveryLog == nil {
		return false
	}
	at, ok := EventFinishedAt(e)
	return ok && at.Before(*c.DeliveryLog)
}

// StoredClickFacts is what the purge knows of one click.
type StoredClickFacts struct {
	ID        int64
	CreatedAt time.Time
	// Correlated is true when the click became a lead.
	Correlated bool
}

// ClickMayGo reports whether a click may be purged on its own: it never
// became a lead (a lead's click lives as long as the lead) and was made
// before the click cutoff.
func (c RetentionCutoffs) ClickMayGo(s StoredClickFacts) bool {
	return c.Clicks != nil && !s.Correlated && s.CreatedAt.Before(*c.Clicks)
}

// StoredLeadFacts is what the purge knows of one lead.
type StoredLeadFacts struct {
	ConversationID int64
	CreatedAt      time.Time
	CorrelatedAt   *time.Time
	CompletedAt    *time.Time
}

// LeadLastChange is the latest of a lead's start, correlation and
// completion.
func LeadLastChange(l StoredLeadFacts) time.Time {
	last := l.CreatedAt
	for _, t := range []*time.Time{l.CorrelatedAt, l.CompletedAt} {
		if t != nil && t.After(last) {
			last = *t
		}
	}
	return last
}

// LeadMayGo reports whether a lead, with its conversation and click, may
// be purged: its last change was before the lead cutoff.
func (c RetentionCutoffs) LeadMayGo(l StoredLeadFacts) bool {
	return c.Leads != nil && LeadLastChange(l).Before(*c.Leads)
}

// StoredMessageFacts is what the purge knows of one message key.
type StoredMessageFacts struct {
	Key        string
	ReceivedAt time.Time
}

// MessageMayGo reports whether a message key may be purged: it arrived
// before the message cutoff. Meta retries an unacknowledged notification
// for days, not weeks, so a key older than that guards nothing.
func (c RetentionCutoffs) MessageMayGo(m StoredMessageFacts) bool {
	return c.MessageIDs != nil && m.ReceivedAt.Before(*c.MessageIDs)
}
