package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// TestClassifyUnavailable: every way the driver says the database cannot
// be reached or cannot take the work becomes domain.ErrUnavailable, however
// it is wrapped; errors about the statement itself, a missing row, a
// clash and the caller giving up do not.
func TestClassifyUnavailable(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tt := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"no connection within the acquire timeout", fmt.Errorf("%w within 5s: %w", errNoConnection, context.DeadlineExceeded), true},
		{"connection refused", refused, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"server closed the connection", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF), true},
		{"connection closed", pgconn.ErrConnClosed, true},
		{"bad connection", driver.ErrBadConn, true},
		{"connection done", sql.ErrConnDone, true},
		{"shutting down (57P01)", pg("57P01"), true},
		{"crash shutdown (57P02)", pg("57P02"), true},
		{"starting up (57P03)", pg("57P03"), true},
		{"too many connections (53300)", pg("53300"), true},
		{"insufficient resources (53000)", pg("53000"), true},
		{"disk full (53100)", pg("53100"), true},
		{"out of memory (53200)", pg("53200"), true},
		{"connection failure (08006)", pg("08006"), true},
		{"connection exception (08000)", pg("08000"), true},
		{"syntax error (42601)", pg("42601"), false},
		{"query cancelled (57014)", pg("57014"), false},
		{"caller gave up", context.Canceled, false},
		{"database too slow for the deadline", context.DeadlineExceeded, true},
		{"plain error", errors.New("scan: converting driver.Value"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify(fmt.Errorf("deep: %w", tt.err), "select thing")
			require.Equal(t, tt.unavailable, errors.Is(err, domain.ErrUnavailable), "%v", err)
			require.ErrorIs(t, err, tt.err, "the cause stays in the chain for the log")
			require.Equal(t, tt.unavailable, errors.Is(markUnavailable(tt.err), domain.ErrUnavailable))
		})
	}
	require.ErrorIs(t, classify(sql.ErrNoRows, "select"), domain.ErrNotFound)
	require.NotErrorIs(t, classify(sql.ErrNoRows, "select"), domain.ErrUnavailable)
	require.ErrorIs(t, classify(&pgconn.PgError{Code: "23505"}, "insert"), domain.ErrConflict)
	require.NotErrorIs(t, classify(&pgconn.PgError{Code: "23505"}, "insert"), domain.ErrUnavailable)
}
