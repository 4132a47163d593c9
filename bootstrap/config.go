package bootstrap

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/aurix/integrations/domain"
)

// Config is every setting the service reads from the environment. Variable
// names are the platform contract's.
type Config struct {
	DatabaseURL      string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/aurix?sslmode=disable"`
	Role             string `env:"AURIX_ROLE" envDefault:"all"`
	HTTPAddr         string `env:"AURIX_HTTP_ADDR" envDefault:":8080"`
	MigrateOnStart   bool   `env:"AURIX_MIGRATE_ON_START" envDefault:"true"`
	DatabaseMaxConns int32  `env:"AURIX_DATABASE_MAX_CONNS" envDefault:"20"`
	// DatabaseWorkerConns sizes the delivery workers' own pool.
	DatabaseWorkerConns int32 `env:"AURIX_DATABASE_WORKER_CONNS" envDefault:"6"`
	// ClickWriters is how many transactions of grouped clicks may run at
	// once; 0 gives each click a transaction of its own.
	ClickWriters int    `env:"AURIX_CLICK_WRITERS" envDefault:"4"`
	MetricsAddr  string `env:"AURIX_METRICS_ADDR"` // when set, the only address serving /metrics
	PprofAddr    string `env:"AURIX_PPROF_ADDR"`   // when set, Go's profiles are served there
	// DatabaseAcquireTimeout bounds a request's wait for a database
	// connection; past it the request gets 503.
	DatabaseAcquireTimeout time.Duration `env:"AURIX_DATABASE_ACQUIRE_TIMEOUT" envDefault:"5s"`

	WidgetAllowedOrigins []string `env:"AURIX_WIDGET_ALLOWED_ORIGINS" envDefault:"*" envSeparator:","`
	TrustedProxiesRaw    []string `env:"AURIX_TRUSTED_PROXIES" envSeparator:","`
	TrustedProxies       []netip.Prefix

	WhatsAppNumber  string `env:"AURIX_WHATSAPP_NUMBER,required"`
	WhatsAppPrefill string `env:"AURIX_WHATSAPP_PREFILL" envDefault:"Hi! I'd like to know more. [ref: {ref}]"`

	WhatsAppVerifyToken string        `env:"AURIX_WHATSAPP_VERIFY_TOKEN,required"`
	WhatsAppAppSecret   string        `env:"AURIX_WHATSAPP_APP_SECRET,required"`
	CorrelationWindow   time.Duration `env:"AURIX_CORRELATION_WINDOW" envDefault:"168h"`

	AgentAPIKey        string   `env:"AURIX_AGENT_API_KEY,required"`
	LeadRequiredFields []string `env:"AURIX_LEAD_REQUIRED_FIELDS" envDefault:"name,email,phone" envSeparator:","`

	Integrations []string `env:"AURIX_INTEGRATIONS" envDefault:"topkee" envSeparator:","`
	// IntegrationKeys is read from <SERVICE>_INTEGRATION_API_KEY per service.
	IntegrationKeys map[string]string

	WebhookAllowInsecure       bool          `env:"AURIX_WEBHOOK_ALLOW_INSECURE" envDefault:"false"`
	WebhookAllowPrivateTargets bool          `env:"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS" envDefault:"false"`
	WebhookTimeout             time.Duration `env:"AURIX_WEBHOOK_TIMEOUT" envDefault:"10s"`
	WebhookRetryScheduleRaw    string        `env:"AURIX_WEBHOOK_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h"`
	WebhookRetrySchedule       domain.RetrySchedule
	WebhookWorkers             int           `env:"AURIX_WEBHOOK_WORKERS" envDefault:"50"`
	WebhookRetryWorkers        int           `env:"AURIX_WEBHOOK_RETRY_WORKERS" envDefault:"20"`
	WebhookMaxInFlight         int           `env:"AURIX_WEBHOOK_MAX_IN_FLIGHT" envDefault:"64"`
	WebhookDisableAfter        time.Duration `env:"AURIX_WEBHOOK_DISABLE_AFTER" envDefault:"120h"`
	WebhookSecretGrace         time.Duration `env:"AURIX_WEBHOOK_SECRET_GRACE" envDefault:"24h"`
	WidgetRateLimitRaw         string        `env:"AURIX_WIDGET_RATE_LIMIT" envDefault:"60/min"`
	WidgetRateLimit            int
	WidgetRateWindow           time.Duration
	PartnerQueryConcurrency    int           `env:"AURIX_PARTNER_QUERY_CONCURRENCY" envDefault:"4"`
	PartnerQueryQueueTimeout   time.Duration `env:"AURIX_PARTNER_QUERY_QUEUE_TIMEOUT" envDefault:"10s"`
	// PartnerQueryServiceConcurrency is each integration's share of the
	// list-query slots; 0 is half of PartnerQueryConcurrency, rounded up.
	PartnerQueryServiceConcurrency int `env:"AURIX_PARTNER_QUERY_CONCURRENCY_PER_SERVICE" envDefault:"0"`
	// PartnerStreamStallTimeout cuts a listing whose client has not taken
	// a 32 KiB write within it; 0 leaves only the server's write timeout.
	PartnerStreamStallTimeout time.Duration `env:"AURIX_PARTNER_STREAM_STALL_TIMEOUT" envDefault:"10s"`
	DeliveryPollInterval      time.Duration `env:"AURIX_DELIVERY_POLL_INTERVAL" envDefault:"500ms"`
	ProcessDeadAfter          time.Duration `env:"AURIX_PROCESS_DEAD_AFTER"`
	ShutdownTimeout           time.Duration `env:"AURIX_SHUTDOWN_TIMEOUT" envDefault:"25s"`

	// Retention of each kind of data (0 keeps it forever) and how often
	// the purge runs.
	RetentionDeliveryLog        time.Duration `env:"AURIX_RETENTION_DELIVERY_LOG" envDefault:"720h"`
	RetentionMessageIDs         time.Duration `env:"AURIX_RETENTION_MESSAGE_IDS" envDefault:"720h"`
	RetentionUncorrelatedClicks time.Duration `env:"AURIX_RETENTION_UNCORRELATED_CLICKS" envDefault:"2160h"`
	RetentionLeads              time.Duration `env:"AURIX_RETENTION_LEADS" envDefault:"0"`
	RetentionInterval           time.Duration `env:"AURIX_RETENTION_INTERVAL" envDefault:"1h"`
	// IPAnonymize stores and sends only a visitor's /24 (IPv4) or /48 (IPv6).
	IPAnonymize bool `env:"AURIX_IP_ANONYMIZE" envDefault:"false"`

	AdminUser     string `env:"AURIX_ADMIN_USER" envDefault:"admin"`
	AdminPassword string `env:"AURIX_ADMIN_PASSWORD"`

	LogLevel string `env:"AURIX_LOG_LEVEL" envDefault:"info"`
}

