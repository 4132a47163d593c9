package domain

import (
	"slices"
	"strings"
)

// Ordering says whether a config's events wait for each other.
type Ordering string

// Orderings.
const (
	// OrderingLead delivers a lead's events to the config in the order they
	// happened: one waits while an earlier event of the same lead is still
	// pending to the same config. Events of different leads never wait on
	// each other.
	OrderingLead Ordering = "lead"
	// OrderingNone sends every event as soon as it can.
	OrderingNone Ordering = "none"
)

// AllEventTypes is the catalogue of event types partners can subscribe to,
// in the order they happen in a lead's life.
var AllEventTypes = []EventType{EventWidgetClick, EventLeadCorrelated, EventLeadComplete, EventLeadErased}

// AnyEventType subscribes a config to every event type, including types
// added later; so does leaving event_types out.
const AnyEventType = "*"

// MaxPerSecondLimit bounds a config's rate limit.
const MaxPerSecondLimit = 100000

// DeliverySettings is how a partner wants its events delivered.
type DeliverySettings struct {
	// EventTypes the config receives; nil means every type, including
	// types added later.
	EventTypes []EventType
	Ordering   Ordering
	// MaxPerSecond caps the attempts started per second across every
	// worker process; 0 means no cap.
	MaxPerSecond int
}

// NewDeliverySettings checks a partner's settings: every event type must be
// one the service emits (an absent list means all of them, now and later),
// ordering is "lead" (the default) or "none", max_per_second is positive
// when given. Every problem is reported at once.
func NewDeliverySettings(eventTypes []string, ordering string, maxPerSecond *int) (DeliverySettings, error) {
	var (
		v validation
		s = DeliverySettings{Ordering: OrderingLead}
	)
	if eventTypes != nil && !slices.Contains(eventTypes, AnyEventType) {
		s.EventTypes = make([]EventType, 0, len(eventTypes))
		for _, t := range eventTypes {
			et, err := ParseEventType(t)
			switch {
			case err != nil:
				v.add("event_types", "unknown event type %q; known types: %s", truncateRunes(t, 64), eventTypeList())
			case !slices.Contains(s.EventTypes, et):
				s.EventTypes = append(s.EventTypes, et)
			}
		}
		if len(eventTypes) == 0 {
			v.add("event_types", "must name at least one event type, or be left out to receive every type")
		}
	}
	switch Ordering(ordering) {
	case "", OrderingLead:
	case OrderingNone:
		s.Ordering = OrderingNone
	default:
		v.add("ordering", `must be "lead" or "none"`)
	}
	if maxPerSecond != nil {
		if *maxPerSecond < 1 || *maxPerSecond > MaxPerSecondLimit {
			v.add("max_per_second", "must be a whole number from 1 to %d, or left out for no limit", MaxPerSecondLimit)
		}
		s.MaxPerSecond = *maxPerSecond
	}
	if err := v.err(); err != nil {
		return DeliverySettings{}, err
	}
	return s, nil
}

func eventTypeList() string {
	names := make([]string, len(AllEventTypes))
	for i, t := range AllEventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Receives reports whether a config with these settings is subscribed to
// events of type t.
func (s DeliverySettings) Receives(t EventType) bool {
	return s.EventTypes == nil || slices.Contains(s.EventTypes, t)
}

// Ordered reports whether the config's events of one lead wait for each other.
func (s DeliverySettings) Ordered() bool { return s.Ordering != OrderingNone }

// Receives reports whether the config takes events of type t now: it is
// active and subscribed to the type.
func (c *WebhookConfig) Receives(t EventType) bool { return c.isActive && c.settings.Receives(t) }
