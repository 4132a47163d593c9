package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	httpadapter "github.com/aurix/integrations/adapters/http"
	"github.com/aurix/integrations/adapters/http/openapi"
)

// contract checks every request the tests send to a service, and every
// response they get, against the OpenAPI description. A request the
// description rejects must be refused with a 4xx; every response must match
// its documented status, content type and schema.
type contract struct {
	mu         sync.Mutex
	routers    map[string]routers.Router // by host:port of a running service
	violations map[string][]string
}

var apiContract = &contract{routers: map[string]routers.Router{}, violations: map[string][]string{}}

func init() {
	http.DefaultClient.Transport = &validatingTransport{next: http.DefaultTransport, c: apiContract}
	text := func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	openapi3filter.RegisterBodyDecoder("text/html", text)
	openapi3filter.RegisterBodyDecoder("text/javascript", text)
}

// watch starts checking the traffic to host; the returned function reports
// what was found and stops.
func (c *contract) watch(t *testing.T, host, baseURL string) func() {
	doc, err := openapi.Load()
	require.NoError(t, err)
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	c.mu.Lock()
	c.routers[host] = router
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, v := range c.violations[host] {
			t.Errorf("OpenAPI contract: %s", v)
		}
		delete(c.routers, host)
		delete(c.violations, host)
	}
}

type validatingTransport struct {
	next http.RoundTripper
	c    *contract
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	v.c.mu.Lock()
	router := v.c.routers[req.URL.Host]
	v.c.mu.Unlock()
	if router == nil {
		return v.next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if problem := check(router, req, reqBody, resp, respBody); problem != "" {
		v.c.mu.Lock()
		v.c.violations[req.URL.Host] = append(v.c.violations[req.URL.Host], problem)
		v.c.mu.Unlock()
	}
	return resp, nil
}

func check(router routers.Router, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) string {
	what := fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, resp.StatusCode)
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(probe)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return "" // a route that does not exist, refused as such
		}
		return fmt.Sprintf("%s: not in the description (%v)", what, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && resp.StatusCode < 400 {
		return fmt.Sprintf("%s: the description rejects this request (%v) but the service accepted it", what, firstLine(err))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Sprintf("%s: response does not match the description: %v", what, firstLine(err))
	}
	return ""
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return s
}

// TestRoutesMatchTheDescription fails when a route exists in the router but
// not in the description, or the reverse.
func TestRoutesMatchTheDescription(t *testing.T) {
	t.Parallel()
	router := httpadapter.NewRouter(httpadapter.Deps{Admin: http.NotFoundHandler(), AdminPrefix: "/riverui", AdminPassword: "x",
		Metrics: http.NotFoundHandler(), WidgetRateLimit: 1})
	inRouter := map[string]bool{}
	require.NoError(t, router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, tmplErr := route.GetPathTemplate()
		if tmplErr != nil {
			return nil //nolint:nilerr // a route without a path template (none here) is not an HTTP operation
		}
		methods, err := route.GetMethods()
		if err != nil {
			// Prefix routes without methods: River UI's mount, and the
			// subrouters' prefixes (their routes are walked on their own).
			if tmpl == "/riverui" {
				inRouter["GET /riverui/"] = true
			}
			return nil
		}
		tmpl = strings.NewReplacer("{conversation_id:[0-9]+}", "{conversation_id}").Replace(tmpl)
		for _, m := range methods {
			inRouter[m+" "+tmpl] = true
		}
		return nil
	}))
	doc, err := openapi.Load()
	require.NoError(t, err)
	inDoc := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			inDoc[method+" "+path] = true
		}
	}
	var onlyRouter, onlyDoc []string
	for k := range inRouter {
		if !inDoc[k] {
			onlyRouter = append(onlyRouter, k)
		}
	}
	for k := range inDoc {
		if !inRouter[k] {
			onlyDoc = append(onlyDoc, k)
		}
	}
	sort.Strings(onlyRouter)
	sort.Strings(onlyDoc)
	require.Empty(t, onlyRouter, "routes missing from the OpenAPI description")
	require.Empty(t, onlyDoc, "described operations the router does not serve")
	require.Greater(t, len(inDoc), 20)
}

// TestOpenAPIAndDocsAreServed: the description and its reference page come
// from the binary itself.
func TestOpenAPIAndDocsAreServed(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	resp, raw := svc.do(t, http.MethodGet, "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	resp, raw = svc.do(t, http.MethodGet, "/docs", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(raw), `src="/docs/redoc.standalone.js"`)
	require.NotContains(t, string(raw), "cdn")
	resp, raw = svc.do(t, http.MethodGet, "/docs/redoc.standalone.js", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Greater(t, len(raw), 100_000)
}
