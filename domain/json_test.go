package domain_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// The event payload's encodings must write exactly the bytes encoding/json
// wrote before them: event payloads are part of the partner contract (and
// TestPayloads_Golden holds every event type's bytes).
//
//	go test ./domain -run='^$' -fuzz=FuzzMarketingParamsJSON -fuzztime=60s

// stdJSON is what encoding/json writes for v with HTML escaping off, without
// the Encoder's newline.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return strings.TrimSuffix(buf.String(), "\n")
}

// referenceParamsJSON is MarketingParams.MarshalJSON as it was written
// before the appender: the canonical order computed on its own, each key and
// value marshalled by encoding/json.
func referenceParamsJSON(t testing.TB, p domain.MarketingParams) string {
	t.Helper()
	wellKnown := []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id"}
	var keys, rest, other []string
	for _, k := range wellKnown {
		if _, ok := p[k]; ok {
			keys = append(keys, k)
		}
	}
	for k := range p {
		switch {
		case slices.Contains(wellKnown, k), slices.Contains(contractClickIDs, k):
		case strings.HasPrefix(k, "utm_"):
			rest = append(rest, k)
		default:
			other = append(other, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	for _, k := range contractClickIDs {
		if _, ok := p[k]; ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(other)
	keys = append(keys, other...)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = stdJSON(t, k) + ":" + stdJSON(t, p[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// paramsSamples are parameter sets of every key kind and awkward values.
func paramsSamples() []domain.MarketingParams {
	tests := []domain.MarketingParams{
		nil,
		{},
		{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"},
		{"gclid": "1", "utm_zeta": "z", "utm_alpha": "a", "utm_id": "i", "utm_content": "c", "utm_term": "t",
			"utm_campaign": "spring & summer", "utm_medium": "m", "utm_source": "s", "ctwa_clid": "w", "fbclid": "f"},
		{"source_url": "https://fb.me/x?a=1&b=<2>", "headline": "Say \"hi\"\n", "media_type": "image", "ctwa_clid": "c"},
		{"utm_1": "1", "utm_2": "2", "utm_3": "3", "utm_4": "4", "utm_5": "5", "utm_6": "6", "x1": "", "x2": "", "x3": "", "x4": "", "x5": ""},
		{"utm_source": "bad \xff", "utm_\u2028": "\u2029", "other\x00": "\x1f"},
	}
	for _, k := range contractClickIDs {
		tests = append(tests, domain.MarketingParams{k: "v-" + k, "utm_medium": "cpc"})
	}
	return tests
}

func TestMarketingParams_SameBytesAsBefore(t *testing.T) {
	t.Parallel()
	for _, p := range paramsSamples() {
		want := referenceParamsJSON(t, p)
		got, err := p.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, want, string(got), "params %v", p)
		// Inside a struct, as in payloads and lists, encoding/json keeps
		// the bytes as they are.
		assert.Equal(t, `{"p":`+want+`}`, stdJSON(t, struct {
			P domain.MarketingParams `json:"p"`
		}{p}))
	}
}

// TestMarketingParams_CanonicalKeys: the order every encoding of the
// parameters uses, appended to what dst holds.
func TestMarketingParams_CanonicalKeys(t *testing.T) {
	t.Parallel()
	p := domain.MarketingParams{"zz": "", "fbclid": "", "utm_b": "", "gclid": "", "utm_a": "", "utm_medium": "", "aa": "", "utm_source": ""}
	assert.Equal(t, []string{"x", "utm_source", "utm_medium", "utm_a", "utm_b", "gclid", "fbclid", "aa", "zz"},
		p.CanonicalKeys([]string{"x"}))
	assert.Empty(t, domain.MarketingParams(nil).CanonicalKeys(nil))
}

func FuzzMarketingParamsJSON(f *testing.F) {
	f.Add("utm_source", "google", "gclid", "AbCd&123", "utm_x", "\u2028")
	f.Add("utm_b", "", "utm_a", "\xff", "zz", "\"")
	f.Add("fbclid", "1", "source_url", "https://a/?b=c&d", "utm_id", "5")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		p := domain.MarketingParams{k1: v1, k2: v2, k3: v3}
		got, err := p.MarshalJSON()
		require.NoError(t, err)
		if want := referenceParamsJSON(t, p); string(got) != want {
			t.Fatalf("MarshalJSON(%q) = %s, before it wrote %s", p, got, want)
		}
	})
}

func TestTimestamp_SameBytesAsBefore(t *testing.T) {
	t.Parallel()
	times := []time.Time{
		{},
		time.Date(2026, 2, 14, 13, 22, 5, 123456789, time.UTC),
		time.Date(2026, 2, 14, 23, 59, 59, 999999999, time.FixedZone("X", -5*3600)),
		time.Date(2024, 1, 23, 10, 30, 0, 0, time.FixedZone("Y", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1706005800, 5e6).In(time.Local),
	}
	for _, tm := range times {
		want, err := json.Marshal(domain.FormatTime(tm))
		require.NoError(t, err)
		got, err := domain.Timestamp(tm).MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "time %s", tm)
	}
}
