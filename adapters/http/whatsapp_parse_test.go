package http

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// whatsappSamplesDir holds the platform contract's sample notifications,
// relative to this package's directory (the tests' working directory).
const whatsappSamplesDir = "../../../shared/spec/whatsapp-samples"

func TestParseWhatsAppNotification_Samples(t *testing.T) {
	t.Parallel()

	tests := map[string][]ports.InboundMessage{
		"text-with-ref.json": {{
			MessageID: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
			ChannelID: "791163770738681",
			Sender:    domain.Sender{Phone: "+16505551234", BSUID: "US.13491208655302741918"},
			Text:      "Hi! I'd like to know more. [ref: O-xY123z]",
		}},
		"bsuid-only.json": {{
			MessageID: "wamid.HBgLQlNVSURPTkxZMDAxFQIAEhgUM0E0QjY1OTlBRUUwMzgxMDE0NEYA",
			ChannelID: "791163770738681",
			Sender:    domain.Sender{Phone: "", BSUID: "DE.10293847561029384756"},
			Text:      "[ref: O-Q7w2Lm] hi",
		}},
		"ctwa-referral.json": {{
			MessageID: "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBCNkM3RTg5QTFCMkQzRjQ1AA==",
			ChannelID: "791163770738681",
			Sender:    domain.Sender{Phone: "+5511987654321", BSUID: "BR.88127731200193847711"},
			Text:      "Hello, is this still available?",
			Referral: &domain.ReferralSource{
				SourceURL:  "https://fb.me/3cr4Wqqkv",
				SourceID:   "120210000000000000",
				SourceType: "ad",
				CtwaClid:   "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a",
			},
		}},
		"status-update.json": nil,
	}

	// Every sample in the contract has an expectation here.
	files, err := filepath.Glob(filepath.Join(whatsappSamplesDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "samples not found under %s", whatsappSamplesDir)
	for _, f := range files {
		_, ok := tests[filepath.Base(f)]
		assert.True(t, ok, "no expectation for sample %s", filepath.Base(f))
	}

	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(filepath.Join(whatsappSamplesDir, name))
			require.NoError(t, err)
			got, err := ParseWhatsAppNotification(body)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// whatsappBatch has two entries; the first holds a "messages" change with
// three messages and two contacts, a change of another field and a change
// without a channel; the second holds one message of each other text kind
// and messages that cannot be attributed.
const whatsappBatch = `{
  "object": "whatsapp_business_account",
  "entry": [
    {"id": "1", "changes": [
      {"field": "messages", "value": {
        "metadata": {"phone_number_id": "111111"},
        "contacts": [
          {"wa_id": "15550001111", "user_id": "US.A"},
          {"wa_id": "15550002222", "user_id": "US.B"}
        ],
        "messages": [
          {"from": "15550002222", "id": "wamid.1", "type": "text", "text": {"body": "one O-aaaaaa"}},
          {"from": "15550001111", "id": "wamid.2", "type": "image", "image": {"caption": "two", "id": "media"}},
          {"from": "15550003333", "id": "wamid.2b", "type": "text", "text": {"body": "not a listed contact"}}
        ]
      }},
      {"field": "account_update", "value": {
        "metadata": {"phone_number_id": "111111"},
        "messages": [{"from": "15550001111", "id": "wamid.ignored-field", "text": {"body": "no"}}]
      }},
      {"field": "messages", "value": {
        "metadata": {"phone_number_id": ""},
        "messages": [{"from": "15550001111", "id": "wamid.ignored-no-channel", "text": {"body": "no"}}]
      }}
    ]},
    {"id": "2", "changes": [
      {"field": "messages", "value": {
        "metadata": {"phone_number_id": "222222"},
        "messages": [
          {"from": "+4915112345678", "id": "wamid.3", "type": "button", "button": {"text": "three", "payload": "p"}},
          {"from": "4915112345678", "from_user_id": "DE.C", "id": "wamid.4", "type": "video", "video": {"caption": "four"}},
          {"from_user_id": "DE.D", "id": "wamid.5", "type": "document", "document": {"caption": "five"}},
          {"from": "4915112345678", "id": "wamid.6", "type": "sticker"},
          {"id": "wamid.skipped-no-sender", "type": "text", "text": {"body": "x"}},
          {"from": "12345", "id": "wamid.skipped-short-number", "type": "text", "text": {"body": "x"}},
          {"from": "1234567890123456", "id": "wamid.skipped-long-number", "type": "text", "text": {"body": "x"}},
          {"from_user_id": "bad bsuid", "id": "wamid.skipped-bad-bsuid", "type": "text", "text": {"body": "x"}},
          {"from": "4915112345678", "id": "", "type": "text", "text": {"body": "skipped: no id"}},
          {"from": "4915112345678", "id": "wamid with space", "type": "text", "text": {"body": "skipped: bad id"}}
        ]
      }}
    ]}
  ]
}`

func TestParseWhatsAppNotification_Batch(t *testing.T) {
	t.Parallel()

	got, err := ParseWhatsAppNotification([]byte(whatsappBatch))
	require.NoError(t, err)
	assert.Equal(t, []ports.InboundMessage{
		{MessageID: "wamid.1", ChannelID: "111111", Sender: domain.Sender{Phone: "+15550002222", BSUID: "US.B"}, Text: "one O-aaaaaa"},
		{MessageID: "wamid.2", ChannelID: "111111", Sender: domain.Sender{Phone: "+15550001111", BSUID: "US.A"}, Text: "two"},
		{MessageID: "wamid.2b", ChannelID: "111111", Sender: domain.Sender{Phone: "+15550003333"}, Text: "not a listed contact"},
		{MessageID: "wamid.3", ChannelID: "222222", Sender: domain.Sender{Phone: "+4915112345678"}, Text: "three"},
		{MessageID: "wamid.4", ChannelID: "222222", Sender: domain.Sender{Phone: "+4915112345678", BSUID: "DE.C"}, Text: "four"},
		{MessageID: "wamid.5", ChannelID: "222222", Sender: domain.Sender{BSUID: "DE.D"}, Text: "five"},
		{MessageID: "wamid.6", ChannelID: "222222", Sender: domain.Sender{Phone: "+4915112345678"}, Text: ""},
	}, got)
}

func TestParseWhatsAppNotification_TextBounded(t *testing.T) {
	t.Parallel()

	body := `{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},` +
		`"messages":[{"from":"16505551234","id":"w","text":{"body":"` + strings.Repeat("a", 5000) + `"}}]}}]}]}`
	got, err := ParseWhatsAppNotification([]byte(body))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, strings.Repeat("a", 4096), got[0].Text)
}

func TestParseWhatsAppNotification_Referral(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		referral string
		want     *domain.ReferralSource
	}{
		{"absent", ``, nil},
		{"empty object", `,"referral":{}`, nil},
		{"only source_type", `,"referral":{"source_type":"ad"}`, nil},
		{"only ctwa_clid", `,"referral":{"ctwa_clid":"c"}`, &domain.ReferralSource{CtwaClid: "c"}},
		{"only source_id", `,"referral":{"source_id":"1","source_type":"post"}`, &domain.ReferralSource{SourceID: "1", SourceType: "post"}},
		{"only source_url", `,"referral":{"source_url":"https://fb.me/x"}`, &domain.ReferralSource{SourceURL: "https://fb.me/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},` +
				`"messages":[{"from":"16505551234","id":"w","text":{"body":"hi"}` + tt.referral + `}]}}]}]}`
			got, err := ParseWhatsAppNotification([]byte(body))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0].Referral)
		})
	}
}

