package postgres

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

//	go test ./adapters/postgres -run='^$' -fuzz=FuzzDecodeStringObject -fuzztime=60s

var stringObjectSamples = []string{
	`{}`, ` { } `, `{"name": "Zoë", "email": "z@example.com", "phone": "+15550001111"}`,
	`{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd&123<>"}`,
	`{"a":"1","a":"2"}`, `{"esc": "\" \\ \/ \b \f \n \r \t \u0041\u00e9\u2028\u0000"}`,
	"{\"ws\"\t:\n\"v\"\r,\"x\" : \"\"}", `{"": ""}`, `{"日本": "🎉"}`,
	// Left to encoding/json: surrogates, other values, bad JSON, null.
	`{"pair": "\ud83c\udf89"}`, `{"lone": "\ud800"}`, `{"n": 1}`, `{"o": {}}`, `{"a": null}`, `null`, ``, ` `,
	`{"a":"b",}`, `{"a":"b"} x`, `{"a" "b"}`, `{"a":"b"`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"` + "\x01" + `"}`,
	`{"a":"` + "\xff" + `"}`, `["a"]`, `"a"`, `{a:"b"}`, `{"a":"b"}}`, "\ufeff{}",
}

func TestDecodeStringObject_AsJSONUnmarshal(t *testing.T) {
	t.Parallel()
	for _, in := range stringObjectSamples {
		var want map[string]string
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := decodeStringObject([]byte(in))
		if wantErr != nil {
			assert.EqualError(t, err, wantErr.Error(), "input %q", in)
			continue
		}
		require.NoError(t, err, "input %q", in)
		assert.Equal(t, want, got, "input %q", in)
		assert.Equal(t, want == nil, got == nil, "nil-ness of %q", in)
	}
}

func TestDecodeStringObject_FlatObjectsNeedNoReflection(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{}`, `{"name": "Zoë", "email": "z@example.com"}`, `{"esc": "a\"b\u00e9"}`} {
		_, ok := decodeFlatStringObject([]byte(in))
		assert.True(t, ok, "input %q", in)
	}
	big := `{"k0": "` + strings.Repeat("v", 2000) + `", "k1": "w"}`
	m, ok := decodeFlatStringObject([]byte(big))
	require.True(t, ok)
	assert.Equal(t, map[string]string{"k0": strings.Repeat("v", 2000), "k1": "w"}, m)
}

func TestDecodeStringObject_Allocations(t *testing.T) {
	in := []byte(`{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring_10", "gclid": "Cj088890"}`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeStringObject(in); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0, "the map and one string")
}

func FuzzDecodeStringObject(f *testing.F) {
	for _, in := range stringObjectSamples {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var want map[string]string
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := decodeStringObject([]byte(in))
		if wantErr != nil {
			if err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("%q: error %v, json.Unmarshal: %v", in, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Fatalf("%q: got %q, json.Unmarshal: %q", in, got, want)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Fatalf("%q: got %q, json.Unmarshal: %q", in, got, want)
			}
		}
	})
}
