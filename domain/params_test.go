package domain_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

// contractClickIDs are the ad click identifiers the platform contract lists,
// in its order.
var contractClickIDs = []string{
	"gclid", "gbraid", "wbraid", "dclid", "gclsrc", "fbclid", "msclkid", "ttclid",
	"li_fat_id", "twclid", "sccid", "epik", "rdt_cid", "qclid", "yclid", "ctwa_clid",
}

func paramsTestURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func paramsJSON(t testing.TB, p domain.MarketingParams) string {
	t.Helper()
	b, err := p.MarshalJSON()
	require.NoError(t, err)
	return string(b)
}

// TestParseMarketingParams_PartnerExample is the partner document's
// widget.click example: utm_medium "cpc" is inferred from gclid.
func TestParseMarketingParams_PartnerExample(t *testing.T) {
	t.Parallel()
	p := domain.ParseMarketingParams(paramsTestURL(t, "https://example.com/landing?utm_source=google&gclid=AbCd123"))
	assert.Equal(t, domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"}, p)
	assert.Equal(t, `{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"}`, paramsJSON(t, p))
}

func TestParseMarketingParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		query    string
		want     domain.MarketingParams
		wantJSON string
	}{
		{
			name: "empty query", query: "",
			want: domain.MarketingParams{}, wantJSON: `{}`,
		},
		{
			name: "only non-marketing parameters", query: "ref=home&page=2&q=shoes",
			want: domain.MarketingParams{}, wantJSON: `{}`,
		},
		{
			name: "keys lower-cased, values keep their case", query: "UTM_Source=Google&Utm_Medium=Email&GCLID=AbC",
			want:     domain.MarketingParams{"utm_source": "Google", "utm_medium": "Email", "gclid": "AbC"},
			wantJSON: `{"utm_source":"Google","utm_medium":"Email","gclid":"AbC"}`,
		},
		{
			name: "first value kept", query: "utm_source=first&utm_source=second&fbclid=one&fbclid=two",
			want:     domain.MarketingParams{"utm_source": "first", "fbclid": "one"},
			wantJSON: `{"utm_source":"first","fbclid":"one"}`,
		},
		{
			name: "first value kept across case variants", query: "UTM_Source=first&utm_source=second&UTM_SOURCE=third",
			want:     domain.MarketingParams{"utm_source": "first"},
			wantJSON: `{"utm_source":"first"}`,
		},
		{
			name: "first value kept across case variants, lower-case first", query: "utm_campaign=spring&UTM_CAMPAIGN=autumn",
			want:     domain.MarketingParams{"utm_campaign": "spring"},
			wantJSON: `{"utm_campaign":"spring"}`,
		},
		{
			name: "non-marketing parameters dropped", query: "utm_source=news&ref=home&xgclid=1&gclid_x=2&utm=3&fbclick=4",
			want:     domain.MarketingParams{"utm_source": "news"},
			wantJSON: `{"utm_source":"news"}`,
		},
		{
			name: "utm_ alone is not a key", query: "utm_=x&UTM_=y",
			want: domain.MarketingParams{}, wantJSON: `{}`,
		},
		{
			name: "msclkid gives bing/cpc", query: "msclkid=m1",
			want:     domain.MarketingParams{"utm_source": "bing", "utm_medium": "cpc", "msclkid": "m1"},
			wantJSON: `{"utm_source":"bing","utm_medium":"cpc","msclkid":"m1"}`,
		},
		{
			name: "gbraid gives google/cpc", query: "gbraid=g1",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gbraid": "g1"},
			wantJSON: `{"utm_source":"google","utm_medium":"cpc","gbraid":"g1"}`,
		},
		{
			name: "wbraid gives google/cpc", query: "wbraid=w1",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "wbraid": "w1"},
			wantJSON: `{"utm_source":"google","utm_medium":"cpc","wbraid":"w1"}`,
		},
		{
			name: "dclid gives google/cpc", query: "dclid=d1",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "dclid": "d1"},
			wantJSON: `{"utm_source":"google","utm_medium":"cpc","dclid":"d1"}`,
		},
		{
			name: "gclsrc alone infers nothing", query: "gclsrc=aw.ds",
			want: domain.MarketingParams{"gclsrc": "aw.ds"}, wantJSON: `{"gclsrc":"aw.ds"}`,
		},
		{
			name: "fbclid infers nothing", query: "fbclid=f1",
			want: domain.MarketingParams{"fbclid": "f1"}, wantJSON: `{"fbclid":"f1"}`,
		},
		{
			name: "explicit utm_source never overwritten", query: "gclid=g&utm_source=newsletter",
			want:     domain.MarketingParams{"utm_source": "newsletter", "utm_medium": "cpc", "gclid": "g"},
			wantJSON: `{"utm_source":"newsletter","utm_medium":"cpc","gclid":"g"}`,
		},
		{
			name: "explicit utm_medium never overwritten", query: "utm_medium=email&gclid=g",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "email", "gclid": "g"},
			wantJSON: `{"utm_source":"google","utm_medium":"email","gclid":"g"}`,
		},
		{
			name: "explicit source and medium kept with msclkid", query: "Utm_Source=Partner&utm_medium=Social&msclkid=m",
			want:     domain.MarketingParams{"utm_source": "Partner", "utm_medium": "Social", "msclkid": "m"},
			wantJSON: `{"utm_source":"Partner","utm_medium":"Social","msclkid":"m"}`,
		},
		{
			name: "Google click id wins over msclkid", query: "msclkid=m&gclid=g",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "g", "msclkid": "m"},
			wantJSON: `{"utm_source":"google","utm_medium":"cpc","gclid":"g","msclkid":"m"}`,
		},
		{
			name: "url-encoded values and keys decoded", query: "utm_campaign=spring%20sale%26more&utm_term=red+shoes&utm%5Fcontent=%E2%82%AC50",
			want:     domain.MarketingParams{"utm_campaign": "spring sale&more", "utm_term": "red shoes", "utm_content": "€50"},
			wantJSON: `{"utm_campaign":"spring sale&more","utm_term":"red shoes","utm_content":"€50"}`,
		},
		{
			name: "JSON special characters escaped, HTML characters not", query: "utm_content=%22%3Cb%3E%5C%26",
			want:     domain.MarketingParams{"utm_content": `"<b>\&`},
			wantJSON: `{"utm_content":"\"<b>\\&"}`,
		},
		{
			name:  "canonical order: common utm keys, other utm keys sorted, then click ids",
			query: "fbclid=f&utm_zeta=z&gclid=g&utm_content=c&utm_alpha=a&utm_id=i&utm_term=t&utm_campaign=k&utm_medium=m&utm_source=s",
			want: domain.MarketingParams{"utm_source": "s", "utm_medium": "m", "utm_campaign": "k", "utm_term": "t",
				"utm_content": "c", "utm_id": "i", "utm_alpha": "a", "utm_zeta": "z", "gclid": "g", "fbclid": "f"},
			wantJSON: `{"utm_source":"s","utm_medium":"m","utm_campaign":"k","utm_term":"t","utm_content":"c",` +
				`"utm_id":"i","utm_alpha":"a","utm_zeta":"z","gclid":"g","fbclid":"f"}`,
		},
		{
			name: "undecodable pair dropped", query: "utm_source=%zz&utm_medium=email",
			want: domain.MarketingParams{"utm_medium": "email"}, wantJSON: `{"utm_medium":"email"}`,
		},
		{
			// Go's url.ParseQuery rejects ";"-joined pairs; they are dropped
			// whole rather than half-parsed.
			name: "semicolon-joined pairs dropped", query: "utm_source=google;utm_medium=email&gclid=x",
			want:     domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "x"},
			wantJSON: `{"utm_source":"google","utm_medium":"cpc","gclid":"x"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := domain.ParseMarketingParams(&url.URL{Scheme: "https", Host: "example.com", RawQuery: tt.query})
			assert.Equal(t, tt.want, p)
			assert.Equal(t, tt.wantJSON, paramsJSON(t, p))
		})
	}
}

// TestParseMarketingParams_KeepsEveryContractClickID checks each listed ad
// click id is kept and that they marshal in the contract's order.
func TestParseMarketingParams_KeepsEveryContractClickID(t *testing.T) {
	t.Parallel()
	var query []string
	// Listed in reverse so that the output order cannot come from the input.
	for i := len(contractClickIDs) - 1; i >= 0; i-- {
		query = append(query, strings.ToUpper(contractClickIDs[i])+"=v_"+contractClickIDs[i])
	}
	p := domain.ParseMarketingParams(&url.URL{RawQuery: strings.Join(query, "&")})

	want := domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc"}
	wantJSON := `{"utm_source":"google","utm_medium":"cpc"`
	for _, id := range contractClickIDs {
		want[id] = "v_" + id
		wantJSON += `,"` + id + `":"v_` + id + `"`
	}
	wantJSON += "}"
	assert.Equal(t, want, p)
	assert.Equal(t, wantJSON, paramsJSON(t, p))
}

func TestMarketingParams_NilMarshalsAsEmptyObject(t *testing.T) {
	t.Parallel()
	var p domain.MarketingParams
	assert.Equal(t, `{}`, paramsJSON(t, p))
}

// TestParseMarketingParams_FirstValidValueKeptAcrossCaseVariants shows a bug:
// when the first pair of a key is dropped (undecodable value, or joined
// with ";"), the value kept is not the first valid one in the URL but the
// next value of the *same spelling* of the key, found out of order.
//
// In "UTM_SOURCE=%zz&utm_source=b&UTM_SOURCE=c" the first valid utm_source
// is "b", but ParseMarketingParams returns "c": its walk over the raw pairs
// looks each key up in url.ParseQuery's result, whose UTM_SOURCE entry holds
// only "c" (domain/params.go, ParseMarketingParams, the `vals, ok := q[key]`
// lookup).
func TestParseMarketingParams_FirstValidValueKeptAcrossCaseVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query string
		want  string
	}{
		{query: "UTM_SOURCE=%zz&utm_source=b&UTM_SOURCE=c", want: "b"},
		{query: "utm_source=x;y=1&UTM_Source=b&utm_source=c", want: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			p := domain.ParseMarketingParams(&url.URL{RawQuery: tt.query})
			assert.Equal(t, domain.MarketingParams{"utm_source": tt.want}, p)
		})
	}
}
