package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventType names a partner-visible event.
type EventType string

// The events partners receive: the partner document's three, and
// lead.erased, which tells partners that a lead's (or a click's) personal
// data was erased here, so that they can erase their copy too.
const (
	EventWidgetClick    EventType = "widget.click"
	EventLeadCorrelated EventType = "lead.correlated"
	EventLeadComplete   EventType = "lead.complete"
	EventLeadErased     EventType = "lead.erased"
)

// ParseEventType returns the event type s names, or an error saying which
// types there are (AllEventTypes).
func ParseEventType(s string) (EventType, error) {
	if i := slices.Index(AllEventTypes, EventType(s)); i >= 0 {
		return AllEventTypes[i], nil
	}
	return "", errors.New("must be " + orList(AllEventTypes))
}

// orList names values as "a, b or c".
func orList[T ~string](values []T) string {
	var b strings.Builder
	for i, v := range values {
		switch {
		case i == 0:
		case i == len(values)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

// TimeLayout is the partner contract's timestamp format: RFC 3339, UTC,
// milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in the contract's timestamp format.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Timestamp is a time that marshals in the contract's format.
type Timestamp time.Time

// MarshalJSON renders the timestamp as RFC 3339 UTC with milliseconds, the
// format of the partner envelope's timestamps. The format holds nothing
// JSON would escape, so quoting it is its whole encoding.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, len(TimeLayout)+2), '"')
	return append(time.Time(t).UTC().AppendFormat(b, TimeLayout), '"'), nil
}

// NullableTimestamp is a Timestamp that marshals to null when nil.
type NullableTimestamp = *Timestamp

// TimestampPtr returns a NullableTimestamp for t, nil when t is nil.
func TimestampPtr(t *time.Time) NullableTimestamp {
	if t == nil {
		return nil
	}
	ts := Timestamp(*t)
	return &ts
}

// Event is one domain event in the partner envelope. Its payload bytes are
// fixed once, when the event is written to the outbox, so every delivery
// attempt sends identical bytes.
type Event struct {
	ID         string
	Type       EventType
	OccurredAt time.Time
	// Data is the event-specific payload; its JSON field names are the
	// partner document's.
	Data any
	// CorrelationID ties the event to a click for tracing and lookup; it is
	// not part of the envelope (the payload carries it where the contract
	// says so).
	CorrelationID string
	// LeadKey names the lead the event belongs to, so that a config with
	// lead ordering receives one lead's events in the order they happened:
	// the click's correlation id, or for a lead without a click its
	// conversation.
	LeadKey string
}

// Ref is what a delivery needs to know of the event before it is stored
// (no outbox row yet: its deliveries find it by its id).
func (e Event) Ref() EventRef {
	return EventRef{EventID: e.ID, Type: e.Type, LeadKey: e.LeadKey}
}

// LeadKeyOf is the ordering key of a lead's events: its correlation id when
// it came from a click, else its conversation.
func LeadKeyOf(ref CorrelationID, conversationID int64) string {
	if ref != "" {
		return string(ref)
	}
	return "conversation:" + strconv.FormatInt(conversationID, 10)
}

// envelope fixes the field order of the partner document.
type envelope struct {
	EventType EventType `json:"event_type"`
	EventID   string    `json:"event_id"`
	Timestamp Timestamp `json:"timestamp"`
	Data      any       `json:"data"`
}

// Payload returns the event as the JSON body partners receive.
func (e Event) Payload() ([]byte, error) {
	b, err := marshalJSON(envelope{EventType: e.Type, EventID: e.ID, Timestamp: Timestamp(e.OccurredAt), Data: e.Data})
	if err != nil {
		return nil, fmt.Errorf("marshal %s event %s: %w", e.Type, e.ID, err)
	}
	return b, nil
}

// marshalJSON is json.Marshal without HTML escaping, so a click URL's "&"
// stays "&" in the bytes partners receive, as in the partner document.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// eventRecorder is embedded by aggregates that record events.
type eventRecorder struct{ events []Event }

func (r *eventRecorder) record(e Event) { r.events = append(r.events, e) }

// PullEvents returns the events recorded since the last call and forgets them.
func (r *eventRecorder) PullEvents() []Event {
	ev := r.events
	r.events = nil
	return ev
}
