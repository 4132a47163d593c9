package webhook_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/webhook"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// senderNow is the injected clock: webhook-timestamp must be its Unix time.
var senderNow = time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC)

const (
	senderUserAgent = "Aurix-Webhooks/1.4.2"
	// senderPayload is a widget.click body with the characters that most
	// often break signatures: "&" and non-ASCII UTF-8.
	senderPayload = `{"event_type":"widget.click","event_id":"evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD",` +
		`"timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z",` +
		`"device_id":"550e8400-e29b-41d4-a716-446655440000",` +
		`"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123&q=caf%C3%A9",` +
		`"parsed_params":{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"},` +
		`"user_agent":"Mozilla/5.0 (Zürich)","ip_address":"192.168.1.1"}}`
	senderEventID = "evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD"
	senderSecret  = "aurix_78eb6c57330eedb25ec2fdf96078f09e9bd1349e75109b0a8faa625c1d1f76f3"
)

// receivedRequest is what the test receiver saw.
type receivedRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an httptest server that records every request it gets.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []receivedRequest
}

// newReceiver starts a receiver that records each request and then answers
// with respond.
func newReceiver(t *testing.T, respond http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, receivedRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []receivedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedRequest(nil), rc.reqs...)
}

// newTestSender builds a Sender that may reach the loopback test server,
// with a fixed clock; change lets a test adjust the options.
func newTestSender(change func(*webhook.Options)) *webhook.Sender {
	o := webhook.Options{
		Timeout:             5 * time.Second,
		AllowPrivateTargets: true,
		UserAgent:           senderUserAgent,
		Now:                 func() time.Time { return senderNow },
	}
	if change != nil {
		change(&o)
	}
	return webhook.NewSender(o)
}

func request(url string, secrets ...string) ports.WebhookRequest {
	ss := make([]domain.Secret, len(secrets))
	for i, s := range secrets {
		ss[i] = domain.NewSecret(s)
	}
	return ports.WebhookRequest{
		URL:       url,
		EventID:   senderEventID,
		EventType: domain.EventWidgetClick,
		Attempt:   3,
		Payload:   []byte(senderPayload),
		Secrets:   ss,
	}
}

func TestSender_SendsSignedRequestPartnersCanVerify(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "accepted")
	})

	resp, err := newTestSender(nil).Send(t.Context(), request(rc.URL+"/hooks/aurix", senderSecret))
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, "accepted", string(resp.Body))

	reqs := rc.requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/hooks/aurix", got.Path)
	assert.Equal(t, senderPayload, string(got.Body), "body bytes are the payload, unchanged")
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, senderUserAgent, got.Header.Get("User-Agent"))
	assert.Equal(t, "widget.click", got.Header.Get("X-Aurix-Event"))
	assert.Equal(t, "3", got.Header.Get("X-Aurix-Attempt"))

	hub := got.Header.Get("x-hub-signature")
	assert.Regexp(t, `^[0-9a-f]{64}$`, hub)
	assert.True(t, verifyHubSignature(got.Body, hub, senderSecret), "partner verify_signature accepts x-hub-signature")
	assert.False(t, verifyHubSignature(got.Body, hub, senderSecret+"x"), "another secret does not verify")

	assert.Equal(t, senderEventID, got.Header.Get("webhook-id"))
	assert.Equal(t, "1706005800", got.Header.Get("webhook-timestamp"), "the injected clock's Unix seconds")
	sig := got.Header.Get("webhook-signature")
	assert.Len(t, strings.Fields(sig), 1, "one secret, one signature entry")
	assert.True(t, verifyStandardWebhooks(whsecOf(senderSecret), senderEventID, senderNow.Unix(), string(got.Body), sig),
		"Standard Webhooks verifier accepts webhook-signature %q", sig)
}

// TestSender_SignsWithEveryValidSecret checks rotation: x-hub-signature uses
// the newest secret, webhook-signature carries one entry per valid secret,
// newest first, so partners on either secret can verify.
func TestSender_SignsWithEveryValidSecret(t *testing.T) {
	t.Parallel()
	const newest, previous = "aurix_new_secret", "aurix_old_secret"
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	resp, err := newTestSender(nil).Send(t.Context(), request(rc.URL, newest, previous))
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	reqs := rc.requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	assert.True(t, verifyHubSignature(got.Body, got.Header.Get("x-hub-signature"), newest))
	assert.False(t, verifyHubSignature(got.Body, got.Header.Get("x-hub-signature"), previous))

	entries := strings.Fields(got.Header.Get("webhook-signature"))
	require.Len(t, entries, 2)
	assert.True(t, verifyStandardWebhooks(whsecOf(newest), senderEventID, senderNow.Unix(), string(got.Body), entries[0]), "first entry: newest secret")
	assert.True(t, verifyStandardWebhooks(whsecOf(previous), senderEventID, senderNow.Unix(), string(got.Body), entries[1]), "second entry: previous secret")
}

