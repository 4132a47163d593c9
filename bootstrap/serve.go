// Package bootstrap is the composition root: it reads configuration, builds
// the adapters, hands them to the use cases, and runs the HTTP server and
// the delivery workers until a signal asks it to stop.
package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
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
	"github.com/aurix/integrations/adapters/worker"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Version is the build's module version, "dev" for a local build.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// claimPause is the shortest time between two claim rounds of a worker:
// under load, the deliveries committed meanwhile are claimed together.
const claimPause = time.Millisecond

// configCacheAge bounds how long a process may fan events out with a
// config changed by another process whose NOTIFY it missed.
const configCacheAge = time.Second

// App is the wired service.
type App struct {
	cfg     Config
	tel     *Telemetry
	log     *slog.Logger
	db      *postgres.DB
	river   *river.Client[*sql.Tx]
	handler http.Handler

	// The delivery side, when the role works deliveries.
	engine    *worker.Engine
	heartbeat *worker.Heartbeat
	// configs caches the active webhook configs for every unit of work.
	configs *postgres.ConfigCache

	workCancel context.CancelFunc
	workDone   sync.WaitGroup
	// stopping is set once the process shuts down (the leadership log
	// says so when it stops leading for that reason).
	stopping atomic.Bool
}

// NewApp connects to the database, migrates when configured to, and wires
// every adapter and use case.
func NewApp(ctx context.Context, cfg Config, tel *Telemetry, log *slog.Logger) (*App, error) {
	workerConns := int32(0)
	if cfg.worksDeliveries() {
		workerConns = cfg.DatabaseWorkerConns
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: cfg.DatabaseMaxConns,
		AcquireTimeout: cfg.DatabaseAcquireTimeout, BypassConns: bypassConns(cfg), TracerProvider: tel.Tracer,
		MeterProvider: tel.Meter, WorkerConns: workerConns})
	if err != nil {
		return nil, err
	}
	// Statements are recorded as templates, never with their values.
	hook := bunotel.NewQueryHook(bunotel.WithDBName("aurix"), bunotel.WithFormattedQueries(false),
		bunotel.WithTracerProvider(tel.Tracer), bunotel.WithMeterProvider(tel.Meter))
	db.Bun = db.Bun.WithQueryHook(hook)
	if db.WorkerBun != nil {
		db.WorkerBun = db.WorkerBun.WithQueryHook(hook)
	}
	a := &App{cfg: cfg, tel: tel, log: log.With("role", cfg.Role), db: db, configs: postgres.NewConfigCache(configCacheAge)}
	if err := a.wire(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// bypassConns sizes the pool of the statements that bypass bun, the
// partner listings: one connection for each list query the line lets run
// at once and two for the event look-ups outside it; with no line, as many
// as the main pool.
func bypassConns(cfg Config) int32 {
	if cfg.PartnerQueryConcurrency > 0 {
		return int32(cfg.PartnerQueryConcurrency) + 2
	}
	return cfg.DatabaseMaxConns
}

func (a *App) wire(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	migrator := postgres.NewMigrator(a.db)
	if cfg.MigrateOnStart {
		applied, err := migrator.Up(ctx)
		if err != nil {
			return err
		}
		// Of processes starting together, one migrates (it logs what it
		// applied) and the others, having waited for its lock, find
		// nothing to do.
		if applied.Nothing() {
			log.InfoContext(ctx, "schema already current; nothing to migrate", "app_version", applied.AppTo)
		} else {
			log.InfoContext(ctx, "schema migrated", "river_versions_applied", applied.River,
				"app_version_from", applied.AppFrom, "app_version_to", applied.AppTo)
		}
	}
	store := postgres.NewStore(a.db)
	metrics, err := telemetry.NewMetrics(a.tel.Meter, telemetry.Sources{
		OutboxLag: func(ctx context.Context) (float64, bool, error) {
			return store.Gauge(ctx, application.GaugeOutboxLag)
		},
		Endpoints: store.EndpointStates,
		Workers: func(ctx context.Context) (int, error) {
			return postgres.NewProcesses(a.db.Bun, a.db.Listener).Alive(ctx, cfg.ProcessDeadAfter)
		},
	})
	if err != nil {
		return err
	}
	clock, ids, refs, random := system.Clock{}, system.UUIDs{}, system.CorrelationIDs{}, system.Random{}

	if cfg.worksDeliveries() {
		a.wireDeliveries(metrics, clock, ids, random)
	}
	var opened func([]string)
	if a.engine != nil {
		opened = a.engine.WakeFor
	}
	// Workers in other processes hear of new deliveries through NOTIFY;
	// those of this process are woken directly after the commit. The
	// active configs every event is fanned out to are kept in memory.
	// Only an api process's deliveries are for workers elsewhere: only it
	// sends NOTIFYs.
	uow := postgres.NewUnitOfWork(a.db.Bun, postgres.UnitOfWorkOptions{Opened: opened, Notify: !cfg.worksDeliveries(),
		Configs: a.configs, Pool: a.db.Pool, AcquireTimeout: cfg.DatabaseAcquireTimeout})

	if err := a.wireRiver(ctx, uow, store, clock); err != nil {
		return err
	}
	deps := httpadapter.Deps{
		Ready:   readiness(migrator),
		Logger:  log,
		Metrics: routerMetrics(cfg, a.tel.Metrics),
	}
	if !cfg.servesAPI() {
		a.handler = httpadapter.NewOpsRouter(deps)
		return nil
	}
	var admin http.Handler
	if cfg.AdminPassword != "" {
		ui, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(a.river, nil),
			Logger:    log.With("component", "river"),
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
	clicks := &application.Clicks{UoW: uow, Clock: clock, IDs: ids, Refs: refs, Bots: useragent.New(), Telemetry: metrics,
		Tracing:  telemetry.NewTracing(a.tel.Tracer),
		WhatsApp: domain.WhatsAppLink{Number: cfg.WhatsAppNumber, Prefill: cfg.WhatsAppPrefill}, AnonymizeIP: cfg.IPAnonymize}
	if cfg.ClickWriters > 0 {
		clicks.StartGrouping(cfg.ClickWriters)
	}
	deps.Clicks = clicks
	deps.Erasures = &application.Erasures{UoW: uow, Clock: clock, IDs: ids, Telemetry: metrics, Log: log.With("component", "erasure")}
	deps.WebhookConfigs = &application.WebhookConfigs{UoW: uow, Clock: clock, IDs: ids, Random: random, Resolver: system.Resolver{},
		Policy:              domain.TargetPolicy{AllowInsecure: cfg.WebhookAllowInsecure},
		AllowPrivateTargets: cfg.WebhookAllowPrivateTargets}
	deps.WhatsApp = &application.WhatsApp{UoW: uow, Clock: clock, IDs: ids, Refs: refs,
		Window: cfg.CorrelationWindow, Telemetry: metrics}
	deps.Leads = &application.Leads{UoW: uow, Clock: clock, IDs: ids, Required: cfg.LeadRequiredFields, Telemetry: metrics}
	deps.Partner = &application.Partner{Reader: store}
	deps.DeliveryLog = &application.DeliveryLog{UoW: uow, Reader: store, Clock: clock, Random: random, SecretGrace: cfg.WebhookSecretGrace}
	deps.WidgetRateLimit, deps.WidgetRateWindow = cfg.WidgetRateLimit, cfg.WidgetRateWindow
	deps.WhatsAppVerifyToken, deps.WhatsAppAppSecret = cfg.WhatsAppVerifyToken, []byte(cfg.WhatsAppAppSecret)
	deps.AgentAPIKey = cfg.AgentAPIKey
	deps.IntegrationKeys = cfg.IntegrationKeys
	deps.AllowedOrigins, deps.TrustedProxies = cfg.WidgetAllowedOrigins, cfg.TrustedProxies
	deps.Admin, deps.AdminPrefix, deps.AdminUser, deps.AdminPassword = admin, "/riverui", cfg.AdminUser, cfg.AdminPassword
	deps.QueryConcurrency, deps.QueryQueueTimeout = cfg.PartnerQueryConcurrency, cfg.PartnerQueryQueueTimeout
	// Each integration's share of the list queries, and the cut of a
	// stream whose reader stalls.
	deps.QueryServiceConcurrency, deps.StreamStallTimeout = cfg.PartnerQueryServiceConcurrency, cfg.PartnerStreamStallTimeout
	a.handler = httpadapter.NewRouter(deps)
	return nil
}

// wireDeliveries builds the worker side: the delivery loop and the
// heartbeat that keeps its claims.
func (a *App) wireDeliveries(metrics *telemetry.Metrics, clock ports.Clock, ids ports.IDGenerator, random ports.Random) {
	cfg := a.cfg
	sender := webhook.NewSender(webhook.Options{
		Timeout:             cfg.WebhookTimeout,
		AllowPrivateTargets: cfg.WebhookAllowPrivateTargets,
		UserAgent:           "Aurix-Webhooks/" + Version(),
		Transport: func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(a.tel.Tracer), otelhttp.WithMeterProvider(a.tel.Meter),
				otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "webhook POST" }))
		},
	})
	// The deliverer's own unit of work opens no deliveries (a redelivery
	// comes through the API), so it needs no wake-up hook.
	// The workers' transactions run on their own pool (see PoolOptions).
	deliverer := &application.Deliverer{UoW: postgres.NewUnitOfWork(a.db.WorkerBun, postgres.UnitOfWorkOptions{Configs: a.configs}),
		Queue:  postgres.NewWorkerStore(a.db),
		Sender: sender, Clock: clock, Random: random, Schedule: cfg.WebhookRetrySchedule, DisableAfter: cfg.WebhookDisableAfter,
		MaxInFlight: cfg.WebhookMaxInFlight, Telemetry: metrics, Tracing: telemetry.NewTracing(a.tel.Tracer)}
	deliverer.StartGrouping()
	hostname, _ := os.Hostname()
	// The liveness session holds one connection of the listener pool for
	// the life of the process.
	a.heartbeat = &worker.Heartbeat{Registry: postgres.NewProcesses(a.db.Bun, a.db.Listener),
		Info:  ports.ProcessInfo{Role: cfg.Role, Hostname: hostname, PID: os.Getpid()},
		NewID: ids.NewID, Interval: heartbeatEvery, FenceAfter: cfg.fenceAfter(),
		DeadAfter: cfg.ProcessDeadAfter, Lockless: locklessDeadAfter, Logger: a.log}
	a.engine = worker.NewEngine(worker.Options{
		Work: deliverer, Identity: a.heartbeat.ID, MaySend: a.heartbeat.MaySend,
		Workers: cfg.WebhookWorkers, RetryWorkers: cfg.WebhookRetryWorkers,
		PollInterval: cfg.DeliveryPollInterval, ClaimPause: claimPause,
		Logger: a.log, Tracer: a.tel.Tracer.Tracer("github.com/aurix/integrations/adapters/worker"),
	})
	a.heartbeat.Working = a.engine.Working
	a.heartbeat.LostSession = a.engine.CutAttempts
}

