package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// clickOutcomes tallies what clients got while posting clicks.
type clickOutcomes struct {
	mu       sync.Mutex
	byStatus map[int]int
	accepted []string // correlation ids answered 201
	bad      []string // anything a client must never get
}

func (o *clickOutcomes) add(status int, ref, bad string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byStatus[status]++
	if ref != "" {
		o.accepted = append(o.accepted, ref)
	}
	if bad != "" && len(o.bad) < 20 {
		o.bad = append(o.bad, bad)
	}
}

func (o *clickOutcomes) snapshot() (map[int]int, []string, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	counts := make(map[int]int, len(o.byStatus))
	for k, v := range o.byStatus {
		counts[k] = v
	}
	return counts, append([]string(nil), o.accepted...), append([]string(nil), o.bad...)
}

// postClick sends one click and checks the answer: 201 with a correlation
// id, or 503 problem+json with a small Retry-After. Anything else is bad.
func postClick(client *http.Client, base string, i int, o *clickOutcomes) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/widget/click",
		strings.NewReader(fmt.Sprintf(`{"click_url":"https://example.com/outage%d?utm_source=outage"}`, i)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
	resp, err := client.Do(req)
	if err != nil {
		o.add(0, "", "request failed: "+err.Error())
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusCreated:
		var c clickReply
		if err := json.Unmarshal(raw, &c); err != nil || c.CorrelationID == "" {
			o.add(resp.StatusCode, "", "201 without a correlation id: "+string(raw))
			return
		}
		o.add(resp.StatusCode, c.CorrelationID, "")
	case http.StatusServiceUnavailable:
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		secs, convErr := strconv.Atoi(resp.Header.Get("Retry-After"))
		switch {
		case convErr != nil || secs < 1 || secs > 10:
			o.add(resp.StatusCode, "", fmt.Sprintf("503 with Retry-After %q", resp.Header.Get("Retry-After")))
		case resp.Header.Get("Content-Type") != "application/problem+json":
			o.add(resp.StatusCode, "", "503 with Content-Type "+resp.Header.Get("Content-Type"))
		case json.Unmarshal(raw, &p) != nil || p.Status != http.StatusServiceUnavailable:
			o.add(resp.StatusCode, "", "503 whose body is not its problem: "+string(raw))
		case strings.Contains(p.Detail, "127.0.0.1") || strings.Contains(p.Detail, "postgres"):
			o.add(resp.StatusCode, "", "503 detail echoes the database error: "+p.Detail)
		default:
			o.add(resp.StatusCode, "", "")
		}
	default:
		o.add(resp.StatusCode, "", fmt.Sprintf("%d: %s", resp.StatusCode, raw))
	}
}

