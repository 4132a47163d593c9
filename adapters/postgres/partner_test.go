package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// tickingClock moves one second on at every reading, so every row gets its
// own created_at.
type tickingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("01900000-0000-7000-8000-%012d", s.n)
}

// fixedRefs hands out the references of referral clicks in order.
type fixedRefs struct {
	mu   sync.Mutex
	refs []domain.CorrelationID
}

func (f *fixedRefs) NewCorrelationID() (domain.CorrelationID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := f.refs[0]
	f.refs = f.refs[1:]
	return ref, nil
}

// clickFields is what the Leads API shows of a lead's click.
type clickFields struct {
	CorrelationID *domain.CorrelationID
	CorrelatedAt  *time.Time
	ClickURL      *string
	ParsedParams  domain.MarketingParams
}

func clickOf(r ports.LeadRecord) clickFields {
	return clickFields{CorrelationID: r.CorrelationID, CorrelatedAt: r.CorrelatedAt, ClickURL: r.ClickURL, ParsedParams: r.ParsedParams}
}

// leadsJourney stores what the service's own use cases make of widget
// clicks and WhatsApp messages: leads correlated by a quoted reference and by
// a Click-to-WhatsApp referral, leads with no click (none quoted, or one
// already taken), a BSUID-only sender, a bot's click quoted by a person
// (the bot flag only keeps it out of the default Attribution listing) and a
// click nobody answered.
func leadsJourney(t *testing.T) (*postgres.DB, *postgres.Store) {
	t.Helper()
	ctx := context.Background()
	b := setupUoW(t)
	uow := b.uow
	clock := &tickingClock{now: time.Date(2026, 2, 14, 9, 0, 0, 0, time.UTC)}
	ids := &seqIDs{}
	for i, c := range []struct {
		ref, url string
		bot      bool
	}{
		{"O-REF001", "https://example.com/landing?utm_source=google&gclid=AbCd123&x=<1>", false},
		{"O-REF002", "https://example.com/?utm_source=news&utm_campaign=spring%20sale", false},
		{"O-REF003", "https://example.com/?utm_source=bot", true},
		{"O-REF004", "https://example.com/?utm_source=never", false},
	} {
		s, err := domain.RecordClick(domain.NewClick{CorrelationID: domain.CorrelationID(c.ref), ClickURL: c.url,
			DeviceID: fmt.Sprintf("dev-%d", i), UserAgent: "Mozilla/5.0", IPAddress: "203.0.113.9", IsBot: c.bot,
			EventID: ids.NewID(), Now: clock.Now()})
		require.NoError(t, err)
		require.NoError(t, recordClick(uow, s, func() error { return nil }))
	}
	wa := &application.WhatsApp{UoW: uow, Clock: clock, IDs: ids, Window: time.Hour,
		Refs: &fixedRefs{refs: []domain.CorrelationID{"O-CTWA01"}}}
	msg := func(n int, sender domain.Sender, text string, referral *domain.ReferralSource) ports.InboundMessage {
		return ports.InboundMessage{MessageID: fmt.Sprintf("wamid.%d", n), ChannelID: "791163770738681", Sender: sender,
			Text: text, Referral: referral}
	}
	require.NoError(t, wa.ReceiveMessages(ctx, []ports.InboundMessage{
		msg(1, domain.Sender{Phone: "+15550000001"}, "Hi! My reference is O-REF001", nil),
		msg(2, domain.Sender{Phone: "+15550000002"}, "Hello from the ad", &domain.ReferralSource{
			SourceURL: "https://fb.me/ad?a=1&b=2", SourceID: "120208", SourceType: "ad", CtwaClid: "ARAkLkA8"}),
		msg(3, domain.Sender{Phone: "+15550000003"}, "No reference here", nil),
		msg(4, domain.Sender{Phone: "+15550000004"}, "Me too: O-REF001", nil),
		msg(5, domain.Sender{BSUID: "US.13491208655302741918"}, "O-REF002 please", nil),
		msg(6, domain.Sender{Phone: "+15550000006"}, "A bot's reference O-REF003", nil),
	}))
	return b.db, postgres.NewStore(b.db)
}

