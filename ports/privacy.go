package ports

import (
	"context"
	"time"

	"github.com/aurix/integrations/domain"
)

// ErasureReport is what an erasure answers.
type ErasureReport struct {
	Field    domain.ErasureField
	ErasedAt time.Time
	Counts   domain.ErasureCounts
}

// Eraser removes a person's data on request (the admin API).
type Eraser interface {
	Erase(ctx context.Context, key domain.ErasureKey) (ErasureReport, error)
}

// StoredPayload is a stored event's type and bytes, for rewriting.
type StoredPayload struct {
	OutboxID int64
	Type     domain.EventType
	Payload  []byte
}

// ErasureRepository finds and rewrites, in the caller's transaction, what
// an erasure reaches. Every row it returns is locked until the transaction
// ends.
type ErasureRepository interface {
	// MatchLeads returns the leads the key names (by their sender, their
	// lead_data, their click or their conversation), as domain.ErasureKey
	// documents.
	MatchLeads(ctx context.Context, key domain.ErasureKey) ([]*domain.Lead, error)
	// MatchLooseClicks returns the clicks the key names that never became
	// a lead (only a correlation_id names one).
	MatchLooseClicks(ctx context.Context, key domain.ErasureKey) ([]*domain.InboundSource, error)
	// ClicksOfConversations returns the clicks of these conversations.
	ClicksOfConversations(ctx context.Context, conversationIDs []int64) ([]*domain.InboundSource, error)
	// LooseClicksOfDevices returns the clicks with these device ids that
	// never became a lead.
	LooseClicksOfDevices(ctx context.Context, deviceIDs []string) ([]*domain.InboundSource, error)
	// EventsOf returns the stored events whose lead key is one of keys.
	EventsOf(ctx context.Context, leadKeys []string) ([]StoredPayload, error)
	// RewritePayloads stores new bytes for these events.
	RewritePayloads(ctx context.Context, events []StoredPayload) error
	// ClearAttempts empties the response excerpts of the events' attempts,
	// replaces their error texts and their deliveries' last errors with
	// marker, and returns how many attempts it changed.
	ClearAttempts(ctx context.Context, outboxIDs []int64, marker string) (int, error)
	// SaveLead stores an erased lead and its conversation.
	SaveLead(ctx context.Context, l *domain.Lead) error
	// SaveClick stores an erased click.
	SaveClick(ctx context.Context, s *domain.InboundSource) error
	// Record appends the erasure to the erasure log.
	Record(ctx context.Context, r domain.ErasureRecord) error
}

// PurgeKey is where a purge walk stands: the (time, id) of the last row it
// looked at.
type PurgeKey struct {
	At time.Time
	ID int64
	// Key is the row's text key, for tables keyed by text.
	Key string
}

// RetentionRepository finds, in the caller's transaction, what may be
// purged and deletes what the domain says may go. Candidates are walked
// oldest first after a key, at most limit at a time, and locked (rows
// another transaction holds are skipped, never waited for).
type RetentionRepository interface {
	// EventsBefore returns events written before t, with how their
	// deliveries stand (counted after the events were locked).
	EventsBefore(ctx context.Context, t time.Time, after *PurgeKey, limit int) ([]domain.StoredEventFacts, error)
	// DeleteEvents deletes these events with their deliveries and attempts.
	DeleteEvents(ctx context.Context, outboxIDs []int64) (PurgedEvents, error)
	// ClicksBefore returns clicks that never became a lead, made before t.
	ClicksBefore(ctx context.Context, t time.Time, after *PurgeKey, limit int) ([]domain.StoredClickFacts, error)
	DeleteClicks(ctx context.Context, ids []int64) (int, error)
	// LeadsBefore returns leads started before t.
	LeadsBefore(ctx context.Context, t time.Time, after *PurgeKey, limit int) ([]domain.StoredLeadFacts, error)
	// DeleteLeads deletes these leads with their clicks and conversations.
	DeleteLeads(ctx context.Context, conversationIDs []int64) (int, error)
	// MessagesBefore returns message keys received before t.
	MessagesBefore(ctx context.Context, t time.Time, after *PurgeKey, limit int) ([]domain.StoredMessageFacts, error)
	DeleteMessages(ctx context.Context, keys []string) (int, error)
}

// PurgedEvents counts what purging events deleted.
type PurgedEvents struct {
	Events, Deliveries, Attempts int
}

// PurgeReport counts what one purge deleted.
type PurgeReport struct {
	Events, Deliveries, Attempts, Messages, Clicks, Leads int
	// Unfinished is true when the purge stopped at its deadline with more
	// to do; the next run goes on.
	Unfinished bool
}

// Total is how many rows went.
func (r PurgeReport) Total() int {
	return r.Events + r.Deliveries + r.Attempts + r.Messages + r.Clicks + r.Leads
}

// RetentionPurger deletes what the retention settings no longer keep (the
// periodic purge).
type RetentionPurger interface {
	Purge(ctx context.Context) (PurgeReport, error)
}
