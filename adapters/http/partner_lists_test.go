package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

func TestEncodeCursor(t *testing.T) {
	t.Parallel()

	got := encodeCursor(ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), ID: 42})
	assert.Equal(t, base64.RawURLEncoding.EncodeToString([]byte(`{"t":1706005800123000,"i":42}`)), got)
	assert.Equal(t, "eyJ0IjoxNzA2MDA1ODAwMTIzMDAwLCJpIjo0Mn0", got)
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		key  ports.PageKey
	}{
		{"milliseconds", ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), ID: 42}},
		{"microseconds", ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 10, 30, 0, 123_456_000, time.UTC), ID: 1}},
		{"largest id", ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 0, 0, 0, 0, time.UTC), ID: 1<<63 - 1}},
		{"other zone", ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 12, 0, 0, 0, time.FixedZone("X", 5*3600+1800)), ID: 7}},
		{"first microsecond after the epoch", ports.PageKey{CreatedAt: time.UnixMicro(1).UTC(), ID: 1}},
		{"year 9999", ports.PageKey{CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC), ID: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := encodeCursor(tt.key)
			assert.LessOrEqual(t, len(s), 200)
			assert.NotContains(t, s, "=")
			got, ok := decodeCursor(s)
			require.True(t, ok, "cursor %q", s)
			require.NotNil(t, got)
			assert.True(t, tt.key.CreatedAt.Equal(got.CreatedAt), "want %s, got %s", tt.key.CreatedAt, got.CreatedAt)
			assert.Equal(t, time.UTC, got.CreatedAt.Location())
			assert.Equal(t, tt.key.ID, got.ID)
		})
	}
}

func TestDecodeCursor_Invalid(t *testing.T) {
	t.Parallel()

	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		cursor string
	}{
		{"empty", ""},
		{"not base64", "!!!"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"t":1706005800123000,"i":42}`))},
		{"standard-alphabet characters", b64(`{"t":1706005800123000,"i":42}`) + "+/"},
		{"not JSON", b64("hello")},
		{"JSON null", b64("null")},
		{"empty object", b64("{}")},
		{"zero id", b64(`{"t":1706005800123000,"i":0}`)},
		{"negative id", b64(`{"t":1706005800123000,"i":-1}`)},
		{"zero time", b64(`{"t":0,"i":42}`)},
		{"negative time", b64(`{"t":-5,"i":42}`)},
		{"string time", b64(`{"t":"2024-01-23","i":42}`)},
		{"fractional id", b64(`{"t":1706005800123000,"i":4.2}`)},
		{"id beyond int64", b64(`{"t":1706005800123000,"i":9223372036854775808}`)},
		{"array", b64(`[1706005800123000,42]`)},
		{"trailing garbage", b64(`{"t":1706005800123000,"i":42}x`)},
		{"over 200 characters", b64(`{"t":1706005800123000,"i":42,"pad":"` + strings.Repeat("p", 150) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := decodeCursor(tt.cursor)
			assert.False(t, ok)
			assert.Nil(t, got)
		})
	}
}

func TestParsePageQuery(t *testing.T) {
	t.Parallel()

	from := time.Date(2024, 1, 23, 0, 0, 0, 0, time.UTC)
	to := time.Date(2024, 1, 24, 5, 0, 0, 0, time.UTC)
	key := ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), ID: 42}

	tests := []struct {
		name  string
		query string
		bots  bool
		want  ports.PageQuery
	}{
		{"nothing", "", false, ports.PageQuery{}},
		{"limit 1", "limit=1", false, ports.PageQuery{Limit: 1, Paged: true}},
		{"limit 10000", "limit=10000", false, ports.PageQuery{Limit: 10000, Paged: true}},
		{"first value wins", "limit=5&limit=x", false, ports.PageQuery{Limit: 5, Paged: true}},
		{
			"everything", "limit=50&from_date=2024-01-23&to_date=2024-01-24T10:30:00%2B05:30&cursor=" + encodeCursor(key) + "&include_bots=true",
			true, ports.PageQuery{Limit: 50, Paged: true, From: &from, To: &to, After: &key, IncludeBots: true},
		},
		{"include_bots ignored where bots do not apply", "include_bots=yes-please", false, ports.PageQuery{}},
		{"include_bots false", "include_bots=false", true, ports.PageQuery{}},
		{"include_bots 1", "include_bots=1", true, ports.PageQuery{IncludeBots: true}},
		{"unknown parameters ignored", "page=3&sort=desc", false, ports.PageQuery{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			got, err := parsePageQuery(q, tt.bots)
			require.NoError(t, err)
			assert.Equal(t, tt.want.Limit, got.Limit)
			assert.Equal(t, tt.want.Paged, got.Paged)
			assert.Equal(t, tt.want.IncludeBots, got.IncludeBots)
			assertTimePtr(t, tt.want.From, got.From)
			assertTimePtr(t, tt.want.To, got.To)
			if tt.want.After == nil {
				assert.Nil(t, got.After)
			} else {
				require.NotNil(t, got.After)
				assert.True(t, tt.want.After.CreatedAt.Equal(got.After.CreatedAt))
				assert.Equal(t, tt.want.After.ID, got.After.ID)
			}
		})
	}
}

func assertTimePtr(t *testing.T, want, got *time.Time) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got)
		return
	}
	require.NotNil(t, got)
	assert.True(t, want.Equal(*got), "want %s, got %s", want, got)
	assert.Equal(t, time.UTC, got.Location())
}

