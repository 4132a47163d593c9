// Package bootstrap is the composition root: it reads configuration, builds
// the adapters, hands them to the use cases, and runs the HTTP server and
// River workers until a signal asks it to stop.
package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"riverqueue.com/riverui"

	httpadapter "github.com/aurix/integrations/adapters/http"
	"github.com/aurix/integrations/adapters/postgres"
	riveradapter "github.com/aurix/integrations/adapters/river"
	"github.com/aurix/integrations/adapters/system"
	"github.com/aurix/integrations/adapters/useragent"
	"github.com/aurix/integrations/adapters/webhook"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
)

// Version is the build's module version, "dev" for a local build.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// App is the wired service.
type App struct {
	cfg     Config
	log     *slog.Logger
	db      *postgres.DB
	river   *river.Client[*sql.Tx]
	handler http.Handler
}

// NewApp connects to the database, migrates when configured to, and wires
// every adapter and use case.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: db}
	if err := a.wire(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) wire(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	migrator := postgres.NewMigrator(a.db)
	if cfg.MigrateOnStart {
		if err := migrator.Up(ctx); err != nil {
			return err
		}
		log.InfoContext(ctx, "schema migrated")
	}
	driver := riverdatabasesql.NewWithPgxListener(a.db.SQL, a.db.Listener)
	riverLog := log.With("component", "river")

	// An insert-only client schedules jobs; it needs no workers, so the use
	// cases that schedule can be built before the workers that run them.
	inserter, err := river.NewClient(driver, &river.Config{Logger: riverLog})
	if err != nil {
		return fmt.Errorf("river insert client: %w", err)
	}
	queue := riveradapter.NewQueue(inserter)
	uow := postgres.NewUnitOfWork(a.db.Bun, queue)
	store := postgres.NewStore(a.db.Bun)
	clock, ids := system.Clock{}, system.UUIDs{}

	clicks := &application.Clicks{
		UoW: uow, Clock: clock, IDs: ids, Refs: system.CorrelationIDs{}, Bots: useragent.New(),
		WhatsApp: domain.WhatsAppLink{Number: cfg.WhatsAppNumber, Prefill: cfg.WhatsAppPrefill},
	}
	configs := &application.WebhookConfigs{
		UoW: uow, Clock: clock, IDs: ids, Resolver: system.Resolver{},
		Policy:              domain.TargetPolicy{AllowInsecure: cfg.WebhookAllowInsecure},
		AllowPrivateTargets: cfg.WebhookAllowPrivateTargets,
	}
	sender := webhook.NewSender(webhook.Options{
		Timeout:             cfg.WebhookTimeout,
		AllowPrivateTargets: cfg.WebhookAllowPrivateTargets,
		UserAgent:           "Aurix-Webhooks/" + Version(),
	})

	workers := river.NewWorkers()
	river.AddWorker(workers, &riveradapter.DispatchWorker{
		Dispatcher: &application.Dispatcher{UoW: uow, Events: store, Configs: store, Clock: clock},
	})
	river.AddWorker(workers, &riveradapter.DeliverWorker{
		Deliverer: &application.Deliverer{UoW: uow, Deliveries: store, Sender: sender, Clock: clock,
			Schedule: cfg.WebhookRetrySchedule, DisableAfter: cfg.WebhookDisableAfter},
		Limiter: riveradapter.NewConfigLimiter(cfg.WebhookMaxInFlight),
		Logger:  log,
	})
	a.river, err = river.NewClient(driver, &river.Config{
		Logger:            riverLog,
		Workers:           workers,
		FetchCooldown:     cfg.RiverFetchCooldown,
		FetchPollInterval: cfg.RiverFetchPollInterval,
		// A job still running after JobTimeout is cancelled; one still marked
		// running after RescueStuckJobsAfter (its process died) is retried.
		JobTimeout:           jobTimeout(cfg),
		RescueStuckJobsAfter: cfg.RiverRescueStuckJobsAfter,
		Queues: map[string]river.QueueConfig{
			riveradapter.QueueDispatch:     {MaxWorkers: 10},
			riveradapter.QueueDeliver:      {MaxWorkers: cfg.WebhookWorkers},
			riveradapter.QueueDeliverRetry: {MaxWorkers: cfg.WebhookRetryWorkers},
		},
	})
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}

	var admin http.Handler
	if cfg.AdminPassword != "" {
		ui, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(a.river, nil),
			Logger:    riverLog,
			Prefix:    "/riverui",
		})
		if err != nil {
			return fmt.Errorf("river ui: %w", err)
		}
		if err := ui.Start(ctx); err != nil {
			return fmt.Errorf("start river ui: %w", err)
		}
		admin = ui
	}

	a.handler = httpadapter.NewRouter(httpadapter.Deps{
		Clicks:         clicks,
		WebhookConfigs: configs,
		WhatsApp: &application.WhatsApp{UoW: uow, Clock: clock, IDs: ids, Refs: system.CorrelationIDs{},
			Window: cfg.CorrelationWindow},
		Leads:               &application.Leads{UoW: uow, Clock: clock, IDs: ids, Required: cfg.LeadRequiredFields},
		Partner:             &application.Partner{Reader: store},
		DeliveryLog:         &application.DeliveryLog{UoW: uow, Reader: store, Clock: clock, SecretGrace: cfg.WebhookSecretGrace},
		WidgetRateLimit:     cfg.WidgetRateLimit,
		WidgetRateWindow:    cfg.WidgetRateWindow,
		WhatsAppVerifyToken: cfg.WhatsAppVerifyToken,
		WhatsAppAppSecret:   []byte(cfg.WhatsAppAppSecret),
		AgentAPIKey:         cfg.AgentAPIKey,
		Ready:               readiness(migrator),
		IntegrationKeys:     cfg.IntegrationKeys,
		AllowedOrigins:      cfg.WidgetAllowedOrigins,
		TrustedProxies:      cfg.TrustedProxies,
		Admin:               admin,
		AdminPrefix:         "/riverui",
		AdminUser:           cfg.AdminUser,
		AdminPassword:       cfg.AdminPassword,
		Logger:              log,
	})
	return nil
}

