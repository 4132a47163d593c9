package test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	riveradapter "github.com/aurix/integrations/adapters/river"
)

// maintenanceJob is one periodic round as River recorded it.
type maintenanceJob struct {
	kind        string
	createdAt   time.Time
	state       string
	attempt     int
	attemptedBy []string
}

func (j maintenanceJob) String() string {
	return fmt.Sprintf("%s@%s %s by %v", j.kind, j.createdAt.Format("15:04:05.000"), j.state, j.attemptedBy)
}

// maintenanceJobs lists the rounds created in [from, to), oldest first.
func maintenanceJobs(t *testing.T, s *service, from, to time.Time) []maintenanceJob {
	t.Helper()
	rows, err := s.db(t).Query(context.Background(), `SELECT kind, created_at, state::text, attempt, coalesce(attempted_by, '{}')
		FROM river_job WHERE queue = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at`,
		riveradapter.QueueMaintenance, from, to)
	require.NoError(t, err)
	defer rows.Close()
	var out []maintenanceJob
	for rows.Next() {
		var j maintenanceJob
		require.NoError(t, rows.Scan(&j.kind, &j.createdAt, &j.state, &j.attempt, &j.attemptedBy))
		out = append(out, j)
	}
	require.NoError(t, rows.Err())
	return out
}

func dbNow(t *testing.T, s *service) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, s.db(t).QueryRow(context.Background(), "SELECT now()").Scan(&now))
	return now
}

// TestPeriodicRoundsRunOnceAcrossWorkers: two worker processes share one
// database, with the retention purge every 2 s (AURIX_RETENTION_INTERVAL);
// the backlog is measured every 5 s and the endpoint sweep runs every
// minute (fixed in adapters/river). One process at a time is River's
// leader and says so in its log; each round is scheduled once per period,
// not once per process, and worked once, by a worker the logs name; when
// the leader stops, it says so, the other says it leads now, and the
// rounds go on.
func TestPeriodicRoundsRunOnceAcrossWorkers(t *testing.T) {
	t.Parallel()
	const purgeEvery = 2 * time.Second
	const window = 10 * time.Second
	c := newCluster(t, map[string]string{"AURIX_RETENTION_INTERVAL": purgeEvery.String()},
		map[string]string{"w1": "worker", "w2": "worker"})

	// Which River client is which process: River names the client in
	// river_job.attempted_by, the process names it when it starts.
	clientOf := map[string]string{} // River client id → process
	clientID := map[string]string{} // process → River client id
	for name, p := range c.procs {
		recs := p.logRecords(t, "working deliveries")
		require.Len(t, recs, 1, name)
		id, _ := recs[0]["river_client_id"].(string)
		require.NotEmpty(t, id, "%s names its River client", name)
		clientOf[id], clientID[name] = name, id
	}
	require.Len(t, clientOf, 2)

	leaders := func() []string {
		var out []string
		for name, p := range c.procs {
			if len(p.logRecords(t, riveradapter.MsgLeaderGained)) > 0 {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	require.Eventually(t, func() bool { return len(leaders()) > 0 }, 30*time.Second, 50*time.Millisecond,
		"a process says it is River's leader")
	leader := leaders()[0]
	gained := c.procs[leader].logRecords(t, riveradapter.MsgLeaderGained)[0]
	assert.Equal(t, clientID[leader], gained["river_client_id"], "the leader names its River client")
	assert.Contains(t, fmt.Sprint(gained["rounds"]), "aurix.retention_purge every 2s")

	// Both run for a while: count the rounds created meanwhile.
	from := dbNow(t, c.procs[leader])
	time.Sleep(window)
	to := dbNow(t, c.procs[leader])
	assert.Equal(t, []string{leader}, leaders(), "one leader while both run")
	jobs := maintenanceJobs(t, c.procs[leader], from, to)
	byKind := map[string]int{}
	for _, j := range jobs {
		byKind[j.kind]++
		if j.state == "completed" {
			assert.Equal(t, 1, j.attempt, "%s at %s worked once", j.kind, j.createdAt)
			require.Len(t, j.attemptedBy, 1, "%s at %s worked by one worker", j.kind, j.createdAt)
			assert.Contains(t, clientOf, j.attemptedBy[0], "worked by one of the two processes")
		}
	}
	// A round of period p is created at most once per p: at most
	// ⌊window/p⌋ + 1 in the window (+1 should the leader restart its
	// schedule); one per process would give about twice as many.
	perPeriod := func(kind string, every time.Duration) {
		t.Helper()
		most := int(to.Sub(from)/every) + 2
		assert.LessOrEqual(t, byKind[kind], most, "%s every %s: %d rounds in %s (%v)", kind, every, byKind[kind], to.Sub(from), jobs)
	}
	perPeriod(riveradapter.PurgeArgs{}.Kind(), purgeEvery)
	perPeriod(riveradapter.MeasureBacklogArgs{}.Kind(), riveradapter.MeasureBacklogEvery)
	perPeriod(riveradapter.DisableFailingArgs{}.Kind(), riveradapter.DisableFailingEvery)
	assert.GreaterOrEqual(t, byKind[riveradapter.PurgeArgs{}.Kind()], int(window/purgeEvery)-2, "the purge runs every period")
	assert.Positive(t, byKind[riveradapter.MeasureBacklogArgs{}.Kind()], "the backlog is measured")

	// The leader stops: it says why it no longer leads, the other takes
	// over and the rounds go on, worked by the survivor.
	survivor := "w1"
	if leader == "w1" {
		survivor = "w2"
	}
	c.procs[leader].stop(t)
	ended := c.procs[leader].logRecords(t, riveradapter.MsgLeaderEnded)
	require.Len(t, ended, 1, "the stopped leader says it no longer leads")
	assert.Equal(t, "shutting down", ended[0]["why"])
	require.Eventually(t, func() bool { return len(c.procs[survivor].logRecords(t, riveradapter.MsgLeaderGained)) > 0 },
		30*time.Second, 50*time.Millisecond, "the other process says it leads now")
	handover := dbNow(t, c.procs[survivor])
	purge := riveradapter.PurgeArgs{}.Kind()
	require.Eventually(t, func() bool {
		n := 0
		for _, j := range maintenanceJobs(t, c.procs[survivor], handover, handover.Add(time.Hour)) {
			if j.kind == purge && j.state == "completed" && strings.Join(j.attemptedBy, ",") == clientID[survivor] {
				n++
			}
		}
		return n >= 2
	}, 30*time.Second, 100*time.Millisecond, "the purge goes on after the handover, worked by the survivor")
	t.Logf("%s led, then %s; in %s with both running: %v", leader, survivor, to.Sub(from).Round(time.Millisecond), byKind)
}