// TestParsePageQuery_Invalid: the parameters that cannot be read are all
// named in one 400 (the page size and the window are the use case's rules:
// TestListQueries_RulesAreTheUseCases).
func TestParsePageQuery_Invalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		query  string
		bots   bool
		fields []string
	}{
		{"from_date word", "from_date=yesterday", false, []string{"from_date"}},
		{"from_date month 13", "from_date=2024-13-01", false, []string{"from_date"}},
		{"to_date without offset", "to_date=2024-01-23T10:00", false, []string{"to_date"}},
		{"to_date empty", "to_date=", false, []string{"to_date"}},
		{"garbage cursor", "cursor=garbage!", false, []string{"cursor"}},
		{"empty cursor", "cursor=", false, []string{"cursor"}},
		{"include_bots not a bool", "include_bots=maybe", true, []string{"include_bots"}},
		{
			"several, all named in order",
			"include_bots=maybe&cursor=zz&to_date=nope&from_date=nope&limit=10",
			true,
			[]string{"from_date", "to_date", "cursor", "include_bots"},
		},
		{"bad with good", "limit=10&from_date=2024-01-23&to_date=bad", false, []string{"to_date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			_, err = parsePageQuery(q, tt.bots)
			require.Error(t, err)
			assert.True(t, errors.Is(err, domain.ErrInvalidInput))
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve))
			names := make([]string, len(ve.Fields))
			for i, f := range ve.Fields {
				names[i] = f.Field
				assert.NotEmpty(t, f.Message, "field %s", f.Field)
			}
			assert.Equal(t, tt.fields, names)
		})
	}
}

// countingReader is storage that counts how often it is read.
type countingReader struct{ reads int }

func (c *countingReader) Leads(context.Context, ports.PageQuery, int, func(ports.LeadRecord, ports.PageKey) error) error {
	c.reads++
	return nil
}

func (c *countingReader) Attribution(context.Context, ports.PageQuery, int, func(ports.AttributionRecord, ports.PageKey) error) error {
	c.reads++
	return nil
}

// TestListQueries_RulesAreTheUseCases: the handler only reads the query;
// the page size and the window are checked by the use case (here the real
// one), and a request that breaks them is a 400 naming each parameter, with
// storage never read. A limit that is no whole number breaks the same rule.
func TestListQueries_RulesAreTheUseCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=10001", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=x", []string{"limit"}},
		{"limit=", []string{"limit"}},
		{"limit=1.5", []string{"limit"}},
		{"limit=1e3", []string{"limit"}},
		{"limit=99999999999999999999", []string{"limit"}},
		{"limit=-99999999999999999999", []string{"limit"}},
		{"from_date=2024-01-24&to_date=2024-01-24", []string{"to_date"}},
		{"limit=0&from_date=2024-01-25&to_date=2024-01-24", []string{"limit", "to_date"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			reader := &countingReader{}
			h := &handlers{deps: Deps{Partner: &application.Partner{Reader: reader}, Logger: slog.New(slog.DiscardHandler)}}
			for _, list := range []http.HandlerFunc{h.listLeads, h.listAttribution} {
				rec := httptest.NewRecorder()
				list(rec, httptest.NewRequest(http.MethodGet, "/api/integrations/topkee/leads?"+tt.query, nil))
				require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				var p Problem
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
				names := make([]string, len(p.Errors))
				for i, f := range p.Errors {
					names[i] = f.Field
					if f.Field == "limit" {
						assert.Equal(t, "must be a whole number from 1 to 10000", f.Message)
					}
				}
				assert.Equal(t, tt.fields, names)
			}
			assert.Zero(t, reader.reads, "storage is not read")
		})
	}
	reader := &countingReader{}
	h := &handlers{deps: Deps{Partner: &application.Partner{Reader: reader}, Logger: slog.New(slog.DiscardHandler)}}
	rec := httptest.NewRecorder()
	h.listLeads(rec, httptest.NewRequest(http.MethodGet, "/api/integrations/topkee/leads?limit=10000&from_date=2024-01-24&to_date=2024-01-25", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, 1, reader.reads)
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(ports.PageKey{CreatedAt: time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), ID: 42}))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"t":1,"i":1}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"T":9223372036854775807,"I":9223372036854775807,"x":[]}`)))
	f.Add("")
	f.Add("garbage!")
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := decodeCursor(s)
		if !ok {
			if k != nil {
				t.Fatalf("%q refused but returned %+v", s, k)
			}
			return
		}
		if k == nil {
			t.Fatalf("%q accepted without a key", s)
		}
		if k.ID <= 0 || k.CreatedAt.UnixMicro() <= 0 {
			t.Fatalf("%q accepted as %+v", s, k)
		}
		if k.CreatedAt.Location() != time.UTC {
			t.Fatalf("%q: time in %s", s, k.CreatedAt.Location())
		}
		enc := encodeCursor(*k)
		again, ok := decodeCursor(enc)
		if !ok {
			t.Fatalf("%q: re-encoded cursor %q refused", s, enc)
		}
		if !again.CreatedAt.Equal(k.CreatedAt) || again.ID != k.ID {
			t.Fatalf("%q: round trip gave %+v, want %+v", s, again, k)
		}
		if encodeCursor(*again) != enc {
			t.Fatalf("%q: encoding is not stable", s)
		}
	})
}
