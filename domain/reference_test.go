package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestExtractReferences(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want []domain.CorrelationID
	}{
		{"default prefill", "Hi! I'd like to know more. [ref: O-xY123z]", []domain.CorrelationID{"O-xY123z"}},
		{"whole text", "O-abc123", []domain.CorrelationID{"O-abc123"}},
		{"start of text", "O-abc123 is my reference", []domain.CorrelationID{"O-abc123"}},
		{"end of text", "my reference is O-abc123", []domain.CorrelationID{"O-abc123"}},
		{"line breaks around", "hello\nO-abc123\nthanks", []domain.CorrelationID{"O-abc123"}},
		{"two in order", "[ref: O-bbbbbb] and also O-aaaaaa", []domain.CorrelationID{"O-bbbbbb", "O-aaaaaa"}},
		{"separator shared by two", "O-aaaaaa O-bbbbbb", []domain.CorrelationID{"O-aaaaaa", "O-bbbbbb"}},
		{"comma between", "O-aaaaaa,O-bbbbbb", []domain.CorrelationID{"O-aaaaaa", "O-bbbbbb"}},
		{"hyphen between", "O-aaaaaa-O-bbbbbb", []domain.CorrelationID{"O-aaaaaa", "O-bbbbbb"}},
		{"duplicates once", "O-abc123 O-abc123 O-def456 O-abc123", []domain.CorrelationID{"O-abc123", "O-def456"}},
		{"letter glued before", "XO-abc123", nil},
		{"digit glued before", "1O-abc123", nil},
		{"letter glued after", "O-abc123x", nil},
		{"digit glued after", "O-abc1234", nil},
		{"glued ref skipped, later one kept", "XO-abc123 O-def456", []domain.CorrelationID{"O-def456"}},
		{"too short", "O-abc12", nil},
		{"lowercase o", "o-abc123", nil},
		{"zero instead of O", "0-abc123", nil},
		{"no hyphen", "Oabc1234", nil},
		{"non-alphanumeric inside", "O-abc_12", nil},
		{"doubled prefix", "O-O-abc123", []domain.CorrelationID{"O-abc123"}},
		{"empty", "", nil},
		{
			"at most five",
			"O-aaaaa1 O-aaaaa2 O-aaaaa3 O-aaaaa4 O-aaaaa5 O-aaaaa6 O-aaaaa7",
			[]domain.CorrelationID{"O-aaaaa1", "O-aaaaa2", "O-aaaaa3", "O-aaaaa4", "O-aaaaa5"},
		},
		{
			"duplicates do not use up the five",
			"O-aaaaa1 O-aaaaa1 O-aaaaa1 O-aaaaa2 O-aaaaa3 O-aaaaa4 O-aaaaa2 O-aaaaa5 O-aaaaa6",
			[]domain.CorrelationID{"O-aaaaa1", "O-aaaaa2", "O-aaaaa3", "O-aaaaa4", "O-aaaaa5"},
		},
		{"CJK around", "参考：O-abc123。谢谢", []domain.CorrelationID{"O-abc123"}},
		{"emoji around", "👋O-abc123👋", []domain.CorrelationID{"O-abc123"}},
		{"non-ASCII letters are not id characters", "ÉO-abc123ü", []domain.CorrelationID{"O-abc123"}},
		{"invalid UTF-8 around", "\xffO-abc123\xfe", []domain.CorrelationID{"O-abc123"}},
		{"NUL around", "\x00O-abc123\x00", []domain.CorrelationID{"O-abc123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, domain.ExtractReferences(tt.text))
		})
	}
}

func TestExtractReferences_LongTextFindsLateReference(t *testing.T) {
	t.Parallel()

	text := strings.Repeat("O-abc12 ", 500) + "[ref: O-zZ9yY8]"
	assert.Equal(t, []domain.CorrelationID{"O-zZ9yY8"}, domain.ExtractReferences(text))
}

func TestClickFromReferral(t *testing.T) {
	t.Parallel()

	now := time.Date(2024, 1, 23, 10, 35, 0, 456_789_000, time.FixedZone("CET", 3600))
	src, err := domain.ClickFromReferral("O-Rf3rAl", domain.ReferralSource{
		SourceURL:  "https://fb.me/3cr4Wqqkv",
		SourceID:   "120210000000000000",
		SourceType: "ad",
		CtwaClid:   "ARAkLkA8rmlFeiCktEJQ",
	}, now)
	require.NoError(t, err)

	assert.Empty(t, src.PullEvents(), "a referral is not a widget click")
	assert.Equal(t, domain.CorrelationID("O-Rf3rAl"), src.CorrelationID())
	assert.False(t, src.IsCorrelated())
	assert.False(t, src.IsBot())
	assert.Equal(t, time.Date(2024, 1, 23, 9, 35, 0, 456_000_000, time.UTC), src.CreatedAt())

	row := src.Row()
	assert.Equal(t, "https://fb.me/3cr4Wqqkv", row.ClickURL)
	assert.Equal(t, domain.MarketingParams{
		"ctwa_clid":   "ARAkLkA8rmlFeiCktEJQ",
		"source_id":   "120210000000000000",
		"source_type": "ad",
	}, row.ParsedParams)
	assert.Nil(t, row.ConversationID)
	assert.Nil(t, row.CorrelatedAt)
}

func TestClickFromReferral_OmitsEmptyParams(t *testing.T) {
	t.Parallel()

	src, err := domain.ClickFromReferral("O-Rf3rAl", domain.ReferralSource{CtwaClid: "clid"}, time.Unix(0, 0))
	require.NoError(t, err)
	row := src.Row()
	assert.Equal(t, domain.MarketingParams{"ctwa_clid": "clid"}, row.ParsedParams)
	assert.Equal(t, "", row.ClickURL)
}