func TestParseWhatsAppNotification_NotJSON(t *testing.T) {
	t.Parallel()

	for _, body := range []string{"", "{", "not json", "<xml/>", `{"entry":[}`, "\xff\xfe"} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			got, err := ParseWhatsAppNotification([]byte(body))
			require.Error(t, err)
			var de *decodeError
			assert.True(t, errors.As(err, &de), "want a decodeError (400), got %T", err)
			assert.Nil(t, got)
		})
	}
}

func TestParseWhatsAppNotification_OtherJSON(t *testing.T) {
	t.Parallel()

	for _, body := range []string{"[]", "[1,2]", "42", `"s"`, "null", "true", "{}", `{"entry":null}`, `{"entry":[{}]}`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			var (
				got []ports.InboundMessage
				err error
			)
			require.NotPanics(t, func() { got, err = ParseWhatsAppNotification([]byte(body)) })
			assert.Empty(t, got)
			if err != nil {
				var de *decodeError
				assert.True(t, errors.As(err, &de), "want a decodeError (400), got %T", err)
			}
		})
	}
}

// BUG: one field of an unexpected type anywhere in a notification makes the
// whole notification a 400, so Meta retries it forever and the valid
// messages in it are never received. ParseWhatsAppNotification's comment and
// the contract say only a body that is not JSON is an error.
func TestParseWhatsAppNotification_OddFieldDoesNotLoseTheBatch(t *testing.T) {
	t.Parallel()

	body := `{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[
		{"from":"16505551234","id":"wamid.good","text":{"body":"[ref: O-xY123z]"}},
		{"from":"16505551234","id":"wamid.odd","text":"a string where an object was expected"}
	]}}]}]}`
	got, err := ParseWhatsAppNotification([]byte(body))
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.Equal(t, ports.InboundMessage{
		MessageID: "wamid.good", ChannelID: "1",
		Sender: domain.Sender{Phone: "+16505551234"}, Text: "[ref: O-xY123z]",
	}, got[0])
}

