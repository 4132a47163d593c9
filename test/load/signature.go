package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The receiver checks both signatures the way a partner would, written from
// the partner document and the Standard Webhooks specification rather than
// from the service's own signing code (adapters/webhook), so a bug there
// cannot hide here. The golden vectors of adapters/webhook/testdata, made with
// Python's hmac and checked with the standardwebhooks npm library, pin both.

// verifyHubSignature is the partner document's verify_signature: the bare
// lower-case hex HMAC-SHA256 of the raw body keyed with the secret's UTF-8
// bytes, compared in constant time.
func verifyHubSignature(secret string, body []byte, header string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(header))
}

// whsecOf is the key a partner gives a Standard Webhooks library.
func whsecOf(secret string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(secret))
}

// standardTolerance is how far webhook-timestamp may be from the receiver's
// clock, as in the Standard Webhooks libraries (replay protection).
const standardTolerance = 5 * time.Minute

// verifyStandardWebhooks verifies webhook-id, webhook-timestamp and
// webhook-signature as a Standard Webhooks library does: the key is the
// base64 part after "whsec_", the signed content "<id>.<timestamp>.<body>",
// the header holds space-separated "v1,<base64>" entries of which one must
// match, and the timestamp must be within standardTolerance of now.
func verifyStandardWebhooks(whsec, id, timestamp string, body []byte, header string, now time.Time) error {
	if id == "" || timestamp == "" || header == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	encoded, ok := strings.CutPrefix(whsec, "whsec_")
	if !ok {
		return errors.New("key is not a whsec_ key")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("whsec key: %w", err)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not an integer", timestamp)
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > standardTolerance || skew < -standardTolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now", skew.Round(time.Second))
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	expected := m.Sum(nil)
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, expected) {
			return nil
		}
	}
	return errors.New("no webhook-signature entry matches")
}
