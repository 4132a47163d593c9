package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DB is the service's database: one pgx pool shared by bun and River (SQL
// is that pool as database/sql, which River's driver and bun take), a tiny
// pool for the sessions that hold one connection (River's and the workers'
// LISTEN, the liveness session), and the small pool of the statements that
// bypass bun (bypass.go).
type DB struct {
	Pool     *pgxpool.Pool
	Listener *pgxpool.Pool
	// Bypass runs the listings' statements that bypass bun (bypass.go).
	Bypass *pgxpool.Pool
	SQL    *sql.DB
	Bun    *bun.DB
	// Worker is the delivery workers' own pool (nil unless asked for): a
	// click never waits behind deliveries for a connection, and its
	// transactions (claims, outcomes) commit without waiting for the disk.
	Worker    *pgxpool.Pool
	WorkerBun *bun.DB

	acquireTimeout time.Duration
}

// PoolOptions size the pool and bound how long work waits for it.
type PoolOptions struct {
	// MaxConns caps the pool; 0 keeps pgx's default.
	MaxConns int32
	// AcquireTimeout bounds how long a statement or transaction waits for
	// a connection (taking an idle one, or connecting a new one) before it
	// fails with domain.ErrUnavailable; it is also the connect timeout and
	// the liveness-ping timeout unless the URL sets connect_timeout. 0
	// waits as long as the caller's context allows.
	AcquireTimeout time.Duration
	// BypassConns caps the pool of the listings that bypass bun (the
	// partner listings and the delivery log, bypass.go); 0 is 6.
	BypassConns int32
	// TracerProvider, when set, gives each statement that bypasses bun a
	// span (otelpgx): the listings on their pool, the hot path
	// (bypass_hotpath.go) on the main pool. MeterProvider gives the
	// listings their duration metric. bun's statements are traced by
	// bunotel, on bun.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// WorkerConns, when above 0, opens the delivery workers' own pool of
	// that many connections, whose transactions do not wait for their
	// commit to reach the disk (synchronous_commit off): a claim or an
	// outcome lost with the last few hundred milliseconds of WAL in a
	// crash of PostgreSQL only makes an event be sent again.
	WorkerConns int32
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string, opts PoolOptions) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can echo the URL, password included.
		return nil, fmt.Errorf("parse DATABASE_URL: invalid connection string")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// bun writes every value into the SQL text, so each of its statements
	// is new to PostgreSQL: preparing and caching it (pgx's default) costs
	// a second round trip and evicts the statements worth keeping. Such
	// statements run unprepared, in one round trip; a statement with bind
	// parameters asks for the cache itself (pgx.QueryExecModeCacheStatement
	// as its first argument).
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	if t := newHotTracer(opts.TracerProvider); t != nil {
		cfg.ConnConfig.Tracer = t
	}
	if opts.AcquireTimeout > 0 {
		// A connect to a server that does not answer would otherwise hold
		// a pool slot for pgxpool's own default of two minutes, long after
		// the server is back.
		if cfg.ConnConfig.ConnectTimeout == 0 {
			cfg.ConnConfig.ConnectTimeout = opts.AcquireTimeout
		}
		cfg.PingTimeout = opts.AcquireTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	lcfg := cfg.Copy()
	lcfg.ConnConfig.Tracer = nil
	// River's notifier, the delivery workers' LISTEN and a worker
	// process's liveness session each hold one.
	lcfg.MaxConns = 4
	listener, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect listener pool: %w", err)
	}
	bypass, err := openBypassPool(ctx, cfg, opts)
	if err != nil {
		listener.Close()
		pool.Close()
		return nil, err
	}
	// As stdlib.OpenDBFromPool, with the acquire bounded: database/sql
	// keeps no idle connections of its own, the pgx pool does.
	sqlDB := sql.OpenDB(boundedConnector{Connector: stdlib.GetPoolConnector(pool), timeout: opts.AcquireTimeout})
	sqlDB.SetMaxIdleConns(0)
	db := &DB{Pool: pool, Listener: listener, Bypass: bypass, SQL: sqlDB, Bun: bun.NewDB(sqlDB, pgdialect.New()),
		acquireTimeout: opts.AcquireTimeout}
	if opts.WorkerConns > 0 {
		wcfg := cfg.Copy()
		wcfg.MaxConns = opts.WorkerConns
		wcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
		worker, err := pgxpool.NewWithConfig(ctx, wcfg)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("connect worker pool: %w", err)
		}
		wsql := sql.OpenDB(boundedConnector{Connector: stdlib.GetPoolConnector(worker), timeout: opts.AcquireTimeout})
		wsql.SetMaxIdleConns(0)
		db.Worker, db.WorkerBun = worker, bun.NewDB(wsql, pgdialect.New())
	}
	if err := pool.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ping database %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// Close releases every connection.
func (d *DB) Close() {
	_ = d.Bun.Close()
	if d.Worker != nil {
		_ = d.WorkerBun.Close()
		d.Worker.Close()
	}
	d.Bypass.Close()
	d.Listener.Close()
	d.Pool.Close()
}

// errNoConnection marks a connection that could not be had within the
// acquire timeout: the pool is exhausted or the server does not answer.
var errNoConnection = errors.New("no database connection available")

// boundedConnector gives database/sql's connection requests (bun's and
// River's) at most timeout to get a connection from the pgx pool. Without
// it a request waits as long as its context lives, which for an HTTP
// request is as long as the client keeps waiting.
type boundedConnector struct {
	driver.Connector
	timeout time.Duration
}

// Connect acquires a pooled connection. The context only bounds the
// acquire: the returned connection does not keep it.
func (c boundedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	return within(ctx, c.timeout, c.Connector.Connect)
}

// within runs get (a connection request) with at most timeout to succeed
// (none when timeout ≤ 0); running out of it is errNoConnection, while the
// caller's own cancellation stays what it is.
func within[T any](ctx context.Context, timeout time.Duration, get func(context.Context) (T, error)) (T, error) {
	if timeout <= 0 {
		return get(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, timeout, errNoConnection)
	defer cancel()
	conn, err := get(actx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errNoConnection) {
		var zero T
		return zero, fmt.Errorf("%w within %s: %w", errNoConnection, timeout, err)
	}
	return conn, err
}
