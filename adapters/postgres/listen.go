package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen calls channels[c] for every notification on channel c until ctx
// ends, on a connection of its own from pool. When the connection is lost
// it connects again (with a pause) and calls every callback once, since a
// notification may have been missed meanwhile. It is raw pgx because LISTEN
// belongs to one held connection, which bun cannot hold (bypass.go lists
// every statement that does not go through bun).
func Listen(ctx context.Context, pool *pgxpool.Pool, channels map[string]func(), log *slog.Logger) {
	failing := false
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, channels)
		if ctx.Err() != nil {
			return
		}
		if !failing {
			log.WarnContext(ctx, "listening for notifications failed; polling until it works again", "err", err)
		}
		failing = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, channels map[string]func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for channel := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return err
		}
	}
	for _, f := range channels {
		f()
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			// The connection may be in any state now: do not reuse it.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			return err
		}
		if f := channels[n.Channel]; f != nil {
			f()
		}
	}
}
