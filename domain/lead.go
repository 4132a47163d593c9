package domain

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// LeadStatus is where a lead stands in its journey.
type LeadStatus string

// Lead statuses: new → correlated → complete (a lead with no attribution goes
// from new straight to complete).
const (
	LeadNew        LeadStatus = "new"
	LeadCorrelated LeadStatus = "correlated"
	LeadComplete   LeadStatus = "complete"
)

// Limits on lead_data, from the platform contract.
const (
	MaxLeadDataKeys     = 50
	MaxLeadDataValueLen = 1000
)

// DefaultRequiredLeadFields are the fields that complete a lead by default.
var DefaultRequiredLeadFields = []string{"name", "email", "phone"}

var leadDataKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidLeadDataKey reports whether k may name a lead_data field.
func ValidLeadDataKey(k string) bool { return leadDataKey.MatchString(k) }

// Sender identifies who wrote to a WhatsApp channel: a phone number, a
// business-scoped user id (BSUID) when the number is hidden, or both.
type Sender struct {
	// Phone is E.164 ("+" and digits), empty when hidden.
	Phone string
	// BSUID is the business-scoped user id, empty when unknown.
	BSUID string
}

// Lead is a WhatsApp conversation's lead: who wrote, which click (if any) it
// came from, and what the AI agent has collected. One per conversation.
type Lead struct {
	eventRecorder

	conversationID int64
	channelID      string
	sender         Sender
	status         LeadStatus
	correlationID  *CorrelationID
	data           map[string]string
	createdAt      time.Time
	correlatedAt   *time.Time
	completedAt    *time.Time
	erasedAt       *time.Time
}

// LeadCorrelatedData is the lead.correlated payload: the partner document's
// fields plus bsuid when known.
type LeadCorrelatedData struct {
	CorrelationID  CorrelationID `json:"correlation_id"`
	ConversationID int64         `json:"conversation_id"`
	PhoneNumber    *string       `json:"phone_number"`
	LeadStatus     LeadStatus    `json:"lead_status"`
	ChannelID      string        `json:"channel_id"`
	BSUID          string        `json:"bsuid,omitempty"`
}

// LeadCompleteData is the lead.complete payload.
type LeadCompleteData struct {
	CorrelationID  *CorrelationID    `json:"correlation_id"`
	ConversationID int64             `json:"conversation_id"`
	LeadStatus     LeadStatus        `json:"lead_status"`
	LeadData       map[string]string `json:"lead_data"`
}

// StartLead opens the lead of a new conversation. When source is not nil the
// conversation's first message was attributed to it: the click is correlated
// and the lead records lead.correlated (with eventID). Otherwise the lead is
// new and records nothing.
func StartLead(conversationID int64, channelID string, sender Sender, source *InboundSource, eventID string, now time.Time) (*Lead, error) {
	now = now.UTC().Truncate(time.Millisecond)
	l := &Lead{
		conversationID: conversationID, channelID: channelID, sender: sender,
		status: LeadNew, data: map[string]string{}, createdAt: now,
	}
	if source == nil {
		return l, nil
	}
	if err := source.correlate(conversationID, now); err != nil {
		return nil, err
	}
	ref := source.correlationID
	l.status, l.correlationID, l.correlatedAt = LeadCorrelated, &ref, &now
	data := LeadCorrelatedData{
		CorrelationID: ref, ConversationID: conversationID, LeadStatus: LeadCorrelated,
		ChannelID: channelID, BSUID: sender.BSUID,
	}
	if sender.Phone != "" {
		p := sender.Phone
		data.PhoneNumber = &p
	}
	l.record(Event{ID: eventID, Type: EventLeadCorrelated, OccurredAt: now, Data: data, CorrelationID: string(ref),
		LeadKey: LeadKeyOf(ref, conversationID)})
	return l, nil
}

// LeadUpdate is what the AI agent sends.
type LeadUpdate struct {
	// Data is merged into what is known; a key may only hold a string.
	Data map[string]string
	// Complete asks to mark the lead complete now.
	Complete bool
	// Required are the fields a complete lead must have.
	Required []string
	// EventID identifies the lead.complete event, should one be recorded.
	EventID string
	Now     time.Time
}

