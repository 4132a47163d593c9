package application

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// DefaultPurgeBatch is how many rows one purge transaction looks at.
const DefaultPurgeBatch = 500

// Retention purges what the retention policy no longer keeps. It walks each
// kind of data oldest first in short transactions of at most Batch rows,
// locking only the rows it looks at and skipping any another transaction
// holds, so clicks and deliveries never wait for it; the domain decides
// which of those rows may go.
type Retention struct {
	UoW    ports.UnitOfWork
	Clock  ports.Clock
	Policy domain.RetentionPolicy
	// Batch bounds the rows one transaction looks at (DefaultPurgeBatch
	// when 0).
	Batch int
	Log   *slog.Logger
}

// PurgeReport counts what one purge deleted.
type PurgeReport = ports.PurgeReport

var _ ports.RetentionPurger = (*Retention)(nil)

// Purge deletes everything the policy lets go as of now: finished events
// with their deliveries and attempts, message keys, clicks that never
// became a lead, and leads with their conversations and clicks. Each batch
// commits on its own; when ctx ends (the run's time budget) it stops after
// the batch at hand and reports Unfinished, and the next run continues.
func (r *Retention) Purge(ctx context.Context) (PurgeReport, error) {
	var rep PurgeReport
	cut := r.Policy.Cutoffs(r.Clock.Now())
	steps := []struct {
		name string
		at   *time.Time
		run  func(context.Context, time.Time, *PurgeReport) error
	}{
		{"delivery log", cut.DeliveryLog, func(ctx context.Context, t time.Time, rep *PurgeReport) error {
			return r.purgeEvents(ctx, cut, t, rep)
		}},
		{"message ids", cut.MessageIDs, func(ctx context.Context, t time.Time, rep *PurgeReport) error {
			return r.purgeMessages(ctx, cut, t, rep)
		}},
		{"uncorrelated clicks", cut.Clicks, func(ctx context.Context, t time.Time, rep *PurgeReport) error {
			return r.purgeClicks(ctx, cut, t, rep)
		}},
		{"leads", cut.Leads, func(ctx context.Context, t time.Time, rep *PurgeReport) error {
			return r.purgeLeads(ctx, cut, t, rep)
		}},
	}
	for _, s := range steps {
		if s.at == nil {
			continue
		}
		if err := s.run(ctx, *s.at, &rep); err != nil {
			// Whatever failed once the budget ran out failed because of it.
			if ctx.Err() != nil {
				rep.Unfinished = true
				return rep, nil //nolint:nilerr // the run's budget ended it: the next run goes on
			}
			return rep, fmt.Errorf("purge %s: %w", s.name, err)
		}
	}
	return rep, nil
}

func (r *Retention) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return DefaultPurgeBatch
}

// purgeStep looks at up to limit candidates after a key in tx, deletes
// those that may go, counts them into gone and returns how many it looked
// at and the key of the last one.
type purgeStep func(ctx context.Context, tx ports.Tx, after *ports.PurgeKey, limit int, gone *PurgeReport) (int, *ports.PurgeKey, error)

// walk runs step in one transaction per batch until a batch comes back
// short, adding what each committed batch deleted to rep.
func (r *Retention) walk(ctx context.Context, rep *PurgeReport, step purgeStep) error {
	var after *ports.PurgeKey
	limit := r.batch()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			seen int
			last *ports.PurgeKey
			gone PurgeReport
		)
		err := r.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			gone = PurgeReport{} // a transaction run again counts afresh
			var err error
			seen, last, err = step(ctx, tx, after, limit, &gone)
			return err
		})
		if err != nil {
			return err
		}
		rep.Events += gone.Events
		rep.Deliveries += gone.Deliveries
		rep.Attempts += gone.Attempts
		rep.Messages += gone.Messages
		rep.Clicks += gone.Clicks
		rep.Leads += gone.Leads
		if seen < limit || last == nil {
			return nil
		}
		after = last
	}
}

