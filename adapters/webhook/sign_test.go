package webhook_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/webhook"
)

// signatureVector is one golden case of testdata/signatures.json. The
// expected signatures were computed by testdata/gen_signatures.py with
// Python's hmac/hashlib/base64, exactly as the partner document's
// verify_signature and a Standard Webhooks verifier compute them, so a
// partner's verifier accepts exactly the bytes and headers we send.
type signatureVector struct {
	Name             string `json:"name"`
	Secret           string `json:"secret"`
	WhSec            string `json:"whsec"`
	Body             string `json:"body"`
	ID               string `json:"id"`
	Timestamp        int64  `json:"timestamp"`
	XHubSignature    string `json:"x_hub_signature"`
	WebhookSignature string `json:"webhook_signature"`
}

func loadSignatureVectors(t *testing.T) []signatureVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "signatures.json"))
	require.NoError(t, err)
	var doc struct {
		Cases []signatureVector `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	// A truncated or emptied file must not pass as "all vectors match".
	require.GreaterOrEqual(t, len(doc.Cases), 7, "golden vectors missing")
	return doc.Cases
}

func TestHubSignature_GoldenVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadSignatureVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, v.XHubSignature, webhook.HubSignature(v.Secret, []byte(v.Body)))
		})
	}
}

func TestStandardSignature_GoldenVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadSignatureVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, v.WebhookSignature, webhook.StandardSignature(v.Secret, v.ID, v.Timestamp, []byte(v.Body)))
			// The whsec_ form partners configure their library with must
			// verify what we sign.
			assert.True(t, verifyStandardWebhooks(v.WhSec, v.ID, v.Timestamp, v.Body, v.WebhookSignature))
		})
	}
}

// TestSignatures_CoverContractEdgeCases keeps the vector file honest: the
// bodies that most often break a signature (non-ASCII UTF-8, "&", escaped
// quotes) must stay in it.
func TestSignatures_CoverContractEdgeCases(t *testing.T) {
	t.Parallel()
	var nonASCII, ampersand, escapedQuote bool
	for _, v := range loadSignatureVectors(t) {
		for _, r := range v.Body {
			if r > 0x7f {
				nonASCII = true
			}
		}
		ampersand = ampersand || strings.Contains(v.Body, "&")
		escapedQuote = escapedQuote || strings.Contains(v.Body, `\"`)
	}
	assert.True(t, nonASCII, "a body with non-ASCII UTF-8")
	assert.True(t, ampersand, "a body with &")
	assert.True(t, escapedQuote, "a body with an escaped quote")
}

func TestSignatures_DependOnEveryInput(t *testing.T) {
	t.Parallel()
	const secret, id, body = "aurix_secret", "evt_1", `{"a":1}`
	const ts = int64(1706005800)
	base := webhook.StandardSignature(secret, id, ts, []byte(body))
	assert.NotEqual(t, base, webhook.StandardSignature(secret+"x", id, ts, []byte(body)), "secret")
	assert.NotEqual(t, base, webhook.StandardSignature(secret, id+"x", ts, []byte(body)), "id")
	assert.NotEqual(t, base, webhook.StandardSignature(secret, id, ts+1, []byte(body)), "timestamp")
	assert.NotEqual(t, base, webhook.StandardSignature(secret, id, ts, []byte(body+" ")), "body")
	hub := webhook.HubSignature(secret, []byte(body))
	assert.NotEqual(t, hub, webhook.HubSignature(secret+"x", []byte(body)), "secret")
	assert.NotEqual(t, hub, webhook.HubSignature(secret, []byte(body+"\n")), "body")
	assert.Regexp(t, `^[0-9a-f]{64}$`, hub, "lower-case hex, no sha256= prefix")
}
