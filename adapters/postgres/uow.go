package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
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
	// opened, when set, is called after a commit that opened deliveries
	// (with their configs), so workers in this process claim them at once.
	opened func(configIDs []string)
	// notify makes a transaction that opened deliveries also NOTIFY the
	// worker processes listening on NotifyChannel.
	notify     bool
	lastNotify atomic.Int64
	// configs serves the active webhook configs to the transactions.
	configs *ConfigCache
	// pool, when set, runs Write's statement (the same connections as
	// db's, without database/sql in between).
	pool           *pgxpool.Pool
	acquireTimeout time.Duration
}

// UnitOfWorkOptions say who hears of new deliveries.
type UnitOfWorkOptions struct {
	// Opened is called after each commit that opened deliveries, with the
	// configs they go to.
	Opened func(configIDs []string)
	// Notify sends a NOTIFY on NotifyChannel with such a commit (at most
	// one every few milliseconds), for worker processes elsewhere.
	Notify bool
	// Configs, when set, serves the active webhook configs (shared by
	// every unit of work of the process, invalidated on a config change).
	Configs *ConfigCache
	// Pool, when set, is the pgx pool under db: Write takes its
	// connection there directly, within AcquireTimeout.
	Pool           *pgxpool.Pool
	AcquireTimeout time.Duration
}

// NewUnitOfWork returns a unit of work over db.
func NewUnitOfWork(db *bun.DB, o UnitOfWorkOptions) *UnitOfWork {
	return &UnitOfWork{db: db, opened: o.Opened, notify: o.Notify, configs: o.Configs, pool: o.Pool,
		acquireTimeout: o.AcquireTimeout}
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// Do runs fn in a transaction; it rolls back when fn returns an error or
// panics, commits otherwise, and runs fn again (up to a few times) when the
// transaction failed on a unique key a concurrent writer took, a
// serialization failure or a deadlock. A database that cannot be reached (at
// BEGIN, COMMIT, or in a statement fn left unclassified) is reported as
// domain.ErrUnavailable.
func (u *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return retry(ctx, "transaction", func() error { return u.run(ctx, fn) })
}

// Write runs fn and stores the rows it added in one statement
// (bypass_hotpath.go, click.write): atomic outside a transaction block, one
// round trip, no BEGIN or COMMIT. It is run again after a conflict, as Do
// is, and tells the workers of the deliveries it opened as Do does.
func (u *UnitOfWork) Write(ctx context.Context, fn func(ctx context.Context, w ports.Writes) error) error {
	return retry(ctx, "write", func() error { return u.write(ctx, fn) })
}

// retry runs run again (up to a few times) after a failure that another
// run can get past; what is left is reported as what, with
// domain.ErrUnavailable marked.
func retry(ctx context.Context, what string, run func() error) error {
	var err error
	for try := 1; ; try++ {
		err = run()
		if err == nil {
			return nil
		}
		if try >= maxTries || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("%s: %w", what, markUnavailable(err))
}

func (u *UnitOfWork) write(ctx context.Context, fn func(ctx context.Context, w ports.Writes) error) error {
	w := &writes{configs: func(ctx context.Context) ([]*domain.WebhookConfig, error) {
		if u.configs != nil {
			return u.configs.active(ctx, func(context.Context) (bun.IDB, error) { return u.db, nil })
		}
		return loadActive(ctx, u.db)
	}}
	if err := fn(ctx, w); err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if w.empty() {
		return nil
	}
	notify := len(w.opened) > 0 && u.notify && u.mayNotify()
	var err error
	if u.pool != nil {
		err = u.onPool(ctx, func(c *pgx.Conn) error { return w.exec(ctx, c, notify) })
	} else {
		err = u.onConn(ctx, func(c *pgx.Conn) error { return w.exec(ctx, c, notify) })
	}
	if err != nil {
		return err
	}
	if len(w.opened) > 0 && u.opened != nil {
		u.opened(w.opened)
	}
	return nil
}

// onPool runs f on a connection of the pgx pool, taken within the acquire
// timeout.
func (u *UnitOfWork) onPool(ctx context.Context, f func(c *pgx.Conn) error) error {
	conn, err := within(ctx, u.acquireTimeout, u.pool.Acquire)
	if err != nil {
		return classify(err, "take a connection")
	}
	defer conn.Release()
	return f(conn.Conn())
}

// onConn runs f on a connection of bun's database, through pgx.
func (u *UnitOfWork) onConn(ctx context.Context, f func(c *pgx.Conn) error) error {
	conn, err := u.db.Conn(ctx)
	if err != nil {
		return classify(err, "take a connection")
	}
	defer conn.Close()
	return onPgx(conn, f)
}

// onPgx runs f on bun's connection through pgx, on the same session (and
// so in the same transaction, if one is open on it).
func onPgx(conn bun.Conn, f func(c *pgx.Conn) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("hot path: the connection is a %T, not pgx's", dc)
		}
		return f(c.Conn())
	})
}

// run is one run of fn, in a transaction on a connection of its own, so that
// the hot-path statements (bypass_hotpath.go) can run through pgx on the same
// connection, in the same transaction, as bun's.
func (u *UnitOfWork) run(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	conn, err := u.db.Conn(ctx)
	if err != nil {
		return classify(err, "take a connection")
	}
	defer conn.Close()
	repos := &txRepos{uow: u, conn: conn}
	// fn runs under the caller's context, not the one bun hands over: that
	// one carries BEGIN's span, ended by then, and a statement whose parent
	// span has ended gets no span of its own from otelpgx.
	err = conn.RunInTx(ctx, nil, func(_ context.Context, btx bun.Tx) error {
		repos.tx = btx
		if err := fn(ctx, repos); err != nil {
			return err
		}
		if len(repos.opened) > 0 && u.notify && u.mayNotify() {
			if _, err := btx.NewRaw("SELECT pg_notify(?, '')", NotifyChannel).Exec(ctx); err != nil {
				return classify(err, "notify workers")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(repos.opened) > 0 && u.opened != nil {
		u.opened(repos.opened)
	}
	for _, f := range repos.afterCommit {
		f()
	}
	return nil
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
	uow  *UnitOfWork
	conn bun.Conn
	tx   bun.Tx
	// opened lists the configs the transaction opened deliveries to.
	opened []string
	// afterCommit run once the transaction committed.
	afterCommit []func()
}

// pgx runs f on the transaction's own connection through pgx: statements it
// sends are part of the transaction.
func (t *txRepos) pgx(f func(conn *pgx.Conn) error) error {
	return onPgx(t.conn, f)
}

// db is the transaction for bun's statements.
func (t *txRepos) db(context.Context) (bun.IDB, error) { return t.tx, nil }

func (t *txRepos) InboundSources() ports.InboundSourceRepository { return inboundSources{t: t} }

func (t *txRepos) WebhookConfigs() ports.WebhookConfigRepository {
	return webhookConfigs{t: t, cache: t.uow.configs}
}

func (t *txRepos) Conversations() ports.ConversationRepository { return conversations{t: t} }

func (t *txRepos) Leads() ports.LeadRepository { return leads{t: t} }

func (t *txRepos) Deliveries() ports.DeliveryRepository { return deliveries{t: t} }

func (t *txRepos) Outbox() ports.Outbox { return outbox{t: t} }

func (t *txRepos) Erasures() ports.ErasureRepository { return erasures{tx: t.tx} }

func (t *txRepos) Retention() ports.RetentionRepository { return retention{tx: t.tx} }
