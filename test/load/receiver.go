package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clickRecord is one scheduled click and what became of it. The generator
// fills the request side, the receiver the arrival side; every field is
// written and read under tracker.mu.
type clickRecord struct {
	sched   time.Time // when it was due: every latency counts from here
	sent    time.Time // when the generator's goroutine started sending it
	done    time.Time // when the answer (or the error) came back
	status  int       // HTTP status, 0 for a transport error
	errKind string    // transport error kind, or a bad 201 body
	corrID  string    // correlation_id of a 201

	arrivals     int       // widget.click requests the partner received for it
	firstArrival time.Time // the first of them
	eventID      string
}

// arrival is an event the partner received before the generator had read
// the 201 that names its correlation id.
type arrival struct {
	at      time.Time
	count   int
	eventID string
}

// tracker matches delivered widget.click events to their clicks by
// correlation_id.
type tracker struct {
	mu      sync.Mutex
	byCorr  map[string]*clickRecord
	early   map[string]*arrival
	unknown int // events without a correlation id
	other   map[string]int
}

func newTracker() *tracker {
	return &tracker{byCorr: map[string]*clickRecord{}, early: map[string]*arrival{}, other: map[string]int{}}
}

// finish records the answer to a click; a 201 registers its correlation id
// and takes over an arrival that came first.
func (t *tracker) finish(c *clickRecord, done time.Time, status int, errKind, corrID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c.done, c.status, c.errKind, c.corrID = done, status, errKind, corrID
	if corrID == "" {
		return
	}
	t.byCorr[corrID] = c
	if a, ok := t.early[corrID]; ok {
		delete(t.early, corrID)
		c.arrivals, c.firstArrival, c.eventID = a.count, a.at, a.eventID
	}
}

// arrived records one received widget.click event.
func (t *tracker) arrived(corrID, eventID string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if corrID == "" {
		t.unknown++
		return
	}
	if c, ok := t.byCorr[corrID]; ok {
		if c.arrivals == 0 {
			c.firstArrival, c.eventID = at, eventID
		}
		c.arrivals++
		return
	}
	a, ok := t.early[corrID]
	if !ok {
		a = &arrival{at: at, eventID: eventID}
		t.early[corrID] = a
	}
	a.count++
}

// arrivedOther counts an event of another type (nothing in a load run
// should produce one).
func (t *tracker) arrivedOther(eventType string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.other[eventType]++
}

// snapshot copies what the backlog and the latencies need, consistently.
func (t *tracker) snapshot(clicks []*clickRecord) []clickRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]clickRecord, 0, len(clicks))
	for _, c := range clicks {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// unacknowledgedArrivals is the number of events received whose click
// never got a 201 the generator could read (a client timeout, say).
func (t *tracker) unacknowledgedArrivals() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.early)
}

// receiver is the one active partner: it verifies both signatures of every
// request, answers 204 and tells the tracker.
type receiver struct {
	srv      *http.Server
	listener net.Listener
	tracker  *tracker
	delay    time.Duration
	now      func() time.Time

	mu      sync.RWMutex
	secrets map[string]string // path tag -> the secret its webhook config answered

	inflight, maxInflight, requests atomic.Int64
	badMu                           sync.Mutex
	bad                             []string // reasons of the first bad requests
	badCount                        atomic.Int64
}

// startReceiver listens on a free loopback port.
func startReceiver(ctx context.Context, t *tracker, delay time.Duration) (*receiver, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver listen: %w", err)
	}
	r := &receiver{listener: l, tracker: t, delay: delay, now: time.Now, secrets: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook/{tag}", r.handle)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// url is the webhook URL for one database's config.
func (r *receiver) url(tag string) string {
	return "http://" + r.listener.Addr().String() + "/hook/" + tag
}

func (r *receiver) setSecret(tag, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[tag] = secret
}

func (r *receiver) close(ctx context.Context) { _ = r.srv.Shutdown(ctx) }

// badRequests is how many requests failed verification, and why (the first ten).
func (r *receiver) badRequests() (int64, []string) {
	r.badMu.Lock()
	defer r.badMu.Unlock()
	return r.badCount.Load(), append([]string(nil), r.bad...)
}

func (r *receiver) reject(w http.ResponseWriter, tag, reason string) {
	r.badCount.Add(1)
	r.badMu.Lock()
	if len(r.bad) < 10 {
		r.bad = append(r.bad, tag+": "+reason)
	}
	r.badMu.Unlock()
	http.Error(w, reason, http.StatusUnauthorized)
}

// webhookBody is what the receiver reads of an event.
type webhookBody struct {
	EventType string `json:"event_type"`
	EventID   string `json:"event_id"`
	Data      struct {
		CorrelationID string `json:"correlation_id"`
	} `json:"data"`
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	n := r.inflight.Add(1)
	defer r.inflight.Add(-1)
	for {
		m := r.maxInflight.Load()
		if n <= m || r.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	r.requests.Add(1)
	tag := req.PathValue("tag")
	r.mu.RLock()
	secret, ok := r.secrets[tag]
	r.mu.RUnlock()
	if !ok {
		r.reject(w, tag, "no webhook config registered for this path")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		r.reject(w, tag, "reading the body: "+err.Error())
		return
	}
	if reason := verifyRequest(secret, req.Header, body, at); reason != "" {
		r.reject(w, tag, reason)
		return
	}
	var ev webhookBody
	if err := json.Unmarshal(body, &ev); err != nil {
		r.reject(w, tag, "body is not JSON: "+err.Error())
		return
	}
	if ev.EventID != req.Header.Get("webhook-id") {
		r.reject(w, tag, "webhook-id differs from the body's event_id")
		return
	}
	if ev.EventType == "widget.click" {
		r.tracker.arrived(ev.Data.CorrelationID, ev.EventID, at)
	} else {
		r.tracker.arrivedOther(ev.EventType)
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// verifyRequest checks both signatures of one delivery; it returns why it
// failed, or "".
func verifyRequest(secret string, h http.Header, body []byte, now time.Time) string {
	if !verifyHubSignature(secret, body, h.Get("x-hub-signature")) {
		return "x-hub-signature does not match the body"
	}
	if err := verifyStandardWebhooks(whsecOf(secret), h.Get("webhook-id"), h.Get("webhook-timestamp"), body,
		h.Get("webhook-signature"), now); err != nil {
		return "Standard Webhooks: " + err.Error()
	}
	return ""
}

// errKindOf names a transport error without its addresses.
func errKindOf(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return "transport error"
}
