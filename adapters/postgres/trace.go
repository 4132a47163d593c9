package postgres

import (
	"context"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"
)

// hotMarker starts the SQL of every statement in bypass_hotpath.go. The
// main pool's pgx tracer gives exactly these a span (bun's own statements
// get theirs from bunotel, River's from otelriver).
const hotMarker = "-- aurix:"

// hotTracer traces the hot-path statements with otelpgx: the span is named
// by the statement's marker (aurix.db click.insert), carries the SQL text
// (bind-parameter SQL, no values), never the parameters.
type hotTracer struct{ otel *otelpgx.Tracer }

type tracedKey struct{}

// newHotTracer returns a pgx tracer for the hot path on tp (nil: none).
func newHotTracer(tp trace.TracerProvider) pgx.QueryTracer {
	if tp == nil {
		return nil
	}
	return hotTracer{otel: otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithDisableConnectionDetailsInAttributes(),
		otelpgx.WithSpanNameFunc(func(sql string) string { return "aurix.db " + hotName(sql) }))}
}

// hotName is a marked statement's name: "-- aurix:claim.due\n…" → "claim.due".
func hotName(sql string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(sql, hotMarker), "\n")
	return strings.TrimSpace(name)
}

func (t hotTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(data.SQL, hotMarker) {
		return ctx
	}
	return context.WithValue(t.otel.TraceQueryStart(ctx, conn, data), tracedKey{}, true)
}

func (t hotTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if traced, _ := ctx.Value(tracedKey{}).(bool); traced {
		t.otel.TraceQueryEnd(ctx, conn, data)
	}
}
