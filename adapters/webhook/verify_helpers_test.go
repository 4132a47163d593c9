package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// verifyHubSignature is the partner document's verify_signature written in
// Go: the lower-case hex HMAC-SHA256 of the raw body keyed with the secret's
// UTF-8 bytes, compared in constant time with the bare header value.
func verifyHubSignature(body []byte, header, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	expected := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(header))
}

// verifyStandardWebhooks verifies a webhook-signature header as a Standard
// Webhooks library does: the key is the base64-decoded part after "whsec_",
// the signed content is "<id>.<timestamp>.<body>", and the header holds
// space-separated "v1,<base64>" entries of which one must match.
func verifyStandardWebhooks(whsec, id string, timestamp int64, body, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil || !strings.HasPrefix(whsec, "whsec_") {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "." + body))
	expected := m.Sum(nil)
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, expected) {
			return true
		}
	}
	return false
}

// whsecOf is the secret a partner configures a Standard Webhooks library with.
func whsecOf(secret string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(secret))
}