// wireRiver builds the River client: in a worker process it runs the
// periodic maintenance (the River leader schedules it, so it runs on one
// process at a time); in an api process it only backs River UI.
func (a *App) wireRiver(ctx context.Context, uow ports.UnitOfWork, store *postgres.Store, clock ports.Clock) error {
	cfg := a.cfg
	driver := riverdatabasesql.NewWithPgxListener(a.db.SQL, a.db.Listener)
	riverCfg := &river.Config{
		Logger: a.log.With("component", "river"),
		Middleware: []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true,
			TracerProvider: a.tel.Tracer, MeterProvider: a.tel.Meter,
		})},
	}
	if cfg.worksDeliveries() {
		workers := river.NewWorkers()
		var purger ports.RetentionPurger
		purgeEvery := time.Duration(0)
		if cfg.purges() {
			purger = &application.Retention{UoW: uow, Clock: clock, Policy: cfg.RetentionPolicy()}
			purgeEvery = cfg.RetentionInterval
			if on, err := store.AutovacuumOn(ctx); err == nil && !on {
				a.log.WarnContext(ctx, "PostgreSQL's autovacuum is off: the retention purge deletes rows, "+
					"but the space they took is reused only after a VACUUM, so tables keep their largest size")
			}
		}
		riveradapter.AddWorkers(workers, &application.Maintenance{UoW: uow,
			Gauges: store, Clock: clock, DisableAfter: cfg.WebhookDisableAfter,
			Log: a.log.With("component", "maintenance")}, purger, a.log.With("component", "maintenance"))
		riverCfg.Workers = workers
		// A long purge round keeps one worker; the short rounds have the others.
		riverCfg.Queues = map[string]river.QueueConfig{riveradapter.QueueMaintenance: {MaxWorkers: 3}}
		riverCfg.PeriodicJobs = riveradapter.PeriodicJobs(purgeEvery)
		// The leader schedules the rounds: say which process it is, and
		// when that changes.
		riverCfg.Hooks = []rivertype.Hook{riveradapter.LeadershipHook(a.log.With("component", "river"),
			riveradapter.Rounds(purgeEvery), func() string { return a.river.ID() }, a.stopping.Load)}
		riverCfg.JobTimeout = riveradapter.JobTimeout()
		riverCfg.CompletedJobRetentionPeriod, riverCfg.CancelledJobRetentionPeriod, riverCfg.DiscardedJobRetentionPeriod =
			cfg.RiverJobRetention()
	}
	client, err := river.NewClient(driver, riverCfg)
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	a.river = client
	return nil
}

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

