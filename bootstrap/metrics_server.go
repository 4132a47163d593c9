package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	httpadapter "github.com/aurix/integrations/adapters/http"
)

// routerMetrics is what the API router serves at /metrics: the metrics, or
// nothing when AURIX_METRICS_ADDR gives them a listener of their own.
func routerMetrics(cfg Config, metrics http.Handler) http.Handler {
	if cfg.MetricsAddr != "" {
		return nil
	}
	return metrics
}

// serveMetrics serves /metrics on AURIX_METRICS_ADDR, apart from the API, so
// that it need not be reachable from where the API is. Without that setting
// it does nothing. The returned function shuts the listener down.
func (a *App) serveMetrics(ctx context.Context) (shutdown func(context.Context) error, err error) {
	if a.cfg.MetricsAddr == "" {
		return func(context.Context) error { return nil }, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (AURIX_METRICS_ADDR): %w", a.cfg.MetricsAddr, err)
	}
	srv := &http.Server{
		Handler:           httpadapter.NewMetricsRouter(a.tel.Metrics),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics server stopped", "err", err)
		}
	}()
	a.log.InfoContext(ctx, "metrics serving", "addr", ln.Addr().String())
	return srv.Shutdown, nil
}
