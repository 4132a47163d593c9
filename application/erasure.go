package application

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Erasures removes a person's personal data from everything the service
// stored, on an operator's request.
type Erasures struct {
	UoW       ports.UnitOfWork
	Clock     ports.Clock
	IDs       ports.IDGenerator
	Telemetry ports.Telemetry
	Log       *slog.Logger
}

var _ ports.Eraser = (*Erasures)(nil)

// Erase erases, in one transaction, every lead the key matches (sender,
// collected data) with its conversation and click, every click it names
// that never became a lead, and the other loose clicks of those clicks'
// devices; then every stored copy: each of their events' payload is
// rewritten without the personal values (domain.EraseEventPayload), and
// the attempts' response excerpts and errors are cleared. Pending
// deliveries stay pending and send the erased bytes. Each erased lead (or
// loose click) emits lead.erased to the subscribed configs, delivered after
// its earlier events under lead ordering. The erasure is logged with its
// counts, never the identifier. Asked again, it finds nothing left to erase
// and answers zero counts.
func (e *Erasures) Erase(ctx context.Context, key domain.ErasureKey) (ports.ErasureReport, error) {
	var (
		rep    ports.ErasureReport
		events []domain.Event
	)
	err := e.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		now := e.Clock.Now().UTC()
		rep = ports.ErasureReport{Field: key.Field, ErasedAt: now}
		events = nil
		repo := tx.Erasures()
		leads, err := repo.MatchLeads(ctx, key)
		if err != nil {
			return err
		}
		convIDs := make([]int64, len(leads))
		for i, l := range leads {
			convIDs[i] = l.ConversationID()
		}
		clicks, err := repo.ClicksOfConversations(ctx, convIDs)
		if err != nil {
			return err
		}
		loose, err := repo.MatchLooseClicks(ctx, key)
		if err != nil {
			return err
		}
		clicks = append(clicks, loose...)
		var devices []string
		for _, c := range clicks {
			if d := c.DeviceID(); d != "" && !slices.Contains(devices, d) {
				devices = append(devices, d)
			}
		}
		sameDevice, err := repo.LooseClicksOfDevices(ctx, devices)
		if err != nil {
			return err
		}
		for _, c := range sameDevice {
			if !slices.ContainsFunc(clicks, func(o *domain.InboundSource) bool { return o.CorrelationID() == c.CorrelationID() }) {
				clicks = append(clicks, c)
			}
		}

		// The lead keys whose events hold copies: every matched lead's and
		// click's, erased now or before (a retried erasure still finds a
		// copy written since, such as a retry's response excerpt).
		var keys []string
		addKey := func(k string) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, l := range leads {
			addKey(l.Key())
			if l.Erase(e.IDs.NewID(), now) {
				rep.Counts.Leads++
				if err := repo.SaveLead(ctx, l); err != nil {
					return err
				}
			}
			events = append(events, l.PullEvents()...)
		}
		for _, c := range clicks {
			addKey(domain.LeadKeyOf(c.CorrelationID(), 0))
			if c.Erase(e.IDs.NewID(), now) {
				rep.Counts.Clicks++
				if err := repo.SaveClick(ctx, c); err != nil {
					return err
				}
			}
			events = append(events, c.PullEvents()...)
		}

		stored, err := repo.EventsOf(ctx, keys)
		if err != nil {
			return err
		}
		var rewritten []ports.StoredPayload
		outboxIDs := make([]int64, 0, len(stored))
		for _, ev := range stored {
			outboxIDs = append(outboxIDs, ev.OutboxID)
			erased, err := domain.EraseEventPayload(ev.Type, ev.Payload)
			if err != nil {
				return fmt.Errorf("event %d: %w", ev.OutboxID, err)
			}
			if string(erased) != string(ev.Payload) {
				rewritten = append(rewritten, ports.StoredPayload{OutboxID: ev.OutboxID, Type: ev.Type, Payload: erased})
			}
		}
		if err := repo.RewritePayloads(ctx, rewritten); err != nil {
			return err
		}
		rep.Counts.Events = len(rewritten)
		if rep.Counts.Attempts, err = repo.ClearAttempts(ctx, outboxIDs, domain.ErasedAttemptError); err != nil {
			return err
		}
		rep.Counts.Notices = len(events)
		if err := publish(ctx, tx, now, events); err != nil {
			return err
		}
		return repo.Record(ctx, domain.ErasureRecord{Field: key.Field, ErasedAt: now, Counts: rep.Counts})
	})
	if err != nil {
		return ports.ErasureReport{}, fmt.Errorf("erase by %s: %w", key.Field, err)
	}
	telemetryOf(e.Telemetry).EventsEmitted(ctx, events)
	if e.Log != nil {
		// The identifier never reaches a log: only its kind and the counts.
		e.Log.InfoContext(ctx, "erasure carried out", "field", string(key.Field), "leads", rep.Counts.Leads,
			"clicks", rep.Counts.Clicks, "events", rep.Counts.Events, "attempts", rep.Counts.Attempts, "notices", rep.Counts.Notices)
	}
	return rep, nil
}