// BUG: with a single contact, its user_id is given to the message even when
// the contact's wa_id is another number than the sender's. The code comment
// says the lone contact is used only when the number is hidden. A foreign
// BSUID can route the message into another person's conversation (Open
// matches phone OR bsuid).
func TestParseWhatsAppNotification_LoneContactOfAnotherNumber(t *testing.T) {
	t.Parallel()

	body := `{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
		"contacts":[{"wa_id":"15550001111","user_id":"US.A"}],
		"messages":[{"from":"15550002222","id":"wamid.1","text":{"body":"hi"}}]}}]}]}`
	got, err := ParseWhatsAppNotification([]byte(body))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, domain.Sender{Phone: "+15550002222"}, got[0].Sender)
}

func TestWhatsAppSignatureOK(t *testing.T) {
	t.Parallel()

	secret := []byte("key")
	body := []byte("The quick brown fox jumps over the lazy dog")
	const sig = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"correct", secret, body, "sha256=" + sig, true},
		{"one hex digit wrong", secret, body, "sha256=" + sig[:63] + "9", false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"odd length hex", secret, body, "sha256=" + sig[:63], false},
		{"truncated", secret, body, "sha256=" + sig[:32], false},
		{"digest doubled", secret, body, "sha256=" + sig + sig, false},
		{"missing prefix", secret, body, sig, false},
		{"sha1 prefix", secret, body, "sha1=" + sig, false},
		{"uppercase prefix", secret, body, "SHA256=" + sig, false},
		{"space before", secret, body, " sha256=" + sig, false},
		{"newline after", secret, body, "sha256=" + sig + "\n", false},
		{"prefix only", secret, body, "sha256=", false},
		{"empty", secret, body, "", false},
		{"other body", secret, []byte("The quick brown fox jumps over the lazy dog."), "sha256=" + sig, false},
		{"empty body", secret, nil, "sha256=" + sig, false},
		{"other secret", []byte("key2"), body, "sha256=" + sig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, whatsappSignatureOK(tt.secret, tt.body, tt.header))
		})
	}
}

var (
	fuzzPhoneShape = regexp.MustCompile(`^\+[0-9]{6,15}$`)
	fuzzBSUIDShape = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// Seeds: the four contract samples in testdata/fuzz/FuzzParseWhatsAppNotification
// and the batch above.
func FuzzParseWhatsAppNotification(f *testing.F) {
	f.Add([]byte(whatsappBatch))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},` +
		`"contacts":[{"user_id":"X.1"}],"messages":[{"id":"w","text":{"body":"O-abcdef"}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := ParseWhatsAppNotification(body)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a decodeError: %v", err, err)
			}
			if msgs != nil {
				t.Fatalf("messages returned with an error")
			}
			return
		}
		for i, m := range msgs {
			if m.MessageID == "" || m.ChannelID == "" {
				t.Fatalf("message %d: empty MessageID %q or ChannelID %q", i, m.MessageID, m.ChannelID)
			}
			if m.Sender.Phone == "" && m.Sender.BSUID == "" {
				t.Fatalf("message %d: no sender", i)
			}
			if m.Sender.Phone != "" && !fuzzPhoneShape.MatchString(m.Sender.Phone) {
				t.Fatalf("message %d: phone %q is not E.164", i, m.Sender.Phone)
			}
			if m.Sender.BSUID != "" && !fuzzBSUIDShape.MatchString(m.Sender.BSUID) {
				t.Fatalf("message %d: bsuid %q has an unexpected shape", i, m.Sender.BSUID)
			}
			if len(m.Text) > maxMessageText {
				t.Fatalf("message %d: text of %d bytes", i, len(m.Text))
			}
		}
	})
}
