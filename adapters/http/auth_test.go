package http

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnauthorizedChallenges: River UI's basic auth answers a Basic
// challenge (the one a browser turns into a login prompt), the API's keys a
// Bearer one, and the right password passes.
func TestUnauthorizedChallenges(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	admin := basicAuth("admin", "pw", ok)

	for name, setAuth := range map[string]func(*http.Request){
		"no credentials":  func(*http.Request) {},
		"wrong password":  func(r *http.Request) { r.SetBasicAuth("admin", "nope") },
		"a Bearer header": func(r *http.Request) { r.Header.Set("Authorization", "Bearer pw") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/riverui/", nil)
			setAuth(req)
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.Equal(t, []string{`Basic realm="aurix-admin", charset="UTF-8"`}, rec.Header().Values("WWW-Authenticate"))
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		})
	}

	req := httptest.NewRequest(http.MethodGet, "/riverui/", nil)
	req.SetBasicAuth("admin", "pw")
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)

	h := &handlers{keys: newKeyRing(map[string]string{"topkee": "k"})}
	rec = httptest.NewRecorder()
	h.requireIntegrationKey(ok).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/integrations/topkee/leads", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, []string{`Bearer realm="aurix"`}, rec.Header().Values("WWW-Authenticate"))
}

// TestBasicAuthWithoutAPasswordLetsNothingThrough: with AURIX_ADMIN_PASSWORD
// unset the erasure route is still there, and an empty password (which a
// client can send) is no credential.
func TestBasicAuthWithoutAPasswordLetsNothingThrough(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	guarded := basicAuth("admin", "", ok)
	for _, pass := range []string{"", "x"} {
		req := httptest.NewRequest(http.MethodPost, "/api/admin/erasures", nil)
		req.SetBasicAuth("admin", pass)
		rec := httptest.NewRecorder()
		guarded.ServeHTTP(rec, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "password %q", pass)
	}
}