func TestClickFromReferral_Invalid(t *testing.T) {
	t.Parallel()

	src, err := domain.ClickFromReferral("O-short", domain.ReferralSource{SourceURL: "https://fb.me/x"}, time.Unix(0, 0))
	require.Error(t, err)
	assert.Nil(t, src)
	assert.True(t, errors.Is(err, domain.ErrInvalidInput))
	assert.Equal(t, []string{"correlation_id"}, journeyFieldNames(t, err))
}

// TestClickFromReferral_DropsUnstorableFields: a referral field PostgreSQL
// cannot store (a NUL byte; invalid UTF-8) is left out and the others are
// kept, so the message keeps its lead and the lead its attribution. The bad
// value is dropped, not repaired: an id with a byte taken out could name
// another ad.
func TestClickFromReferral_DropsUnstorableFields(t *testing.T) {
	t.Parallel()

	full := domain.ReferralSource{SourceURL: "https://fb.me/3cr4Wqqkv", SourceID: "120210000000000000", SourceType: "ad", CtwaClid: "ARAkLkA8"}
	tests := []struct {
		name       string
		r          domain.ReferralSource
		wantURL    string
		wantParams domain.MarketingParams
	}{
		{"NUL in source_url", domain.ReferralSource{SourceURL: "https://fb.me/\x00x", SourceID: full.SourceID, SourceType: "ad", CtwaClid: full.CtwaClid},
			"", domain.MarketingParams{"source_id": full.SourceID, "source_type": "ad", "ctwa_clid": full.CtwaClid}},
		{"NUL in ctwa_clid", domain.ReferralSource{SourceURL: full.SourceURL, SourceID: full.SourceID, SourceType: "ad", CtwaClid: "ARAk\x00LkA8"},
			full.SourceURL, domain.MarketingParams{"source_id": full.SourceID, "source_type": "ad"}},
		{"invalid UTF-8 in ctwa_clid", domain.ReferralSource{SourceURL: full.SourceURL, CtwaClid: "\xff"},
			full.SourceURL, domain.MarketingParams{}},
		{"NUL in source_id and source_type", domain.ReferralSource{SourceURL: full.SourceURL, SourceID: "1\x002", SourceType: "a\x00d", CtwaClid: full.CtwaClid},
			full.SourceURL, domain.MarketingParams{"ctwa_clid": full.CtwaClid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := domain.ClickFromReferral("O-Rf3rAl", tt.r, time.Unix(0, 0))
			require.NoError(t, err)
			row := src.Row()
			assert.Equal(t, tt.wantURL, row.ClickURL)
			assert.Equal(t, tt.wantParams, row.ParsedParams)
			assert.Equal(t, domain.CorrelationID("O-Rf3rAl"), row.CorrelationID)
		})
	}
}

func TestReferralSource_StorableIdentifies(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		r          domain.ReferralSource
		identifies bool
	}{
		{"full", domain.ReferralSource{SourceURL: "https://fb.me/x", SourceID: "1", SourceType: "ad", CtwaClid: "c"}, true},
		{"ctwa_clid only", domain.ReferralSource{CtwaClid: "c"}, true},
		{"source_id only", domain.ReferralSource{SourceID: "1"}, true},
		{"source_type only names nothing", domain.ReferralSource{SourceType: "ad"}, false},
		{"its one id unstorable", domain.ReferralSource{CtwaClid: "c\x00", SourceType: "ad"}, false},
		{"one of two ids unstorable", domain.ReferralSource{CtwaClid: "c\x00", SourceURL: "https://fb.me/x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.identifies, tt.r.Storable().Identifies())
		})
	}
	got := domain.ReferralSource{SourceURL: "u\x00", SourceID: "1", SourceType: "\xfe", CtwaClid: "c"}.Storable()
	assert.Equal(t, domain.ReferralSource{SourceID: "1", CtwaClid: "c"}, got)
}

// journeyFieldNames returns the fields a *domain.ValidationError names, in order.
func journeyFieldNames(t *testing.T, err error) []string {
	t.Helper()
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "want a *domain.ValidationError, got %T: %v", err, err)
	names := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		names[i] = f.Field
	}
	return names
}

func TestClickFromReferral_LongValuesTruncated(t *testing.T) {
	t.Parallel()

	src, err := domain.ClickFromReferral("O-Rf3rAl", domain.ReferralSource{
		SourceURL: "https://fb.me/" + strings.Repeat("a", 3000),
		CtwaClid:  strings.Repeat("c", 3000),
	}, time.Unix(0, 0))
	require.NoError(t, err)
	row := src.Row()
	assert.Equal(t, "https://fb.me/"+strings.Repeat("a", domain.MaxClickURLBytes-len("https://fb.me/")), row.ClickURL)
	assert.Equal(t, strings.Repeat("c", domain.MaxClickURLBytes), row.ParsedParams["ctwa_clid"])
}

// BUG: ClickFromReferral bounds click_url with truncateRunes(…,
// MaxClickURLBytes), i.e. to 2048 characters, not 2048 bytes: a non-ASCII
// source_url keeps up to four times the contract's click_url limit.
func TestClickFromReferral_SourceURLBoundedInBytes(t *testing.T) {
	t.Parallel()

	src, err := domain.ClickFromReferral("O-Rf3rAl", domain.ReferralSource{
		SourceURL: "https://fb.me/" + strings.Repeat("é", 3000),
	}, time.Unix(0, 0))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(src.Row().ClickURL), domain.MaxClickURLBytes)
}
