//go:build bench

package bench

// What one Leads API row costs to encode, and what a single-buffer encoder
// would cost instead: evidence for the change proposed in README.md
// ("Leads API: where the time goes"). The "Proposed" functions are sketches
// that live only here.
//
//	go test -tags bench -run '^$' -bench 'Encode' -benchmem ./test/bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aurix/integrations/domain"
)

var (
	benchParams = domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring_10", "gclid": "Cj088890"}
	benchTime   = time.Date(2026, 2, 14, 13, 22, 5, 123000000, time.UTC)
)

// BenchmarkEncodeParamsCurrent is domain.MarketingParams.MarshalJSON as
// encoding/json calls it for each row (a json.Encoder per key and value,
// then encoding/json re-scans the returned bytes).
func BenchmarkEncodeParamsCurrent(b *testing.B) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := enc.Encode(benchParams); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeParamsProposed appends the same bytes to one buffer.
func BenchmarkEncodeParamsProposed(b *testing.B) {
	var enc bytes.Buffer
	enc.WriteString(mustEncode(b, benchParams))
	want := enc.String()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendParams(buf[:0], benchParams)
		buf = append(buf, '\n')
	}
	if string(buf) != want {
		b.Fatalf("proposed encoder wrote %s, want %s", buf, want)
	}
}

// BenchmarkEncodeTimestampCurrent is domain.Timestamp.MarshalJSON (three
// per row): json.Marshal of the formatted string, re-scanned by the caller.
func BenchmarkEncodeTimestampCurrent(b *testing.B) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	ts := domain.Timestamp(benchTime)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := enc.Encode(ts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeTimestampProposed appends the formatted time between quotes
// (the layout has nothing to escape).
func BenchmarkEncodeTimestampProposed(b *testing.B) {
	want := mustEncode(b, domain.Timestamp(benchTime))
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(buf[:0], '"')
		buf = benchTime.UTC().AppendFormat(buf, domain.TimeLayout)
		buf = append(buf, '"', '\n')
	}
	if string(buf) != want {
		b.Fatalf("proposed encoder wrote %s, want %s", buf, want)
	}
}

func mustEncode(b *testing.B, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.Fatal(err)
	}
	return buf.String()
}

// appendParams writes p in MarshalJSON's order (well-known utm_* keys, the
// other utm_* keys sorted, click ids, the rest sorted): the order is copied
// here for the sketch; the real change would reuse orderedKeys.
func appendParams(buf []byte, p domain.MarketingParams) []byte {
	buf = append(buf, '{')
	first := true
	add := func(k string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendJSONString(buf, p[k])
	}
	known := []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}
	clickIDs := []string{"gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid"}
	for _, k := range known {
		if _, ok := p[k]; ok {
			add(k)
		}
	}
	var rest, other []string
	for k := range p {
		switch {
		case slices.Contains(known, k), slices.Contains(clickIDs, k):
		case len(k) > 4 && k[:4] == "utm_":
			rest = append(rest, k)
		default:
			other = append(other, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k)
	}
	for _, k := range clickIDs {
		if _, ok := p[k]; ok {
			add(k)
		}
	}
	slices.Sort(other)
	for _, k := range other {
		add(k)
	}
	return append(buf, '}')
}

// appendJSONString quotes s as encoding/json does with SetEscapeHTML(false).
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			buf = append(buf, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, `\u00`...)
				buf = append(buf, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, `\u202`...)
			buf = strconv.AppendInt(buf, int64(r&0xF), 16)
		default:
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
