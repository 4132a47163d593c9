package postgres

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aurix/integrations/domain"
)

// classify turns driver errors the domain has words for into domain errors,
// keeping the original in the chain for logs.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, domain.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%s: %w (%s)", what, domain.ErrConflict, pgErr.ConstraintName)
	}
	return fmt.Errorf("%s: %w", what, markUnavailable(err))
}

// isForeignKeyViolation reports a row that references one that is gone.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// markUnavailable adds domain.ErrUnavailable to the chain of an error that
// says the database cannot be reached or cannot take the work now, and
// returns any other error as it is.
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, domain.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
}

// unavailable reports whether err means the database could not be reached
// or could not take the work: no connection within the acquire timeout, a
// failed connect, a connection lost or reset, or a server that said it is
// shutting down, starting up, or out of connections or resources. An error
// the server answered about the statement itself (a constraint, a syntax
// error, a cancelled query) is not, and neither is the caller giving up
// (context.Canceled); a deadline that ran out inside the driver is a
// database too slow to answer, and is.
func unavailable(err error) bool {
	// No connection could be made, whatever the server said (starting up,
	// shutting down, not accepting connections, out of slots): the work
	// never reached the database.
	var connectErr *pgconn.ConnectError
	if errors.Is(err, errNoConnection) || errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err)
}

// unavailableSQLState reports whether a server error code says the server
// cannot serve now rather than that the statement is wrong.
func unavailableSQLState(code string) bool {
	switch code {
	case "57P01", // admin_shutdown: the server is shutting down or restarting
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up, in recovery
		"53000", // insufficient_resources
		"53100", // disk_full
		"53200", // out_of_memory
		"53300": // too_many_connections
		return true
	}
	return strings.HasPrefix(code, "08") // connection_exception and its subclasses
}
