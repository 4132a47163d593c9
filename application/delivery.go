package application

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// reasonInactive is why a delivery to a switched-off endpoint ends unsent.
const reasonInactive = "webhook config is inactive"

// rateHorizon is how far ahead a claim reserves a rate-limited config's
// start times: claims come in rounds, and each round takes what may start
// before the next.
const rateHorizon = 100 * time.Millisecond

// Deliverer is the delivery use case a worker process runs: it claims the
// deliveries that are due, makes each attempt, and records what the
// Delivery aggregate and the endpoint's WebhookConfig decide follows it.
type Deliverer struct {
	UoW    ports.UnitOfWork
	Queue  ports.DeliveryQueue
	Sender ports.WebhookSender
	Clock  ports.Clock
	Random ports.Random
	// Schedule is the retry schedule.
	Schedule domain.RetrySchedule
	// DisableAfter switches off an endpoint whose deliveries have all
	// failed for this long; 0 never does.
	DisableAfter time.Duration
	// MaxInFlight caps the attempts open to one config at once, counted
	// over every worker process.
	MaxInFlight int
	Telemetry   ports.Telemetry
	// Tracing, when set, links every outcome of a group commit to it.
	Tracing ports.Tracing

	outcomes *group[pendingOutcome]
}

var _ ports.DeliveryWork = (*Deliverer)(nil)

// maxGroup bounds how many outcomes one transaction records.
const maxGroup = 256

