package domain_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/payloads.golden from the current code")

// goldenEvents builds one event of every type the way the aggregates
// record them, with values that exercise the encoder: HTML characters
// (kept as they are), quotes, control characters, U+2028/U+2029, non-ASCII
// text, every kind of parsed_params key (well-known utm, other utm, click
// ids, referral keys) and timestamps in other zones and at the edges of a
// millisecond.
func goldenEvents(t *testing.T) map[string]domain.Event {
	t.Helper()
	out := map[string]domain.Event{}
	at := time.Date(2026, 2, 14, 13, 22, 5, 123456789, time.FixedZone("X", -5*3600))

	clicks := map[string]domain.NewClick{
		"widget.click partner example": {CorrelationID: "O-xY123z",
			ClickURL: "https://example.com/landing?utm_source=google&gclid=AbCd123",
			DeviceID: "550e8400-e29b-41d4-a716-446655440000", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
			IPAddress: "127.0.0.1", EventID: "01a21917-e8c8-7007-93a6-c254c3e9e45a", Now: at},
		"widget.click every key kind": {CorrelationID: "O-AbC999",
			ClickURL: "https://example.com/p?utm_zeta=z&utm_campaign=spring%20%26%20summer&utm_id=7&fbclid=f%22b&" +
				"utm_term=%3Cb%3E&msclkid=m&utm_alpha=%E2%80%A8x%E2%80%A9&ctwa_clid=w&utm_content=c%5Cd&gbraid=g&x=%3C1%3E",
			DeviceID: "dev \"quoted\" <tag> & é 日本 🎉", UserAgent: "UA\twith\ttabs\nand\u2028separators\x01",
			IPAddress: "2001:db8::1", EventID: "01900000-0000-7000-8000-000000000002",
			Now: time.Date(2024, 1, 23, 23, 59, 59, 999999999, time.FixedZone("Y", 5*3600+1800))},
		"widget.click no params": {CorrelationID: "O-000000", ClickURL: "https://example.com/",
			DeviceID: "d", EventID: "01900000-0000-7000-8000-000000000003", Now: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, c := range clicks {
		s, err := domain.RecordClick(c)
		require.NoError(t, err, name)
		evs := s.PullEvents()
		require.Len(t, evs, 1, name)
		out[name] = evs[0]
	}

	referral := func() *domain.InboundSource {
		s, err := domain.ClickFromReferral("O-CTWA01", domain.ReferralSource{SourceURL: "https://fb.me/ad?a=1&b=<2>",
			SourceID: "120208", SourceType: "ad", CtwaClid: "ARAkLkA8\u2028"}, at)
		require.NoError(t, err)
		return s
	}
	quoted := func() *domain.InboundSource {
		s, err := domain.RecordClick(clicks["widget.click partner example"])
		require.NoError(t, err)
		return s
	}
	for name, l := range map[string]struct {
		sender domain.Sender
		source *domain.InboundSource
	}{
		"lead.correlated by reference":               {domain.Sender{Phone: "+15550000001"}, quoted()},
		"lead.correlated by referral, hidden number": {domain.Sender{BSUID: "US.13491208655302741918"}, referral()},
		"lead.correlated phone and bsuid":            {domain.Sender{Phone: "+15550000002", BSUID: "US.1"}, referral()},
	} {
		lead, err := domain.StartLead(42, "791163770738681", l.sender, l.source, "01900000-0000-7000-8000-000000000010", at)
		require.NoError(t, err, name)
		evs := lead.PullEvents()
		require.Len(t, evs, 1, name)
		out[name] = evs[0]
	}

	for name, l := range map[string]struct {
		source *domain.InboundSource
		data   map[string]string
	}{
		"lead.complete correlated": {quoted(), map[string]string{"name": "John \"Johnny\" Doe", "email": "john.doe@example.com",
			"phone": "+15550000001", "note": "<b>&amp;</b> \u2028 é\n\t\\"}},
		"lead.complete without click": {nil, map[string]string{"name": "Zoë", "email": "z@example.org", "phone": "+15550000003"}},
	} {
		lead, err := domain.StartLead(43, "791163770738681", domain.Sender{Phone: "+15550000003"}, l.source,
			"01900000-0000-7000-8000-000000000020", at)
		require.NoError(t, err, name)
		lead.PullEvents()
		require.NoError(t, lead.Update(domain.LeadUpdate{Data: l.data, Required: domain.DefaultRequiredLeadFields,
			EventID: "01900000-0000-7000-8000-000000000021", Now: at.Add(time.Millisecond)}), name)
		evs := lead.PullEvents()
		require.Len(t, evs, 1, name)
		out[name] = evs[0]
	}

	for name, source := range map[string]*domain.InboundSource{
		"lead.erased correlated":    quoted(),
		"lead.erased without click": nil,
	} {
		lead, err := domain.StartLead(44, "791163770738681", domain.Sender{Phone: "+15550000004"}, source,
			"01900000-0000-7000-8000-000000000030", at)
		require.NoError(t, err, name)
		lead.PullEvents()
		require.True(t, lead.Erase("01900000-0000-7000-8000-000000000031", at.Add(2*time.Millisecond)), name)
		evs := lead.PullEvents()
		require.Len(t, evs, 1, name)
		out[name] = evs[0]
	}
	return out
}

// TestPayloads_Golden: the bytes partners receive for every event type, as
// the outbox stores them, are exactly those in testdata/payloads.golden
// (written by the code before the JSON appenders moved to the HTTP adapter;
// go test ./domain -run TestPayloads_Golden -update rewrites it).
func TestPayloads_Golden(t *testing.T) {
	t.Parallel()
	events := goldenEvents(t)
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	slices.Sort(names)
	var got bytes.Buffer
	for _, name := range names {
		p, err := events[name].Payload()
		require.NoError(t, err, name)
		fmt.Fprintf(&got, "%s\n%s\n\n", name, p)
	}
	path := filepath.Join("testdata", "payloads.golden")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got.String())
	for _, et := range domain.AllEventTypes {
		require.Contains(t, got.String(), `{"event_type":"`+string(et)+`"`, "every event type is covered")
	}
}
