package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser tests drive headless Chromium (Debian's chromium package, which
// `go tool task test` installs; CHROMIUM names another binary): a page on one origin loads
// /widget.js from the service on another, the visitor clicks, and the browser
// heads for WhatsApp. Nothing leaves the machine: every request to anything
// but 127.0.0.1 is paused by the DevTools Fetch domain, recorded and failed
// before it is sent, and the browser's own resolver maps every other host name
// to nowhere.

// defaultChromium is where Debian's chromium package puts the browser; the
// CHROMIUM variable (read by the test task too) names another one.
const defaultChromium = "/usr/bin/chromium"

const (
	widgetNumber   = "15550783881"
	desktopUA      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	widgetHostID   = "aurix-whatsapp-widget"
	browserTimeout = 2 * time.Minute // the whole browser session of one test
	stepTimeout    = 15 * time.Second
)

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab; lives for the whole test

	mu         sync.Mutex
	blocked    []string    // URLs of the requests to non-local addresses, failed unsent
	navs       chan string // the document (navigation) requests among them
	console    []string
	challenges []*fetch.AuthChallenge // HTTP authentication challenges answered
}

// browserOption changes how newBrowser sets the tab up.
type browserOption func(*browserSetup)

type browserSetup struct {
	login          bool
	user, password string
}

// loggingInAs makes the tab answer HTTP authentication challenges with user
// and password, as a person does in the browser's login prompt. Chromium
// raises that prompt (here Fetch.authRequired) only for a challenge it can
// answer with a user and password, such as Basic: never for Bearer.
func loggingInAs(user, password string) browserOption {
	return func(s *browserSetup) { s.login, s.user, s.password = true, user, password }
}

// chromiumPath is the browser the tests drive.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return defaultChromium
}

func newBrowser(t *testing.T, options ...browserOption) *browser {
	t.Helper()
	var setup browserSetup
	for _, o := range options {
		o(&setup)
	}
	chromium := chromiumPath()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required at %s (go tool task test installs it; or set CHROMIUM): %v", chromium, err)
	}
	// The profile, and TMPDIR for the files Chromium leaves behind (its
	// singleton socket), in one directory removed after the browser exits.
	dir, err := os.MkdirTemp("", "aurix-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Second line of defence: no host name but 127.0.0.1 resolves inside
		// the browser, so nothing (prefetch, background service) can reach out.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("TMPDIR=" + dir),
		// Headless Chromium says "HeadlessChrome", which the service flags as
		// a bot; a visitor's browser does not.
		chromedp.UserAgent(desktopUA),
		chromedp.WindowSize(1280, 800),
	}
	root, cancelRoot := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		cancelRoot()
	})
	b := &browser{t: t, ctx: ctx, navs: make(chan string, 16)}

	// Start the browser and the tab, with no step timeout on this first run:
	// it binds the browser's life to ctx.
	require.NoError(t, chromedp.Do(ctx), "start Chromium")

	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
			t.Logf("blocked requests: %q", b.blocked)
		}
	})

	// Pause every request of the tab: local ones continue, any other is
	// recorded and failed before it leaves the browser.
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return // the tab is gone
			}
			if isLocal(ev.Request.URL) {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			b.mu.Lock()
			b.blocked = append(b.blocked, ev.Request.URL)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
			if ev.ResourceType == network.ResourceTypeDocument {
				select {
				case b.navs <- ev.Request.URL:
				default:
				}
			}
		}
	}()
	if setup.login {
		challenges := chromedp.Events(ctx, fetch.AuthRequired)
		go func() {
			for ev, err := range challenges {
				if err != nil {
					return
				}
				b.mu.Lock()
				b.challenges = append(b.challenges, ev.AuthChallenge)
				b.mu.Unlock()
				_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials,
						Username: setup.user, Password: setup.password}})
			}
		}()
	}
	_, err = chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}},
		HandleAuthRequests: &setup.login})
	require.NoError(t, err, "enable request interception")
	return b
}

// isLocal reports whether a request goes to this machine's loopback address.
func isLocal(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "127.0.0.1"
}

// step runs actions with a bounded wait.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...), what)
}

