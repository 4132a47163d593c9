package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; run a fuzzer with
//
//	go test ./domain -run='^$' -fuzz=FuzzParseMarketingParams -fuzztime=60s
//	go test ./domain -run='^$' -fuzz=FuzzRecordClick -fuzztime=60s

// FuzzParseMarketingParams feeds arbitrary raw query strings to
// ParseMarketingParams. It must never panic, keep only lower-cased marketing
// keys, marshal to valid, deterministic JSON, and agree with a plain
// reference reading of the contract (fuzzReferenceParams).
func FuzzParseMarketingParams(f *testing.F) {
	f.Add("utm_source=google&gclid=AbCd123")
	f.Add("UTM_Source=a&utm_source=b")
	f.Add("utm_source=%00&utm_%ff=%ff")
	f.Add("utm_source=a;utm_medium=b&msclkid=c")
	f.Fuzz(func(t *testing.T, raw string) {
		p := domain.ParseMarketingParams(&url.URL{RawQuery: raw})
		require.NotNil(t, p)
		for k := range p {
			require.Equal(t, strings.ToLower(k), k, "key lower-cased")
			require.True(t, fuzzIsMarketingKey(k), "only marketing keys, got %q", k)
		}
		for _, id := range []string{"gclid", "gbraid", "wbraid", "dclid", "msclkid"} {
			if _, ok := p[id]; ok {
				require.Contains(t, p, "utm_source", "inferred from %s", id)
				require.Contains(t, p, "utm_medium", "inferred from %s", id)
			}
		}

		b, err := p.MarshalJSON()
		require.NoError(t, err)
		require.True(t, json.Valid(b), "valid JSON: %q", b)
		again, err := p.MarshalJSON()
		require.NoError(t, err)
		require.Equal(t, b, again, "same set, same bytes")
		var back map[string]string
		require.NoError(t, json.Unmarshal(b, &back))
		require.Len(t, back, len(p))
		for k, v := range p {
			if utf8.ValidString(k) && utf8.ValidString(v) {
				require.Equal(t, v, back[k], "key %q round-trips", k)
			}
		}

		require.Equal(t, fuzzReferenceParams(raw), p, "query %q", raw)
	})
}

// FuzzRecordClick feeds arbitrary click_url, device_id and user_agent
// strings to RecordClick. It must never panic; input it refuses must be a
// *domain.ValidationError naming a field it was given; input it accepts must
// give a payload PostgreSQL and partners can take: valid JSON, no NUL byte,
// parsed_params keys and values valid UTF-8 without NUL, and the click's
// fields round-tripping exactly.
func FuzzRecordClick(f *testing.F) {
	f.Add(partnerClickURL, "550e8400-e29b-41d4-a716-446655440000", "Mozilla/5.0...")
	f.Add("https://example.com/?utm_source=%00", "d", "")
	f.Add("https://example.com/?gclid=%ff", "dev\xff", "UA\xff")
	f.Fuzz(func(t *testing.T, clickURL, deviceID, userAgent string) {
		now := time.Date(2024, 1, 23, 10, 30, 0, 123_456_789, time.UTC)
		src, err := domain.RecordClick(domain.NewClick{
			CorrelationID: "O-xY123z", ClickURL: clickURL, DeviceID: deviceID, UserAgent: userAgent,
			IPAddress: "203.0.113.7", EventID: "evt_fuzz", Now: now,
		})
		if err != nil {
			require.Nil(t, src)
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve), "rejection is a *domain.ValidationError, got %T: %v", err, err)
			require.ErrorIs(t, err, domain.ErrInvalidInput)
			require.NotEmpty(t, ve.Fields)
			for _, fe := range ve.Fields {
				require.Contains(t, []string{"click_url", "device_id", "user_agent"}, fe.Field)
				require.NotEmpty(t, fe.Message)
			}
			return
		}

		require.LessOrEqual(t, len(clickURL), domain.MaxClickURLBytes)
		u, perr := url.Parse(clickURL)
		require.NoError(t, perr)
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		require.NotEmpty(t, u.Hostname(), "an accepted click_url names a host: %q", clickURL)

		params := src.Row().ParsedParams
		for k, v := range params {
			require.True(t, utf8.ValidString(k) && utf8.ValidString(v), "parsed_params %q=%q valid UTF-8", k, v)
			require.False(t, strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0), "parsed_params %q=%q without NUL", k, v)
		}

		events := src.PullEvents()
		require.Len(t, events, 1)
		payload, err := events[0].Payload()
		require.NoError(t, err)
		require.True(t, json.Valid(payload), "payload is JSON: %q", payload)
		require.Equal(t, -1, bytes.IndexByte(payload, 0), "no NUL byte in the payload")

		var env struct {
			EventType string `json:"event_type"`
			EventID   string `json:"event_id"`
			Timestamp string `json:"timestamp"`
			Data      struct {
				CorrelationID string            `json:"correlation_id"`
				DeviceID      string            `json:"device_id"`
				ClickURL      string            `json:"click_url"`
				ParsedParams  map[string]string `json:"parsed_params"`
				UserAgent     string            `json:"user_agent"`
				IPAddress     string            `json:"ip_address"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(payload, &env))
		assert.Equal(t, "widget.click", env.EventType)
		assert.Equal(t, "evt_fuzz", env.EventID)
		assert.Equal(t, "2024-01-23T10:30:00.123Z", env.Timestamp)
		assert.Equal(t, clickURL, env.Data.ClickURL)
		assert.Equal(t, deviceID, env.Data.DeviceID)
		assert.True(t, strings.HasPrefix(userAgent, env.Data.UserAgent), "user_agent is a prefix of the header")
		assert.LessOrEqual(t, utf8.RuneCountInString(env.Data.UserAgent), domain.MaxUserAgentLen)
		assert.Equal(t, map[string]string(params), env.Data.ParsedParams)
		for k := range env.Data.ParsedParams {
			require.False(t, strings.ContainsRune(k, 0), "jsonb refuses \\u0000 in key %q", k)
		}
	})
}

// fuzzIsMarketingKey is the contract's key rule: utm_<something> or a listed
// ad click id.
func fuzzIsMarketingKey(k string) bool {
	return (strings.HasPrefix(k, "utm_") && len(k) > len("utm_")) || slices.Contains(contractClickIDs, k)
}

// fuzzReferenceParams reads parsed_params the plain way the contract states
// it: walk the pairs in order as url.ParseQuery accepts them ("&"-separated;
// a pair with ";" or an undecodable key or value is dropped), lower-case each
// key, keep marketing keys, and keep the first value of each; then infer
// google/cpc from a Google click id, else bing/cpc from msclkid, where
// utm_source or utm_medium is absent.
func fuzzReferenceParams(raw string) domain.MarketingParams {
	p := domain.MarketingParams{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			continue
		}
		key = strings.ToLower(key)
		if _, seen := p[key]; fuzzIsMarketingKey(key) && !seen {
			p[key] = val
		}
	}
	source, medium := "", ""
	for _, id := range []string{"gclid", "gbraid", "wbraid", "dclid"} {
		if _, ok := p[id]; ok {
			source, medium = "google", "cpc"
		}
	}
	if _, ok := p["msclkid"]; ok && source == "" {
		source, medium = "bing", "cpc"
	}
	if source != "" {
		if _, ok := p["utm_source"]; !ok {
			p["utm_source"] = source
		}
		if _, ok := p["utm_medium"]; !ok {
			p["utm_medium"] = medium
		}
	}
	return p
}
