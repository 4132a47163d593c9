package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/http/openapi"
)

// problem is an RFC 9457 body as the service writes it.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// requireProblem asserts that a response is an application/problem+json body
// with the response's status (HEAD answers carry no body to parse).
func requireProblem(t *testing.T, method string, resp *http.Response, raw []byte) problem {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "%d %s", resp.StatusCode, raw)
	var p problem
	if method == http.MethodHead {
		return p
	}
	require.NoError(t, json.Unmarshal(raw, &p), "problem body: %q", raw)
	require.Equal(t, resp.StatusCode, p.Status, string(raw))
	require.NotEmpty(t, p.Type, string(raw))
	require.NotEmpty(t, p.Title, string(raw))
	return p
}

// concretePath fills a described path's parameters with values the router
// accepts.
func concretePath(tmpl string) string {
	return strings.NewReplacer("{service}", "topkee", "{conversation_id}", "1",
		"{event_id}", "01a21917-e8c8-7007-93a6-c254c3e9e45a").Replace(tmpl)
}

// probedMethods are tried on every path: the standard ones, TRACE and an
// extension method.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, "PROPFIND"}

// TestWrongMethodIs405WithAllow walks every path of the OpenAPI description
// with every method it does not describe: each answer is 405 problem+json
// with an Allow header naming the path's methods, with the right key, with
// another service's key and with none (the method is judged before the key).
// A CORS preflight is the only OPTIONS the widget route serves, so a plain
// OPTIONS there is a wrong method too. River UI's prefix is River UI's own.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_ADMIN_PASSWORD": "s3cret-admin"})
	doc, err := openapi.Load()
	require.NoError(t, err)
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	checked := 0
	for _, tmpl := range paths {
		if strings.HasPrefix(tmpl, "/riverui") {
			continue
		}
		described := map[string]bool{}
		for m := range doc.Paths.Value(tmpl).Operations() {
			described[m] = true
		}
		// The methods a client may use: OPTIONS only as a preflight.
		var usable []string
		for m := range described {
			if m != http.MethodOptions {
				usable = append(usable, m)
			}
		}
		path := concretePath(tmpl)
		for _, method := range probedMethods {
			if described[method] && method != http.MethodOptions {
				continue
			}
			for _, key := range []string{topkeeKey, otherKey, ""} {
				what := fmt.Sprintf("%s %s (key %q)", method, path, key)
				var body any
				if method != http.MethodGet && method != http.MethodHead && method != http.MethodTrace {
					body = `{"click_url":"https://example.com/","url":"https://example.com/hook"}`
				}
				resp, raw := svc.do(t, method, path, key, body)
				require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s: %s", what, raw)
				requireProblem(t, method, resp, raw)
				allow := strings.Split(resp.Header.Get("Allow"), ", ")
				for _, m := range usable {
					assert.Contains(t, allow, m, "%s: Allow %q lacks a described method", what, resp.Header.Get("Allow"))
				}
				for _, m := range allow {
					assert.True(t, described[m], "%s: Allow %q names %s, which the path does not have", what, resp.Header.Get("Allow"), m)
				}
				assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "%s: a wrong method is not an authentication problem", what)
				checked++
			}
		}
	}
	require.Greater(t, checked, 100)
	for _, table := range appTables {
		assert.Equal(t, 0, svc.count(t, table), "rows in %s after wrong-method requests", table)
	}
}

