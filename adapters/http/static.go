package http

import (
	"embed"
	"net/http"
)

// staticFiles are the assets shipped inside the binary: the widget script
// site owners embed, and the API reference page with its renderer.
//
//go:embed static
var staticFiles embed.FS

// serveStatic answers one embedded file with its content type and a cache
// lifetime; the widget is fetched by every page view of every customer site.
func serveStatic(name, contentType, cacheControl string) http.HandlerFunc {
	body, err := staticFiles.ReadFile("static/" + name)
	if err != nil {
		panic("embedded asset missing: " + name) // a build without its assets is a broken build
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Any site may load the script; it carries no credentials.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(body)
	}
}
