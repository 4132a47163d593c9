package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

var errUnauthorized = errors.New("unauthorized")

// keyRing holds one API key per integration service and checks a presented
// key in constant time. Keys are compared as SHA-256 digests so that neither
// their content nor their length leaks through timing.
type keyRing map[string][32]byte

func newKeyRing(keys map[string]string) keyRing {
	ring := keyRing{}
	for service, key := range keys {
		if key != "" {
			ring[service] = sha256.Sum256([]byte(key))
		}
	}
	return ring
}

// allows reports whether presented is the key of service. An unknown service
// is compared against a zero digest so it takes the same time.
func (k keyRing) allows(service, presented string) bool {
	want, known := k[service]
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1 && known
}

// bearer extracts the token of an "Authorization: Bearer …" header. A
// request with more than one Authorization header has no token:
// Authorization is a singleton field, and a proxy in front might judge
// another of them than this service would.
func bearer(r *http.Request) string {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return ""
	}
	h := values[0]
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}

// basicAuth guards a handler with one user and password, compared in
// constant time. Without a password nothing is let through: an empty
// password is no credential.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser := sha256.Sum256([]byte(user))
	wantPass := sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(u))
		gotPass := sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(wantUser[:], gotUser[:])
		passOK := subtle.ConstantTimeCompare(wantPass[:], gotPass[:])
		if !ok || userOK&passOK != 1 || password == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="aurix-admin", charset="UTF-8"`)
			writeProblem(w, Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secretMatcher checks a presented secret against one expected value in
// constant time; an unset expected value matches nothing.
type secretMatcher struct {
	digest [32]byte
	set    bool
}

func newSecretMatcher(secret string) secretMatcher {
	return secretMatcher{digest: sha256.Sum256([]byte(secret)), set: secret != ""}
}

func (m secretMatcher) equal(presented string) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(m.digest[:], got[:]) == 1 && m.set
}