// readyStatus asks /readyz once; a request that does not answer within
// the client's timeout counts as 0.
func readyStatus(client *http.Client, base string) int {
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestDatabaseOutageAnswers503AndLosesNothing: four clients post clicks
// while the service's database connections are cut for about 3 s (every
// connection closed, new ones refused) and then come back. No client gets a
// 500: each click is either recorded (201) or refused with 503 problem+json
// and Retry-After; /readyz says not ready during the cut and ready after;
// the service and its delivery workers recover by themselves, and every
// click that got 201 reaches the partner, signed.
func TestDatabaseOutageAnswers503AndLosesNothing(t *testing.T) {
	t.Parallel()
	direct := pgtest.NewEmptyDatabase(t)
	proxy := newDBProxy(t, direct)
	svc := startServiceOn(t, proxy.URL(t, direct), freePort(t), nil)
	svc.DBURL = direct // the test's own queries do not go through the proxy
	rec := newReceiver(t)
	secret := svc.registerWebhook(t, rec.URL)

	outcomes := &clickOutcomes{byStatus: map[int]int{}}
	stop := make(chan struct{})
	var (
		clients sync.WaitGroup
		next    atomic.Int64
	)
	for range 4 {
		clients.Go(func() {
			// A request that hangs is a failure too; the bound only keeps a
			// hang from stalling the test. The transport checks every answer
			// against the OpenAPI description.
			client := &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultClient.Transport}
			for {
				select {
				case <-stop:
					return
				default:
				}
				postClick(client, svc.URL, int(next.Add(1)), outcomes)
			}
		})
	}
	waitAccepted := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			counts, _, _ := outcomes.snapshot()
			if counts[http.StatusCreated] >= n {
				return
			}
			require.True(t, time.Now().Before(deadline), "clicks stopped being accepted: %v", counts)
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAccepted(100)

	probe := &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultClient.Transport}
	before, _, _ := outcomes.snapshot()
	proxy.Cut()
	cutAt := time.Now()
	var readyDuringCut []int
	for time.Since(cutAt) < 3*time.Second {
		readyDuringCut = append(readyDuringCut, readyStatus(probe, svc.URL))
		time.Sleep(200 * time.Millisecond)
	}
	during, _, _ := outcomes.snapshot()
	proxy.Restore(t)
	restoredAt := time.Now()
	readyAfter := 0
	for readyAfter != http.StatusOK && time.Since(restoredAt) < time.Minute {
		time.Sleep(50 * time.Millisecond)
		readyAfter = readyStatus(probe, svc.URL)
	}
	readyIn := time.Since(restoredAt)
	waitAccepted(during[http.StatusCreated] + 100)
	acceptingIn := time.Since(restoredAt)
	close(stop)
	clients.Wait()

	counts, accepted, bad := outcomes.snapshot()
	t.Logf("clicks: %d answered 201, %d answered 503 (%d of them during the cut); other: %v", counts[http.StatusCreated],
		counts[http.StatusServiceUnavailable], during[http.StatusServiceUnavailable]-before[http.StatusServiceUnavailable], counts)
	t.Logf("after the database came back: /readyz 200 in %s, 100 more clicks accepted in %s", readyIn.Round(time.Millisecond),
		acceptingIn.Round(time.Millisecond))
	assert.Empty(t, bad, "every answer is 201 or a 503 problem with Retry-After")
	assert.Positive(t, during[http.StatusServiceUnavailable]-before[http.StatusServiceUnavailable],
		"clicks posted during the cut were refused with 503")
	for i, code := range readyDuringCut {
		assert.Equal(t, http.StatusServiceUnavailable, code, "/readyz probe %d during the cut", i)
	}
	require.Equal(t, http.StatusOK, readyAfter, "/readyz is ready again once the database is back")

	// Every acknowledged click reaches the partner, signed: the delivery
	// workers resumed by themselves.
	want := make(map[string]bool, len(accepted))
	for _, ref := range accepted {
		want[ref] = true
	}
	got := map[string]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	for len(got) < len(want) && time.Now().Before(deadline) {
		for _, d := range rec.deliveries() {
			var ev struct {
				EventType string `json:"event_type"`
				Data      struct {
					CorrelationID string `json:"correlation_id"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(d.Body, &ev))
			require.True(t, partnerVerify(d.Body, d.Header.Get("X-Hub-Signature"), secret), "x-hub-signature verifies")
			require.NoError(t, standardWebhooksVerify(d.Header, d.Body, whsec(secret)))
			if want[ev.Data.CorrelationID] {
				got[ev.Data.CorrelationID] = true
			}
		}
		if len(got) < len(want) {
			select {
			case <-rec.notify:
			case <-time.After(time.Second):
			}
		}
	}
	var missing []string
	for ref := range want {
		if !got[ref] {
			missing = append(missing, ref)
		}
	}
	require.Empty(t, missing, "%d of %d acknowledged clicks never reached the partner", len(missing), len(want))
	t.Logf("all %d acknowledged clicks delivered, %s after the database came back", len(want),
		time.Since(restoredAt).Round(time.Millisecond))
}
