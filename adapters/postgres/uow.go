package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/ports"
)

// DeliveryEnqueuer schedules delivery jobs inside the caller's transaction,
// so a job exists exactly when the rows it works on do.
type DeliveryEnqueuer interface {
	// EnqueueDeliveryTx schedules attempt number attempt of a delivery at
	// at (zero: now); integration names the config's service for operators.
	EnqueueDeliveryTx(ctx context.Context, tx *sql.Tx, deliveryID int64, configID, integration, eventID string, attempt int, at time.Time) error
}

// UnitOfWork runs use-case work in one bun transaction.
type UnitOfWork struct {
	db       *bun.DB
	enqueuer DeliveryEnqueuer
}

// NewUnitOfWork returns a unit of work whose deliveries schedule their
// attempts through enqueuer.
func NewUnitOfWork(db *bun.DB, enqueuer DeliveryEnqueuer) *UnitOfWork {
	return &UnitOfWork{db: db, enqueuer: enqueuer}
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// Do runs fn in a transaction; it rolls back when fn returns an error or
// panics, and commits otherwise. A database that cannot be reached (at
// BEGIN, COMMIT, or in a statement fn left unclassified, such as River's
// job insert) is reported as domain.ErrUnavailable.
func (u *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	err := u.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
		return fn(ctx, &txRepos{tx: btx, enqueuer: u.enqueuer})
	})
	if err != nil {
		return fmt.Errorf("transaction: %w", markUnavailable(err))
	}
	return nil
}

type txRepos struct {
	tx       bun.Tx
	enqueuer DeliveryEnqueuer
}

func (t *txRepos) InboundSources() ports.InboundSourceRepository {
	return inboundSources{db: t.tx}
}

func (t *txRepos) WebhookConfigs() ports.WebhookConfigRepository {
	return webhookConfigs{db: t.tx}
}

func (t *txRepos) Conversations() ports.ConversationRepository { return conversations{db: t.tx} }

func (t *txRepos) Leads() ports.LeadRepository { return leads{db: t.tx} }

func (t *txRepos) Deliveries() ports.DeliveryRepository {
	return deliveries{tx: t.tx, enqueuer: t.enqueuer}
}

func (t *txRepos) EndpointHealth() ports.EndpointHealth { return endpointHealth{db: t.tx} }

func (t *txRepos) Outbox() ports.Outbox { return outbox{tx: t.tx} }