func (r *Retention) purgeEvents(ctx context.Context, cut domain.RetentionCutoffs, before time.Time, rep *PurgeReport) error {
	return r.walk(ctx, rep, func(ctx context.Context, tx ports.Tx, after *ports.PurgeKey, limit int, rep *PurgeReport) (int, *ports.PurgeKey, error) {
		facts, err := tx.Retention().EventsBefore(ctx, before, after, limit)
		if err != nil || len(facts) == 0 {
			return 0, nil, err
		}
		var ids []int64
		for _, f := range facts {
			if cut.EventMayGo(f) {
				ids = append(ids, f.OutboxID)
			}
		}
		gone, err := tx.Retention().DeleteEvents(ctx, ids)
		if err != nil {
			return 0, nil, err
		}
		rep.Events += gone.Events
		rep.Deliveries += gone.Deliveries
		rep.Attempts += gone.Attempts
		lastFact := facts[len(facts)-1]
		return len(facts), &ports.PurgeKey{At: lastFact.CreatedAt, ID: lastFact.OutboxID}, nil
	})
}

func (r *Retention) purgeMessages(ctx context.Context, cut domain.RetentionCutoffs, before time.Time, rep *PurgeReport) error {
	return r.walk(ctx, rep, func(ctx context.Context, tx ports.Tx, after *ports.PurgeKey, limit int, rep *PurgeReport) (int, *ports.PurgeKey, error) {
		facts, err := tx.Retention().MessagesBefore(ctx, before, after, limit)
		if err != nil || len(facts) == 0 {
			return 0, nil, err
		}
		var keys []string
		for _, f := range facts {
			if cut.MessageMayGo(f) {
				keys = append(keys, f.Key)
			}
		}
		n, err := tx.Retention().DeleteMessages(ctx, keys)
		if err != nil {
			return 0, nil, err
		}
		rep.Messages += n
		lastFact := facts[len(facts)-1]
		return len(facts), &ports.PurgeKey{At: lastFact.ReceivedAt, Key: lastFact.Key}, nil
	})
}

func (r *Retention) purgeClicks(ctx context.Context, cut domain.RetentionCutoffs, before time.Time, rep *PurgeReport) error {
	return r.walk(ctx, rep, func(ctx context.Context, tx ports.Tx, after *ports.PurgeKey, limit int, rep *PurgeReport) (int, *ports.PurgeKey, error) {
		facts, err := tx.Retention().ClicksBefore(ctx, before, after, limit)
		if err != nil || len(facts) == 0 {
			return 0, nil, err
		}
		var ids []int64
		for _, f := range facts {
			if cut.ClickMayGo(f) {
				ids = append(ids, f.ID)
			}
		}
		n, err := tx.Retention().DeleteClicks(ctx, ids)
		if err != nil {
			return 0, nil, err
		}
		rep.Clicks += n
		lastFact := facts[len(facts)-1]
		return len(facts), &ports.PurgeKey{At: lastFact.CreatedAt, ID: lastFact.ID}, nil
	})
}

func (r *Retention) purgeLeads(ctx context.Context, cut domain.RetentionCutoffs, before time.Time, rep *PurgeReport) error {
	return r.walk(ctx, rep, func(ctx context.Context, tx ports.Tx, after *ports.PurgeKey, limit int, rep *PurgeReport) (int, *ports.PurgeKey, error) {
		facts, err := tx.Retention().LeadsBefore(ctx, before, after, limit)
		if err != nil || len(facts) == 0 {
			return 0, nil, err
		}
		var ids []int64
		for _, f := range facts {
			if cut.LeadMayGo(f) {
				ids = append(ids, f.ConversationID)
			}
		}
		n, err := tx.Retention().DeleteLeads(ctx, ids)
		if err != nil {
			return 0, nil, err
		}
		rep.Leads += n
		lastFact := facts[len(facts)-1]
		return len(facts), &ports.PurgeKey{At: lastFact.CreatedAt, ID: lastFact.ConversationID}, nil
	})
}