// TestWidgetOptionsWithoutPreflightRecordsNothing: only POST records a click.
// An OPTIONS without Access-Control-Request-Method is not a CORS preflight:
// it gets 405 (Allow: POST) and writes no click, event or delivery, while a
// real preflight is still answered.
func TestWidgetOptionsWithoutPreflightRecordsNothing(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WIDGET_ALLOWED_ORIGINS": "https://shop.example"})
	rc := newReceiver(t)
	svc.registerWebhook(t, rc.URL)

	for _, origin := range []string{"", "https://shop.example"} {
		req, err := http.NewRequest(http.MethodOptions, svc.URL+"/api/widget/click",
			strings.NewReader(`{"click_url":"https://example.com/?utm_source=options"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw := readAll(t, resp)
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "origin %q: %s", origin, raw)
		assert.Equal(t, "POST", resp.Header.Get("Allow"))
		requireProblem(t, http.MethodOptions, resp, raw)
	}
	for _, table := range []string{"inbound_sources", "outbox", "webhook_deliveries", "river_job"} {
		assert.Equal(t, 0, svc.count(t, table), "an OPTIONS left rows in %s", table)
	}

	req, err := http.NewRequest(http.MethodOptions, svc.URL+"/api/widget/click", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "a real preflight is answered")
	assert.Equal(t, "https://shop.example", resp.Header.Get("Access-Control-Allow-Origin"))
	svc.click(t, partnerClickURL, "")
	assert.Equal(t, 1, svc.count(t, "inbound_sources"))
}

// rawRequest sends request bytes as they are over TCP and reads one answer.
func rawRequest(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(request))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "answer to %q", request)
	return resp, readAll(t, resp)
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// TestAbsoluteFormIsNeverRedirectedOffSite: gorilla/mux's path cleaning
// built its redirect from the request URL, so "GET http://evil.example//x"
// was sent to evil.example. Paths are not cleaned or redirected at all: a
// path that is not in canonical form is no route (404), and an absolute-form
// request for a real path is served like any other.
func TestAbsoluteFormIsNeverRedirectedOffSite(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	addr := strings.TrimPrefix(svc.URL, "http://")
	tests := []struct {
		target, host string
		status       int
	}{
		{"http://evil.example//healthz", "evil.example", http.StatusNotFound},
		{"http://evil.example/./healthz", "evil.example", http.StatusNotFound},
		{"http://evil.example/x/../healthz", "evil.example", http.StatusNotFound},
		{"https://evil.example//healthz?a=1", "evil.example", http.StatusNotFound},
		{"http://evil.example//api/integrations/topkee/leads", "evil.example", http.StatusNotFound},
		{"//healthz", "evil.example", http.StatusNotFound},
		{"///evil.example/healthz", addr, http.StatusNotFound},
		{"/api/../healthz", addr, http.StatusNotFound},
		{"/healthz/.", addr, http.StatusNotFound},
		{"http://evil.example/healthz", "evil.example", http.StatusOK},
		{"http://" + addr + "/healthz", addr, http.StatusOK},
	}
	for _, tt := range tests {
		resp, raw := rawRequest(t, addr, "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\nConnection: close\r\n\r\n")
		assert.Equal(t, tt.status, resp.StatusCode, "GET %s: %s", tt.target, raw)
		assert.Empty(t, resp.Header.Get("Location"), "GET %s is not redirected", tt.target)
		if resp.StatusCode >= 400 {
			requireProblem(t, http.MethodGet, resp, raw)
		}
	}
}

// TestWidgetRateLimitSharesAnIPv6Slash64: one IPv6 client holds a whole /64,
// so the limit counts per /64; IPv4 stays per address, and an IPv4-mapped
// IPv6 address counts as its IPv4 address.
func TestWidgetRateLimitSharesAnIPv6Slash64(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WIDGET_RATE_LIMIT": "2/min", "AURIX_TRUSTED_PROXIES": "127.0.0.1/32"})
	post := func(ip string) int {
		req, err := http.NewRequest(http.MethodPost, svc.URL+"/api/widget/click", jsonBody(`{"click_url":"https://example.com/"}`))
		require.NoError(t, err)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		readAll(t, resp)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusCreated, post("2001:db8:1:2::1"))
	require.Equal(t, http.StatusCreated, post("2001:db8:1:2::2"))
	assert.Equal(t, http.StatusTooManyRequests, post("2001:db8:1:2:ffff:ffff:ffff:ffff"), "another address of the same /64")
	assert.Equal(t, http.StatusTooManyRequests, post("2001:DB8:1:2:0:0:0:99"), "the same /64, spelled differently")
	assert.Equal(t, http.StatusCreated, post("2001:db8:1:3::1"), "the next /64 is another client")

	require.Equal(t, http.StatusCreated, post("198.51.100.9"))
	require.Equal(t, http.StatusCreated, post("::ffff:198.51.100.9"))
	assert.Equal(t, http.StatusTooManyRequests, post("198.51.100.9"), "IPv4-mapped counts as the IPv4 address")
	assert.Equal(t, http.StatusCreated, post("198.51.100.10"), "IPv4 stays per address")
	assert.Equal(t, 6, svc.count(t, "inbound_sources"))
}

// TestPutWebhookConfigRefusesNonPublicTargets: with private targets not
// allowed, every spelling of a non-public or malformed target is 400 naming
// url and stores nothing; public targets on any valid port are accepted.
func TestPutWebhookConfigRefusesNonPublicTargets(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "false"})
	for _, target := range ssrfTargets {
		resp, raw := svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey, map[string]any{"url": target})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", target, raw)
		p := requireProblem(t, http.MethodPut, resp, raw)
		require.NotEmpty(t, p.Errors, "%s: %s", target, raw)
		assert.Equal(t, "url", p.Errors[0].Field, target)
	}
	assert.Equal(t, 0, svc.count(t, "webhook_configs"))

	for _, target := range []string{"https://8.8.8.8/hook", "https://8.8.8.8:1/hook", "https://8.8.8.8:65535/hook",
		"https://[2606:4700:4700::1111]:8443/hook", "https://[::ffff:8.8.8.8]/hook", "https://[64:ff9b::808:808]/hook"} {
		resp, raw := svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey, map[string]any{"url": target})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", target, raw)
	}
	assert.Equal(t, 1, svc.count(t, "webhook_configs"))
}

// ssrfTargets are webhook URLs that must be refused when private targets are
// not allowed: non-public addresses in many spellings, and malformed ports.
// None needs DNS.
var ssrfTargets = []string{
	"https://127.0.0.1/hook",
	"https://2130706433/hook",             // decimal 127.0.0.1
	"https://0177.0.0.1/hook",             // octal
	"https://0x7f.0.0.1/hook",             // hex
	"https://0x7f000001/hook",             // hex, one part
	"https://127.1/hook",                  // shortened
	"https://127.0.0.1./hook",             // trailing dot
	"https://0/hook",                      // 0.0.0.0
	"https://10.0.0.1/hook",               // private
	"https://169.254.169.254/latest/",     // cloud metadata
	"https://100.64.0.1/hook",             // CGNAT
	"https://[::1]/hook",                  // loopback
	"https://[::]/hook",                   // unspecified
	"https://[::ffff:127.0.0.1]/hook",     // IPv4-mapped
	"https://[::ffff:7f00:1]/hook",        // IPv4-mapped, hex
	"https://[::ffff:0:7f00:1]/hook",      // IPv4-translated (SIIT)
	"https://[::ffff:0:a9fe:a9fe]/hook",   // IPv4-translated metadata
	"https://[::7f00:1]/hook",             // IPv4-compatible
	"https://[::808:808]/hook",            // IPv4-compatible: reserved ::/8
	"https://[::2]/hook",                  // reserved ::/8
	"https://[64:ff9b::7f00:1]/hook",      // NAT64 of loopback
	"https://[64:ff9b::10.0.0.1]/hook",    // NAT64, dotted
	"https://[64:ff9b:1::808:808]/hook",   // local-use NAT64
	"https://[2002:7f00:1::1]/hook",       // 6to4 of loopback
	"https://[2002:a9fe:a9fe::1]/hook",    // 6to4 of metadata
	"https://[2001:0:4136:e378::1]/hook",  // Teredo
	"https://[2001:2::1]/hook",            // benchmarking
	"https://[2001:db8::1]/hook",          // documentation
	"https://[3fff::1]/hook",              // documentation
	"https://[fc00::1]/hook",              // unique-local
	"https://[fd00:ec2::254]/hook",        // unique-local metadata
	"https://[fe80::1]/hook",              // link-local
	"https://[fe80::1%25eth0]/hook",       // link-local with a zone
	"https://[2606:4700::1111%25lo]/hook", // zone on a public address
	"https://[fec0::1]/hook",              // site-local
	"https://[ff02::1]/hook",              // multicast
	"https://[100::1]/hook",               // discard-only
	"https://[5f00::1]/hook",              // SRv6
	"https://8.8.8.8:99999/hook",          // port out of range
	"https://8.8.8.8:65536/hook",
	"https://8.8.8.8:0/hook",
	"https://8.8.8.8:0443/hook",
	"https://8.8.8.8:/hook",
	"https://8.8.8.8:https/hook",
	"https://8.8.8.8:-1/hook",
	"https://[2606:4700::1111]:0/hook",
	"https://user:pass@8.8.8.8/hook",
	"https://１２７.０.０.１/hook", // full-width digits
	"https://%31%32%37.0.0.1/hook",
	"https://[127.0.0.1]/hook",
	"https://2606:4700::1111/hook",
	"https://192.0.2.1/hook",       // TEST-NET-1
	"https://198.18.0.1/hook",      // benchmarking
	"https://224.0.0.1/hook",       // multicast
	"https://255.255.255.255/hook", // broadcast
}

// TestServicesSharingAKeyVariableStopStartUp: "a-b" and "a_b" would share
// A_B_INTEGRATION_API_KEY; the binary refuses to start and names both.
func TestServicesSharingAKeyVariableStopStartUp(t *testing.T) {
	t.Parallel()
	env := baseEnv("postgres://postgres@127.0.0.1:1/none?sslmode=disable", freePort(t))
	env["AURIX_INTEGRATIONS"] = "topkee,a-b,a_b"
	env["A_B_INTEGRATION_API_KEY"] = "shared-key-value"
	cmd := exec.Command(binary, "serve")
	cmd.Env = envList(env)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "start-up must fail")
	assert.Contains(t, string(out), "a-b")
	assert.Contains(t, string(out), "a_b")
	assert.Contains(t, string(out), "A_B_INTEGRATION_API_KEY")
	assert.NotContains(t, string(out), "shared-key-value")
}

// appTables are every table the service writes, River's jobs included.
var appTables = []string{"inbound_sources", "conversations", "whatsapp_messages", "leads", "outbox",
	"webhook_configs", "webhook_deliveries", "webhook_attempts", "river_job", "aurix_erasures"}

// jsonOperations are the operations that read a JSON body, each with a body
// it accepts (the webhook URL is public: the service under test allows
// private targets, so it is accepted either way).
func jsonOperations(conversation string) []struct{ method, path, key, body string } {
	return []struct{ method, path, key, body string }{
		{http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=ct"}`},
		{http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://8.8.8.8/hook","is_active":false}`},
		{http.MethodPatch, "/api/conversations/" + conversation + "/lead", agentKey, `{"lead_data":{"intent":"pricing"}}`},
		{http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, `{"since":"2024-01-01"}`},
	}
}

// sendJSON posts body with the given Content-Type ("" sends none).
func (s *service) sendJSON(t *testing.T, method, path, key, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp, readAll(t, resp)
}

// conversationOf makes a conversation through a signed WhatsApp message and
// returns its id.
func (s *service) conversationOf(t *testing.T) string {
	t.Helper()
	body := sample(t, "text-with-ref.json")
	status, raw := s.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status, string(raw))
	leads := s.list(t, "/api/integrations/topkee/leads")["data"].([]any)
	require.NotEmpty(t, leads)
	return fmt.Sprint(leads[0].(map[string]any)["conversation_id"])
}

// TestJSONBodiesNeedAJSONContentType: the API is JSON in and out; a body
// sent as anything but application/json (a charset other than UTF-8
// included) is 415 and changes nothing, whatever it holds.
func TestJSONBodiesNeedAJSONContentType(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	conv := svc.conversationOf(t)
	for _, op := range jsonOperations(conv) {
		before := map[string]int{}
		for _, table := range appTables {
			before[table] = svc.count(t, table)
		}
		for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/xml", "application/jsonx", "application/json; charset=latin1", "application/json, text/plain"} {
			resp, raw := svc.sendJSON(t, op.method, op.path, op.key, ct, op.body)
			require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "%s %s as %q: %s", op.method, op.path, ct, raw)
			p := requireProblem(t, op.method, resp, raw)
			assert.Contains(t, p.Detail, "application/json")
		}
		for _, table := range appTables {
			assert.Equal(t, before[table], svc.count(t, table), "%s %s: rows in %s", op.method, op.path, table)
		}
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
			resp, raw := svc.sendJSON(t, op.method, op.path, op.key, ct, op.body)
			assert.Less(t, resp.StatusCode, 300, "%s %s as %q: %s", op.method, op.path, ct, raw)
		}
	}
}

