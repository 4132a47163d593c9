package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiles (net/http/pprof) on AURIX_PPROF_ADDR, a
// listener of its own meant for loopback, for profiling under load. Without
// that setting it does nothing. The returned function shuts it down.
func (a *App) servePprof(ctx context.Context) (shutdown func(context.Context) error, err error) {
	if a.cfg.PprofAddr == "" {
		return func(context.Context) error { return nil }, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (AURIX_PPROF_ADDR): %w", a.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("pprof server stopped", "err", err)
		}
	}()
	a.log.InfoContext(ctx, "profiles serving", "addr", ln.Addr().String())
	return srv.Shutdown, nil
}
