package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/aurix/integrations/domain"
)

// MaxWhatsAppBodyBytes bounds a Meta notification. It is larger than the
// API's 64 KiB because Meta batches updates and retries anything it cannot
// deliver; refusing a real batch would lose messages.
const MaxWhatsAppBodyBytes = 1 << 20

// challengeShape is what Meta sends as hub.challenge (digits in practice).
var challengeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// whatsappSignatureOK checks X-Hub-Signature-256 over the raw bytes in
// constant time.
func whatsappSignatureOK(secret []byte, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), got)
}

// verifyWhatsApp answers Meta's subscription handshake.
func (h *handlers) verifyWhatsApp(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || !h.verifyToken.equal(q.Get("hub.verify_token")) {
		writeProblem(w, Problem{Type: "/problems/forbidden", Title: "Forbidden", Status: http.StatusForbidden,
			Detail: "verify token does not match"})
		return
	}
	challenge := q.Get("hub.challenge")
	if !challengeShape.MatchString(challenge) {
		writeError(w, r, h.deps.Logger, &domain.ValidationError{Fields: []domain.FieldError{{Field: "hub.challenge", Message: "must be a token of letters and digits"}}})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// Meta's handshake wants the challenge echoed; it is checked to be a
	// plain token above and served as text/plain with nosniff.
	_, _ = io.WriteString(w, challenge) //nolint:gosec // G705: see above
}

// receiveWhatsApp checks the signature over the raw bytes before anything is
// parsed, then hands the messages to the inbox.
func (h *handlers) receiveWhatsApp(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWhatsAppBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeProblem(w, Problem{Type: "/problems/body-too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge})
			return
		}
		writeError(w, r, h.deps.Logger, &decodeError{msg: "could not read request body"})
		return
	}
	if !whatsappSignatureOK(h.deps.WhatsAppAppSecret, body, r.Header.Get("X-Hub-Signature-256")) {
		writeProblem(w, Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "missing or invalid X-Hub-Signature-256"})
		return
	}
	msgs, err := ParseWhatsAppNotification(body)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	if len(msgs) > 0 {
		if err := h.deps.WhatsApp.ReceiveMessages(r.Context(), msgs); err != nil {
			writeError(w, r, h.deps.Logger, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "received"})
}