// open navigates the tab to pageURL and waits until the widget's button is
// shown; it returns the button's aria-label.
func (b *browser) open(pageURL string) string {
	b.t.Helper()
	b.step("navigate to "+pageURL, chromedp.Navigate(pageURL))
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	label, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const host = document.getElementById('`+widgetHostID+`');
		const a = host && host.shadowRoot && host.shadowRoot.querySelector('a');
		return a && a.getBoundingClientRect().width > 0 ? a.getAttribute('aria-label') : null;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	require.NoError(b.t, err, "the widget button did not appear on %s", pageURL)
	return label
}

// clickWidget clicks the button with the mouse, as a visitor does.
func (b *browser) clickWidget() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	type point struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	}
	p, err := chromedp.Run(ctx, chromedp.Evaluate[point](`(() => {
		const r = document.getElementById('`+widgetHostID+`').shadowRoot.querySelector('a').getBoundingClientRect();
		return {x: r.left + r.width / 2, y: r.top + r.height / 2};
	})()`))
	require.NoError(b.t, err)
	b.step("click the widget", chromedp.MouseClickXY(p.X, p.Y))
}

// pressEnterOnWidget focuses the button and presses Enter, as a keyboard
// user does.
func (b *browser) pressEnterOnWidget() {
	b.t.Helper()
	b.step("focus the widget and press Enter",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('`+widgetHostID+`').shadowRoot.querySelector('a').focus()`),
		chromedp.KeyEvent(kb.Enter))
}

// nextNavigation waits for the tab to head for a non-local address and
// returns that URL; the request itself was failed, unsent.
func (b *browser) nextNavigation(within time.Duration) string {
	b.t.Helper()
	select {
	case u := <-b.navs:
		return u
	case <-time.After(within):
		b.t.Fatalf("the page did not navigate away within %s", within)
		return ""
	}
}

// localStorage reads a key of the current page's origin.
func (b *browser) localStorage(key string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`localStorage.getItem(`+strconv.Quote(key)+`) || ''`))
	require.NoError(b.t, err)
	return v
}

// sitePages is a customer's site on its own origin (another port: another
// origin) that embeds the widget with one tag.
func sitePages(t *testing.T, serviceURL string, slowAPI http.HandlerFunc) *httptest.Server {
	t.Helper()
	closedPort := freePort(t) // nothing listens there
	page := func(title, tag string) string {
		return `<!doctype html><html><head><meta charset="utf-8"><title>` + title + `</title>` +
			// Page CSS that would restyle a widget living in the page's DOM.
			`<style>a{color:red!important;display:none}div{opacity:.1}</style>` + tag + `</head>` +
			`<body><h1>` + title + `</h1><p>Spring offers.</p></body></html>`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /landing", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Landing", `<script src="`+serviceURL+`/widget.js" data-whatsapp-number="`+widgetNumber+
			`" data-label="Chat with us on WhatsApp" data-position="left" async></script>`))
	})
	mux.HandleFunc("GET /unreachable", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Unreachable API", `<script src="`+serviceURL+`/widget.js" data-whatsapp-number="+1 (555) 078-3881"`+
			` data-api-base="http://127.0.0.1:`+strconv.Itoa(closedPort)+`"></script>`))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Slow API", `<script src="`+serviceURL+`/widget.js" data-whatsapp-number="`+widgetNumber+`"`+
			` data-api-base="http://`+r.Host+`/slow-api/"></script>`))
	})
	mux.HandleFunc("POST /slow-api/api/widget/click", slowAPI)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type storedClick struct {
	CorrelationID, DeviceID, ClickURL, ParsedParams, UserAgent string
	IsBot                                                      bool
}

