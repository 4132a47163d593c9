package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/aurix/integrations/ports"
)

// livenessLockClass is the first key of the session advisory lock a worker
// process holds while it lives; its process row's lock_key is the second.
const livenessLockClass = 727280

// orphanAfter is how long after its claim a delivery the process owns but
// does not list as working is handed back by its heartbeat: long enough
// that a claim whose deliveries the worker has not listed yet is never
// mistaken for a lost one.
const orphanAfter = 10 * time.Second

// Processes is the registry of live worker processes. Liveness is judged by
// the database only: a heartbeat by its clock, and a session advisory lock
// that PostgreSQL releases the moment the holder's connection closes.
type Processes struct {
	db *bun.DB
	// sessions lends each process the connection its lock lives on.
	sessions *pgxpool.Pool
}

// NewProcesses returns the registry over db; sessions hands out the
// liveness connections (one per process).
func NewProcesses(db *bun.DB, sessions *pgxpool.Pool) *Processes {
	return &Processes{db: db, sessions: sessions}
}

var _ ports.ProcessRegistry = (*Processes)(nil)

// Join registers the process, then takes its liveness lock on a connection
// of its own: raw pgx, because a session lock belongs to one held
// connection, which bun cannot hold (bypass.go lists every statement that
// does not go through bun).
func (p *Processes) Join(ctx context.Context, info ports.ProcessInfo) (ports.ProcessSession, error) {
	conn, err := p.sessions.Acquire(ctx)
	if err != nil {
		return nil, classify(err, "open liveness session")
	}
	// If the process's host vanishes (no FIN, no RST), PostgreSQL learns
	// it from failed keepalives, about 5 + 3 × 2 s, and drops the lock.
	if _, err := conn.Exec(ctx, "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"); err != nil {
		conn.Release()
		return nil, classify(err, "set liveness keepalives")
	}
	var key int64
	err = conn.QueryRow(ctx, `INSERT INTO aurix_processes (id, role, hostname, pid) VALUES ($1, $2, $3, $4)
		RETURNING lock_key`, info.ID, info.Role, info.Hostname, info.PID).Scan(&key)
	if err == nil {
		var locked bool
		err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", livenessLockClass, key).Scan(&locked)
		if err == nil && !locked {
			err = fmt.Errorf("liveness lock %d is held by another session", key)
		}
	}
	if err != nil {
		conn.Release()
		return nil, classify(err, "register process")
	}
	return &processSession{db: p.db, conn: conn, id: info.ID}, nil
}

type processSession struct {
	db   *bun.DB
	conn *pgxpool.Conn
	id   string
}

func (s *processSession) ID() string { return s.id }

// Heartbeat renews the process's liveness on its own connection (raw pgx:
// the liveness session, bypass.go), so that it never waits for the shared
// pool.
func (s *processSession) Heartbeat(ctx context.Context) (bool, error) {
	alive := false
	err := pgx.BeginTxFunc(ctx, s.conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// A lost heartbeat only delays a takeover; no need to wait for the disk.
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "UPDATE aurix_processes SET heartbeat_at = now() WHERE id = $1", s.id)
		alive = err == nil && tag.RowsAffected() > 0
		return err
	})
	if err != nil {
		return false, classify(err, "heartbeat")
	}
	return alive, nil
}

// HandBack hands back any delivery the process owns, claimed more than
// orphanAfter ago, that it is not working on. It writes deliveries, so it
// goes through bun like every hand-back outside the hot path (Leave,
// ReleaseDead): it needs no session, and no speed worth a bypass.
func (s *processSession) HandBack(ctx context.Context, working []int64) (int, error) {
	if working == nil {
		working = []int64{}
	}
	res, err := s.db.NewRaw(`UPDATE webhook_deliveries SET owner = NULL, claimed_at = NULL
		WHERE owner = ? AND claimed_at < now() - make_interval(secs => ?) AND id <> ALL(?::bigint[])`,
		s.id, orphanAfter.Seconds(), pgdialect.Array(working)).Exec(ctx)
	if err != nil {
		return 0, classify(err, "hand back lost claims")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Leave removes the process and hands back what it owns.
func (s *processSession) Leave(ctx context.Context) error {
	defer s.Close()
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw("UPDATE webhook_deliveries SET owner = NULL, claimed_at = NULL WHERE owner = ?", s.id).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewRaw("DELETE FROM aurix_processes WHERE id = ?", s.id).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw("SELECT pg_notify(?, '')", NotifyChannel).Exec(ctx)
		return err
	})
	return classify(err, "deregister process")
}

// Close drops the liveness connection: the lock goes with it.
func (s *processSession) Close() {
	if s.conn == nil {
		return
	}
	// The connection may hold the lock or a broken state: close it rather
	// than return it to the pool.
	_ = s.conn.Conn().Close(context.Background())
	s.conn.Release()
	s.conn = nil
}

// releaseDeadSQL deletes the dead processes: silent too long, or silent a
// little and without their liveness lock (their connection is gone).
const releaseDeadSQL = `DELETE FROM aurix_processes p
WHERE p.heartbeat_at < now() - make_interval(secs => ?)
	OR (p.heartbeat_at < now() - make_interval(secs => ?) AND NOT EXISTS (
		SELECT 1 FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ? AND l.objid = p.lock_key AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
RETURNING id::text`

// ReleaseDead declares the dead processes dead, hands back their
// deliveries and tells every worker there is work. Several processes may
// run it at once: each dead row is deleted, and its deliveries handed back,
// by one of them.
func (p *Processes) ReleaseDead(ctx context.Context, silentFor, lockless time.Duration) (int, int, error) {
	var procs, dels int
	err := p.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var dead []string
		err := tx.NewRaw(releaseDeadSQL, silentFor.Seconds(), lockless.Seconds(), livenessLockClass).Scan(ctx, &dead)
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
		return 0, 0, classify(err, "release dead processes")
	}
	return procs, dels, nil
}

// Alive counts the processes whose heartbeat is fresher than silentFor.
func (p *Processes) Alive(ctx context.Context, silentFor time.Duration) (int, error) {
	var n int
	err := p.db.NewRaw("SELECT count(*) FROM aurix_processes WHERE heartbeat_at >= now() - make_interval(secs => ?)", silentFor.Seconds()).Scan(ctx, &n)
	return n, classify(err, "count live processes")
}
