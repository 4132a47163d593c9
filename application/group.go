package application

import (
	"slices"
	"sync"
)

// group commits the work of concurrent callers together: the first caller
// to find no write under way writes everything queued at that moment in one
// call of write (one transaction, one commit), and whoever arrives while a
// write is under way goes into the next one. Nobody waits for a timer, so a
// lone caller is written at once, and under load the groups grow by
// themselves. Each caller returns once its own item is written, or with the
// error that prevented it; if a shared write fails, each of its items is
// written again on its own, so one bad item cannot fail the others.
type group[T any] struct {
	max   int
	write func(items []T) error

	mu      sync.Mutex
	queue   []member[T]
	running bool
}

type member[T any] struct {
	item T
	done chan error
}

// newGroup returns a group writing at most max items at once (at least 1).
func newGroup[T any](max int, write func(items []T) error) *group[T] {
	return &group[T]{max: max, write: write}
}

// do writes item with whatever else is queued and returns when it is done.
func (g *group[T]) do(item T) error {
	m := member[T]{item: item, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, m)
	if !g.running {
		g.running = true
		go g.drain()
	}
	g.mu.Unlock()
	return <-m.done
}

func (g *group[T]) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), max(g.max, 1))
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := slices.Clone(g.queue[:n])
		g.queue = slices.Delete(g.queue, 0, n)
		g.mu.Unlock()

		items := make([]T, len(batch))
		for i, m := range batch {
			items[i] = m.item
		}
		err := g.write(items)
		if err != nil && len(batch) > 1 {
			for _, m := range batch {
				m.done <- g.write([]T{m.item})
			}
			continue
		}
		for _, m := range batch {
			m.done <- err
		}
	}
}
