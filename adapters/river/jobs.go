package river

import (
	"github.com/riverqueue/river"
)

// Queue names. Dispatch jobs are cheap and must never wait behind slow
// partners, so they have a queue of their own.
const (
	QueueDispatch = "dispatch"
	QueueDeliver  = "deliver"
)

// DispatchArgs names one outbox event to fan out.
type DispatchArgs struct {
	OutboxID int64 `json:"outbox_id"`
}

// Kind is the job kind shown in River UI.
func (DispatchArgs) Kind() string { return "aurix.dispatch_event" }

// InsertOpts puts dispatch jobs on their own queue; a dispatch is unique per
// outbox row so a replayed insert cannot fan out twice.
func (DispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDispatch, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DeliverArgs names one event and one webhook config.
type DeliverArgs struct {
	OutboxID int64  `json:"outbox_id"`
	ConfigID string `json:"webhook_config_id"`
}

// Kind is the job kind shown in River UI.
func (DeliverArgs) Kind() string { return "aurix.deliver_webhook" }

// InsertOpts makes a delivery unique per event and config, so a retried
// dispatch never doubles it.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliver, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
