package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// LeadErasedData is the lead.erased payload. It carries the identifiers
// partners already hold (neither is personal on its own: a random reference
// and a number) and when the erasure happened.
type LeadErasedData struct {
	// CorrelationID is the click's reference; nil for a lead that came
	// without a click.
	CorrelationID *CorrelationID `json:"correlation_id"`
	// ConversationID is the lead's conversation; nil for a click that
	// never became a lead.
	ConversationID *int64    `json:"conversation_id"`
	ErasedAt       Timestamp `json:"erased_at"`
}

// ErasureField names what an erasure request identifies the person by.
type ErasureField string

// The five ways to name whose data to erase.
const (
	ErasePhoneNumber    ErasureField = "phone_number"
	EraseBSUID          ErasureField = "bsuid"
	EraseEmail          ErasureField = "email"
	EraseCorrelationID  ErasureField = "correlation_id"
	EraseConversationID ErasureField = "conversation_id"
)

// ErasureFields lists the fields an erasure request may name, one of them.
var ErasureFields = []ErasureField{ErasePhoneNumber, EraseBSUID, EraseEmail, EraseCorrelationID, EraseConversationID}

// ErasureKey is the one identifier an erasure is asked for, normalized for
// matching. What it matches:
//   - phone_number: conversations whose sender has that number, and leads
//     whose lead_data "phone" has the same digits;
//   - bsuid: conversations whose sender has that business-scoped user id;
//   - email: leads whose lead_data "email" is that address, in any case;
//   - correlation_id: the click, and its lead when it became one;
//   - conversation_id: the conversation and its lead (and click).
//
// Each matched lead takes its click with it, and each erased click takes
// the device's other clicks that never became a lead (the device id is the
// same visitor's identifier).
type ErasureKey struct {
	Field ErasureField
	// Value is the normalized value: a phone number as "+" and digits, an
	// email lower-cased.
	Value string
	// ConversationID is set for conversation_id.
	ConversationID int64
}

// PhoneDigits is the value's digits, for matching a phone number however
// the agent wrote it in lead_data.
func (k ErasureKey) PhoneDigits() string { return strings.TrimPrefix(k.Value, "+") }

var (
	e164        = regexp.MustCompile(`^\+[1-9][0-9]{5,14}$`)
	phoneFiller = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "")
)

// MaxErasureValueLen bounds an identifier's length.
const MaxErasureValueLen = 256

// ParseErasureRequest checks an erasure request's fields (each raw JSON
// value by name) and returns its key. Exactly one of the five fields must be
// given; an unknown field, a second field or a value of the wrong shape is
// a ValidationError naming the field.
func ParseErasureRequest(fields map[string]json.RawMessage) (ErasureKey, error) {
	var v validation
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	var given []ErasureField
	for _, name := range names {
		f := ErasureField(name)
		if !isErasureField(f) {
			v.add(truncateRunes(name, 64), "is not an erasure field; give exactly one of %s", erasureFieldList())
			continue
		}
		given = append(given, f)
	}
	if err := v.err(); err != nil {
		return ErasureKey{}, err
	}
	switch len(given) {
	case 0:
		for _, f := range ErasureFields {
			v.add(string(f), "give exactly one of %s", erasureFieldList())
		}
		return ErasureKey{}, v.err()
	case 1:
	default:
		for _, f := range ErasureFields {
			if _, ok := fields[string(f)]; ok {
				v.add(string(f), "only one field may be given; give exactly one of %s", erasureFieldList())
			}
		}
		return ErasureKey{}, v.err()
	}
	f := given[0]
	raw := fields[string(f)]
	if f == EraseConversationID {
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || n < 1 {
			return ErasureKey{}, invalid(string(f), "must be a positive whole number")
		}
		return ErasureKey{Field: f, Value: strconv.FormatInt(n, 10), ConversationID: n}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ErasureKey{}, invalid(string(f), "must be a string")
	}
	if m := checkText(s); m != "" {
		return ErasureKey{}, invalid(string(f), "%s", m)
	}
	if utf8.RuneCountInString(s) > MaxErasureValueLen {
		return ErasureKey{}, invalid(string(f), "must be at most %d characters", MaxErasureValueLen)
	}
	s = strings.TrimSpace(s)
	switch f {
	case ErasePhoneNumber:
		p := phoneFiller.Replace(s)
		if !e164.MatchString(p) {
			return ErasureKey{}, invalid(string(f), "must be an E.164 phone number: + and 6 to 15 digits")
		}
		return ErasureKey{Field: f, Value: p}, nil
	case EraseEmail:
		if !validEmail(s) {
			return ErasureKey{}, invalid(string(f), "must be an email address")
		}
		return ErasureKey{Field: f, Value: strings.ToLower(s)}, nil
	case EraseCorrelationID:
		if !correlationIDPattern.MatchString(s) {
			return ErasureKey{}, invalid(string(f), "must be O- followed by 6 letters or digits")
		}
		return ErasureKey{Field: f, Value: s}, nil
	default: // bsuid
		if s == "" {
			return ErasureKey{}, invalid(string(f), "must not be empty")
		}
		return ErasureKey{Field: f, Value: s}, nil
	}
}

