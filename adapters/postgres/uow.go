package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// NotifyChannel is the PostgreSQL channel on which worker processes hear
// that deliveries are due.
const NotifyChannel = "aurix_deliveries"

// maxTries bounds how often a transaction is run again after a conflict.
const maxTries = 5

// notifyEvery spaces the NOTIFYs one process sends: a worker woken once
// claims everything due, so more would only cost the sender's commit.
const notifyEvery = 2 * time.Millisecond

// UnitOfWork runs use-case work in one bun transaction, the one transaction
// helper of the service: it rolls back on error and on panic, and runs the
// work again when the database reports a conflict that another run can get
// past.
type UnitOfWork struct {
	db *bun.DB
	// opened, when set, is called after a commit that opened deliveries,
	// so workers in this process claim them at once.
	opened func()
	// notify makes a transaction that opened deliveries also NOTIFY the
	// worker processes listening on NotifyChannel.
	notify     bool
	lastNotify atomic.Int64
}

// UnitOfWorkOptions say who hears of new deliveries.
type UnitOfWorkOptions struct {
	// Opened is called after each commit that opened deliveries.
	Opened func()
	// Notify sends a NOTIFY on NotifyChannel with such a commit (at most
	// one every few milliseconds), for worker processes elsewhere.
	Notify bool
}

// NewUnitOfWork returns a unit of work over db.
func NewUnitOfWork(db *bun.DB, o UnitOfWorkOptions) *UnitOfWork {
	return &UnitOfWork{db: db, opened: o.Opened, notify: o.Notify}
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// Do runs fn in a transaction; it rolls back when fn returns an error or
// panics, commits otherwise, and runs fn again (up to a few times) when the
// transaction failed on a unique key a concurrent writer took, a
// serialization failure or a deadlock. A database that cannot be reached (at
// BEGIN, COMMIT, or in a statement fn left unclassified) is reported as
// domain.ErrUnavailable.
func (u *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	var err error
	for try := 1; ; try++ {
		repos := &txRepos{uow: u}
		err = u.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
			repos.tx = btx
			if err := fn(ctx, repos); err != nil {
				return err
			}
			if repos.opened && u.notify && u.mayNotify() {
				if _, err := btx.NewRaw("SELECT pg_notify(?, '')", NotifyChannel).Exec(ctx); err != nil {
					return classify(err, "notify workers")
				}
			}
			return nil
		})
		if err == nil {
			if repos.opened && u.opened != nil {
				u.opened()
			}
			return nil
		}
		if try >= maxTries || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("transaction: %w", markUnavailable(err))
}

// mayNotify reports whether this commit should carry a NOTIFY.
func (u *UnitOfWork) mayNotify() bool {
	now := time.Now().UnixNano()
	last := u.lastNotify.Load()
	return now-last >= int64(notifyEvery) && u.lastNotify.CompareAndSwap(last, now)
}

// retryable reports a failure that running the transaction again can get
// past: a unique key taken meanwhile (the run draws new values or finds the
// winner's row), a serialization failure or a deadlock.
func retryable(err error) bool {
	if errors.Is(err, domain.ErrConflict) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

type txRepos struct {
	uow    *UnitOfWork
	tx     bun.Tx
	opened bool
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
	return deliveries{tx: t.tx, opened: func() { t.opened = true }}
}

func (t *txRepos) Outbox() ports.Outbox { return outbox{tx: t.tx} }

func (t *txRepos) Erasures() ports.ErasureRepository { return erasures{tx: t.tx} }

func (t *txRepos) Retention() ports.RetentionRepository { return retention{tx: t.tx} }
