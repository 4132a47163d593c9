package river

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/aurix/integrations/ports"
)

// Queue inserts Aurix's jobs. It needs only an insert-only River client, so
// it can be built before the workers that depend on it.
type Queue struct {
	client      *river.Client[*sql.Tx]
	maxAttempts int
}

// NewQueue returns a Queue inserting through client; delivery jobs get
// maxAttempts attempts (the first one plus one per scheduled retry).
func NewQueue(client *river.Client[*sql.Tx], maxAttempts int) *Queue {
	return &Queue{client: client, maxAttempts: maxAttempts}
}

var _ ports.DeliveryQueue = (*Queue)(nil)

// EnqueueDispatchTx inserts a dispatch job per outbox row inside tx.
func (q *Queue) EnqueueDispatchTx(ctx context.Context, tx *sql.Tx, outboxIDs []int64) error {
	params := make([]river.InsertManyParams, len(outboxIDs))
	for i, id := range outboxIDs {
		params[i] = river.InsertManyParams{Args: DispatchArgs{OutboxID: id}}
	}
	if _, err := q.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert dispatch jobs: %w", err)
	}
	return nil
}

// EnqueueDeliveries inserts one delivery job per config; pairs already
// scheduled are skipped by River's unique args.
func (q *Queue) EnqueueDeliveries(ctx context.Context, outboxID int64, configIDs []string) error {
	params := make([]river.InsertManyParams, len(configIDs))
	for i, id := range configIDs {
		opts := DeliverArgs{}.InsertOpts()
		opts.MaxAttempts = q.maxAttempts
		params[i] = river.InsertManyParams{Args: DeliverArgs{OutboxID: outboxID, ConfigID: id}, InsertOpts: &opts}
	}
	if _, err := q.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("insert delivery jobs: %w", err)
	}
	return nil
}
