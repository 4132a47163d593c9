package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestAnonymizeIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.77":                    "203.0.113.0",
		"203.0.113.0":                     "203.0.113.0",
		"10.1.2.255":                      "10.1.2.0",
		"2001:db8:abcd:12:34:56:78:9":     "2001:db8:abcd::",
		"2001:db8:ab::1":                  "2001:db8:ab::",
		"::ffff:198.51.100.9":             "198.51.100.0", // IPv4-mapped counts as IPv4
		"fe80::1%eth0":                    "fe80::",
		"2606:4700:4700::1111":            "2606:4700:4700::",
		"2a00:1450:4001:80b::200e":        "2a00:1450:4001::",
		"not an address":                  "not an address",
		"":                                "",
		"2001:0db8:0000:0000:0000:ff00::": "2001:db8::",
	} {
		assert.Equal(t, want, domain.AnonymizeIP(in), in)
	}
}

func TestRecordClick_AnonymizesIPWhenAsked(t *testing.T) {
	t.Parallel()
	click := func(ip string, anonymize bool) domain.WidgetClickData {
		src, err := domain.RecordClick(domain.NewClick{CorrelationID: "O-xY123z", ClickURL: "https://example.com/?utm_source=x",
			DeviceID: "d", UserAgent: "Mozilla/5.0", IPAddress: ip, AnonymizeIP: anonymize, EventID: "e", Now: journeyClickAt})
		require.NoError(t, err)
		ev := src.PullEvents()
		require.Len(t, ev, 1)
		sent := ev[0].Data.(domain.WidgetClickData)
		assert.Equal(t, src.Row().IPAddress, sent.IPAddress, "stored and sent are the same")
		return sent
	}
	assert.Equal(t, "198.51.100.77", click("198.51.100.77", false).IPAddress, "kept whole by default")
	assert.Equal(t, "198.51.100.0", click("198.51.100.77", true).IPAddress)
	assert.Equal(t, "2001:db8:abcd::", click("2001:db8:abcd:12::9", true).IPAddress)
	assert.Empty(t, click("", true).IPAddress)
}

func TestStripClickURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://example.com/landing?utm_source=google&gclid=AbCd123":                  "https://example.com/landing?utm_source=google&gclid=AbCd123",
		"https://example.com/landing?email=jo%40example.com&utm_source=google&name=Jo": "https://example.com/landing?utm_source=google",
		"https://user:pw@example.com:8443/p/a/t/h?UTM_Campaign=spring&token=s3cret#me": "https://example.com:8443/p/a/t/h?UTM_Campaign=spring",
		"http://example.com":                      "http://example.com",
		"https://example.com/?":                   "https://example.com/",
		"https://example.com/?a=1;utm_source=x":   "https://example.com/",
		"https://example.com/%7Euser?fbclid=F":    "https://example.com/%7Euser?fbclid=F",
		"ftp://example.com/file?utm_source=x":     "",
		"not a url":                               "",
		"":                                        "",
		"https://fb.me/3cr4Wqqkv":                 "https://fb.me/3cr4Wqqkv",
		"https://example.com/x?utm_=1&utm_term=b": "https://example.com/x?utm_term=b",
	} {
		assert.Equal(t, want, domain.StripClickURL(in), in)
	}
}

func TestMessageKey(t *testing.T) {
	t.Parallel()
	id := "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
	sum := sha256.Sum256([]byte(id))
	key := domain.MessageKey(id)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), key, "the migration computes the same digest in SQL")
	assert.Equal(t, key, domain.MessageKey(id), "a redelivery finds its key")
	assert.NotEqual(t, key, domain.MessageKey(id+"x"))
	assert.NotContains(t, key, "16505551234")
	assert.False(t, strings.Contains(key, "wamid"))
}
