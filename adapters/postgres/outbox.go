package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type outbox struct {
	tx       bun.Tx
	enqueuer DispatchEnqueuer
}

// Append writes each event's fixed payload bytes and schedules a dispatch job
// per row, in the caller's transaction.
func (o outbox) Append(ctx context.Context, events ...domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	// The emitting request's trace context travels with the event, so the
	// dispatch and every delivery can be joined to it.
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	traceContext, err := json.Marshal(carrier)
	if err != nil {
		return fmt.Errorf("encode trace context: %w", err)
	}
	rows := make([]outboxModel, len(events))
	for i, e := range events {
		payload, err := e.Payload()
		if err != nil {
			return err
		}
		rows[i] = outboxModel{EventID: e.ID, EventType: string(e.Type), Payload: payload,
			CorrelationID: e.CorrelationID, TraceContext: traceContext, CreatedAt: e.OccurredAt}
	}
	if _, err := o.tx.NewInsert().Model(&rows).Returning("id").Exec(ctx); err != nil {
		return classify(err, "insert outbox events")
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	if err := o.enqueuer.EnqueueDispatchTx(ctx, o.tx.Tx, ids); err != nil {
		return fmt.Errorf("enqueue dispatch: %w", err)
	}
	return nil
}

// Store reads what the delivery workers need and records their attempts,
// outside any use-case transaction.
type Store struct{ db *bun.DB }

// NewStore returns a Store over db.
func NewStore(db *bun.DB) *Store { return &Store{db: db} }

var (
	_ ports.OutboxReader       = (*Store)(nil)
	_ ports.ActiveConfigLister = (*Store)(nil)
	_ ports.DeliveryReader     = (*Store)(nil)
)

// OutboxEvent returns one stored event.
func (s *Store) OutboxEvent(ctx context.Context, id int64) (ports.OutboxEvent, error) {
	var m outboxModel
	if err := s.db.NewSelect().Model(&m).Where("id = ?", id).Scan(ctx); err != nil {
		return ports.OutboxEvent{}, classify(err, "select outbox event")
	}
	return outboxEventOf(m), nil
}

func outboxEventOf(m outboxModel) ports.OutboxEvent {
	tc := map[string]string{}
	_ = json.Unmarshal(m.TraceContext, &tc) // a damaged trace context only costs the link
	return ports.OutboxEvent{ID: m.ID, EventID: m.EventID, Type: domain.EventType(m.EventType),
		Payload: m.Payload, CorrelationID: m.CorrelationID, CreatedAt: m.CreatedAt, TraceContext: tc}
}

// ActiveWebhookConfigs lists the configs that receive events.
func (s *Store) ActiveWebhookConfigs(ctx context.Context) ([]*domain.WebhookConfig, error) {
	var ms []webhookConfigModel
	if err := s.db.NewSelect().Model(&ms).Where("is_active").Order("service_name").Scan(ctx); err != nil {
		return nil, classify(err, "select active webhook configs")
	}
	out := make([]*domain.WebhookConfig, len(ms))
	for i := range ms {
		out[i] = ms[i].domain()
	}
	return out, nil
}

// Ping checks the database is reachable and the schema is current.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.PingContext(ctx)
}
