package river

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// Queue inserts Aurix's jobs inside the caller's transaction. It needs only
// an insert-only River client, so it can be built before the workers.
type Queue struct {
	client *river.Client[*sql.Tx]
}

// NewQueue returns a Queue inserting through client.
func NewQueue(client *river.Client[*sql.Tx]) *Queue { return &Queue{client: client} }

// EnqueueDeliveryTx inserts one delivery attempt inside tx: a first attempt
// on the deliver queue, a retry on deliver_retry at its scheduled time.
func (q *Queue) EnqueueDeliveryTx(ctx context.Context, tx *sql.Tx, deliveryID int64, configID, integration, eventID string, attempt int, at time.Time) error {
	opts := DeliverArgs{}.InsertOpts()
	if attempt > 1 {
		opts.Queue = QueueDeliverRetry
	}
	opts.ScheduledAt = at
	// Metadata makes a job readable in River UI: which event, which
	// endpoint, which attempt. No payload, no secret.
	opts.Metadata = traceMetadata(ctx, map[string]any{"event_id": eventID, "integration": integration,
		"webhook_config_id": configID, "attempt": attempt})
	args := DeliverArgs{DeliveryID: deliveryID, ConfigID: configID, Attempt: attempt}
	if _, err := q.client.InsertTx(ctx, tx, args, &opts); err != nil {
		return fmt.Errorf("insert delivery job: %w", err)
	}
	return nil
}
