package application

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// group commits the work of concurrent callers together: a caller that
// finds fewer than parallel writes under way writes everything queued at
// that moment (up to max items) in one call of write (one transaction, one
// commit), and whoever arrives while every writer is busy goes into the next
// one. Nobody waits for a timer, so a lone caller is written at once, and
// under load the groups grow by themselves. Each caller returns once its own
// item is written, or with the error that prevented it. If a shared write
// fails with an error that alone says may concern only some items, each of
// its items is written again on its own, so one bad item cannot fail the
// others; an error that would fail them all the same (the database is down)
// is everyone's answer at once.
//
// A write runs in the first caller's trace, without its cancellation, and
// with tracing set each other caller's span is linked to it (and it to
// them): every caller's trace leads to the statements that wrote its item.
// An item written again on its own is written in its own caller's trace.
type group[T any] struct {
	max, parallel int
	write         func(ctx context.Context, items []T) error
	alone         func(error) bool
	name          string
	tracing       ports.Tracing

	mu      sync.Mutex
	queue   []member[T]
	running int
}

type member[T any] struct {
	ctx  context.Context
	item T
	done chan error
}

// groupOptions shape a group.
type groupOptions struct {
	// max is the most items one write takes (at least 1).
	max int
	// parallel is how many writes may run at once (at least 1).
	parallel int
	// alone reports whether the items of a failed shared write are worth
	// writing again one by one; nil means always.
	alone func(error) bool
	// name names a write's span; tracing, when set, starts it.
	name    string
	tracing ports.Tracing
}

// newGroup returns a group writing with write.
func newGroup[T any](o groupOptions, write func(ctx context.Context, items []T) error) *group[T] {
	return &group[T]{max: max(o.max, 1), parallel: max(o.parallel, 1), write: write, alone: o.alone, name: o.name,
		tracing: o.tracing}
}

// do writes item with whatever else is queued and returns when it is done;
// ctx is the caller's, whose trace the write joins.
func (g *group[T]) do(ctx context.Context, item T) error {
	m := member[T]{ctx: ctx, item: item, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, m)
	if g.running < g.parallel {
		g.running++
		go g.drain()
	}
	g.mu.Unlock()
	return <-m.done
}

func (g *group[T]) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.max)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := slices.Clone(g.queue[:n])
		g.queue = slices.Delete(g.queue, 0, n)
		g.mu.Unlock()

		err := g.run(batch)
		if err != nil && len(batch) > 1 && (g.alone == nil || g.alone(err)) {
			for _, m := range batch {
				m.done <- g.run([]member[T]{m})
			}
			continue
		}
		for _, m := range batch {
			m.done <- err
		}
	}
}

// run is one write of the members' items, in the first one's trace.
func (g *group[T]) run(batch []member[T]) error {
	items := make([]T, len(batch))
	callers := make([]context.Context, len(batch))
	for i, m := range batch {
		items[i], callers[i] = m.item, m.ctx
	}
	if g.tracing == nil {
		return g.write(context.WithoutCancel(callers[0]), items)
	}
	ctx, end := g.tracing.Shared(g.name, callers)
	err := g.write(ctx, items)
	end(err)
	return err
}

// mayConcernSome reports whether a failed shared write is worth trying again
// item by item: not when the database is unavailable, which would fail each
// of them after the same wait.
func mayConcernSome(err error) bool { return !errors.Is(err, domain.ErrUnavailable) }
