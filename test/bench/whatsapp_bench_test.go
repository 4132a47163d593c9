//go:build bench

package bench

// WhatsApp batches through the real binary: a signed Meta notification of
// many messages posted to POST /api/whatsapp/webhook, over a socket, with a
// partner receiving the events the batch emits. It measures messages per
// second for a batch of BENCH_WA_MESSAGES (default 1000) messages and for the
// largest batch that fits Meta's 1 MiB body, and for the same 1 MiB batch
// posted again (a redelivery: every message id seen).
//
//	go test -tags bench -run '^$' -bench WhatsApp -benchtime 3x ./test/bench
//
// BENCH_AURIX_BIN runs another binary (e.g. one built from an older commit)
// instead of building this module's.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

const (
	waAppSecret = "bench-app-secret"
	waKey       = "bench-topkee-key"
	waChannel   = "791163770738681"
	// waMaxBody is the service's MaxWhatsAppBodyBytes.
	waMaxBody = 1 << 20
)

var (
	waBinOnce sync.Once
	waBin     string
	waBinErr  error
)

// aurixBinary returns BENCH_AURIX_BIN or this module's binary, built once.
func aurixBinary(b *testing.B) string {
	if p := os.Getenv("BENCH_AURIX_BIN"); p != "" {
		return p
	}
	waBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aurix-bench-")
		if err != nil {
			waBinErr = err
			return
		}
		waBin = filepath.Join(dir, "aurix")
		cmd := exec.Command("go", "build", "-o", waBin, "./bootstrap/cmd/aurix")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			waBinErr = fmt.Errorf("build aurix: %v\n%s", err, out)
		}
	})
	if waBinErr != nil {
		b.Fatal(waBinErr)
	}
	return waBin
}

// waService is a running binary on a fresh database with a receiver.
type waService struct {
	url      string
	received atomic.Int64
	clicks   int
}

func startWAService(b *testing.B) *waService {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &waService{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + pgtest.NewEmptyDatabase(b),
		"AURIX_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"AURIX_WHATSAPP_NUMBER=+15550783881", "AURIX_WHATSAPP_VERIFY_TOKEN=bench",
		"AURIX_WHATSAPP_APP_SECRET=" + waAppSecret, "AURIX_AGENT_API_KEY=bench-agent",
		"TOPKEE_INTEGRATION_API_KEY=" + waKey, "AURIX_WIDGET_RATE_LIMIT=0",
		"AURIX_WEBHOOK_ALLOW_INSECURE=true", "AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS=true",
		"AURIX_LOG_LEVEL=error",
	}
	if v := os.Getenv("BENCH_WA_ENV"); v != "" {
		env = append(env, strings.Fields(v)...)
	}
	cmd := exec.Command(aurixBinary(b), "serve")
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("service not ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *waService) call(b *testing.B, method, path string, body string) []byte {
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+waKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", browserUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

// registerReceiver points topkee at a local receiver answering 204.
func (s *waService) registerReceiver(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rc.Close)
	s.call(b, http.MethodPut, "/api/integrations/topkee/webhook-config", `{"url":"`+rc.URL+`"}`)
}

// newClicks records n widget clicks (8 at a time) and returns their
// references.
func (s *waService) newClicks(b *testing.B, n int) []string {
	refs := make([]string, n)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				raw := s.call(b, http.MethodPost, "/api/widget/click",
					fmt.Sprintf(`{"click_url":"https://example.com/?utm_source=bench&gclid=g%d","device_id":"bench-%d"}`, s.clicks+i, s.clicks+i))
				var c struct {
					CorrelationID string `json:"correlation_id"`
				}
				if err := json.Unmarshal(raw, &c); err != nil {
					b.Fatal(err)
				}
				refs[i] = c.CorrelationID
			}
		})
	}
	wg.Wait()
	s.clicks += n
	return refs
}

// waBatch is one notification: every message is the first of a new
// conversation; a third quote a click's reference, a third come from a
// Click-to-WhatsApp ad and a third say only hello.
type waBatch struct {
	body     []byte
	messages int
}

