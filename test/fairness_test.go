package test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedLeads writes n leads straight into the service's database, each with
// about 1 KiB of lead_data, so an unpaged listing is far larger than the
// socket buffers between the service and a client that does not read.
func seedLeads(t *testing.T, svc *service, n int) {
	t.Helper()
	_, err := svc.db(t).Exec(context.Background(), `
		WITH c AS (
			INSERT INTO conversations (channel_id, phone, created_at)
			SELECT '791163770738681', '+1555' || lpad(i::text, 7, '0'), now() - interval '1 hour' + i * interval '1 millisecond'
			FROM generate_series(1, $1::int) AS i
			RETURNING id, channel_id, phone, created_at)
		INSERT INTO leads (conversation_id, channel_id, phone, status, lead_data, created_at)
		SELECT id, channel_id, phone, 'new', jsonb_build_object('note', repeat('n', 1000)), created_at FROM c`, n)
	require.NoError(t, err)
}

// activeListings counts the service's list queries on table that are
// running in the database right now (a stream blocked on its client
// counts: its query is still open). Parallel workers are not counted.
func activeListings(t *testing.T, svc *service, table string) int {
	t.Helper()
	var n int
	require.NoError(t, svc.db(t).QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state = 'active'
			AND query LIKE '%FROM '||$1||' %'`,
		table).Scan(&n))
	return n
}

// stalledStream is a client that sends a request and then reads nothing.
type stalledStream struct{ conn net.Conn }

func openStalledStream(t *testing.T, svc *service, path, key string) *stalledStream {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(svc.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	// The receive buffer stays at its default: a small one would make the
	// final read crawl (a window far below the loopback segment size).
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", path, conn.RemoteAddr(), key)
	require.NoError(t, err)
	return &stalledStream{conn: conn}
}

// rest reads what the service sent until it closed the connection and
// returns the status code and the body as received (chunk framing
// included).
func (s *stalledStream) rest(t *testing.T) (int, string) {
	t.Helper()
	require.NoError(t, s.conn.SetReadDeadline(time.Now().Add(time.Minute)))
	raw, err := io.ReadAll(bufio.NewReader(s.conn))
	if err != nil {
		var netErr net.Error
		require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the service never closed the stream")
	}
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	var code int
	_, _ = fmt.Sscanf(head, "HTTP/1.1 %d", &code)
	return code, body
}

// TestStalledStreamsOfOnePartnerDoNotStarveAnother: four unpaged leads
// streams of one integration whose client reads nothing hold at most that
// integration's share of the list-query slots, so another integration's
// attribution?limit=1 runs at once (with a 1 s queue timeout, waiting for
// a slot at all would answer 503). The stalled streams are then cut by the
// stall timeout, well before the server's 60 s write timeout, and their
// slots serve their own partner again.
func TestStalledStreamsOfOnePartnerDoNotStarveAnother(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{
		"AURIX_PARTNER_QUERY_CONCURRENCY":    "4",
		"AURIX_PARTNER_QUERY_QUEUE_TIMEOUT":  "1s",
		"AURIX_PARTNER_STREAM_STALL_TIMEOUT": "3s",
	})
	seedLeads(t, svc, 20000)

	streams := make([]*stalledStream, 4)
	for i := range streams {
		streams[i] = openStalledStream(t, svc, "/api/integrations/topkee/leads", topkeeKey)
	}
	deadline := time.Now().Add(30 * time.Second)
	for activeListings(t, svc, "leads") < 2 {
		require.True(t, time.Now().Before(deadline), "topkee's streams never started")
		time.Sleep(20 * time.Millisecond)
	}

	resp, raw := svc.do(t, http.MethodGet, "/api/integrations/other/attribution?limit=1", otherKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "another integration's query runs while topkee's streams stall: %s", raw)
	assert.LessOrEqual(t, activeListings(t, svc, "leads"), 2, "topkee's streams hold at most its share")

	// The server's write timeout (60 s) would end the streams too; the stall
	// cut must come well before it.
	deadline = time.Now().Add(40 * time.Second)
	for activeListings(t, svc, "leads") > 0 {
		require.True(t, time.Now().Before(deadline), "stalled streams are still running")
		time.Sleep(100 * time.Millisecond)
	}
	cut := 0
	for i, s := range streams {
		code, body := s.rest(t)
		switch code {
		case http.StatusOK: // it ran and was cut: the listing never ends
			assert.NotContains(t, body, "Leads fetched successfully", "stream %d was cut, not finished", i)
			assert.False(t, strings.HasSuffix(body, "0\r\n\r\n"), "stream %d has no final chunk", i)
			cut++
		case http.StatusServiceUnavailable: // it waited in topkee's line longer than the queue timeout
		default:
			t.Errorf("stream %d answered %d", i, code)
		}
	}
	assert.GreaterOrEqual(t, cut, 2, "the streams that ran were cut")
	t.Logf("stalled streams: %d ran and were cut, %d waited in topkee's line and got 503", cut, len(streams)-cut)

	resp, raw = svc.do(t, http.MethodGet, "/api/integrations/topkee/leads?limit=1", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the cut streams gave their slots back: %s", raw)
}
