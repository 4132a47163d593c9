package http

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// The appenders must write exactly the bytes encoding/json writes (with the
// domain's MarshalJSON for parameters and timestamps): the API lists are
// part of the partner contract.
//
//	go test ./adapters/http -run='^$' -fuzz=FuzzAppendJSONString -fuzztime=60s
//	go test ./adapters/http -run='^$' -fuzz=FuzzAppendParams -fuzztime=60s
//	go test ./adapters/http -run='^$' -fuzz=FuzzTimestampJSON -fuzztime=60s

// contractClickIDs are the ad click identifiers the platform contract lists,
// in its order.
var contractClickIDs = []string{
	"gclid", "gbraid", "wbraid", "dclid", "gclsrc", "fbclid", "msclkid", "ttclid",
	"li_fat_id", "twclid", "sccid", "epik", "rdt_cid", "qclid", "yclid", "ctwa_clid",
}

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

var jsonStringSamples = []string{
	"", "plain", "a&b<c>d", `quote " and backslash \`, "/slash/", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "é ü 日本 🎉", "\u2028\u2029", "\u2027\u202a", "bad \xff byte", "\xc3", "\xed\xa0\x80 surrogate",
	"\xf4\x90\x80\x80 beyond U+10FFFF", "\ufffd", "https://example.com/?utm_source=x&gclid=y",
}

func TestAppendJSONString_SameBytesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	samples := slices.Clone(jsonStringSamples)
	for b := range 256 {
		samples = append(samples, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	for _, s := range samples {
		assert.Equal(t, stdJSON(t, s), string(appendJSONString(nil, s)), "string %q", s)
	}
	assert.Equal(t, `pre"a"`, string(appendJSONString([]byte("pre"), "a")), "appends to dst")
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), stdJSON(t, s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json wrote %s", s, got, want)
		}
	})
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

// TestAppendParams_SameBytesAsBefore: the lists write parameters as the
// event payloads do (the domain's MarshalJSON) and as they were written
// before any appender.
func TestAppendParams_SameBytesAsBefore(t *testing.T) {
	t.Parallel()
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
	for _, p := range tests {
		want := referenceParamsJSON(t, p)
		assert.Equal(t, want, string(appendParams(nil, p)), "params %v", p)
		marshalled, err := p.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(marshalled), string(appendParams(nil, p)), "as in event payloads")
		assert.Equal(t, `pre`+want, string(appendParams([]byte("pre"), p)), "appends to dst")
	}
}

func FuzzAppendParams(f *testing.F) {
	f.Add("utm_source", "google", "gclid", "AbCd&123", "utm_x", "\u2028")
	f.Add("utm_b", "", "utm_a", "\xff", "zz", "\"")
	f.Add("fbclid", "1", "source_url", "https://a/?b=c&d", "utm_id", "5")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		p := domain.MarketingParams{k1: v1, k2: v2, k3: v3}
		if got, want := string(appendParams(nil, p)), referenceParamsJSON(t, p); got != want {
			t.Fatalf("appendParams(%q) = %s, before it wrote %s", p, got, want)
		}
	})
}

// timestampJSON is what encoding/json writes for a domain.Timestamp.
func timestampJSON(t testing.TB, tm time.Time) string {
	t.Helper()
	want, err := json.Marshal(domain.Timestamp(tm))
	require.NoError(t, err)
	return string(want)
}

func TestAppendTimestamp_SameBytesAsBefore(t *testing.T) {
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
		assert.Equal(t, string(want), string(appendTimestamp(nil, tm)), "time %s", tm)
		assert.Equal(t, timestampJSON(t, tm), string(appendTimestamp(nil, tm)), "as domain.Timestamp marshals")
	}
}

func TestAppendTimestamp_SameBytesAsBefore_Sampled(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Date(-2, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(10002, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 100000 {
		tm := time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9))
		want, err := json.Marshal(domain.FormatTime(tm))
		require.NoError(t, err)
		if got := appendTimestamp(nil, tm); string(got) != string(want) {
			t.Fatalf("time %s: appendTimestamp wrote %s, before it was %s", tm, got, want)
		}
	}
}

func FuzzTimestampJSON(f *testing.F) {
	f.Add(int64(1771075325), int64(123456789))
	f.Add(int64(-62135596800), int64(0))
	f.Add(int64(253402300799), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		want, err := json.Marshal(domain.FormatTime(tm))
		require.NoError(t, err)
		if got := appendTimestamp(nil, tm); string(got) != string(want) {
			t.Fatalf("time %s: appendTimestamp wrote %s, before it was %s", tm, got, want)
		}
	})
}

func TestAppenders_DoNotAllocate(t *testing.T) {
	p := domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring_10", "gclid": "Cj088890"}
	ts := time.Date(2026, 2, 14, 13, 22, 5, 123000000, time.UTC)
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf = appendParams(buf[:0], p)
		buf = appendTimestamp(buf, ts)
		buf = appendJSONString(buf, "a&b\n\u2028")
	})
	assert.Zero(t, allocs)
}