// Process roles.
const (
	// RoleAll serves HTTP and works deliveries.
	RoleAll = "all"
	// RoleAPI serves HTTP and opens deliveries, and works none.
	RoleAPI = "api"
	// RoleWorker works deliveries and serves only health and metrics.
	RoleWorker = "worker"
)

// heartbeatEvery is how often a worker process tells the others it is alive.
const heartbeatEvery = time.Second

// locklessDeadAfter is how long a worker process whose liveness session is
// gone (PostgreSQL saw its connection close: it died, or lost the database
// and cut its attempts short) may stay silent before its deliveries go to
// the living.
const locklessDeadAfter = 3 * heartbeatEvery

// minFenceMargin is how much longer than one attempt a worker process must
// be silent before the others take its deliveries: a process that misses
// heartbeats stops starting attempts after margin − 1s, so its last attempt
// ends before anyone takes over.
const minFenceMargin = 4 * time.Second

// fenceAfter is how long a worker process goes on starting attempts without
// a successful heartbeat.
func (c Config) fenceAfter() time.Duration {
	return c.ProcessDeadAfter - c.WebhookTimeout - heartbeatEvery
}

// servesAPI reports whether the process serves the partner and widget API.
func (c Config) servesAPI() bool { return c.Role != RoleWorker }

