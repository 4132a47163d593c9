package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/aurix/integrations/migrations"
)

// SchemaVersion is where both schemas stand.
type SchemaVersion struct {
	App      uint
	AppDirty bool
	// AppLatest is the newest migration this binary carries.
	AppLatest uint
	River     int
}

// Current reports whether the app's schema is the one this binary expects.
func (v SchemaVersion) Current() bool { return !v.AppDirty && v.App == v.AppLatest && v.River > 0 }

// Migrator applies the app's embedded golang-migrate files and River's schema.
type Migrator struct{ db *DB }

// NewMigrator returns a Migrator for db.
func NewMigrator(db *DB) *Migrator { return &Migrator{db: db} }

// appMigrate builds a golang-migrate instance over its own *sql.DB wrapper:
// the pgx driver's Close closes the *sql.DB it was given.
func (m *Migrator) appMigrate() (*migrate.Migrate, func(), error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	own := stdlib.OpenDBFromPool(m.db.Pool)
	drv, err := migratepgx.WithInstance(own, &migratepgx.Config{MigrationsTable: "aurix_schema_migrations"})
	if err != nil {
		_ = own.Close()
		return nil, nil, fmt.Errorf("migration driver: %w", err)
	}
	mg, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = drv.Close()
		return nil, nil, fmt.Errorf("migration instance: %w", err)
	}
	return mg, func() { _, _ = mg.Close() }, nil
}

func (m *Migrator) river() (*rivermigrate.Migrator[*sql.Tx], error) {
	mg, err := rivermigrate.New(riverdatabasesql.New(m.db.SQL), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return mg, nil
}

// migrationLock is the advisory lock that makes processes starting at the
// same moment migrate one after another: the first applies the schema, the
// others wait and then find nothing to do.
const migrationLock = 7_270_001

// Applied is what one Up applied: of processes starting together, the one
// that migrated says so, the others find nothing to do.
type Applied struct {
	// River lists the versions of River's schema applied.
	River []int
	// AppFrom and AppTo are the app's schema version before and after
	// (equal when no app migration was applied; 0 is no schema).
	AppFrom, AppTo uint
}

// Nothing reports whether the schema was already current.
func (a Applied) Nothing() bool { return len(a.River) == 0 && a.AppFrom == a.AppTo }

// Up applies River's schema and then every pending app migration, holding
// the migration lock, and says what it applied.
func (m *Migrator) Up(ctx context.Context) (Applied, error) {
	conn, err := m.db.Pool.Acquire(ctx)
	if err != nil {
		return Applied{}, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return Applied{}, fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}()
	return m.up(ctx)
}

func (m *Migrator) up(ctx context.Context) (Applied, error) {
	var applied Applied
	rm, err := m.river()
	if err != nil {
		return applied, err
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return applied, fmt.Errorf("migrate river schema up: %w", err)
	}
	for _, v := range res.Versions {
		applied.River = append(applied.River, v.Version)
	}
	mg, done, err := m.appMigrate()
	if err != nil {
		return applied, err
	}
	defer done()
	if applied.AppFrom, err = appVersion(mg); err != nil {
		return applied, err
	}
	if err := mg.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return applied, fmt.Errorf("migrate app schema up: %w", err)
	}
	applied.AppTo, err = appVersion(mg)
	return applied, err
}

// appVersion is the app's schema version, 0 when there is none.
func appVersion(mg *migrate.Migrate) (uint, error) {
	v, _, err := mg.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return 0, fmt.Errorf("app schema version: %w", err)
	}
	return v, nil
}

// UpTo applies River's schema and the app migrations up to version (an
// earlier version's schema, for tests that upgrade a populated database).
func (m *Migrator) UpTo(ctx context.Context, version uint) error {
	rm, err := m.river()
	if err != nil {
		return err
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river schema up: %w", err)
	}
	mg, done, err := m.appMigrate()
	if err != nil {
		return err
	}
	defer done()
	if err := mg.Migrate(version); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate app schema to %d: %w", version, err)
	}
	return nil
}

// Down rolls back one app migration, or with all every app migration and
// then River's schema.
func (m *Migrator) Down(ctx context.Context, all bool) error {
	mg, done, err := m.appMigrate()
	if err != nil {
		return err
	}
	defer done()
	if all {
		err = mg.Down()
	} else {
		err = mg.Steps(-1)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) && !errors.Is(err, migrate.ErrNilVersion) {
		return fmt.Errorf("migrate app schema down: %w", err)
	}
	if !all {
		return nil
	}
	rm, err := m.river()
	if err != nil {
		return err
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("migrate river schema down: %w", err)
	}
	return nil
}

// Version reports both schemas' versions.
func (m *Migrator) Version(ctx context.Context) (SchemaVersion, error) {
	var v SchemaVersion
	mg, done, err := m.appMigrate()
	if err != nil {
		return v, err
	}
	defer done()
	v.App, v.AppDirty, err = mg.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return v, fmt.Errorf("app schema version: %w", err)
	}
	v.AppLatest, err = latestAppVersion()
	if err != nil {
		return v, err
	}
	rm, err := m.river()
	if err != nil {
		return v, err
	}
	existing, err := rm.ExistingVersions(ctx)
	if err != nil {
		return v, fmt.Errorf("river schema version: %w", err)
	}
	if len(existing) > 0 {
		v.River = existing[len(existing)-1].Version
	}
	return v, nil
}

func latestAppVersion() (uint, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("open embedded migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("first migration: %w", err)
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil //nolint:nilerr // os.ErrNotExist marks the last one
		}
		v = next
	}
}