// jobTimeout bounds any job: one webhook attempt plus time to record it.
func jobTimeout(cfg Config) time.Duration { return cfg.WebhookTimeout + 10*time.Second }

func readiness(m *postgres.Migrator) func(context.Context) error {
	return func(ctx context.Context) error {
		v, err := m.Version(ctx)
		if err != nil {
			return err
		}
		if !v.Current() {
			return fmt.Errorf("schema at app %d (dirty %t, want %d), river %d", v.App, v.AppDirty, v.AppLatest, v.River)
		}
		return nil
	}
}

// Handler returns the HTTP handler (for tests that serve it themselves).
func (a *App) Handler() http.Handler { return a.handler }

// Run serves HTTP and works jobs until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections, lets in-flight requests finish,
// and lets running deliveries finish; any still running at the deadline are
// cancelled, which returns them to the queue for a later attempt.
func (a *App) Run(ctx context.Context) error {
	defer a.db.Close()
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if err := a.river.Start(workCtx); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.log.InfoContext(ctx, "aurix serving", "addr", ln.Addr().String(), "version", Version())

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			a.log.ErrorContext(ctx, "http server stopped", "err", err)
		}
	}
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Warn("http shutdown incomplete", "err", err)
	}
	if err := a.river.Stop(shutCtx); err != nil {
		a.log.Warn("deliveries still running at the deadline; cancelling them back to the queue", "err", err)
		cancelCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		_ = a.river.StopAndCancel(cancelCtx)
	}
	a.log.Info("stopped")
	return nil
}

// Migrator returns the schema migrator for the app's database.
func (a *App) Migrator() *postgres.Migrator { return postgres.NewMigrator(a.db) }
