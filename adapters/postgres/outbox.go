package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

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

// NewWorkerStore returns a Store for the delivery workers: on their own pool
// (DB.WorkerBun) when there is one.
func NewWorkerStore(db *DB) *Store {
	s := NewStore(db)
	if db.WorkerBun != nil {
		s.db = db.WorkerBun
	}
	return s
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