// Due lists the configs with deliveries waiting for a worker.
func (d *Deliverer) Due(ctx context.Context) ([]ports.DueConfig, error) {
	due, err := d.Queue.Due(ctx, d.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return due, nil
}

// Claim takes up to room due deliveries of one config for owner, within the
// config's in-flight cap and rate limit, in one transaction that every
// worker process serialises on for that config. Deliveries to a config that
// no longer takes events end at once, unsent.
func (d *Deliverer) Claim(ctx context.Context, owner string, configID string, room ports.ClaimRoom) ([]ports.Claimed, bool, error) {
	var claimed []ports.Claimed
	var abandoned int
	more := false
	err := d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		claimed, abandoned = claimed[:0], 0
		now := d.Clock.Now()
		lim, err := tx.Deliveries().LockLimits(ctx, configID)
		if err != nil {
			return err
		}
		cfg := lim.Config
		if !cfg.IsActive() {
			n, err := d.abandonDue(ctx, tx, owner, cfg, now, room.FirstAttempts+room.Retries)
			abandoned = n
			return err
		}
		budget := domain.ClaimBudget(d.MaxInFlight, lim.InFlight, lim.Rate, room.FirstAttempts+room.Retries, now, rateHorizon)
		more = false
		var jobs []ports.DeliveryJob
		for _, retries := range []bool{true, false} {
			limit := min(budget-len(jobs), room.FirstAttempts)
			if retries {
				limit = min(budget, room.Retries)
			}
			if limit <= 0 {
				continue
			}
			got, err := tx.Deliveries().ClaimDue(ctx, ports.ClaimQuery{ConfigID: configID, Owner: owner, Now: now,
				Ordered: cfg.Settings().Ordered(), Retries: retries, Limit: limit})
			if err != nil {
				return err
			}
			jobs = append(jobs, got...)
		}
		// The limits, not the due deliveries, ran out first.
		more = len(jobs) == budget && budget < room.FirstAttempts+room.Retries
		if len(jobs) == 0 {
			return nil
		}
		starts, rate := lim.Rate.Take(len(jobs), now)
		if rate != lim.Rate {
			if err := tx.Deliveries().SaveRateLimit(ctx, configID, rate); err != nil {
				return err
			}
		}
		for i, j := range jobs {
			claimed = append(claimed, ports.Claimed{Job: j, Config: cfg, StartAt: starts[i]})
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim deliveries of config %s: %w", configID, err)
	}
	if abandoned > 0 {
		tel := telemetryOf(d.Telemetry)
		for range abandoned {
			tel.DeliveryAttempted(ctx, string(domain.DeliveryFailed), 0)
		}
	}
	return claimed, more, nil
}

// abandonDue ends the due deliveries of a switched-off config, unsent: the
// partner recovers them after switching it on again.
func (d *Deliverer) abandonDue(ctx context.Context, tx ports.Tx, owner string, cfg *domain.WebhookConfig, now time.Time, limit int) (int, error) {
	var jobs []ports.DeliveryJob
	for _, retries := range []bool{true, false} {
		got, err := tx.Deliveries().ClaimDue(ctx, ports.ClaimQuery{ConfigID: cfg.ID(), Owner: owner, Now: now,
			Retries: retries, Limit: max(limit, 1)})
		if err != nil {
			return 0, err
		}
		jobs = append(jobs, got...)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	outcomes := make([]ports.DeliveryOutcome, len(jobs))
	for i, j := range jobs {
		j.Delivery.Abandon(reasonInactive, now)
		outcomes[i] = ports.DeliveryOutcome{Delivery: j.Delivery}
	}
	return len(jobs), tx.Deliveries().SaveOutcomes(ctx, owner, outcomes)
}

// Attempt makes the claimed delivery's attempt, lets the Delivery decide
// what follows and the config what it says of the endpoint, and records
// both before it returns. The returned error is for the caller's
// infrastructure (the outcome could not be recorded; the claim lapses and
// the attempt is made again); how the receiver answered is in the report.
func (d *Deliverer) Attempt(ctx context.Context, owner string, c ports.Claimed) (ports.AttemptReport, error) {
	del, ev, cfg := c.Job.Delivery, c.Job.Event, c.Config
	attempt := del.NextAttempt()
	resp, sendErr := d.Sender.Send(ctx, ports.WebhookRequest{URL: cfg.TargetURL(), EventID: ev.EventID, EventType: ev.Type,
		Attempt: attempt, Payload: ev.Payload, Secrets: cfg.SigningSecrets(d.Clock.Now())})
	report := ports.AttemptReport{Attempt: attempt, StatusCode: resp.StatusCode}
	if sendErr != nil && ctx.Err() != nil {
		// The process is stopping: the attempt was cut short by us, not by
		// the receiver. It does not count; the delivery is due again.
		report.Interrupted = true
		return report, d.Release(context.WithoutCancel(ctx), owner, []int64{del.ID()})
	}
	result := domain.AttemptResult{StatusCode: resp.StatusCode, Err: sendErr, RetryAfter: resp.RetryAfter,
		Duration: resp.Duration, Response: resp.Body}
	rec, signal, err := del.RecordAttempt(result, d.Schedule, d.Random.Float64(), d.Clock.Now())
	if err != nil {
		return report, err
	}
	report.Status, report.Err = del.Status(), rec.Error
	// The attempt happened whatever the caller's context says now; its
	// outcome is written in its trace (or linked to it, grouped).
	if err := d.record(context.WithoutCancel(ctx), pendingOutcome{owner: owner, delivery: del, attempt: rec,
		signal: signal, configID: cfg.ID()}); err != nil {
		return report, fmt.Errorf("record attempt %d of delivery %d: %w", attempt, del.ID(), err)
	}
	tel := telemetryOf(d.Telemetry)
	tel.DeliveryAttempted(ctx, outcomeLabel(del.Status()), resp.StatusCode)
	switch del.Status() {
	case domain.DeliverySucceeded:
		tel.EventDelivered(ctx, d.Clock.Now().Sub(ev.CreatedAt))
	case domain.DeliveryExhausted:
		tel.DeliveryExhausted(ctx, cfg.Service())
	}
	return report, nil
}

// Release hands claimed deliveries back unattempted: they are due again at
// once, for any worker.
func (d *Deliverer) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Deliveries().Release(ctx, owner, ids)
	})
	if err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(ids), err)
	}
	return nil
}

func outcomeLabel(s domain.DeliveryStatus) string {
	if s == domain.DeliveryPending {
		return "retrying"
	}
	return string(s)
}

