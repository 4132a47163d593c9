//go:build bench

// Command receiver is the fast local webhook receiver of the delivery
// benchmark (run-delivery.sh): it answers every POST with 204 at once and
// counts what it got, so the figure measured is the sender's, not the
// receiver's.
//
//	go build -tags bench -o /tmp/receiver ./test/bench/receiver
//	/tmp/receiver -addr 127.0.0.1:18292
//
// GET /stats answers one line: "count=<n> unsigned=<n> first_ns=<unix ns>
// last_ns=<unix ns>" (first and last POST seen); POST /reset zeroes it;
// GET /persec answers "<second> <posts>" lines, seconds since the first POST.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync/atomic"
	"time"
)

const maxSeconds = 3600

type counters struct {
	count, unsigned, first, last atomic.Int64
	perSec                       [maxSeconds]atomic.Int64
}

func (c *counters) reset() {
	c.count.Store(0)
	c.unsigned.Store(0)
	c.first.Store(0)
	c.last.Store(0)
	for i := range c.perSec {
		c.perSec[i].Store(0)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18292", "listen address (loopback only)")
	flag.Parse()
	c := &counters{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "count=%d unsigned=%d first_ns=%d last_ns=%d\n",
			c.count.Load(), c.unsigned.Load(), c.first.Load(), c.last.Load())
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		c.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /persec", func(w http.ResponseWriter, _ *http.Request) {
		last := c.last.Load()
		first := c.first.Load()
		if first == 0 {
			return
		}
		n := int((last-first)/int64(time.Second)) + 1
		for i := 0; i < n && i < maxSeconds; i++ {
			fmt.Fprintf(w, "%d %d\n", i, c.perSec[i].Load())
		}
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now().UnixNano()
		c.first.CompareAndSwap(0, now)
		for {
			l := c.last.Load()
			if now <= l || c.last.CompareAndSwap(l, now) {
				break
			}
		}
		if s := (now - c.first.Load()) / int64(time.Second); s >= 0 && s < maxSeconds {
			c.perSec[s].Add(1)
		}
		if r.Header.Get("webhook-signature") == "" {
			c.unsigned.Add(1)
		}
		c.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	log.Printf("receiver listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
