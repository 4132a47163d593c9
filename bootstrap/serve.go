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
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"riverqueue.com/riverui"

	httpadapter "github.com/aurix/integrations/adapters/http"
	"github.com/aurix/integrations/adapters/postgres"
	riveradapter "github.com/aurix/integrations/adapters/river"
	"github.com/aurix/integrations/adapters/system"
	"github.com/aurix/integrations/adapters/telemetry"
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
	tel     *Telemetry
	log     *slog.Logger
	db      *postgres.DB
	river   *river.Client[*sql.Tx]
	handler http.Handler
}

// NewApp connects to the database, migrates when configured to, and wires
// every adapter and use case.
func NewApp(ctx context.Context, cfg Config, tel *Telemetry, log *slog.Logger) (*App, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: cfg.DatabaseMaxConns, AcquireTimeout: cfg.DatabaseAcquireTimeout})
	if err != nil {
		return nil, err
	}
	// Statements are recorded as templates, never with their values.
	db.Bun = db.Bun.WithQueryHook(bunotel.NewQueryHook(bunotel.WithDBName("aurix"), bunotel.WithFormattedQueries(false),
		bunotel.WithTracerProvider(tel.Tracer), bunotel.WithMeterProvider(tel.Meter)))
	a := &App{cfg: cfg, tel: tel, log: log, db: db}
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
	// One otelriver middleware for inserts and work: an inserted job carries
	// the inserting span's context, and its work span continues it.
	riverOtel := []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
		EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true,
		TracerProvider: a.tel.Tracer, MeterProvider: a.tel.Meter,
	})}
	store := postgres.NewStore(a.db.Bun, a.tel.Tracer)
	metrics, err := telemetry.NewMetrics(a.tel.Meter, store.OldestPending)
	if err != nil {
		return err
	}

	// An insert-only client schedules jobs; it needs no workers, so the use
	// cases that schedule can be built before the workers that run them.
	inserter, err := river.NewClient(driver, &river.Config{Logger: riverLog, Middleware: riverOtel})
	if err != nil {
		return fmt.Errorf("river insert client: %w", err)
	}
	uow := postgres.NewUnitOfWork(a.db.Bun, riveradapter.NewQueue(inserter))
	clock, ids, refs := system.Clock{}, system.UUIDs{}, system.CorrelationIDs{}

	sender := webhook.NewSender(webhook.Options{
		Timeout:             cfg.WebhookTimeout,
		AllowPrivateTargets: cfg.WebhookAllowPrivateTargets,
		UserAgent:           "Aurix-Webhooks/" + Version(),
		Transport: func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(a.tel.Tracer), otelhttp.WithMeterProvider(a.tel.Meter),
				otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "webhook POST" }))
		},
	})
	workers := river.NewWorkers()
	// Events are fanned out where they are written; this worker drains
	// dispatch jobs that an earlier version queued.
	river.AddWorker(workers, &riveradapter.DispatchWorker{
		Dispatcher: &application.Dispatcher{UoW: uow, Events: store, Clock: clock},
		Tracer:     a.tel.Tracer.Tracer("github.com/aurix/integrations/adapters/river"),
	})
	// At most one grouped write per worker slot.
	hot := postgres.NewDeliveryPath(a.db.Pool, cfg.WebhookWorkers+cfg.WebhookRetryWorkers)
	river.AddWorker(workers, &riveradapter.DeliverWorker{
		Deliverer: &application.Deliverer{UoW: uow, Deliveries: hot, Successes: hot, Sender: sender, Clock: clock,
			Schedule: cfg.WebhookRetrySchedule, DisableAfter: cfg.WebhookDisableAfter, Telemetry: metrics},
		// A job over its partner's cap waits briefly for a slot before it
		// steps aside: with a fast partner a slot frees within
		// milliseconds, and a snooze costs a River update and a refetch.
		Limiter: riveradapter.NewConfigLimiter(cfg.WebhookMaxInFlight, 25*time.Millisecond),
		Logger:  log,
		Tracer:  a.tel.Tracer.Tracer("github.com/aurix/integrations/adapters/river"),
	})
	a.river, err = river.NewClient(driver, &river.Config{
		Logger:            riverLog,
		Middleware:        riverOtel,
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
		Clicks: &application.Clicks{UoW: uow, Clock: clock, IDs: ids, Refs: refs, Bots: useragent.New(), Telemetry: metrics,
			WhatsApp: domain.WhatsAppLink{Number: cfg.WhatsAppNumber, Prefill: cfg.WhatsAppPrefill}},
		WebhookConfigs: &application.WebhookConfigs{UoW: uow, Clock: clock, IDs: ids, Resolver: system.Resolver{},
			Policy:              domain.TargetPolicy{AllowInsecure: cfg.WebhookAllowInsecure},
			AllowPrivateTargets: cfg.WebhookAllowPrivateTargets},
		WhatsApp: &application.WhatsApp{UoW: uow, Clock: clock, IDs: ids, Refs: refs,
			Window: cfg.CorrelationWindow, Telemetry: metrics},
		Leads:               &application.Leads{UoW: uow, Clock: clock, IDs: ids, Required: cfg.LeadRequiredFields, Telemetry: metrics},
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
		Metrics:             routerMetrics(cfg, a.tel.Metrics),
		QueryConcurrency:    cfg.PartnerQueryConcurrency,
		QueryQueueTimeout:   cfg.PartnerQueryQueueTimeout,
		// Each integration's share of the list queries, and the cut of a
		// stream whose reader stalls.
		QueryServiceConcurrency: cfg.PartnerQueryServiceConcurrency,
		StreamStallTimeout:      cfg.PartnerStreamStallTimeout,
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

// Handler returns the HTTP handler: the router inside a server span per
// request (named by route template once the route is known).
func (a *App) Handler() http.Handler {
	return otelhttp.NewHandler(a.handler, "http.server",
		otelhttp.WithTracerProvider(a.tel.Tracer), otelhttp.WithMeterProvider(a.tel.Meter),
		// A fixed name: otherwise server.address is the client's Host header.
		otelhttp.WithServerName("aurix"),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Start starts the River workers without serving HTTP (for tests that serve
// Handler themselves); Stop stops them.
func (a *App) Start(ctx context.Context) error { return a.river.Start(ctx) }

// Stop stops the workers and closes the database.
func (a *App) Stop(ctx context.Context) error {
	defer a.db.Close()
	return a.river.Stop(ctx)
}

// Run serves HTTP and works jobs until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections, lets in-flight requests finish,
// and lets running deliveries finish; any still running at the deadline are
// cancelled, which returns them to the queue for a later attempt.
func (a *App) Run(ctx context.Context) error {
	defer a.db.Close()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	stopMetrics, err := a.serveMetrics(ctx)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
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
	if err := stopMetrics(shutCtx); err != nil {
		a.log.Warn("metrics shutdown incomplete", "err", err)
	}
	a.log.Info("stopped")
	return nil
}

// Migrator returns the schema migrator for the app's database.
func (a *App) Migrator() *postgres.Migrator { return postgres.NewMigrator(a.db) }