// pendingOutcome is one attempt's outcome waiting to be recorded.
type pendingOutcome struct {
	owner    string
	delivery *domain.Delivery
	attempt  domain.DeliveryAttempt
	signal   domain.EndpointSignal
	configID string
}

// record writes an outcome, grouped with whatever other outcomes are
// waiting, in one transaction.
func (d *Deliverer) record(ctx context.Context, o pendingOutcome) error {
	if d.outcomes == nil {
		return d.recordOutcomes(ctx, []pendingOutcome{o})
	}
	return d.outcomes.do(ctx, o)
}

// StartGrouping makes concurrent outcomes share a transaction from now on
// (one commit for every outcome waiting at that moment), as clicks do: the
// transaction runs in the first waiting attempt's trace (a span
// aurix.outcomes.commit, which the other attempts' spans link to). Call it
// once before the workers start; without it each outcome is a transaction
// in its own attempt's trace.
func (d *Deliverer) StartGrouping() {
	d.outcomes = newGroup(groupOptions{max: maxGroup, alone: mayConcernSome, name: "aurix.outcomes.commit", tracing: d.Tracing},
		d.recordOutcomes)
}

// recordOutcomes is the one way outcomes are recorded, one or many: what
// each attempt says of its endpoint is told to the config (in the order the
// attempts were made; a config whose health may change is locked and read
// afresh first), then every delivery's state and attempt are stored.
func (d *Deliverer) recordOutcomes(ctx context.Context, batch []pendingOutcome) error {
	slices.SortStableFunc(batch, func(a, b pendingOutcome) int { return a.attempt.AttemptedAt.Compare(b.attempt.AttemptedAt) })
	return d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := d.noteHealth(ctx, tx, batch); err != nil {
			return err
		}
		byOwner := map[string][]ports.DeliveryOutcome{}
		var owners []string
		for _, o := range batch {
			if _, ok := byOwner[o.owner]; !ok {
				owners = append(owners, o.owner)
			}
			a := o.attempt
			byOwner[o.owner] = append(byOwner[o.owner], ports.DeliveryOutcome{Delivery: o.delivery, Attempt: &a})
		}
		for _, owner := range owners {
			if err := tx.Deliveries().SaveOutcomes(ctx, owner, byOwner[owner]); err != nil {
				return err
			}
		}
		return nil
	})
}

// noteHealth tells each config what the batch's attempts say of it. A
// success changes nothing for a healthy endpoint, the common case, so only
// configs with a failure in the batch, or whose failure clock runs, are
// locked and stored.
func (d *Deliverer) noteHealth(ctx context.Context, tx ports.Tx, batch []pendingOutcome) error {
	var all, failing []string
	for _, o := range batch {
		if !slices.Contains(all, o.configID) {
			all = append(all, o.configID)
		}
		if o.signal != domain.EndpointAnswered && !slices.Contains(failing, o.configID) {
			failing = append(failing, o.configID)
		}
	}
	if len(failing) < len(all) {
		// The active configs as the process knows them (cached: a failure
		// clock another process started a moment ago may be missed, and is
		// stopped by a later success).
		active, err := tx.WebhookConfigs().Active(ctx)
		if err != nil {
			return err
		}
		for _, id := range all {
			i := slices.IndexFunc(active, func(c *domain.WebhookConfig) bool { return c.ID() == id })
			if (i < 0 || !active[i].FailingSince().IsZero()) && !slices.Contains(failing, id) {
				failing = append(failing, id)
			}
		}
	}
	if len(failing) == 0 {
		return nil
	}
	cfgs, err := tx.WebhookConfigs().ByIDsForUpdate(ctx, failing)
	if err != nil {
		return err
	}
	for _, c := range cfgs {
		changed := false
		for _, o := range batch {
			if o.configID == c.ID() && c.Note(o.signal, o.attempt.AttemptedAt, d.DisableAfter) {
				changed = true
			}
		}
		if changed {
			if err := tx.WebhookConfigs().Save(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// telemetryOf returns t, or a sink when t is nil.
func telemetryOf(t ports.Telemetry) ports.Telemetry {
	if t == nil {
		return ports.NoTelemetry{}
	}
	return t
}