// worksDeliveries reports whether the process works deliveries.
func (c Config) worksDeliveries() bool { return c.Role != RoleAPI }

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// Environ returns the process environment as a map.
func Environ() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// LoadConfig reads and checks the variables in environ. A missing required
// variable is an error that names it; every problem is reported at once.
func LoadConfig(environ map[string]string) (Config, error) {
	var (
		c    Config
		errs []error
	)
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		errs = append(errs, err)
	}
	for _, raw := range c.TrustedProxiesRaw {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			a, aerr := netip.ParseAddr(raw)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("AURIX_TRUSTED_PROXIES: %q is not a CIDR or an address", raw))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	schedule, err := domain.ParseRetrySchedule(c.WebhookRetryScheduleRaw)
	if err != nil {
		errs = append(errs, fmt.Errorf("AURIX_WEBHOOK_RETRY_SCHEDULE: %w", err))
	}
	c.WebhookRetrySchedule = schedule
	if strings.Trim(c.WhatsAppNumber, "+ ") == "" {
		errs = append(errs, errors.New(`required environment variable "AURIX_WHATSAPP_NUMBER" is not set`))
	}
	c.IntegrationKeys = map[string]string{}
	// Two names that read the same variable would share one key, so each
	// service could act as the other: refuse them rather than pick one.
	serviceOf := map[string]string{} // key variable → first service reading it
	for _, s := range c.Integrations {
		s = strings.TrimSpace(s)
		if !serviceName.MatchString(s) {
			errs = append(errs, fmt.Errorf("AURIX_INTEGRATIONS: %q is not a valid service name", s))
			continue
		}
		name := keyVariable(s)
		if first, taken := serviceOf[name]; taken {
			if first == s {
				errs = append(errs, fmt.Errorf("AURIX_INTEGRATIONS: %q is listed twice", s))
			} else {
				errs = append(errs, fmt.Errorf("AURIX_INTEGRATIONS: services %q and %q both read their key from %s; rename one of them", first, s, name))
			}
			continue
		}
		serviceOf[name] = s
		key := environ[name]
		if key == "" {
			errs = append(errs, fmt.Errorf("required environment variable %q is not set", name))
			continue
		}
		c.IntegrationKeys[s] = key
	}
	for i, f := range c.LeadRequiredFields {
		c.LeadRequiredFields[i] = strings.TrimSpace(f)
		if !domain.ValidLeadDataKey(c.LeadRequiredFields[i]) {
			errs = append(errs, fmt.Errorf("AURIX_LEAD_REQUIRED_FIELDS: %q is not a valid lead_data key", f))
		}
	}
	if c.DatabaseAcquireTimeout <= 0 {
		errs = append(errs, errors.New("AURIX_DATABASE_ACQUIRE_TIMEOUT must be positive"))
	}
	if c.CorrelationWindow <= 0 {
		errs = append(errs, errors.New("AURIX_CORRELATION_WINDOW must be positive"))
	}
	if c.WebhookTimeout <= 0 {
		errs = append(errs, errors.New("AURIX_WEBHOOK_TIMEOUT must be positive"))
	}
	if n, w, err := parseRate(c.WidgetRateLimitRaw); err != nil {
		errs = append(errs, fmt.Errorf("AURIX_WIDGET_RATE_LIMIT: %w", err))
	} else {
		c.WidgetRateLimit, c.WidgetRateWindow = n, w
	}
	if c.ProcessDeadAfter == 0 {
		// A killed process is noticed within seconds by its lost liveness
		// lock; this is for one that hangs with its connection open (or a
		// host that vanished), and leaves a busy process 14 s of missed
		// heartbeats before it fences itself.
		c.ProcessDeadAfter = c.WebhookTimeout + 15*time.Second
	}
	if least := c.WebhookTimeout + minFenceMargin; c.ProcessDeadAfter < least {
		errs = append(errs, fmt.Errorf("AURIX_PROCESS_DEAD_AFTER (%s) must be at least AURIX_WEBHOOK_TIMEOUT + %s (%s)",
			c.ProcessDeadAfter, minFenceMargin, least))
	}
	switch c.Role {
	case RoleAll, RoleAPI, RoleWorker:
	default:
		errs = append(errs, fmt.Errorf("AURIX_ROLE: %q is not all, api or worker", c.Role))
	}
	if c.DeliveryPollInterval <= 0 {
		errs = append(errs, errors.New("AURIX_DELIVERY_POLL_INTERVAL must be positive"))
	}
	if c.ClickWriters < 0 || c.ClickWriters >= int(c.DatabaseMaxConns) {
		errs = append(errs, errors.New("AURIX_CLICK_WRITERS must be between 0 and AURIX_DATABASE_MAX_CONNS − 1"))
	}
	if c.DatabaseWorkerConns < 2 {
		errs = append(errs, errors.New("AURIX_DATABASE_WORKER_CONNS must be at least 2"))
	}
	if c.WebhookMaxInFlight < 1 {
		errs = append(errs, errors.New("AURIX_WEBHOOK_MAX_IN_FLIGHT must be at least 1"))
	}
	if c.WebhookRetryWorkers < 1 {
		errs = append(errs, errors.New("AURIX_WEBHOOK_RETRY_WORKERS must be at least 1"))
	}
	if c.WebhookWorkers < 1 {
		errs = append(errs, errors.New("AURIX_WEBHOOK_WORKERS must be at least 1"))
	}
	if c.PartnerQueryConcurrency < 0 {
		errs = append(errs, errors.New("AURIX_PARTNER_QUERY_CONCURRENCY must be 0 (no cap) or more"))
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr {
		errs = append(errs, errors.New("AURIX_METRICS_ADDR must differ from AURIX_HTTP_ADDR (leave it empty to serve /metrics there)"))
	}
	if c.PartnerQueryServiceConcurrency < 0 ||
		(c.PartnerQueryConcurrency > 0 && c.PartnerQueryServiceConcurrency > c.PartnerQueryConcurrency) {
		errs = append(errs, fmt.Errorf("AURIX_PARTNER_QUERY_CONCURRENCY_PER_SERVICE must be from 0 (half of AURIX_PARTNER_QUERY_CONCURRENCY) to AURIX_PARTNER_QUERY_CONCURRENCY (%d)",
			c.PartnerQueryConcurrency))
	}
	if c.PartnerStreamStallTimeout < 0 {
		errs = append(errs, errors.New("AURIX_PARTNER_STREAM_STALL_TIMEOUT must be 0 (off) or positive"))
	}
	if c.PartnerQueryQueueTimeout <= 0 {
		errs = append(errs, errors.New("AURIX_PARTNER_QUERY_QUEUE_TIMEOUT must be positive"))
	}
	for _, r := range []struct {
		name string
		d    time.Duration
	}{
		{"AURIX_RETENTION_DELIVERY_LOG", c.RetentionDeliveryLog}, {"AURIX_RETENTION_MESSAGE_IDS", c.RetentionMessageIDs},
		{"AURIX_RETENTION_UNCORRELATED_CLICKS", c.RetentionUncorrelatedClicks}, {"AURIX_RETENTION_LEADS", c.RetentionLeads},
	} {
		if r.d < 0 {
			errs = append(errs, fmt.Errorf("%s must be 0 (keep forever) or positive", r.name))
		}
	}
	if c.RetentionInterval <= 0 {
		errs = append(errs, errors.New("AURIX_RETENTION_INTERVAL must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// RetentionPolicy is the retention the settings ask for.
func (c Config) RetentionPolicy() domain.RetentionPolicy {
	return domain.RetentionPolicy{DeliveryLog: c.RetentionDeliveryLog, MessageIDs: c.RetentionMessageIDs,
		UncorrelatedClicks: c.RetentionUncorrelatedClicks, Leads: c.RetentionLeads, CorrelationWindow: c.CorrelationWindow}
}

// purges reports whether any kind of data is ever purged.
func (c Config) purges() bool {
	return c.RetentionDeliveryLog > 0 || c.RetentionMessageIDs > 0 || c.RetentionUncorrelatedClicks > 0 || c.RetentionLeads > 0
}

// River's defaults for how long its finished jobs stay in river_job.
const (
	riverCompletedJobRetention = 24 * time.Hour
	riverCancelledJobRetention = 24 * time.Hour
	riverDiscardedJobRetention = 7 * 24 * time.Hour
)

// RiverJobRetention is how long River's cleaner keeps finished jobs
// (completed, cancelled, discarded): River's defaults, never longer than the
// shortest retention window set. The jobs are the maintenance rounds, whose
// rows hold no personal value, but they grow with every round, and a
// retention window shorter than River's day would otherwise leave them as
// the one table that keeps growing past it.
func (c Config) RiverJobRetention() (completed, cancelled, discarded time.Duration) {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{c.RetentionDeliveryLog, c.RetentionMessageIDs, c.RetentionUncorrelatedClicks, c.RetentionLeads} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	capped := func(def time.Duration) time.Duration {
		if shortest > 0 && shortest < def {
			return shortest
		}
		return def
	}
	return capped(riverCompletedJobRetention), capped(riverCancelledJobRetention), capped(riverDiscardedJobRetention)
}

// keyVariable is the variable holding a service's API key: the name
// upper-cased, "-" as "_", then _INTEGRATION_API_KEY.
func keyVariable(service string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_INTEGRATION_API_KEY"
}

// parseRate reads "N/unit" (unit s, sec, second, min, minute, h, hour) or
// "0" for no limit.
func parseRate(s string) (int, time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, 0, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil || n < 0 {
		return 0, 0, fmt.Errorf("%q is not N/unit, like 60/min, or 0", s)
	}
	switch strings.TrimSpace(unit) {
	case "s", "sec", "second":
		return n, time.Second, nil
	case "m", "min", "minute":
		return n, time.Minute, nil
	case "h", "hour":
		return n, time.Hour, nil
	}
	return 0, 0, fmt.Errorf("%q: unit must be s, min or hour", s)
}
