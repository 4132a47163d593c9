package postgres

import (
	"context"
	"encoding/json"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Store answers the read-side queries (stored events, partner listings,
// the delivery log) outside any use-case transaction.
type Store struct {
	db     *bun.DB
	tracer trace.Tracer
}

// NewStore returns a Store over db. The listings, which bypass bun's query
// hook, record their database spans with tp; nil records none.
func NewStore(db *bun.DB, tp trace.TracerProvider) *Store {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Store{db: db, tracer: tp.Tracer("github.com/aurix/integrations/adapters/postgres")}
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