// message returns the JSON of message i of round r (refs[i/3] for quotes).
func waMessage(r, i int, ref string) string {
	id := fmt.Sprintf("wamid.b%d-%06d", r, i)
	from := fmt.Sprintf("1%02d55%07d", r%100, i)
	switch i % 3 {
	case 0:
		return `{"from":"` + from + `","id":"` + id + `","type":"text","text":{"body":"Hi! [ref: ` + ref + `]"}}`
	case 1:
		return `{"from":"` + from + `","id":"` + id + `","type":"text","text":{"body":"Hi"},` +
			`"referral":{"source_url":"https://fb.me/a` + strconv.Itoa(i) + `","source_type":"ad","ctwa_clid":"c` + strconv.Itoa(i) + `"}}`
	default:
		return `{"from":"` + from + `","id":"` + id + `","type":"text","text":{"body":"hello"}}`
	}
}

const (
	waHead = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + waChannel + `"},"messages":[`
	waTail = `]}}]}]}`
)

// buildBatch makes round r's batch of n messages, or of as many as fit in
// 1 MiB when n is 0, recording the clicks its quotes need first.
func (s *waService) buildBatch(b *testing.B, r, n int) waBatch {
	if n == 0 {
		// Reference messages are about as long as the others; size with a
		// placeholder reference of the real length.
		size := len(waHead) + len(waTail)
		for i := 0; ; i++ {
			add := len(waMessage(r, i, "O-xxxxxx")) + 1
			if size+add > waMaxBody {
				n = i
				break
			}
			size += add
		}
	}
	refs := s.newClicks(b, (n+2)/3)
	var buf bytes.Buffer
	buf.WriteString(waHead)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(waMessage(r, i, refs[i/3]))
	}
	buf.WriteString(waTail)
	if buf.Len() > waMaxBody {
		b.Fatalf("batch of %d bytes exceeds 1 MiB", buf.Len())
	}
	return waBatch{body: buf.Bytes(), messages: n}
}

// post sends a signed batch and reports whether it was answered 200. An
// answer lost to the server's write timeout (the service kept working and
// answered too late, as Meta would see it) is false, not a failure of the
// benchmark: the time it took is still what the batch cost.
func (s *waService) post(b *testing.B, body []byte) bool {
	m := hmac.New(sha256.New, []byte(waAppSecret))
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/whatsapp/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Logf("no answer: %v", err)
		return false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("webhook answered %d: %s", resp.StatusCode, raw)
	}
	return true
}

// BenchmarkWhatsAppBatch posts one fresh batch per iteration (its clicks
// recorded beforehand, outside the timer) and reports messages per second;
// "redelivered" posts the iteration's 1 MiB batch a second time.
func BenchmarkWhatsAppBatch(b *testing.B) {
	n1 := 1000
	if v := os.Getenv("BENCH_WA_MESSAGES"); v != "" {
		var err error
		if n1, err = strconv.Atoi(v); err != nil || n1 < 1 {
			b.Fatalf("BENCH_WA_MESSAGES=%q: want a positive number", v)
		}
	}
	s := startWAService(b)
	if os.Getenv("BENCH_WA_NO_PARTNER") == "" {
		s.registerReceiver(b)
	}
	round := 0
	for _, c := range []struct {
		name     string
		n        int
		repeated bool
	}{{fmt.Sprintf("messages=%d", n1), n1, false}, {"body=1MiB", 0, false}, {"body=1MiB/redelivered", 0, true}} {
		b.Run(c.name, func(b *testing.B) {
			var msgs, lost int
			var took time.Duration
			for range b.N {
				b.StopTimer()
				round++
				batch := s.buildBatch(b, round, c.n)
				if c.repeated {
					s.post(b, batch.body)
				}
				b.StartTimer()
				start := time.Now()
				if !s.post(b, batch.body) {
					lost++
				}
				took += time.Since(start)
				msgs += batch.messages
			}
			b.ReportMetric(float64(msgs)/took.Seconds(), "msgs/s")
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs/batch")
			b.ReportMetric(float64(lost), "unanswered")
		})
	}
}
