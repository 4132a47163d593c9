//go:build bench

package http

// What one Leads API row's parameters and timestamps cost to encode: as
// they were encoded before change L2 in README.md ("Before": a json.Encoder
// per key and value, json.Marshal of each timestamp, all called by
// encoding/json), through encoding/json with today's MarshalJSON
// ("Encoder": what event payloads and the delivery log pay), and appended
// to one buffer ("Append": what the Leads and Attribution APIs pay now,
// appendParams and appendTimestamp). Each Append benchmark checks that it
// writes the bytes Before wrote.
//
//	go test -tags bench -run '^$' -bench 'Encode' -benchmem ./adapters/http

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aurix/integrations/domain"
)

var (
	benchParams = domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring_10", "gclid": "Cj088890"}
	benchTime   = time.Date(2026, 2, 14, 13, 22, 5, 123000000, time.UTC)
)

// beforeParams marshals as domain.MarketingParams did before the appender.
type beforeParams domain.MarketingParams

func (p beforeParams) MarshalJSON() ([]byte, error) {
	wellKnown := []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id"}
	clickIDs := []string{"gclid", "gbraid", "wbraid", "dclid", "gclsrc", "fbclid", "msclkid", "ttclid",
		"li_fat_id", "twclid", "sccid", "epik", "rdt_cid", "qclid", "yclid", "ctwa_clid"}
	keys := make([]string, 0, len(p))
	for _, k := range wellKnown {
		if _, ok := p[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest, other []string
	for k := range p {
		switch {
		case slices.Contains(wellKnown, k), slices.Contains(clickIDs, k):
		case strings.HasPrefix(k, "utm_"):
			rest = append(rest, k)
		default:
			other = append(other, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	for _, k := range clickIDs {
		if _, ok := p[k]; ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(other)
	keys = append(keys, other...)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshalNoHTML(k)
		if err != nil {
			return nil, err
		}
		vb, err := marshalNoHTML(p[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// beforeTimestamp marshals as domain.Timestamp did before the appender.
type beforeTimestamp time.Time

func (t beforeTimestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(domain.FormatTime(time.Time(t)))
}

func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func encodeLoop(b *testing.B, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeParamsBefore is the parameters' encoding before change L2,
// as encoding/json called it for each row.
func BenchmarkEncodeParamsBefore(b *testing.B) { encodeLoop(b, beforeParams(benchParams)) }

// BenchmarkEncodeParamsEncoder is encoding/json calling today's MarshalJSON
// (and re-scanning its bytes).
func BenchmarkEncodeParamsEncoder(b *testing.B) { encodeLoop(b, benchParams) }

// BenchmarkEncodeParamsAppend appends the same bytes to one buffer.
func BenchmarkEncodeParamsAppend(b *testing.B) {
	want := mustEncode(b, beforeParams(benchParams))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendParams(buf[:0], benchParams)
		buf = append(buf, '\n')
	}
	if string(buf) != want {
		b.Fatalf("appended %s, before it was %s", buf, want)
	}
}

// BenchmarkEncodeTimestampBefore is a timestamp's encoding before change L2
// (three per row): json.Marshal of the formatted string, re-scanned by the
// caller.
func BenchmarkEncodeTimestampBefore(b *testing.B) { encodeLoop(b, beforeTimestamp(benchTime)) }

// BenchmarkEncodeTimestampEncoder is encoding/json calling today's
// MarshalJSON.
func BenchmarkEncodeTimestampEncoder(b *testing.B) { encodeLoop(b, domain.Timestamp(benchTime)) }

// BenchmarkEncodeTimestampAppend appends the formatted time between quotes.
func BenchmarkEncodeTimestampAppend(b *testing.B) {
	want := mustEncode(b, beforeTimestamp(benchTime))
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendTimestamp(buf[:0], benchTime)
		buf = append(buf, '\n')
	}
	if string(buf) != want {
		b.Fatalf("appended %s, before it was %s", buf, want)
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