func TestSender_RefusesToSendUnsigned(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	_, err := newTestSender(nil).Send(t.Context(), request(rc.URL))
	require.Error(t, err)
	assert.Empty(t, rc.requests(), "nothing unsigned reaches the partner")
}

func TestSender_ReturnsEveryAnswerAsResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		body           string
		wantRetryAfter time.Duration
	}{
		{name: "500 is a response, not an error", status: http.StatusInternalServerError, body: "boom"},
		{name: "410 Gone", status: http.StatusGone, body: "gone"},
		{name: "429 with delay-seconds", status: http.StatusTooManyRequests, retryAfter: "120", wantRetryAfter: 2 * time.Minute},
		// HTTP dates have whole seconds: 10:31:30 is 89.877s after the
		// injected 10:30:00.123.
		{name: "503 with HTTP date relative to the injected clock", status: http.StatusServiceUnavailable,
			retryAfter: "Tue, 23 Jan 2024 10:31:30 GMT", wantRetryAfter: 89*time.Second + 877*time.Millisecond},
		{name: "Retry-After in the past", status: http.StatusServiceUnavailable,
			retryAfter: senderNow.Add(-time.Hour).Format(http.TimeFormat)},
		{name: "garbage Retry-After", status: http.StatusTooManyRequests, retryAfter: "soon"},
		{name: "Retry-After capped at one day", status: http.StatusTooManyRequests, retryAfter: "999999999", wantRetryAfter: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			resp, err := newTestSender(nil).Send(t.Context(), request(rc.URL, senderSecret))
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.body, string(resp.Body))
			assert.Equal(t, tt.wantRetryAfter, resp.RetryAfter)
		})
	}
}

func TestSender_DoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	tests := []struct {
		name     string
		location string
	}{
		{name: "other host", location: target.URL + "/internal"},
		{name: "same host", location: "/moved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			origin := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/hook" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				http.Redirect(w, r, tt.location, http.StatusFound)
			})
			resp, err := newTestSender(nil).Send(t.Context(), request(origin.URL+"/hook", senderSecret))
			require.NoError(t, err)
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			reqs := origin.requests()
			require.Len(t, reqs, 1, "the redirect target is never requested")
			assert.Equal(t, "/hook", reqs[0].Path)
		})
	}
	assert.Empty(t, target.requests(), "the redirect target on another host is never requested")
}

func TestSender_ResponseExcerptIsCutAt4KiB(t *testing.T) {
	t.Parallel()
	require.Equal(t, 4096, webhook.MaxResponseExcerpt)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write(big)
		})
		resp, err := newTestSender(nil).Send(t.Context(), request(rc.URL, senderSecret))
		require.NoError(t, err)
		assert.Equal(t, status, resp.StatusCode)
		require.Len(t, resp.Body, 4096, "status %d", status)
		assert.Equal(t, big[:4096], resp.Body)
	}
}

func TestSender_SlowServerTimesOut(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	})
	s := newTestSender(func(o *webhook.Options) { o.Timeout = 200 * time.Millisecond })

	_, err := s.Send(t.Context(), request(rc.URL, senderSecret))
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "a timeout, not some other failure: %v", err)
}

// TestSender_SlowBodyOf2xxIsNotASuccess: a 2xx whose body does not arrive
// within the timeout did not arrive whole, so it must be an error.
func TestSender_SlowBodyOf2xxIsNotASuccess(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	// Long enough for the headers to arrive on a busy machine.
	s := newTestSender(func(o *webhook.Options) { o.Timeout = 1500 * time.Millisecond })

	resp, err := s.Send(t.Context(), request(rc.URL, senderSecret))
	require.Error(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "partial", string(resp.Body))
}

func TestSender_BlocksNonPublicTargets(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	_, port, err := net.SplitHostPort(rc.Listener.Addr().String())
	require.NoError(t, err)
	s := newTestSender(func(o *webhook.Options) { o.AllowPrivateTargets = false })

	for _, url := range []string{
		rc.URL, // http://127.0.0.1:port
		"http://localhost:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://10.255.255.1:" + port + "/",
		"http://169.254.169.254:" + port + "/latest/meta-data/",
		"http://[::ffff:0:7f00:1]:" + port + "/", // IPv4-translated 127.0.0.1
		"http://[::7f00:1]:" + port + "/",        // IPv4-compatible 127.0.0.1
		"http://[::2]:" + port + "/",             // reserved ::/8
		"http://[64:ff9b:1::7f00:1]:" + port + "/",
		"http://[100::1]:" + port + "/",
		"http://[2001:2::1]:" + port + "/",
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			_, err := s.Send(t.Context(), request(url, senderSecret))
			require.Error(t, err)
			assert.True(t, errors.Is(err, webhook.ErrBlockedAddress), "want ErrBlockedAddress, got %v", err)
		})
	}
	t.Cleanup(func() { assert.Empty(t, rc.requests(), "the blocked server receives nothing") })
}
