package telemetry

import (
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// httpMetricLabels are the only attributes the HTTP metrics keep: values the
// service chooses or that come from a closed set (otelhttp maps an unknown
// method to "_OTHER"; the route is the matched template, never the path).
// Everything else otelhttp v0.72 records is left out because a client picks
// it: server.address and server.port come from the request's Host header on
// the server side (a scrape would grow a series per forged Host) and from
// the partner's webhook URL on the client side, and network.protocol.version
// is whatever HTTP/1.x minor version the client writes.
var httpMetricLabels = []attribute.Key{
	"http.request.method",
	"http.response.status_code",
	"http.route",
	"url.scheme",
	"network.protocol.name",
	"error.type",
}

// HTTPMetricViews restrict otelhttp's server and client metrics to
// httpMetricLabels, so no value from a request becomes a label value.
func HTTPMetricViews() []sdkmetric.View {
	keep := sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter(httpMetricLabels...)}
	scope := instrumentation.Scope{Name: otelhttp.ScopeName}
	return []sdkmetric.View{
		sdkmetric.NewView(sdkmetric.Instrument{Name: "http.server.*", Scope: scope}, keep),
		sdkmetric.NewView(sdkmetric.Instrument{Name: "http.client.*", Scope: scope}, keep),
	}
}
