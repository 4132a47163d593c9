package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/ports"
)

// Processes is the registry of live worker processes. Liveness is judged by
// the database's clock only, so the hosts' clocks need not agree.
type Processes struct {
	db *bun.DB
}

// NewProcesses returns the registry over db.
func NewProcesses(db *bun.DB) *Processes { return &Processes{db: db} }

var _ ports.ProcessRegistry = (*Processes)(nil)

// Register records the process as alive now.
func (p *Processes) Register(ctx context.Context, info ports.ProcessInfo) error {
	_, err := p.db.NewRaw(`INSERT INTO aurix_processes (id, role, hostname, pid) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, info.ID, info.Role, info.Hostname, info.PID).Exec(ctx)
	return classify(err, "register process")
}

// orphanAfter is how long after its claim a delivery the process owns but
// does not list as working is handed back: long enough that a claim whose
// deliveries the worker has not listed yet is never mistaken for one.
const orphanAfter = 10 * time.Second

// Heartbeat renews the process's liveness and, in the same transaction,
// hands back any delivery it owns, claimed a while ago, that it is not
// working on (a claim it lost track of, e.g. when recording an outcome
// failed).
func (p *Processes) Heartbeat(ctx context.Context, id string, working []int64) (bool, error) {
	alive := false
	err := p.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// A lost heartbeat only delays a takeover; no need to wait for the
		// disk.
		if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		res, err := tx.NewRaw("UPDATE aurix_processes SET heartbeat_at = now() WHERE id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		alive = true
		q := tx.NewUpdate().Table("webhook_deliveries").Set("owner = NULL").Set("claimed_at = NULL").Where("owner = ?", id).
			Where("claimed_at < now() - ? * interval '1 microsecond'", orphanAfter.Microseconds())
		if len(working) > 0 {
			q = q.Where("id NOT IN (?)", bun.List(working))
		}
		_, err = q.Exec(ctx)
		return err
	})
	if err != nil {
		return false, classify(err, "heartbeat")
	}
	return alive, nil
}

// Deregister removes the process and hands back what it owns.
func (p *Processes) Deregister(ctx context.Context, id string) error {
	err := p.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw("UPDATE webhook_deliveries SET owner = NULL, claimed_at = NULL WHERE owner = ?", id).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw("DELETE FROM aurix_processes WHERE id = ?", id).Exec(ctx)
		if err == nil {
			_, err = tx.NewRaw("SELECT pg_notify(?, '')", NotifyChannel).Exec(ctx)
		}
		return err
	})
	return classify(err, "deregister process")
}

// ReleaseDead declares the silent processes dead and hands back their
// deliveries, then tells every worker there is work.
func (p *Processes) ReleaseDead(ctx context.Context, silentFor time.Duration) (int, int, error) {
	var procs, dels int
	err := p.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var dead []string
		err := tx.NewRaw("DELETE FROM aurix_processes WHERE heartbeat_at < now() - ? * interval '1 microsecond' RETURNING id::text",
			silentFor.Microseconds()).Scan(ctx, &dead)
		if err != nil || len(dead) == 0 {
			return err
		}
		procs = len(dead)
		res, err := tx.NewRaw("UPDATE webhook_deliveries SET owner = NULL, claimed_at = NULL WHERE owner IN (?)", bun.List(dead)).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		dels = int(n)
		_, err = tx.NewRaw("SELECT pg_notify(?, '')", NotifyChannel).Exec(ctx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("release dead processes: %w", classify(err, "release dead processes"))
	}
	return procs, dels, nil
}

// Alive counts the processes whose heartbeat is fresher than silentFor.
func (p *Processes) Alive(ctx context.Context, silentFor time.Duration) (int, error) {
	var n int
	err := p.db.NewRaw("SELECT count(*) FROM aurix_processes WHERE heartbeat_at >= now() - ? * interval '1 microsecond'",
		silentFor.Microseconds()).Scan(ctx, &n)
	return n, classify(err, "count live processes")
}