// validateLeadData checks lead_data as the contract says: keys match
// ^[a-z][a-z0-9_]{0,63}$, values are at most 1000 characters, at most 50
// keys, and email, when given, is an address.
func validateLeadData(data map[string]string) error {
	var v validation
	if len(data) > MaxLeadDataKeys {
		v.add("lead_data", "must have at most %d keys", MaxLeadDataKeys)
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := data[k]
		field := "lead_data." + k
		switch {
		case !ValidLeadDataKey(k):
			v.add("lead_data", "key %q must match ^[a-z][a-z0-9_]{0,63}$", truncateRunes(k, 70))
		case utf8.RuneCountInString(val) > MaxLeadDataValueLen:
			v.add(field, "must be at most %d characters", MaxLeadDataValueLen)
		case checkText(val) != "":
			v.add(field, "%s", checkText(val))
		case k == "email" && !validEmail(val):
			v.add(field, "must be an email address")
		}
	}
	return v.err()
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

// Update merges the agent's data and completes the lead when every required
// field is present or completion is asked for. Completing records
// lead.complete, once in the lead's life; later updates change data only.
func (l *Lead) Update(u LeadUpdate) error {
	if l.erasedAt != nil {
		return fmt.Errorf("lead of conversation %d was erased: %w", l.conversationID, ErrNotFound)
	}
	if err := validateLeadData(u.Data); err != nil {
		return err
	}
	merged := make(map[string]string, len(l.data)+len(u.Data)+1)
	for k, v := range l.data {
		merged[k] = v
	}
	for k, v := range u.Data {
		merged[k] = v
	}
	if _, ok := merged["phone"]; !ok && l.sender.Phone != "" {
		merged["phone"] = l.sender.Phone
	}
	if len(merged) > MaxLeadDataKeys {
		return invalid("lead_data", "would hold %d keys; at most %d", len(merged), MaxLeadDataKeys)
	}
	missing := missingFields(merged, u.Required)
	if u.Complete && len(missing) > 0 && l.status != LeadComplete {
		fields := make([]FieldError, len(missing))
		for i, m := range missing {
			fields[i] = FieldError{Field: "lead_data." + m, Message: "is required to complete the lead"}
		}
		return &ValidationError{Fields: fields, Kind: ErrUnprocessable}
	}
	l.data = merged
	if l.status == LeadComplete || (len(missing) > 0 && !u.Complete) {
		return nil
	}
	now := u.Now.UTC().Truncate(time.Millisecond)
	l.status, l.completedAt = LeadComplete, &now
	var ref string
	if l.correlationID != nil {
		ref = string(*l.correlationID)
	}
	l.record(Event{ID: u.EventID, Type: EventLeadComplete, OccurredAt: now, CorrelationID: ref,
		LeadKey: LeadKeyOf(CorrelationID(ref), l.conversationID),
		Data: LeadCompleteData{CorrelationID: l.correlationID, ConversationID: l.conversationID,
			LeadStatus: LeadComplete, LeadData: copyMap(l.data)}})
	return nil
}

func missingFields(data map[string]string, required []string) []string {
	var missing []string
	for _, f := range required {
		if strings.TrimSpace(data[f]) == "" {
			missing = append(missing, f)
		}
	}
	return missing
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// LeadRow is the stored form of a Lead.
type LeadRow struct {
	ConversationID int64
	ChannelID      string
	Sender         Sender
	Status         LeadStatus
	CorrelationID  *CorrelationID
	Data           map[string]string
	CreatedAt      time.Time
	CorrelatedAt   *time.Time
	CompletedAt    *time.Time
	// ErasedAt is when the lead's personal data was erased.
	ErasedAt *time.Time
}

// RehydrateLead rebuilds a lead from storage.
func RehydrateLead(r LeadRow) *Lead {
	data := r.Data
	if data == nil {
		data = map[string]string{}
	}
	return &Lead{conversationID: r.ConversationID, channelID: r.ChannelID, sender: r.Sender,
		status: r.Status, correlationID: r.CorrelationID, data: data, createdAt: r.CreatedAt,
		correlatedAt: r.CorrelatedAt, completedAt: r.CompletedAt, erasedAt: r.ErasedAt}
}

// Row returns the stored form.
func (l *Lead) Row() LeadRow {
	return LeadRow{ConversationID: l.conversationID, ChannelID: l.channelID, Sender: l.sender,
		Status: l.status, CorrelationID: l.correlationID, Data: copyMap(l.data), CreatedAt: l.createdAt,
		CorrelatedAt: l.correlatedAt, CompletedAt: l.completedAt, ErasedAt: l.erasedAt}
}

// correlate links the click to a conversation.
func (s *InboundSource) correlate(conversationID int64, now time.Time) error {
	if s.conversationID != nil {
		return fmt.Errorf("click %s is already correlated: %w", s.correlationID, ErrConflict)
	}
	s.conversationID, s.correlatedAt = &conversationID, &now
	return nil
}

// CanCorrelate reports whether a conversation starting at now may claim the
// click: it is not yet correlated, was made within window and was not
// erased (whoever asked for the erasure does not want it linked to them).
func (s *InboundSource) CanCorrelate(now time.Time, window time.Duration) bool {
	return s.conversationID == nil && s.erasedAt == nil && !s.createdAt.Before(now.Add(-window))
}
