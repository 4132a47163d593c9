package river

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Log messages of the leadership hook: an operator (and the end-to-end
// test) reads from them which process schedules the periodic rounds.
const (
	MsgLeaderGained = "River leader: this process schedules the periodic rounds"
	MsgLeaderEnded  = "no longer the River leader: this process stopped scheduling the periodic rounds"
)

// Rounds describes the rounds PeriodicJobs(purgeEvery) schedules, for the
// logs ("aurix.measure_backlog every 5s").
func Rounds(purgeEvery time.Duration) []string {
	out := []string{
		fmt.Sprintf("%s every %s", MeasureBacklogArgs{}.Kind(), MeasureBacklogEvery),
		fmt.Sprintf("%s every %s", DisableFailingArgs{}.Kind(), DisableFailingEvery),
	}
	if purgeEvery > 0 {
		out = append(out, fmt.Sprintf("%s every %s", PurgeArgs{}.Kind(), purgeEvery))
	}
	return out
}

// LeadershipHook logs when this process becomes River's leader, and when it
// stops being it. River has no public leadership event; its periodic job
// enqueuer runs on the leader only and calls this hook each time it starts
// on a newly elected leader, with a context that ends when the enqueuer
// stops: when leadership is lost or resigned, or the client stops.
// clientID is the River client's id (river_job.attempted_by names it);
// stopping reports whether the process is shutting down, which is then why
// it stopped leading.
func LeadershipHook(log *slog.Logger, rounds []string, clientID func() string, stopping func() bool) rivertype.Hook {
	return river.HookPeriodicJobsStartFunc(func(ctx context.Context, _ *rivertype.HookPeriodicJobsStartParams) error {
		id := clientID()
		log.InfoContext(ctx, MsgLeaderGained, "river_client_id", id, "rounds", rounds)
		go func() {
			<-ctx.Done()
			why := "leadership lost or resigned"
			if stopping() {
				why = "shutting down"
			}
			log.InfoContext(context.WithoutCancel(ctx), MsgLeaderEnded, "river_client_id", id, "why", why)
		}()
		return nil
	})
}
