package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// binary is the aurix binary built once for every test in the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aurix-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "aurix")
	build := exec.Command("go", "build", "-o", binary, "./bootstrap/cmd/aurix")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build aurix:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	topkeeKey = "e2e-topkee-key-0123456789"
	otherKey  = "e2e-other-key-9876543210"
)

// service is a running aurix binary.
type service struct {
	URL    string
	DBURL  string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan error
	killed bool
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// baseEnv is a complete development configuration; tests override entries.
func baseEnv(dbURL string, port int) map[string]string {
	return map[string]string{
		"DATABASE_URL":                        dbURL,
		"AURIX_HTTP_ADDR":                     "127.0.0.1:" + strconv.Itoa(port),
		"AURIX_WHATSAPP_NUMBER":               "+15550783881",
		"AURIX_INTEGRATIONS":                  "topkee,other",
		"TOPKEE_INTEGRATION_API_KEY":          topkeeKey,
		"OTHER_INTEGRATION_API_KEY":           otherKey,
		"AURIX_WEBHOOK_ALLOW_INSECURE":        "true",
		"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
		"AURIX_WEBHOOK_RETRY_SCHEDULE":        "300ms,300ms,300ms",
		"AURIX_WHATSAPP_VERIFY_TOKEN":         "e2e-verify-token",
		"AURIX_WHATSAPP_APP_SECRET":           "e2e-app-secret",
		"AURIX_AGENT_API_KEY":                 "e2e-agent-key",
		"AURIX_RIVER_FETCH_POLL_INTERVAL":     "100ms",
		"AURIX_WIDGET_RATE_LIMIT":             "0",
	}
}

func envList(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startService runs the binary on a fresh, empty database (the binary
// migrates it) with overrides applied to baseEnv, and waits until /readyz.
func startService(t *testing.T, overrides map[string]string) *service {
	t.Helper()
	return startServiceOn(t, pgtest.NewEmptyDatabase(t), freePort(t), overrides)
}

// startServiceOn runs the binary on a given database and port, as a restart does.
func startServiceOn(t *testing.T, dbURL string, port int, overrides map[string]string) *service {
	t.Helper()
	env := baseEnv(dbURL, port)
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	s := &service{URL: "http://127.0.0.1:" + strconv.Itoa(port), DBURL: dbURL, logs: &syncBuffer{}, exited: make(chan error, 1)}
	// The description is of the API; a worker process serves none of it.
	if env["AURIX_ROLE"] != "worker" {
		stopWatching := apiContract.watch(t, "127.0.0.1:"+strconv.Itoa(port), s.URL)
		t.Cleanup(stopWatching)
	}
	s.cmd = exec.Command(binary, "serve")
	s.cmd.Env = envList(env)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	require.NoError(t, s.cmd.Start())
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("service logs:\n%s", s.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.exited:
			t.Fatalf("service exited before it was ready: %v\n%s", err, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not ready after 30s:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (s *service) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Kill())
	require.Error(t, <-s.exited, "a killed process reports its signal")
	s.killed = true
}

// stop sends SIGTERM and waits for a clean exit.
func (s *service) stop(t *testing.T) {
	if s.killed || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("service exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("service did not stop within 40s of SIGTERM")
	}
}

// do sends a request with an optional bearer key and JSON body.
func (s *service) do(t *testing.T, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}

// db opens the service's database for assertions on rows.
func (s *service) db(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DBURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// count counts a table's rows. For river_job it counts the jobs a request
// could have queued: River's periodic maintenance rounds come and go on
// their own, whatever the requests.
func (s *service) count(t *testing.T, table string) int {
	t.Helper()
	query := "SELECT count(*) FROM " + table
	if table == "river_job" {
		query += " WHERE queue <> 'maintenance'"
	}
	var n int
	require.NoError(t, s.db(t).QueryRow(context.Background(), query).Scan(&n))
	return n
}

// registerWebhook points the service's topkee config at url and returns the secret.
func (s *service) registerWebhook(t *testing.T, url string) string {
	t.Helper()
	resp, body := s.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey, map[string]any{"url": url})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var cfg struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(body, &cfg))
	require.Regexp(t, `^aurix_[0-9a-f]{64}$`, cfg.Secret)
	return cfg.Secret
}

// delivery is one request the receiver got.
type delivery struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a partner's endpoint: it records every request and answers
// with the next scripted status (200 once the script runs out).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivery
	statuses []int
	notify   chan struct{}
	// respond, when set, answers instead of the script; n counts from 1.
	respond func(w http.ResponseWriter, r *http.Request, n int)
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses, notify: make(chan struct{}, 1<<16)}
	schemas := newWebhookChecker(t)
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			schemas.check(r.Header.Get("X-Aurix-Event"), body)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{Header: r.Header.Clone(), Body: body, At: time.Now()})
		if rc.respond != nil {
			n, respond := len(rc.got), rc.respond
			rc.mu.Unlock()
			respond(w, r, n)
			rc.notify <- struct{}{}
			return
		}
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "answered %d", status)
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitFor waits until the receiver has n requests.
func (rc *receiver) waitFor(t *testing.T, n int, within time.Duration) []delivery {
	t.Helper()
	deadline := time.After(within)
	for {
		if d := rc.deliveries(); len(d) >= n {
			return d
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d within %s", len(rc.deliveries()), n, within)
		}
	}
}

// partnerVerify is the partner document's verify_signature, in Go.
func partnerVerify(body []byte, signatureHeader, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	expected := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(signatureHeader))
}

// standardWebhooksVerify checks the Standard Webhooks headers the way the
// specification's libraries do, given the "whsec_" form of the secret.
func standardWebhooksVerify(h http.Header, body []byte, whsec string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad webhook-timestamp %q", ts)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s outside tolerance", ts)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, value, _ := strings.Cut(sig, ",")
		if version == "v1" && hmac.Equal([]byte(value), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no matching signature in %q", h.Get("webhook-signature"))
}

func whsec(secret string) string { return "whsec_" + base64.StdEncoding.EncodeToString([]byte(secret)) }

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// newScriptedReceiver answers with respond.
func newScriptedReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := newReceiver(t)
	rc.mu.Lock()
	rc.respond = respond
	rc.mu.Unlock()
	return rc
}
