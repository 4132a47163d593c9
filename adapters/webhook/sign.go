package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// HubSignature is the partner document's x-hub-signature: the lower-case hex
// HMAC-SHA256 of the raw body keyed with the secret's UTF-8 bytes, no prefix.
func HubSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// StandardSignature is one Standard Webhooks signature entry:
// "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)).
// A Standard Webhooks library verifies it with "whsec_" + base64(secret).
func StandardSignature(secret, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
