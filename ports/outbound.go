package ports

import (
	"context"
	"net/netip"
	"time"

	"github.com/aurix/integrations/domain"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes unique identifiers for events and aggregates.
type IDGenerator interface {
	NewID() string
}

// CorrelationIDGenerator makes click references; tests fix them.
type CorrelationIDGenerator interface {
	NewCorrelationID() (domain.CorrelationID, error)
}

// BotDetector tells crawler and link-preview user agents from people.
type BotDetector interface {
	IsBot(userAgent string) bool
}

// HostResolver resolves a webhook target's host to the addresses it reaches.
type HostResolver interface {
	LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Random is the service's source of randomness: the domain mints secrets
// and jitters retries with what it draws.
type Random interface {
	// Float64 returns a number in [0, 1) (retry jitter; not secret).
	Float64() float64
	// Secret returns bytes from a cryptographically secure source.
	Secret() ([domain.SecretBytes]byte, error)
}

// UnitOfWork runs fn in one database transaction: every repository reached
// through tx writes in it, and it commits only when fn returns nil. A
// transaction that failed on a conflict the database can resolve by running
// it again (a unique key taken by a concurrent writer, a serialization
// failure, a deadlock) is run again from the start a few times; fn must
// therefore draw anything random afresh on each run.
type UnitOfWork interface {
	Do(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Write runs fn, which only adds new rows (clicks, their events, the
	// events' deliveries), and stores everything fn added in one
	// statement: atomic like a transaction, in one round trip to the
	// database and without BEGIN and COMMIT of its own. It is the hot
	// path's unit of work (a click). A conflict runs fn again, as Do does.
	Write(ctx context.Context, fn func(ctx context.Context, w Writes) error) error
}

// Writes collects the rows a Write adds. Nothing is stored until fn
// returns; the events' deliveries find their events by event id.
type Writes interface {
	// AddClicks adds new clicks; a taken correlation id is
	// domain.ErrConflict, for the whole Write.
	AddClicks(s ...*domain.InboundSource)
	// AddEvents adds events to the outbox, with the trace context of ctx.
	AddEvents(ctx context.Context, events ...domain.Event) error
	// OpenDeliveries adds deliveries of events added by this Write.
	OpenDeliveries(ds ...*domain.Delivery)
	// ActiveConfigs lists the configs that receive events.
	ActiveConfigs(ctx context.Context) ([]*domain.WebhookConfig, error)
}

// Tx is the set of repositories bound to one transaction.
type Tx interface {
	InboundSources() InboundSourceRepository
	WebhookConfigs() WebhookConfigRepository
	Outbox() Outbox
	Conversations() ConversationRepository
	Leads() LeadRepository
	Deliveries() DeliveryRepository
	Erasures() ErasureRepository
	Retention() RetentionRepository
}

// InboundSourceRepository stores clicks.
type InboundSourceRepository interface {
	// Add stores new clicks; a taken correlation id is domain.ErrConflict.
	Add(ctx context.Context, s ...*domain.InboundSource) error
	// ByCorrelationIDsForUpdate returns the clicks with these references
	// that exist, each locked until the transaction ends (taken in
	// reference order, so two transactions cannot wait on each other).
	ByCorrelationIDsForUpdate(ctx context.Context, refs []domain.CorrelationID) (map[domain.CorrelationID]*domain.InboundSource, error)
	// SaveCorrelation stores that the clicks are now linked to their
	// conversations.
	SaveCorrelation(ctx context.Context, s ...*domain.InboundSource) error
}

// WebhookConfigRepository loads and stores webhook configs.
type WebhookConfigRepository interface {
	// ByService returns the service's config or domain.ErrNotFound.
	ByService(ctx context.Context, service string) (*domain.WebhookConfig, error)
	// ByServiceForUpdate is ByService with the row locked until the
	// transaction ends.
	ByServiceForUpdate(ctx context.Context, service string) (*domain.WebhookConfig, error)
	// ByIDs returns the configs with these ids.
	ByIDs(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error)
	// ByIDsForUpdate returns the configs with these ids, locked until the
	// transaction ends (in id order, so concurrent callers cannot deadlock).
	ByIDsForUpdate(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error)
	Save(ctx context.Context, c *domain.WebhookConfig) error
	// Active lists the configs that receive events, as seen by the
	// transaction.
	Active(ctx context.Context) ([]*domain.WebhookConfig, error)
	// FailingBefore lists the active configs whose failure clock started
	// before t, locked until the transaction ends.
	FailingBefore(ctx context.Context, t time.Time) ([]*domain.WebhookConfig, error)
}

// Outbox appends events in the caller's transaction.
type Outbox interface {
	// Append stores each event's fixed payload bytes and returns the
	// stored events' identities (ID, EventID, Type, LeadKey, CreatedAt), in
	// order.
	Append(ctx context.Context, events ...domain.Event) ([]OutboxEvent, error)
}

// OutboxEvent is a stored event, its payload bytes fixed.
type OutboxEvent struct {
	ID            int64
	EventID       string
	Type          domain.EventType
	Payload       []byte
	CorrelationID string
	LeadKey       string
	CreatedAt     time.Time
	// TraceContext is the W3C trace context of the request that emitted
	// the event (traceparent, tracestate).
	TraceContext map[string]string
}

// Ref is what a delivery of the event needs to know of it.
func (e OutboxEvent) Ref() domain.EventRef {
	return domain.EventRef{OutboxID: e.ID, EventID: e.EventID, Type: e.Type, LeadKey: e.LeadKey}
}

// WebhookRequest is one signed delivery attempt to send.
type WebhookRequest struct {
	URL       string
	EventID   string
	EventType domain.EventType
	Attempt   int
	Payload   []byte
	// Secrets are the valid signing secrets, newest first: x-hub-signature
	// uses the first, webhook-signature carries one entry per secret.
	Secrets []domain.Secret
}

// WebhookResponse is what the receiver answered.
type WebhookResponse struct {
	StatusCode int
	// Body is the start of the response body, at most 4 KiB.
	Body     []byte
	Duration time.Duration
	// RetryAfter is the parsed Retry-After header, 0 when absent or invalid.
	RetryAfter time.Duration
}

// WebhookSender signs and sends one delivery attempt. A transport failure is
// an error; any HTTP answer, 2xx or not, is a response.
type WebhookSender interface {
	Send(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// DeliveryRepository stores deliveries in the caller's transaction. A
// delivery is also a job: the worker process that claims it owns it (its
// process id is stored with it) until its attempt's outcome is saved, and
// the in-flight cap of its config counts owned deliveries in every process.
type DeliveryRepository interface {
	// Open stores new deliveries and returns those it created, with their
	// ids. A series that exists already, or a second pending delivery of
	// one event to one config, is not created.
	Open(ctx context.Context, ds []*domain.Delivery) ([]*domain.Delivery, error)
	// LatestForUpdate locks the events against a concurrent reopening
	// until the transaction ends, then returns each one's latest series to
	// the config, read after the lock was granted; an event with no series
	// is absent.
	LatestForUpdate(ctx context.Context, configID string, outboxIDs []int64) (map[int64]DeliverySeries, error)
	// LockLimits locks the config's delivery limits until the transaction
	// ends (claims of one config are taken one at a time, in every process)
	// and returns the config with how many of its deliveries are owned now.
	LockLimits(ctx context.Context, configID string) (ClaimLimits, error)
	// SaveRateLimit stores where the config's rate limit stands.
	SaveRateLimit(ctx context.Context, configID string, r domain.RateLimit) error
	// ClaimDue makes owner the owner of up to q.Limit deliveries of the
	// config that are due at q.Now, oldest due first, and returns them
	// with their events. Deliveries that must wait for an earlier event of
	// their lead (q.Ordered) are not due.
	ClaimDue(ctx context.Context, q ClaimQuery) ([]DeliveryJob, error)
	// SaveOutcomes stores each delivery's state after an attempt (or after
	// being abandoned) with the attempt's record, and ends the owner's
	// claim on it. A delivery the owner no longer owns (its process was
	// declared dead meanwhile) keeps its state; its attempt is recorded.
	SaveOutcomes(ctx context.Context, owner string, outcomes []DeliveryOutcome) error
	// Release ends the owner's claim on deliveries without an attempt, so
	// that they are due again at once.
	Release(ctx context.Context, owner string, ids []int64) error
}

// DeliverySeries is where one delivery series of an event stands.
type DeliverySeries struct {
	DeliveryID int64
	Series     int
	Status     domain.DeliveryStatus
}

// ClaimLimits is what bounds a claim on one config's deliveries.
type ClaimLimits struct {
	Config *domain.WebhookConfig
	// InFlight counts the config's deliveries owned by any process.
	InFlight int
	Rate     domain.RateLimit
}

// ClaimQuery selects due deliveries of one config.
type ClaimQuery struct {
	ConfigID string
	Owner    string
	Now      time.Time
	// Ordered makes a delivery wait while an earlier event of its lead is
	// pending to the same config.
	Ordered bool
	// Retries selects retries (attempts made) instead of first attempts.
	Retries bool
	Limit   int
}

// DeliveryJob is a claimed delivery with what its attempt sends.
type DeliveryJob struct {
	Delivery *domain.Delivery
	Event    OutboxEvent
}

// DeliveryOutcome is a delivery's state after an attempt, and the attempt.
type DeliveryOutcome struct {
	Delivery *domain.Delivery
	// Attempt is nil when the delivery was abandoned without an attempt.
	Attempt *domain.DeliveryAttempt
}

// DueConfig is a webhook config with deliveries waiting for a worker.
type DueConfig struct {
	ConfigID string
	// NextDue is when its earliest unowned pending delivery is due (maybe
	// in the future).
	NextDue time.Time
	// RetriesDue reports whether some of those due now are retries.
	RetriesDue bool
}

// DeliveryQueue tells the delivery workers where work is waiting.
type DeliveryQueue interface {
	// Due lists the configs with unowned pending deliveries, with when the
	// earliest of them is due.
	Due(ctx context.Context, now time.Time) ([]DueConfig, error)
}

// ProcessInfo describes a running aurix process to the others.
type ProcessInfo struct {
	ID       string
	Role     string
	Hostname string
	PID      int
}

// ProcessRegistry records which worker processes are alive, so that the
// deliveries a dead process held are handed to the living, and only then.
type ProcessRegistry interface {
	// Join registers the process and opens its liveness session: while
	// the session's connection lives, the others know the process does.
	Join(ctx context.Context, p ProcessInfo) (ProcessSession, error)
	// ReleaseDead declares dead every process silent for longer than
	// silentFor, or for longer than lockless while its liveness session
	// is gone (by the database's clock), and hands its deliveries back.
	ReleaseDead(ctx context.Context, silentFor, lockless time.Duration) (processes, deliveries int, err error)
}

// ProcessSession is one process's registration and liveness connection.
type ProcessSession interface {
	// ID is the process id claims are made under.
	ID() string
	// Heartbeat records that the process is alive. alive is false when
	// the process had been declared dead: it must join again. An error
	// means the liveness connection is gone or failing.
	Heartbeat(ctx context.Context) (alive bool, err error)
	// HandBack hands back whatever the process owns, claimed a while ago,
	// that is not in working (a claim it lost track of, e.g. when
	// recording an outcome failed), and returns how many it handed back.
	// It does not use the liveness connection: its failure says nothing of
	// the process's liveness.
	HandBack(ctx context.Context, working []int64) (int, error)
	// Leave removes the process and hands back what it still owns.
	Leave(ctx context.Context) error
	// Close drops the liveness connection without leaving.
	Close()
}

// Gauges keeps measurements that one process takes for all (the periodic
// maintenance), so that every process can show them without repeating the
// query.
type Gauges interface {
	// OldestPending returns when the oldest pending delivery was opened.
	OldestPending(ctx context.Context) (time.Time, bool, error)
	SaveGauge(ctx context.Context, name string, value float64) error
}
