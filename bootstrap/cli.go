package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/telemetry"
)

const usage = `usage:
  aurix serve                 run the HTTP server and the delivery workers
  aurix migrate up            apply River's schema and every app migration
  aurix migrate down [--all]  roll back one app migration (--all: everything, River's schema too)
  aurix migrate version       print the schema versions
`

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := NewLogger(stderr, environ["AURIX_LOG_LEVEL"])
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, environ, log)
	case "migrate":
		err = migrateCmd(ctx, args[1:], environ, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		log.Error("aurix failed", "err", err)
		return 1
	}
	return 0
}

// NewLogger returns the JSON slog logger every component writes to.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(telemetry.TraceHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})})
}

func serve(ctx context.Context, environ map[string]string, log *slog.Logger) error {
	cfg, err := LoadConfig(environ)
	if err != nil {
		return err
	}
	tel, err := SetupTelemetry(ctx, environ, log, TelemetryOptions{})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	app, err := NewApp(ctx, cfg, tel, log)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

func migrateCmd(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("migrate needs up, down or version")
	}
	url := environ["DATABASE_URL"]
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/aurix?sslmode=disable"
	}
	db, err := postgres.Open(ctx, url, postgres.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()
	m := postgres.NewMigrator(db)
	switch args[0] {
	case "up":
		var applied postgres.Applied
		applied, err = m.Up(ctx)
		if err == nil && applied.Nothing() {
			fmt.Fprintln(stdout, "nothing to migrate: the schema is current")
		}
	case "down":
		all := len(args) > 1 && strings.TrimLeft(args[1], "-") == "all"
		err = m.Down(ctx, all)
	case "version":
		var v postgres.SchemaVersion
		v, err = m.Version(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "app %d (latest %d, dirty %t)\nriver %d\n", v.App, v.AppLatest, v.AppDirty, v.River)
		}
		return err
	default:
		return fmt.Errorf("unknown migrate command %q", args[0])
	}
	if err != nil {
		return err
	}
	v, err := m.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "app %d, river %d\n", v.App, v.River)
	return nil
}
