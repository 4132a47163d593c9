package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// pgBin is where Debian puts PostgreSQL 15's server binaries.
const pgBin = "/usr/lib/postgresql/15/bin"

// privatePostgres starts a PostgreSQL instance of the test's own in a
// temporary directory, with settings (name → value) on top of initdb's
// defaults, and returns the URL of a database "aurix" on it. The shared
// cluster is never touched. As root, the instance runs as the postgres
// user (initdb refuses root).
func privatePostgres(t *testing.T, settings map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "aurix-pg-")
	require.NoError(t, err)
	asUser := func(name string, args ...string) *exec.Cmd {
		return exec.Command(filepath.Join(pgBin, name), args...)
	}
	if os.Geteuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root: a postgres user is needed to run initdb")
		uid, _ := strconv.Atoi(pgUser.Uid)
		gid, _ := strconv.Atoi(pgUser.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		asUser = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, name)}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	out, err := asUser("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	port := freePort(t)
	opts := fmt.Sprintf("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", port, dir)
	for k, v := range settings {
		opts += fmt.Sprintf(" -c %s=%s", k, v)
	}
	out, err = asUser("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput()
	require.NoError(t, err, "pg_ctl start: %s", out)
	t.Cleanup(func() {
		if out, err := asUser("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop: %v: %s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE aurix")
	require.NoError(t, err)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/aurix?sslmode=disable", port)
}