func storedClicks(t *testing.T, svc *service) []storedClick {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	rows, err := svc.db(t).Query(ctx,
		"SELECT correlation_id, device_id, click_url, parsed_params::text, user_agent, is_bot FROM inbound_sources ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var out []storedClick
	for rows.Next() {
		var c storedClick
		require.NoError(t, rows.Scan(&c.CorrelationID, &c.DeviceID, &c.ClickURL, &c.ParsedParams, &c.UserAgent, &c.IsBot))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestWidgetClickInRealBrowser: a visitor on a customer's page clicks the
// widget; the click is stored with its page URL and UTM parameters, and the
// browser heads for the wa.me link carrying that click's reference. A second
// visit (keyboard this time) keeps the same device id.
func TestWidgetClickInRealBrowser(t *testing.T) {
	// Not parallel: the widget falls back to the plain link when the service
	// takes over 1.5 s, and a machine busy with every other test could.
	svc := startService(t, nil)
	site := sitePages(t, svc.URL, http.NotFound)
	b := newBrowser(t)

	landing := site.URL + "/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Test123"
	require.NotEqual(t, svc.URL, site.URL, "the page and the service are on different origins")

	label := b.open(landing)
	assert.Equal(t, "Chat with us on WhatsApp", label, "data-label is the button's accessible name")
	b.clickWidget()
	first := b.nextNavigation(stepTimeout)

	clicks := storedClicks(t, svc)
	require.Len(t, clicks, 1)
	c := clicks[0]
	assert.Equal(t, landing, c.ClickURL)
	assert.JSONEq(t, `{"utm_source":"google","utm_medium":"cpc","utm_campaign":"spring","gclid":"Test123"}`, c.ParsedParams)
	assert.Equal(t, desktopUA, c.UserAgent)
	assert.False(t, c.IsBot)
	require.Regexp(t, `^O-[A-Za-z0-9]{6}$`, c.CorrelationID)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, c.DeviceID, "a UUID made by the widget")

	require.True(t, strings.HasPrefix(first, "https://wa.me/"+widgetNumber+"?text="), first)
	assert.Contains(t, first, "%5Bref%3A%20"+c.CorrelationID+"%5D")
	parsed, err := url.Parse(first)
	require.NoError(t, err)
	assert.Equal(t, "Hi! I'd like to know more. [ref: "+c.CorrelationID+"]", parsed.Query().Get("text"))

	// Come back to the page and use the keyboard this time.
	b.open(landing)
	assert.Equal(t, c.DeviceID, b.localStorage("aurix_device_id"), "the device id is kept in localStorage")
	b.pressEnterOnWidget()
	second := b.nextNavigation(stepTimeout)

	clicks = storedClicks(t, svc)
	require.Len(t, clicks, 2)
	again := clicks[1]
	assert.Equal(t, c.DeviceID, again.DeviceID, "a returning visitor keeps the device id")
	assert.NotEqual(t, c.CorrelationID, again.CorrelationID)
	assert.Equal(t, landing, again.ClickURL)
	assert.Contains(t, second, "%5Bref%3A%20"+again.CorrelationID+"%5D")

	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Equal(t, []string{first, second}, b.blocked, "the only non-local requests are the two WhatsApp navigations, failed unsent")
}

// TestWidgetFallsBackToPlainLink: when the API cannot be reached, or is slower
// than the widget waits, the visitor still reaches WhatsApp, on the plain link.
func TestWidgetFallsBackToPlainLink(t *testing.T) {
	svc := startService(t, nil)
	var mu sync.Mutex
	var slowBodies []string
	slowAPI := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		slowBodies = append(slowBodies, string(body))
		mu.Unlock()
		select { // answer far too late, or not at all once the widget gave up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"whatsapp_url":"https://wa.me/`+widgetNumber+`?text=too-late"}`)
		}
	}
	site := sitePages(t, svc.URL, slowAPI)
	b := newBrowser(t)

	t.Run("unreachable API", func(t *testing.T) {
		b.t = t
		b.open(site.URL + "/unreachable")
		b.clickWidget()
		assert.Equal(t, "https://wa.me/"+widgetNumber, b.nextNavigation(stepTimeout))
	})

	t.Run("slow API", func(t *testing.T) {
		b.t = t
		b.open(site.URL + "/slow")
		start := time.Now()
		b.clickWidget()
		got := b.nextNavigation(stepTimeout)
		waited := time.Since(start)
		assert.Equal(t, "https://wa.me/"+widgetNumber, got)
		assert.GreaterOrEqual(t, waited, 1400*time.Millisecond, "the widget waits for the API about 1.5 s")
		assert.Less(t, waited, 5*time.Second, "and no longer")

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, slowBodies, 1, "the widget did call the API")
		var sent struct {
			ClickURL string `json:"click_url"`
			DeviceID string `json:"device_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(slowBodies[0]), &sent))
		assert.Equal(t, site.URL+"/slow", sent.ClickURL)
		assert.NotEmpty(t, sent.DeviceID)
	})

	assert.Empty(t, storedClicks(t, svc), "no click reached the service")
}