// Start starts the listener for notifications and, when the role works
// deliveries, the worker side, without serving HTTP (for tests that serve
// Handler themselves); Stop stops them.
func (a *App) Start(ctx context.Context) error {
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.workCancel = cancel
	channels := map[string]func(){postgres.ConfigChannel: a.configs.Invalidate}
	if a.cfg.worksDeliveries() {
		if err := a.river.Start(workCtx); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
		if err := a.heartbeat.Start(ctx); err != nil {
			return err
		}
		channels[postgres.NotifyChannel] = a.engine.Wake
		a.workDone.Add(2)
		go func() { defer a.workDone.Done(); a.engine.Run(workCtx) }()
		go func() { defer a.workDone.Done(); a.heartbeat.Run(workCtx) }()
		a.log.InfoContext(ctx, "working deliveries", "process_id", a.heartbeat.ID(),
			"workers", a.cfg.WebhookWorkers, "retry_workers", a.cfg.WebhookRetryWorkers,
			"every_heartbeat", "hand back the deliveries of dead worker processes",
			"periodic", "measure backlog, disable failing endpoints, retention purge (scheduled by the River leader, run by one worker)",
			// River names this process so in river_job.attempted_by and in the leadership lines.
			"river_client_id", a.river.ID())
	}
	a.workDone.Add(1)
	go func() { defer a.workDone.Done(); postgres.Listen(workCtx, a.db.Listener, channels, a.log) }()
	return nil
}

