package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// userAgents are real browsers of the kind that click a WhatsApp button on
// an ad's landing page. None of them is a bot (load_test.go checks it with
// the service's own detector): a bot click announces nothing, so its event
// would be counted missing.
var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/22B83 Instagram 356.0.0.23.89 (iPhone15,3; iOS 18_1; en_US; en; scale=3.00; 1290x2796; 662052345)",
}

var (
	campaigns = []string{"spring_sale", "brand_search", "retargeting_q4", "whatsapp_leads", "pmax_general"}
	terms     = []string{"whatsapp+business", "buy+sofa", "dental+clinic+near+me", "car+insurance+quote", "yoga+classes"}
	pages     = []string{"landing", "products/sofa-oslo", "offer/winter", "contact", "pricing"}
)

// clickRequest is one prepared request: body and User-Agent.
type clickRequest struct {
	body []byte
	ua   string
}

// makeClicks prepares n widget clicks as the widget sends them: the page's
// URL with utm parameters and a gclid, a device id, a browser User-Agent.
// Bodies are made before the schedule starts, so building them never delays
// a send.
func makeClicks(n int, rng *rand.Rand) []clickRequest {
	out := make([]clickRequest, n)
	for i := range out {
		url := fmt.Sprintf("https://shop.example.com/%s?utm_source=google&utm_medium=cpc&utm_campaign=%s&utm_term=%s&utm_content=ad%d&gclid=%s",
			pages[rng.IntN(len(pages))], campaigns[rng.IntN(len(campaigns))], terms[rng.IntN(len(terms))], rng.IntN(40), gclid(rng))
		body, _ := json.Marshal(map[string]string{"click_url": url, "device_id": uuidV4(rng)})
		out[i] = clickRequest{body: body, ua: userAgents[rng.IntN(len(userAgents))]}
	}
	return out
}

const gclidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// gclid looks like Google's click ids: "Cj0KCQ" and base64url.
func gclid(rng *rand.Rand) string {
	b := []byte("Cj0KCQiA")
	for range 60 + rng.IntN(30) {
		b = append(b, gclidAlphabet[rng.IntN(len(gclidAlphabet))])
	}
	return string(b) + "BwE"
}

func uuidV4(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// generator sends clicks on a fixed schedule, whatever the answers: each
// request gets its own goroutine at its due time, so a slow answer never
// delays the next request (an open loop; a closed loop hides queueing).
type generator struct {
	client   *http.Client
	tracker  *tracker
	maxConns int

	inflight, maxInflight atomic.Int64
	current               []*clickRecord // the running call's records, under tracker.mu
}

func newGenerator(t *tracker, maxConns int, timeout time.Duration) *generator {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &generator{client: &http.Client{Transport: tr, Timeout: timeout}, tracker: t, maxConns: maxConns}
}

// clickResponse is what the generator reads of a 201.
type clickResponse struct {
	CorrelationID string `json:"correlation_id"`
}

// run sends len(clicks) clicks at rate per second to the given click URLs
// (round robin), the first at start. It stops scheduling when stop is closed
// and returns the records of the clicks it scheduled, once every one of them
// has its answer.
func (g *generator) run(ctx context.Context, urls []string, clicks []clickRequest, rate float64, start time.Time, stop <-chan struct{}) []*clickRecord {
	g.maxInflight.Store(0)
	records := make([]*clickRecord, 0, len(clicks))
	g.tracker.mu.Lock()
	g.current = nil
	g.tracker.mu.Unlock()
	var wg sync.WaitGroup
schedule:
	for i := range clicks {
		due := start.Add(scheduleOffset(i, rate))
		if d := time.Until(due); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-stop:
				timer.Stop()
				break schedule
			case <-ctx.Done():
				timer.Stop()
				break schedule
			}
		} else {
			select {
			case <-stop:
				break schedule
			case <-ctx.Done():
				break schedule
			default:
			}
		}
		rec := &clickRecord{sched: due}
		records = append(records, rec)
		g.tracker.mu.Lock()
		g.current = append(g.current, rec)
		g.tracker.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.send(ctx, urls[i%len(urls)], clicks[i], rec)
		}()
	}
	wg.Wait()
	return records
}

func (g *generator) send(ctx context.Context, url string, c clickRequest, rec *clickRecord) {
	sent := time.Now()
	g.tracker.mu.Lock()
	rec.sent = sent
	g.tracker.mu.Unlock()
	n := g.inflight.Add(1)
	defer g.inflight.Add(-1)
	for {
		m := g.maxInflight.Load()
		if n <= m || g.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(c.body))
	if err != nil {
		g.tracker.finish(rec, time.Now(), 0, "bad request: "+err.Error(), "")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Origin", "https://shop.example.com")
	resp, err := g.client.Do(req)
	if err != nil {
		g.tracker.finish(rec, time.Now(), 0, errKindOf(err), "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	done := time.Now()
	if err != nil {
		g.tracker.finish(rec, done, resp.StatusCode, errKindOf(err), "")
		return
	}
	if resp.StatusCode != http.StatusCreated {
		g.tracker.finish(rec, done, resp.StatusCode, "", "")
		return
	}
	var cr clickResponse
	if err := json.Unmarshal(body, &cr); err != nil || cr.CorrelationID == "" {
		g.tracker.finish(rec, done, resp.StatusCode, "201 without a correlation_id", "")
		return
	}
	g.tracker.finish(rec, done, resp.StatusCode, "", cr.CorrelationID)
}