// TestBodiesMustBeUTF8JSONObjects: invalid UTF-8 is refused, not silently
// replaced (encoding/json turns it into U+FFFD, so a stored value would
// differ from the one sent), and a body that is not a JSON object (null
// included) is 400.
func TestBodiesMustBeUTF8JSONObjects(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	conv := svc.conversationOf(t)
	bad := map[string]string{
		"invalid UTF-8 in a value": `{"click_url":"https://example.com/?q=\xff","url":"https://8.8.8.8/\xff","lead_data":{"intent":"\xff"},"since":"2024-01-01\xff"}`,
		"overlong UTF-8":           "{\"click_url\":\"https://example.com/\xc0\xaf\",\"url\":\"https://8.8.8.8/\xc0\xaf\",\"lead_data\":{\"intent\":\"\xc0\xaf\"},\"since\":\"\xc0\xaf\"}",
		"null":                     `null`,
		"array":                    `[]`,
	}
	for _, op := range jsonOperations(conv) {
		for name, body := range bad {
			resp, raw := svc.sendJSON(t, op.method, op.path, op.key, "application/json", body)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s %s: %s", op.method, op.path, name, raw)
			requireProblem(t, op.method, resp, raw)
		}
	}
	assert.Equal(t, 0, svc.count(t, "webhook_configs"))
	assert.Equal(t, 0, svc.count(t, "inbound_sources"))
	resp, raw := svc.do(t, http.MethodGet, "/api/conversations/"+conv+"/lead", agentKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, string(raw), "intent", "no lead_data was written")
}