func isErasureField(f ErasureField) bool { return slices.Contains(ErasureFields, f) }

func erasureFieldList() string {
	names := make([]string, len(ErasureFields))
	for i, f := range ErasureFields {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ErasureRecord is what the erasure log keeps of one erasure: which kind of
// identifier was given, when, and how much was erased. Never the
// identifier: a digest of a phone number or an email, keyed or not, can be
// matched by anyone holding the key (or, unkeyed, by trying every number),
// so it would still be the person's data; the counts prove the erasure
// happened without it.
type ErasureRecord struct {
	Field    ErasureField
	ErasedAt time.Time
	Counts   ErasureCounts
}

// ErasureCounts says how much one erasure removed.
type ErasureCounts struct {
	// Leads (and their conversations) erased now.
	Leads int
	// Clicks erased now, those of the leads included.
	Clicks int
	// Events whose stored payload was rewritten.
	Events int
	// Attempts whose response excerpt and error were cleared, and
	// deliveries whose last error was.
	Attempts int
	// Notices are the lead.erased events emitted.
	Notices int
}

// ErasedAttemptError replaces an attempt's error text after an erasure: the
// text may quote a receiver's answer.
const ErasedAttemptError = "[erased]"

// EraseEventPayload returns the stored payload of an event with every
// personal value blanked, the envelope (event_type, event_id, timestamp) and
// the rest of the data unchanged, so that the bytes still match the event's
// schema:
//   - widget.click: device_id, user_agent and ip_address become "", and
//     click_url keeps only scheme, host, path and marketing parameters
//     (StripClickURL);
//   - lead.correlated: phone_number becomes null, bsuid goes;
//   - lead.complete: lead_data becomes {};
//   - lead.erased holds nothing personal and is returned as it is.
//
// Erasing an erased payload gives the same bytes.
func EraseEventPayload(t EventType, payload []byte) ([]byte, error) {
	var env struct {
		EventType EventType       `json:"event_type"`
		EventID   string          `json:"event_id"`
		Timestamp json.RawMessage `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, fmt.Errorf("read %s payload: %w", t, err)
	}
	var data any
	switch t {
	case EventWidgetClick:
		var d WidgetClickData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return nil, fmt.Errorf("read widget.click data: %w", err)
		}
		d.DeviceID, d.UserAgent, d.IPAddress, d.ClickURL = "", "", "", StripClickURL(d.ClickURL)
		if d.ParsedParams == nil {
			d.ParsedParams = MarketingParams{}
		}
		data = d
	case EventLeadCorrelated:
		var d LeadCorrelatedData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return nil, fmt.Errorf("read lead.correlated data: %w", err)
		}
		d.PhoneNumber, d.BSUID = nil, ""
		data = d
	case EventLeadComplete:
		var d LeadCompleteData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return nil, fmt.Errorf("read lead.complete data: %w", err)
		}
		d.LeadData = map[string]string{}
		data = d
	case EventLeadErased:
		return payload, nil
	default:
		return nil, fmt.Errorf("erase payload of unknown event type %q", t)
	}
	out := struct {
		EventType EventType       `json:"event_type"`
		EventID   string          `json:"event_id"`
		Timestamp json.RawMessage `json:"timestamp"`
		Data      any             `json:"data"`
	}{env.EventType, env.EventID, env.Timestamp, data}
	b, err := marshalJSON(out)
	if err != nil {
		return nil, fmt.Errorf("write erased %s payload: %w", t, err)
	}
	return b, nil
}

// erasedNotice records lead.erased on r.
func erasedNotice(r *eventRecorder, eventID string, ref *CorrelationID, conversationID *int64, now time.Time) {
	var key string
	switch {
	case ref != nil:
		key = LeadKeyOf(*ref, 0)
	case conversationID != nil:
		key = LeadKeyOf("", *conversationID)
	}
	var corr string
	if ref != nil {
		corr = string(*ref)
	}
	r.record(Event{ID: eventID, Type: EventLeadErased, OccurredAt: now, CorrelationID: corr, LeadKey: key,
		Data: LeadErasedData{CorrelationID: ref, ConversationID: conversationID, ErasedAt: Timestamp(now)}})
}

// Erase removes the lead's personal data: the sender's phone number and
// BSUID and everything the agent collected. Status, channel, reference and
// timestamps stay (they are not personal, and counts by campaign stay true).
// It records lead.erased and reports true the first time; an erased lead is
// left as it is.
func (l *Lead) Erase(eventID string, now time.Time) bool {
	if l.erasedAt != nil {
		return false
	}
	now = now.UTC().Truncate(time.Millisecond)
	l.sender, l.data, l.erasedAt = Sender{}, map[string]string{}, &now
	conv := l.conversationID
	erasedNotice(&l.eventRecorder, eventID, l.correlationID, &conv, now)
	return true
}

// IsErased reports whether the lead's personal data was erased.
func (l *Lead) IsErased() bool { return l.erasedAt != nil }

// ErasedAt returns when the lead was erased, nil if it was not.
func (l *Lead) ErasedAt() *time.Time { return l.erasedAt }

// ConversationID returns the lead's conversation.
func (l *Lead) ConversationID() int64 { return l.conversationID }

// Key returns the lead's ordering key, which its events carry.
func (l *Lead) Key() string {
	var ref CorrelationID
	if l.correlationID != nil {
		ref = *l.correlationID
	}
	return LeadKeyOf(ref, l.conversationID)
}

// Erase removes the click's personal data: the device id, user agent and
// IP address, and of its URL what StripClickURL drops. The reference,
// marketing parameters, bot flag, timestamps and conversation stay. A click
// that never became a lead records lead.erased itself (partners hold its
// widget.click); a lead's click leaves that to the lead. It reports true the
// first time; an erased click is left as it is. A bot's click, which was
// never announced, announces no erasure either.
func (s *InboundSource) Erase(eventID string, now time.Time) bool {
	if s.erasedAt != nil {
		return false
	}
	now = now.UTC().Truncate(time.Millisecond)
	s.deviceID, s.userAgent, s.ipAddress, s.clickURL = "", "", "", StripClickURL(s.clickURL)
	s.erasedAt = &now
	if s.conversationID == nil && !s.isBot {
		ref := s.correlationID
		erasedNotice(&s.eventRecorder, eventID, &ref, nil, now)
	}
	return true
}

// IsErased reports whether the click's personal data was erased.
func (s *InboundSource) IsErased() bool { return s.erasedAt != nil }
