package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type outbox struct{ tx bun.Tx }

// Append writes each event's fixed payload bytes in the caller's
// transaction and returns the stored rows' identities.
func (o outbox) Append(ctx context.Context, events ...domain.Event) ([]ports.OutboxEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	// The emitting request's trace context travels with the event, so every
	// delivery, including a redelivery asked for later, can be joined to it.
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	traceContext, err := json.Marshal(carrier)
	if err != nil {
		return nil, fmt.Errorf("encode trace context: %w", err)
	}
	rows := make([]outboxModel, len(events))
	for i, e := range events {
		payload, err := e.Payload()
		if err != nil {
			return nil, err
		}
		rows[i] = outboxModel{EventID: e.ID, EventType: string(e.Type), Payload: payload,
			CorrelationID: e.CorrelationID, LeadKey: nullable(e.LeadKey), TraceContext: traceContext, CreatedAt: e.OccurredAt}
	}
	if _, err := o.tx.NewInsert().Model(&rows).Returning("id").Exec(ctx); err != nil {
		return nil, classify(err, "insert outbox events")
	}
	out := make([]ports.OutboxEvent, len(rows))
	for i, r := range rows {
		out[i] = ports.OutboxEvent{ID: r.ID, EventID: r.EventID, Type: domain.EventType(r.EventType),
			CorrelationID: r.CorrelationID, LeadKey: deref(r.LeadKey), CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// Store answers the read-side queries (stored events, partner listings,
// the delivery log) outside any use-case transaction: through bun, except
// the listings, which bypass it (bypass.go).
type Store struct {
	db *bun.DB
	// bypass is the pool of the statements that bypass bun.
	bypass         *pgxpool.Pool
	acquireTimeout time.Duration
}

// NewStore returns a Store over db.
func NewStore(db *DB) *Store {
	return &Store{db: db.Bun, bypass: db.Bypass, acquireTimeout: db.acquireTimeout}
}

func outboxEventOf(m outboxModel) ports.OutboxEvent {
	tc := map[string]string{}
	_ = json.Unmarshal(m.TraceContext, &tc) // a damaged trace context only costs the link
	return ports.OutboxEvent{ID: m.ID, EventID: m.EventID, Type: domain.EventType(m.EventType),
		Payload: m.Payload, CorrelationID: m.CorrelationID, LeadKey: deref(m.LeadKey), CreatedAt: m.CreatedAt, TraceContext: tc}
}

// Ping checks the database is reachable and the schema is current.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.PingContext(ctx)
}

// AutovacuumOn reports whether the server runs autovacuum, which is what
// makes the space of the rows the retention purge deletes reusable.
func (s *Store) AutovacuumOn(ctx context.Context) (bool, error) {
	var v string
	if err := s.db.NewRaw("SELECT current_setting('autovacuum')").Scan(ctx, &v); err != nil {
		return false, classify(err, "read the autovacuum setting")
	}
	return v == "on", nil
}
