package ports

import (
	"context"
	"time"

	"github.com/aurix/integrations/domain"
)

// InboundMessage is one WhatsApp message as the webhook adapter parsed it
// from Meta's notification.
type InboundMessage struct {
	// MessageID is Meta's wamid, unique per message; redeliveries repeat it.
	MessageID string
	// ChannelID is the receiving metadata.phone_number_id.
	ChannelID string
	Sender    domain.Sender
	// Text is the message text (or a caption), possibly empty.
	Text     string
	Referral *domain.ReferralSource
}

// WhatsAppInbox takes inbound WhatsApp messages.
type WhatsAppInbox interface {
	ReceiveMessages(ctx context.Context, msgs []InboundMessage) error
}

// LeadView is a lead as the AI agent sees it.
type LeadView struct {
	ConversationID int64
	CorrelationID  *domain.CorrelationID
	Status         domain.LeadStatus
	PhoneNumber    string
	BSUID          string
	ChannelID      string
	Data           map[string]string
	CreatedAt      time.Time
	CorrelatedAt   *time.Time
	CompletedAt    *time.Time
}

// UpdateLeadCommand is the agent's PATCH.
type UpdateLeadCommand struct {
	ConversationID int64
	Data           map[string]string
	Complete       bool
}

// LeadAgentAPI is what the AI agent may do with a conversation's lead.
type LeadAgentAPI interface {
	GetLead(ctx context.Context, conversationID int64) (LeadView, error)
	UpdateLead(ctx context.Context, cmd UpdateLeadCommand) (LeadView, error)
}

// PageKey is the position after which the next page starts.
type PageKey struct {
	CreatedAt time.Time
	ID        int64
}

// PageQuery selects records oldest first by created_at.
type PageQuery struct {
	// From is inclusive, To exclusive; nil means unbounded.
	From, To *time.Time
	// Limit is the page size; 0 returns every matching record, unless
	// Paged says a page size was asked for (then it must be 1 or more).
	Limit int
	// Paged says the caller asked for a page (sent a limit), so that a
	// limit of 0, or one that could not be read, is refused rather than
	// taken for none.
	Paged bool
	// After resumes after this key (from a cursor).
	After *PageKey
	// IncludeBots includes clicks flagged as bots (attribution only).
	IncludeBots bool
}

// LeadRecord is one item of the Leads API.
type LeadRecord struct {
	ConversationID int64
	CreatedAt      time.Time
	Status         domain.LeadStatus
	PhoneNumber    string
	ChannelID      string
	Data           map[string]string
	CompletedAt    *time.Time
	// Attribution, when the lead was correlated to a click.
	CorrelationID *domain.CorrelationID
	CorrelatedAt  *time.Time
	ClickURL      *string
	ParsedParams  domain.MarketingParams
}

// AttributionRecord is one item of the Attribution API: a click.
type AttributionRecord struct {
	ID             int64
	Click          domain.WidgetClickData
	IsBot          bool
	CreatedAt      time.Time
	CorrelatedAt   *time.Time
	ConversationID *int64
}

// PartnerQueries lists leads and clicks for partners, one page or all.
type PartnerQueries interface {
	// ListLeads calls emit for each record in order and returns the key to
	// resume from when more records follow the page.
	ListLeads(ctx context.Context, q PageQuery, emit func(LeadRecord) error) (*PageKey, error)
	ListAttribution(ctx context.Context, q PageQuery, emit func(AttributionRecord) error) (*PageKey, error)
}

// PartnerReader streams records from storage in (created_at, id) order;
// yield returning an error stops the scan with that error.
type PartnerReader interface {
	Leads(ctx context.Context, q PageQuery, limit int, yield func(LeadRecord, PageKey) error) error
	Attribution(ctx context.Context, q PageQuery, limit int, yield func(AttributionRecord, PageKey) error) error
}

// MessageKey names one WhatsApp message.
type MessageKey struct {
	ChannelID string
	MessageID string
}

// NewConversation is a sender writing on a channel at a time.
type NewConversation struct {
	ChannelID string
	Sender    domain.Sender
	At        time.Time
}

// ConversationRepository keeps conversations and the message ids seen.
type ConversationRepository interface {
	// RecordMessages notes message keys (MessageKey.MessageID is
	// domain.MessageKey of Meta's id, never the id itself): fresh[i] is true when msgs[i] was
	// seen neither before nor earlier in msgs. The store decides (a
	// concurrent batch with the same id waits and then finds it seen).
	RecordMessages(ctx context.Context, msgs []MessageKey, at time.Time) (fresh []bool, err error)
	// Open opens each sender's conversation on its channel, in order, as
	// one call per entry would: ids[i] is the conversation entry i created,
	// or 0 when the sender's conversation existed already (stored, or
	// opened by an earlier entry). A sender is the same when its phone or
	// its BSUID is.
	Open(ctx context.Context, cs []NewConversation) (ids []int64, err error)
}

// LeadRepository loads and stores leads.
type LeadRepository interface {
	// Add stores new leads.
	Add(ctx context.Context, l ...*domain.Lead) error
	// ByConversation returns the lead or domain.ErrNotFound; forUpdate
	// locks it until the transaction ends.
	ByConversation(ctx context.Context, conversationID int64, forUpdate bool) (*domain.Lead, error)
	Save(ctx context.Context, l *domain.Lead) error
}
