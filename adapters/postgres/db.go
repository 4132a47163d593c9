package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// DB is one pgx pool shared by bun and River, plus a tiny pool that River's
// notifier uses for LISTEN.
type DB struct {
	Pool     *pgxpool.Pool
	Listener *pgxpool.Pool
	SQL      *sql.DB
	Bun      *bun.DB
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can echo the URL, password included.
		return nil, fmt.Errorf("parse DATABASE_URL: invalid connection string")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	lcfg := cfg.Copy()
	// River's notifier, the delivery workers' LISTEN and a worker
	// process's liveness session each hold one.
	lcfg.MaxConns = 4
	listener, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect listener pool: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	db := &DB{Pool: pool, Listener: listener, SQL: sqlDB, Bun: bun.NewDB(sqlDB, pgdialect.New())}
	if err := pool.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ping database %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// Close releases every connection.
func (d *DB) Close() {
	_ = d.Bun.Close()
	d.Listener.Close()
	d.Pool.Close()
}