func allLeads(t *testing.T, store *postgres.Store, q ports.PageQuery) []ports.LeadRecord {
	t.Helper()
	var out []ports.LeadRecord
	require.NoError(t, store.Leads(context.Background(), q, 0, func(r ports.LeadRecord, _ ports.PageKey) error {
		out = append(out, r)
		return nil
	}))
	return out
}

// TestLeads_ClickFoundByConversation: the Leads query finds a lead's click
// by conversation_id. That is the click its correlation_id names, because a
// correlated click always carries its lead's conversation (both are written
// in the transaction that opens the lead, by SaveCorrelation for a quoted
// reference and by Add for a referral) and no other click does. The test
// checks that invariant on what the use cases store, then that the Leads API
// shows the same click fields as a join on correlation_id would.
func TestLeads_ClickFoundByConversation(t *testing.T) {
	t.Parallel()
	db, store := leadsJourney(t)
	ctx := context.Background()

	var n int
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM leads l JOIN inbound_sources s ON s.correlation_id = l.correlation_id
		WHERE s.conversation_id IS DISTINCT FROM l.conversation_id`).Scan(&n))
	assert.Zero(t, n, "a correlated lead's click has the lead's conversation_id")
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM inbound_sources s JOIN leads l ON l.conversation_id = s.conversation_id
		WHERE l.correlation_id IS DISTINCT FROM s.correlation_id`).Scan(&n))
	assert.Zero(t, n, "a click with a conversation is the click its lead names")
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM inbound_sources WHERE conversation_id IS NOT NULL`).Scan(&n))
	assert.Equal(t, 4, n, "clicks correlated: three quoted references and one referral")

	leads := allLeads(t, store, ports.PageQuery{})
	require.Len(t, leads, 6)

	// The same click fields as a join on correlation_id, row for row.
	rows, err := db.SQL.QueryContext(ctx, `SELECT l.conversation_id, l.correlation_id, s.correlated_at, s.click_url, s.parsed_params::text
		FROM leads l LEFT JOIN inbound_sources s ON s.correlation_id = l.correlation_id ORDER BY l.created_at, l.conversation_id`)
	require.NoError(t, err)
	defer rows.Close()
	i := 0
	for rows.Next() {
		var (
			id     int64
			ref    *string
			at     *time.Time
			url    *string
			params *string
		)
		require.NoError(t, rows.Scan(&id, &ref, &at, &url, &params))
		require.Less(t, i, len(leads))
		got := leads[i]
		assert.Equal(t, id, got.ConversationID)
		if ref == nil {
			assert.Nil(t, got.CorrelationID, "lead %d", id)
		} else {
			require.NotNil(t, got.CorrelationID, "lead %d", id)
			assert.Equal(t, *ref, string(*got.CorrelationID))
		}
		assert.Equal(t, url, got.ClickURL, "click_url of lead %d", id)
		if at == nil {
			assert.Nil(t, got.CorrelatedAt, "lead %d", id)
		} else {
			require.NotNil(t, got.CorrelatedAt, "lead %d", id)
			assert.True(t, at.Equal(*got.CorrelatedAt), "correlated_at of lead %d", id)
		}
		assert.Equal(t, params == nil, got.ParsedParams == nil, "parsed_params of lead %d", id)
		i++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, len(leads), i)

	// And what that means for each kind of lead.
	byPhone := map[string]ports.LeadRecord{}
	for _, l := range leads {
		byPhone[l.PhoneNumber] = l
	}
	ref := byPhone["+15550000001"]
	require.NotNil(t, ref.CorrelationID)
	assert.Equal(t, domain.CorrelationID("O-REF001"), *ref.CorrelationID)
	assert.Equal(t, domain.LeadCorrelated, ref.Status)
	require.NotNil(t, ref.ClickURL)
	assert.Equal(t, "https://example.com/landing?utm_source=google&gclid=AbCd123&x=<1>", *ref.ClickURL)
	assert.Equal(t, domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"}, ref.ParsedParams)
	require.NotNil(t, ref.CorrelatedAt)
	assert.True(t, ref.CorrelatedAt.Equal(ref.CreatedAt), "correlated when the lead opened")

	ctwa := byPhone["+15550000002"]
	require.NotNil(t, ctwa.CorrelationID)
	assert.Equal(t, domain.CorrelationID("O-CTWA01"), *ctwa.CorrelationID)
	require.NotNil(t, ctwa.ClickURL)
	assert.Equal(t, "https://fb.me/ad?a=1&b=2", *ctwa.ClickURL)
	assert.Equal(t, domain.MarketingParams{"ctwa_clid": "ARAkLkA8", "source_id": "120208", "source_type": "ad"}, ctwa.ParsedParams)
	require.NotNil(t, ctwa.CorrelatedAt)
	assert.True(t, ctwa.CorrelatedAt.Equal(ctwa.CreatedAt))

	bsuid := byPhone[""]
	require.NotNil(t, bsuid.CorrelationID)
	assert.Equal(t, domain.CorrelationID("O-REF002"), *bsuid.CorrelationID)
	require.NotNil(t, bsuid.ClickURL)
	assert.Equal(t, domain.MarketingParams{"utm_source": "news", "utm_campaign": "spring sale"}, bsuid.ParsedParams)

	bot := byPhone["+15550000006"]
	require.NotNil(t, bot.CorrelationID)
	assert.Equal(t, domain.CorrelationID("O-REF003"), *bot.CorrelationID)
	require.NotNil(t, bot.ClickURL)
	assert.Equal(t, "https://example.com/?utm_source=bot", *bot.ClickURL)

	for _, phone := range []string{"+15550000003", "+15550000004"} {
		l := byPhone[phone]
		assert.Equal(t, clickFields{}, clickOf(l), "lead of %s has no click (none quoted, or taken)", phone)
		assert.Equal(t, domain.LeadNew, l.Status)
		assert.Equal(t, map[string]string{}, l.Data)
	}
}

// TestLeadsAndAttribution_PagesWithBindParameters walks both listings page
// by page (limit+1 rows read, keyset cursor strictly after the last row),
// with and without a date window, and checks the pages add up to the whole
// listing in order.
func TestLeadsAndAttribution_PagesWithBindParameters(t *testing.T) {
	t.Parallel()
	_, store := leadsJourney(t)
	ctx := context.Background()
	partner := &application.Partner{Reader: store}

	all := allLeads(t, store, ports.PageQuery{})
	require.Len(t, all, 6)
	from, to := all[1].CreatedAt, all[4].CreatedAt
	first, last := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	for _, tc := range []struct {
		name string
		q    ports.PageQuery
		want []ports.LeadRecord
	}{
		{"everything", ports.PageQuery{}, all},
		{"from inclusive", ports.PageQuery{From: &from}, all[1:]},
		{"to exclusive", ports.PageQuery{To: &to}, all[:4]},
		{"window", ports.PageQuery{From: &from, To: &to}, all[1:4]},
		{"widest window the API accepts", ports.PageQuery{From: &first, To: &last}, all},
	} {
		for _, limit := range []int{1, 2, 5, 100} {
			q := tc.q
			q.Limit = limit
			var got []ports.LeadRecord
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10, "%s, limit %d: the walk ends", tc.name, limit)
				var n int
				next, err := partner.ListLeads(ctx, q, func(r ports.LeadRecord) error {
					got = append(got, r)
					n++
					return nil
				})
				require.NoError(t, err)
				assert.LessOrEqual(t, n, limit)
				if next == nil {
					break
				}
				assert.Equal(t, limit, n, "only a full page has a next cursor")
				q.After = next
			}
			require.Len(t, got, len(tc.want), "%s, limit %d", tc.name, limit)
			for i := range got {
				assert.Equal(t, tc.want[i].ConversationID, got[i].ConversationID, "%s, limit %d, row %d", tc.name, limit, i)
				assert.Equal(t, clickOf(tc.want[i]), clickOf(got[i]))
			}
		}
	}

	var clicks, humans []ports.AttributionRecord
	collect := func(q ports.PageQuery, dst *[]ports.AttributionRecord) {
		for {
			next, err := partner.ListAttribution(ctx, q, func(r ports.AttributionRecord) error {
				*dst = append(*dst, r)
				return nil
			})
			require.NoError(t, err)
			if next == nil {
				return
			}
			q.After = next
		}
	}
	collect(ports.PageQuery{Limit: 2, IncludeBots: true}, &clicks)
	collect(ports.PageQuery{Limit: 1}, &humans)
	require.Len(t, clicks, 5, "four widget clicks and one referral")
	require.Len(t, humans, 4, "the bot's click left out")
	for i, c := range clicks {
		if i > 0 {
			assert.True(t, clicks[i-1].CreatedAt.Before(c.CreatedAt), "oldest first")
		}
		assert.Equal(t, c.Click.CorrelationID == "O-REF003", c.IsBot)
	}
	assert.Equal(t, domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"}, clicks[0].Click.ParsedParams)
	require.NotNil(t, clicks[0].ConversationID)
	assert.Nil(t, clicks[3].ConversationID, "nobody answered O-REF004")
}

// TestLeads_RecordsADatabaseSpan: the listings bypass bun's query hook, so
// the tracer on their own pool (otelpgx) records their client span: one per
// statement, a child of the request's span in the request's trace, named by
// the operation, with the statement's text (placeholders, never the
// values, and no parameters), and not marked failed when the page filled up
// before the rows ran out.
func TestLeads_RecordsADatabaseSpan(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))

	journey, _ := leadsJourney(t)
	db, err := postgres.Open(context.Background(), journey.Pool.Config().ConnString(), postgres.PoolOptions{TracerProvider: tp})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	store := postgres.NewStore(db)
	ctx, request := tp.Tracer("test").Start(context.Background(), "GET /api/integrations/{service}/leads")
	spans.Reset()
	from := time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC)
	_, err = (&application.Partner{Reader: store}).ListLeads(ctx, ports.PageQuery{From: &from, Limit: 2},
		func(ports.LeadRecord) error { return nil })
	require.NoError(t, err)
	request.End()

	var got []tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		if s.SpanContext.SpanID() != request.SpanContext().SpanID() {
			got = append(got, s)
		}
	}
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, "SELECT", s.Name)
	assert.Equal(t, trace.SpanKindClient, s.SpanKind)
	assert.Equal(t, request.SpanContext().TraceID(), s.SpanContext.TraceID(), "in the request's trace")
	assert.Equal(t, request.SpanContext().SpanID(), s.Parent.SpanID(), "a child of the request's span")
	assert.Equal(t, codes.Unset, s.Status.Code, "a full page is no failure")
	attrs := map[string]string{}
	for _, a := range s.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	assert.Equal(t, "postgresql", attrs["db.system.name"])
	assert.Equal(t, "SELECT", attrs["db.operation.name"])
	assert.Contains(t, attrs["db.query.text"], "FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id")
	assert.Contains(t, attrs["db.query.text"], "l.created_at >= $1")
	assert.Contains(t, attrs["db.query.text"], "LIMIT $2")
	for k, v := range attrs {
		assert.NotContains(t, v, "2026", "%s: values are bound, not written into the text, nor recorded", k)
		assert.NotContains(t, k, "parameters", "parameters are not recorded")
		assert.NotContains(t, k, "server.", "no database address")
	}
}

// TestListings_OneStatementPerShape: the reason the listings bypass bun.
// Pages of one query shape with other values (dates, cursors, limits) reuse
// one prepared statement on the connection, where bun would have sent a new
// statement text each time.
func TestListings_OneStatementPerShape(t *testing.T) {
	t.Parallel()
	journey, _ := leadsJourney(t)
	db, err := postgres.Open(context.Background(), journey.Pool.Config().ConnString(), postgres.PoolOptions{BypassConns: 1})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	partner := &application.Partner{Reader: postgres.NewStore(db)}
	ctx := context.Background()
	for i := range 5 {
		from := time.Date(2026, 2, 14, 9, 0, i, 0, time.UTC)
		_, err := partner.ListLeads(ctx, ports.PageQuery{From: &from, Limit: 1 + i}, func(ports.LeadRecord) error { return nil })
		require.NoError(t, err)
	}
	conn, err := db.Bypass.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var statements int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM leads l%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&statements))
	assert.Equal(t, 1, statements, "one prepared statement for five pages of one shape")
}
