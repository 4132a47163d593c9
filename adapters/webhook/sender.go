package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// MaxResponseExcerpt is how much of a receiver's answer is kept.
const MaxResponseExcerpt = 4 << 10

// ErrBlockedAddress marks a target that resolved to a non-public address.
var ErrBlockedAddress = errors.New("target address is not public")

// Options configure a Sender.
type Options struct {
	// Timeout bounds one attempt, connection to last byte.
	Timeout time.Duration
	// AllowPrivateTargets lifts the public-address check (development, tests).
	AllowPrivateTargets bool
	// UserAgent is sent on every request.
	UserAgent string
	// Transport wraps the base transport (for tracing); nil leaves it as is.
	Transport func(http.RoundTripper) http.RoundTripper
	// Now tells the time for webhook-timestamp.
	Now func() time.Time
}

// Sender posts deliveries.
type Sender struct {
	client    *http.Client
	userAgent string
	now       func() time.Time
}

var _ ports.WebhookSender = (*Sender)(nil)

// NewSender builds a Sender whose dialer refuses non-public addresses at
// connection time, after DNS resolution, so that a host that resolves (or
// rebinds) to an internal address is blocked.
func NewSender(o Options) *Sender {
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivateTargets {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
			}
			if !domain.IsPublicUnicast(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrBlockedAddress, ap.Addr())
			}
			return nil
		}
	}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 nil, // a proxy would hide the real target from the dialer's check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
	}
	if o.Transport != nil {
		rt = o.Transport(spanURLRedactor{next: rt})
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Sender{
		client: &http.Client{
			Transport: rt,
			Timeout:   o.Timeout,
			// A 3xx is a failed attempt: following it could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: o.UserAgent,
		now:       now,
	}
}

// Send makes one signed POST. Every answer is returned as a response; only a
// failure to get one is an error.
func (s *Sender) Send(ctx context.Context, r ports.WebhookRequest) (ports.WebhookResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Payload))
	if err != nil {
		return ports.WebhookResponse{}, fmt.Errorf("build request: %w", redactError(err))
	}
	if len(r.Secrets) == 0 {
		return ports.WebhookResponse{}, errors.New("no signing secret")
	}
	ts := s.now().Unix()
	sigs := make([]string, len(r.Secrets))
	for i, sec := range r.Secrets {
		sigs[i] = StandardSignature(sec.Reveal(), r.EventID, ts, r.Payload)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.userAgent)
	h.Set("x-hub-signature", HubSignature(r.Secrets[0].Reveal(), r.Payload))
	h.Set("webhook-id", r.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	// One entry per valid secret, newest first, space separated, as
	// Standard Webhooks defines for rotation.
	h.Set("webhook-signature", strings.Join(sigs, " "))
	h.Set("X-Aurix-Event", string(r.EventType))
	h.Set("X-Aurix-Attempt", strconv.Itoa(r.Attempt))

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return ports.WebhookResponse{Duration: time.Since(start)}, describe(err)
	}
	defer resp.Body.Close()
	excerpt, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseExcerpt))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out := ports.WebhookResponse{StatusCode: resp.StatusCode, Body: excerpt, Duration: time.Since(start),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), s.now())}
	if readErr != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The answer did not arrive whole within the timeout: not a success.
		return out, fmt.Errorf("read response: %w", describe(readErr))
	}
	return out, nil
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// describe labels transport errors with what a partner can act on. The
// text is stored with the attempt, shown in the delivery log and may be
// logged: the URL in it is redacted.
func describe(err error) error {
	err = redactError(err)
	if errors.Is(err, ErrBlockedAddress) {
		return fmt.Errorf("refused to connect: %w", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}