// TestDuplicatedAuthorizationIsRefused: Authorization is a singleton field;
// a request carrying two (whichever comes first) is 401, so a proxy and this
// service can never judge different keys.
func TestDuplicatedAuthorizationIsRefused(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	conv := svc.conversationOf(t)
	for _, rt := range []struct{ path, key string }{
		{"/api/integrations/topkee/leads", topkeeKey},
		{"/api/integrations/topkee/webhook-config", topkeeKey},
		{"/api/conversations/" + conv + "/lead", agentKey},
	} {
		for _, values := range [][]string{
			{"Bearer " + rt.key, "Bearer wrong"},
			{"Bearer wrong", "Bearer " + rt.key},
			{"Bearer " + rt.key, "Bearer " + rt.key},
		} {
			req, err := http.NewRequest(http.MethodGet, svc.URL+rt.path, nil)
			require.NoError(t, err)
			req.Header["Authorization"] = values
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			raw := readAll(t, resp)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s with %d Authorization headers: %s", rt.path, len(values), raw)
			requireProblem(t, http.MethodGet, resp, raw)
		}
		resp, raw := svc.do(t, http.MethodGet, rt.path, rt.key, nil)
		require.NotEqual(t, http.StatusUnauthorized, resp.StatusCode, "one Authorization header still works: %s", raw)
	}
}
