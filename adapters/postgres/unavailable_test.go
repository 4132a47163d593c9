package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// TestDatabaseThatCannotServeIsUnavailable: with its pool exhausted a
// transaction and a listing (on the pools they run on) wait the acquire
// timeout, not as long as the caller would, and fail as
// domain.ErrUnavailable; so do they when the server refuses new connections
// (a real FATAL from PostgreSQL at connect). Once a connection can be had
// again, the same pools work.
func TestDatabaseThatCannotServeIsUnavailable(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	db, err := postgres.Open(context.Background(), dbURL, postgres.PoolOptions{MaxConns: 1, BypassConns: 1, AcquireTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	uow := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	store := postgres.NewStore(db)
	// The caller would wait far longer than the acquire timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	transact := func() error { return uow.Do(ctx, func(context.Context, ports.Tx) error { return nil }) }
	listClicks := func() error {
		return store.Attribution(ctx, ports.PageQuery{}, 0, func(ports.AttributionRecord, ports.PageKey) error { return nil })
	}

	held, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	heldList, err := db.Bypass.Acquire(ctx)
	require.NoError(t, err)
	release := sync.OnceFunc(func() { held.Release(); heldList.Release() })
	t.Cleanup(release) // before db.Close, which waits for it
	require.ErrorIs(t, transact(), domain.ErrUnavailable, "pool exhausted")
	require.ErrorIs(t, listClicks(), domain.ErrUnavailable, "pool exhausted")
	require.NoError(t, ctx.Err(), "they gave up on their own, not when the caller did")
	release()
	require.NoError(t, transact())
	require.NoError(t, listClicks())

	// The server stops accepting connections to this database.
	name := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	allow := func(on bool) {
		_, err := admin.Exec(context.Background(), fmt.Sprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t", pgx.Identifier{name}.Sanitize(), on))
		require.NoError(t, err)
	}
	allow(false)
	t.Cleanup(func() { allow(true) })
	db.Pool.Reset() // the pools' connections are gone, as after a restart
	db.Bypass.Reset()
	require.ErrorIs(t, transact(), domain.ErrUnavailable, "connections refused")
	require.ErrorIs(t, listClicks(), domain.ErrUnavailable, "connections refused")
	allow(true)
	require.NoError(t, transact(), "the pool recovers by itself")
	require.NoError(t, listClicks())
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// TestListingsHaveAPoolOfTheirOwn: listings never take the connections
// transactions (clicks, outcomes) commit on, and the reverse: with either
// pool exhausted, the other kind of work still runs at once.
func TestListingsHaveAPoolOfTheirOwn(t *testing.T) {
	t.Parallel()
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), postgres.PoolOptions{MaxConns: 1, BypassConns: 1,
		AcquireTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	uow := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	store := postgres.NewStore(db)
	ctx := context.Background()
	transact := func() error { return uow.Do(ctx, func(context.Context, ports.Tx) error { return nil }) }
	listClicks := func() error {
		return store.Attribution(ctx, ports.PageQuery{}, 0, func(ports.AttributionRecord, ports.PageKey) error { return nil })
	}

	held, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, transact(), domain.ErrUnavailable, "the main pool is exhausted")
	require.NoError(t, listClicks(), "a listing does not need it")
	held.Release()

	heldList, err := db.Bypass.Acquire(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, listClicks(), domain.ErrUnavailable, "the listings' pool is exhausted")
	require.NoError(t, transact(), "a transaction does not need it")
	heldList.Release()
}
