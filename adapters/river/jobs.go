package river

import (
	"github.com/riverqueue/river"
)

// Queue names. Dispatch jobs are cheap and must never wait behind slow
// partners; first attempts never wait behind a backlog of retries.
const (
	QueueDispatch     = "dispatch"
	QueueDeliver      = "deliver"
	QueueDeliverRetry = "deliver_retry"
)

// DispatchArgs names one outbox event to fan out.
type DispatchArgs struct {
	OutboxID int64 `json:"outbox_id"`
}

// Kind is the job kind shown in River UI.
func (DispatchArgs) Kind() string { return "aurix.dispatch_event" }

// InsertOpts puts dispatch jobs on their own queue.
func (DispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDispatch}
}

// DeliverArgs names one attempt of one delivery. Ids only: the payload and
// the secret stay in tables.
type DeliverArgs struct {
	DeliveryID int64  `json:"delivery_id"`
	ConfigID   string `json:"webhook_config_id"`
	Attempt    int    `json:"attempt"`
}

// Kind is the job kind shown in River UI.
func (DeliverArgs) Kind() string { return "aurix.deliver_webhook" }

// InsertOpts makes each attempt of a delivery unique, so a retried
// transaction can never schedule it twice.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliver, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