// Stop stops claiming, lets the attempts in flight finish until ctx ends
// (then cuts them short; they are handed back), hands back what the process
// still owns, stops River and closes the database.
func (a *App) Stop(ctx context.Context) error {
	defer a.db.Close()
	return a.stopWork(ctx)
}

func (a *App) stopWork(ctx context.Context) error {
	if a.workCancel == nil {
		return nil
	}
	a.stopping.Store(true)
	a.workCancel()
	done := make(chan struct{})
	go func() { a.workDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if a.engine != nil {
			a.log.Warn("deliveries still running at the deadline; handing them back", "in_flight", a.engine.InFlight())
			a.engine.Abort()
		}
		<-done
	}
	if !a.cfg.worksDeliveries() {
		return nil
	}
	var errs []error
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.heartbeat.Stop(dctx); err != nil {
		errs = append(errs, fmt.Errorf("deregister: %w", err))
	}
	if err := a.river.Stop(ctx); err != nil {
		cctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		_ = a.river.StopAndCancel(cctx)
	}
	return errors.Join(errs...)
}

// Run serves HTTP and works deliveries (as the role says) until ctx is
// cancelled, then shuts down gracefully: it stops accepting connections,
// lets in-flight requests finish, stops claiming and lets running attempts
// finish; any still running at the deadline are cut short and handed back
// to the queue, for another process or the next start.
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
	stopPprof, err := a.servePprof(ctx)
	if err != nil {
		_ = ln.Close()
		_ = stopMetrics(ctx)
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
	if err := a.Start(ctx); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.log.InfoContext(ctx, "aurix serving", "addr", ln.Addr().String(), "version", Version(),
		"serves_api", a.cfg.servesAPI(), "works_deliveries", a.cfg.worksDeliveries())

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
	if err := a.stopWork(shutCtx); err != nil {
		a.log.Warn("stopping the delivery workers", "err", err)
	}
	if err := stopMetrics(shutCtx); err != nil {
		a.log.Warn("metrics shutdown incomplete", "err", err)
	}
	_ = stopPprof(shutCtx)
	a.log.Info("stopped")
	return nil
}

// Migrator returns the schema migrator for the app's database.
func (a *App) Migrator() *postgres.Migrator { return postgres.NewMigrator(a.db) }
