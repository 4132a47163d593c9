package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen calls wake for every notification on NotifyChannel until ctx
// ends, on a connection of its own from pool. When the connection is lost
// it connects again (with a pause) and calls wake once, since a
// notification may have been missed meanwhile. It is raw pgx because LISTEN
// belongs to one held connection, which bun cannot hold (bypass.go lists
// every statement that does not go through bun).
func Listen(ctx context.Context, pool *pgxpool.Pool, wake func(), log *slog.Logger) {
	failing := false
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, wake)
		if ctx.Err() != nil {
			return
		}
		if !failing {
			log.WarnContext(ctx, "listening for due deliveries failed; polling until it works again", "err", err)
		}
		failing = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, wake func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	wake()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			// The connection may be in any state now: do not reuse it.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			return err
		}
		wake()
	}
}
