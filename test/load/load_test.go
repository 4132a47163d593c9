package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/useragent"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	var v []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose: summarize sorts
		v = append(v, time.Duration(i)*time.Millisecond)
	}
	s := summarize(v)
	require.Equal(t, 100, s.N)
	require.InDelta(t, 50, s.P50, 1e-9)
	require.InDelta(t, 95, s.P95, 1e-9)
	require.InDelta(t, 99, s.P99, 1e-9)
	require.InDelta(t, 100, s.Max, 1e-9)
	require.InDelta(t, 50.5, s.Mean, 1e-9)

	// With 10 samples, p99 is the largest: nearest rank never interpolates
	// below a value that was actually seen.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 1000}
	require.Equal(t, time.Duration(1000), percentile(ten, 99))
	require.Equal(t, time.Duration(5), percentile(ten, 50))
	require.Equal(t, time.Duration(0), percentile(nil, 50))
	require.Equal(t, summary{}, summarize(nil))
}

func TestScheduleIsEvenAndDoesNotDrift(t *testing.T) {
	t.Parallel()
	require.Equal(t, 15000, plannedCount(500, 30*time.Second))
	require.Equal(t, 3, plannedCount(3, time.Second))
	require.Equal(t, 0, plannedCount(0.5, time.Second))
	require.Equal(t, time.Duration(0), scheduleOffset(0, 3))
	require.Equal(t, 333333333*time.Nanosecond, scheduleOffset(1, 3))
	require.Equal(t, 666666666*time.Nanosecond, scheduleOffset(2, 3))
	// The millionth click at 700/s is due exactly 1e6/700 s after the start.
	require.InDelta(t, 1e6/700.0, scheduleOffset(1_000_000, 700).Seconds(), 1e-6)
	for i := 1; i < 1000; i++ {
		gap := scheduleOffset(i, 200) - scheduleOffset(i-1, 200)
		require.InDelta(t, float64(5*time.Millisecond), float64(gap), 1, "gap %d", i)
	}
}

// events makes n acknowledged clicks at rate per second, the i-th
// acknowledged 5 ms after it was due and received after latency(i).
func events(start time.Time, n int, rate float64, latency func(i int) time.Duration) []ackArrival {
	var out []ackArrival
	for i := range n {
		due := start.Add(scheduleOffset(i, rate))
		out = append(out, ackArrival{acked: due.Add(5 * time.Millisecond), arrived: due.Add(latency(i))})
	}
	return out
}

func TestBacklogFlatWhenDeliveriesKeepUp(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	ev := events(start, 6000, 200, func(int) time.Duration { return 60 * time.Millisecond })
	pts := backlogSeries(ev, start, start.Add(30*time.Second), 500*time.Millisecond)
	require.Len(t, pts, 61)
	for _, p := range pts[1:60] {
		require.InDelta(t, 11, p.Backlog, 1, "≈ 200/s × 55 ms outstanding at t=%.1f", p.At)
	}
	flat, growth := flatBacklog(pts, 30*time.Second, 200)
	require.True(t, flat, "growth %.1f", growth)
}

func TestBacklogNotFlatWhenItGrows(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	// Deliveries run at 180/s while clicks come at 200/s: the i-th event
	// arrives at i/180 s, so the backlog grows by 20 a second.
	ev := events(start, 6000, 200, func(i int) time.Duration {
		return time.Duration(float64(i)/180*float64(time.Second)) - scheduleOffset(i, 200) + 10*time.Millisecond
	})
	pts := backlogSeries(ev, start, start.Add(30*time.Second), 500*time.Millisecond)
	flat, growth := flatBacklog(pts, 30*time.Second, 200)
	require.False(t, flat)
	require.InDelta(t, 20*15, growth, 15, "20/s over the 15 s of the second half")
	// An event received before its acknowledgement was read is never backlog.
	early := []ackArrival{{acked: start.Add(time.Second), arrived: start.Add(500 * time.Millisecond)}}
	for _, p := range backlogSeries(early, start, start.Add(2*time.Second), 250*time.Millisecond) {
		require.Zero(t, p.Backlog)
	}
}

// signatureCase is one golden vector of adapters/webhook/testdata.
type signatureCase struct {
	Name             string `json:"name"`
	Secret           string `json:"secret"`
	Whsec            string `json:"whsec"`
	Body             string `json:"body"`
	ID               string `json:"id"`
	Timestamp        int64  `json:"timestamp"`
	XHubSignature    string `json:"x_hub_signature"`
	WebhookSignature string `json:"webhook_signature"`
}

func goldenCases(t *testing.T) []signatureCase {
	t.Helper()
	b, err := os.ReadFile("../../adapters/webhook/testdata/signatures.json")
	require.NoError(t, err)
	var f struct {
		Cases []signatureCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.GreaterOrEqual(t, len(f.Cases), 5)
	return f.Cases
}

func TestSignatureVerificationMatchesTheGoldenVectors(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			body := []byte(c.Body)
			ts := strconv.FormatInt(c.Timestamp, 10)
			now := time.Unix(c.Timestamp, 0).Add(30 * time.Second)
			require.Equal(t, c.Whsec, whsecOf(c.Secret))
			require.True(t, verifyHubSignature(c.Secret, body, c.XHubSignature))
			require.NoError(t, verifyStandardWebhooks(c.Whsec, c.ID, ts, body, c.WebhookSignature, now))
			// During a rotation the header carries one entry per secret.
			require.NoError(t, verifyStandardWebhooks(c.Whsec, c.ID, ts, body, "v1,AAAA "+c.WebhookSignature, now))

			tampered := append(append([]byte(nil), body...), ' ')
			require.False(t, verifyHubSignature(c.Secret, tampered, c.XHubSignature))
			require.False(t, verifyHubSignature(c.Secret+"x", body, c.XHubSignature))
			require.False(t, verifyHubSignature(c.Secret, body, strings.ToUpper(c.XHubSignature)), "bare lower-case hex only")
			require.False(t, verifyHubSignature(c.Secret, body, "sha256="+c.XHubSignature), "no sha256= prefix")
			require.Error(t, verifyStandardWebhooks(c.Whsec, c.ID, ts, tampered, c.WebhookSignature, now))
			require.Error(t, verifyStandardWebhooks(c.Whsec, c.ID+"x", ts, body, c.WebhookSignature, now))
			require.Error(t, verifyStandardWebhooks(whsecOf(c.Secret+"x"), c.ID, ts, body, c.WebhookSignature, now))
			require.Error(t, verifyStandardWebhooks(c.Whsec, c.ID, ts, body, "v2,"+strings.TrimPrefix(c.WebhookSignature, "v1,"), now))
			require.Error(t, verifyStandardWebhooks(c.Whsec, c.ID, ts, body, c.WebhookSignature, now.Add(10*time.Minute)), "replayed too late")
			require.Error(t, verifyStandardWebhooks(c.Whsec, c.ID, "", body, c.WebhookSignature, now))
		})
	}
}

func TestReceiverCountsGoodDeliveriesAndRejectsBadOnes(t *testing.T) {
	t.Parallel()
	c := goldenCases(t)[0] // a widget.click of correlation id O-xY123z
	tr := newTracker()
	r := &receiver{tracker: tr, now: func() time.Time { return time.Unix(c.Timestamp, 0) }, secrets: map[string]string{"db1": c.Secret}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook/{tag}", r.handle)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(tag, body, hub string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/hook/"+tag, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("x-hub-signature", hub)
		req.Header.Set("webhook-id", c.ID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(c.Timestamp, 10))
		req.Header.Set("webhook-signature", c.WebhookSignature)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	rec := &clickRecord{sched: time.Unix(c.Timestamp, 0).Add(-time.Second)}
	tr.finish(rec, rec.sched.Add(time.Millisecond), 201, "", "O-xY123z")

	require.Equal(t, http.StatusNoContent, post("db1", c.Body, c.XHubSignature))
	require.Equal(t, http.StatusNoContent, post("db1", c.Body, c.XHubSignature))
	require.Equal(t, http.StatusUnauthorized, post("db1", strings.Replace(c.Body, "google", "googlf", 1), c.XHubSignature))
	require.Equal(t, http.StatusUnauthorized, post("db1", c.Body, strings.Repeat("0", 64)))
	require.Equal(t, http.StatusUnauthorized, post("db2", c.Body, c.XHubSignature), "a path without a config")

	n, reasons := r.badRequests()
	require.EqualValues(t, 3, n)
	require.Len(t, reasons, 3)
	snap := tr.snapshot([]*clickRecord{rec})
	require.Equal(t, 2, snap[0].arrivals, "the duplicate is counted")
	require.Equal(t, c.ID, snap[0].eventID)
	require.EqualValues(t, 1, r.maxInflight.Load())
}

func TestTrackerMatchesAnEventThatArrivesBeforeItsAcknowledgement(t *testing.T) {
	t.Parallel()
	tr := newTracker()
	t0 := time.Unix(2000, 0)
	rec := &clickRecord{sched: t0}
	tr.arrived("O-early1", "evt-1", t0.Add(30*time.Millisecond))
	require.Equal(t, 1, tr.unacknowledgedArrivals())
	tr.finish(rec, t0.Add(40*time.Millisecond), 201, "", "O-early1")
	require.Equal(t, 0, tr.unacknowledgedArrivals())
	snap := tr.snapshot([]*clickRecord{rec})
	require.Equal(t, 1, snap[0].arrivals)
	require.Equal(t, t0.Add(30*time.Millisecond), snap[0].firstArrival)
}

func TestUserAgentsAreBrowsersNotBots(t *testing.T) {
	t.Parallel()
	d := useragent.New()
	require.GreaterOrEqual(t, len(userAgents), 5)
	for _, ua := range userAgents {
		require.False(t, d.IsBot(ua), "a bot click announces nothing, so its event would count as missing: %s", ua)
	}
}

func TestClicksLookLikeTheWidgets(t *testing.T) {
	t.Parallel()
	clicks := makeClicks(50, newRand(1, 1))
	devices := map[string]bool{}
	uas := map[string]bool{}
	for _, c := range clicks {
		var body struct {
			ClickURL string `json:"click_url"`
			DeviceID string `json:"device_id"`
		}
		require.NoError(t, json.Unmarshal(c.body, &body))
		require.Regexp(t, `^https://shop\.example\.com/\S+\?utm_source=google&utm_medium=cpc&utm_campaign=\w+&utm_term=\S+&utm_content=ad\d+&gclid=Cj0KCQiA[\w-]+BwE$`, body.ClickURL)
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, body.DeviceID)
		devices[body.DeviceID] = true
		uas[c.ua] = true
	}
	require.Len(t, devices, 50)
	require.Greater(t, len(uas), 3, "the User-Agent varies")
	require.Equal(t, clicks, makeClicks(50, newRand(1, 1)), "a seed gives the same clicks")
}

func TestLogPrefixRegexpReadsTheClustersPrefix(t *testing.T) {
	t.Parallel()
	re, err := logPrefixRegexp("%m [%p] %q%u@%d ")
	require.NoError(t, err)
	m := re.FindStringSubmatch("2026-12-01 22:16:50.814 UTC [6227] postgres@aurix_load_x LOG:  duration: 0.037 ms  statement: begin")
	require.NotNil(t, m)
	require.Equal(t, "6227", m[re.SubexpIndex("pid")])
	require.Equal(t, "aurix_load_x", m[re.SubexpIndex("db")])
	require.Equal(t, "LOG", m[re.SubexpIndex("level")])
	require.Equal(t, "duration: 0.037 ms  statement: begin", m[re.SubexpIndex("msg")])
	bg := re.FindStringSubmatch("2026-12-01 22:16:50.815 UTC [4242] LOG:  checkpoint starting: time")
	require.NotNil(t, bg, "a background process stops at %%q")
	require.Empty(t, bg[re.SubexpIndex("db")])

	re2, err := logPrefixRegexp("%t [%p-%l] %q user=%u,db=%d,app=%a ")
	require.NoError(t, err)
	m = re2.FindStringSubmatch("2026-12-01 22:16:50 UTC [77-3]  user=postgres,db=mydb,app=psql DETAIL:  parameters: $1 = 'x'")
	require.NotNil(t, m)
	require.Equal(t, "mydb", m[re2.SubexpIndex("db")])
	require.Equal(t, "DETAIL", m[re2.SubexpIndex("level")])

	_, err = logPrefixRegexp("%m ")
	require.ErrorContains(t, err, "%p or %d")
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	p, err := parseParams(`$1 = '{0}', $2 = NULL, $3 = 'it''s, $4 = x', $4 = ''`)
	require.NoError(t, err)
	require.Len(t, p, 4)
	require.Equal(t, "{0}", *p[0])
	require.Nil(t, p[1])
	require.Equal(t, "it's, $4 = x", *p[2])
	require.Empty(t, *p[3])
	_, err = parseParams(`$1 = 'truncated`)
	require.Error(t, err)
	_, err = parseParams(`$2 = 'x'`)
	require.Error(t, err)
}

func TestLexSQLKeepsLiteralsCommentsAndParametersApart(t *testing.T) {
	t.Parallel()
	sql := "SELECT $1::int, 'it''s $2', E'a\\'b', \"col$3\", $tag$ $4 $tag$, x[array_length(x, 1) + 2 - $5:] -- doesn't $6\n/* nested /* $7 */ */ FROM t"
	toks := lexSQL(sql)
	var joined strings.Builder
	kinds := map[tokenKind][]string{}
	for _, tk := range toks {
		joined.WriteString(tk.text)
		kinds[tk.kind] = append(kinds[tk.kind], tk.text)
	}
	require.Equal(t, sql, joined.String(), "the tokens give the input back")
	require.Equal(t, []string{"$1", "$5"}, kinds[tokParam])
	require.Equal(t, []string{"'it''s $2'"}, kinds[tokString])
	require.Equal(t, []string{`E'a\'b'`}, kinds[tokEString])
	require.Equal(t, []string{`"col$3"`}, kinds[tokIdent])
	require.Equal(t, []string{"$tag$ $4 $tag$"}, kinds[tokDollar])
	require.Equal(t, []string{"-- doesn't $6", "/* nested /* $7 */ */"}, kinds[tokComment])

	toks, err := normalizeStatement(statement{sql: "-- name: X :one\nSELECT  $1::bigint[],\n\t$2 -- c\n;", params: []*string{ptr("{1}"), nil}})
	require.NoError(t, err)
	var sb strings.Builder
	for _, tk := range toks {
		sb.WriteString(tk.text)
	}
	require.Equal(t, "SELECT '{1}'::bigint[], NULL", sb.String())
	_, err = normalizeStatement(statement{sql: "SELECT $2", params: []*string{ptr("a")}})
	require.Error(t, err)
}

func ptr(s string) *string { return &s }

// fixtureFacts are the facts of testdata/click-capture.log: a real click
// (correlation id O-QHvYIO) captured from the service with one active
// partner, its row ids in the tagged ranges.
var fixtureFacts = captureFacts{
	corrID:   "O-QHvYIO",
	configID: "01a233ae-9784-7f29-800e-43b6485ccfeb",
	seqs: []seqRange{
		{table: "inbound_sources", column: "id", base: 7_100_000_000},
		{table: "outbox", column: "id", base: 7_200_000_000},
		{table: "webhook_deliveries", column: "id", base: 7_300_000_000},
		{table: "river_job", column: "id", base: 7_400_000_000},
	},
}

func fixtureTransaction(t *testing.T) []statement {
	t.Helper()
	f, err := os.Open("testdata/click-capture.log")
	require.NoError(t, err)
	defer f.Close()
	re, err := logPrefixRegexp("%m [%p] %q%u@%d ")
	require.NoError(t, err)
	records, err := parseServerLog(f, re)
	require.NoError(t, err)
	byPID := statementsByPID(records, "aurix_load_h5probe")
	require.NotContains(t, byPID, 5151, "other databases are left out")
	tx, err := clickTransaction(byPID, "O-QHvYIO")
	require.NoError(t, err)
	return tx
}

func TestCaptureFindsTheClickTransaction(t *testing.T) {
	t.Parallel()
	tx := fixtureTransaction(t)
	var names []string
	for _, s := range tx {
		names = append(names, describe(s.sql))
	}
	require.Equal(t, []string{"BEGIN", "INSERT inbound_sources", "INSERT outbox", "SELECT webhook_configs", "INSERT webhook_deliveries",
		"river JobInsertFastMany", "river PGNotifyMany", "COMMIT"}, names)
	require.Len(t, tx[5].params, 13, "River's bind parameters come from the DETAIL line after the execute")
	require.Contains(t, *tx[5].params[1], `\"delivery_id\": 7300000001`)
	require.Contains(t, tx[5].sql, "WITH raw_job_data AS", "a statement spans the log's continuation lines")

	_, err := clickTransaction(map[int][]statement{1: {{sql: "begin"}, {sql: "INSERT 'O-1'"}, {sql: "rollback"}}}, "O-1")
	require.Error(t, err, "a rolled-back transaction is not the click's")
}

func TestPgbenchScriptFromTheCapture(t *testing.T) {
	t.Parallel()
	res, err := buildPgbenchScript(fixtureTransaction(t), fixtureFacts, "test header\nsecond line")
	require.NoError(t, err)
	s := res.Script
	require.Equal(t, 8, res.Statements)
	require.Equal(t, 2, res.Gsets, "the outbox id and the delivery id are carried")
	require.True(t, res.Notify)

	for _, gone := range []string{"O-QHvYIO", "01a233ae-9b7d-7810-9d1a-622f294930c0", "01a233ae-9784-7f29-800e-43b6485ccfeb",
		"7200000001", "7300000001", "3d84023812621155", "$1", "-- name:", "-- `nullif`"} {
		require.NotContains(t, s, gone)
	}
	require.Contains(t, s, "-- test header\n-- second line\n")
	require.Contains(t, s, `\set lv_corr random(1, 9223372036854775806)`)
	require.Contains(t, s, fixedConfigID)
	require.Contains(t, s, "a42696a2f6aae39d3b0ce7eb1adc2aeec70890cdc593921d", "the unique key keeps its tail, its head is random")
	require.Regexp(t, `RETURNING id \\gset lv_s3_\n`, s)
	require.Regexp(t, `ON CONFLICT \(outbox_id, webhook_config_id, series\) DO NOTHING RETURNING id, webhook_config_id, event_id, created_at \\gset lv_s5_\n`, s)
	require.Contains(t, s, "VALUES (DEFAULT, :lv_s3_id, (lpad(to_hex(:lv_u1a::bigint), 16, '0') || lpad(to_hex(:lv_u1b::bigint), 16, '0'))::uuid, 'widget.click', '"+fixedConfigID+"'::uuid,")
	require.Contains(t, s, `\"delivery_id\": ' || :lv_s5_id::text || ', \"webhook_config_id\": \"' || '`+fixedConfigID+`' || '\"}"}')::jsonb[]`)
	require.Contains(t, s, "VALUES (DEFAULT, ('L-' || to_hex(:lv_corr::bigint)), 'dev-probe-1',")
	require.Regexp(t, `\\if random\(1, 1000\) <= :notify_permille\nWITH topic_to_notify AS .*pg_notify.*;\n\\endif\n`, s)

	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sqlLines := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "--") || strings.HasPrefix(l, `\`) {
			continue
		}
		sqlLines++
		require.Regexp(t, `(;|\\gset lv_s\d+_)$`, l, "one statement per line")
		require.NotRegexp(t, `:(many|one|exec)\b`, l, "no stray pgbench variable")
	}
	require.Equal(t, 8, sqlLines)
	require.Equal(t, "begin;", firstSQL(lines))
	require.Equal(t, "commit;", lines[len(lines)-1])
}

func firstSQL(lines []string) string {
	for _, l := range lines {
		if !strings.HasPrefix(l, "--") && !strings.HasPrefix(l, `\`) {
			return l
		}
	}
	return ""
}

func TestPgbenchScriptRefusesAnIDNoStatementReturns(t *testing.T) {
	t.Parallel()
	tx := []statement{{sql: "begin"}, {sql: `INSERT INTO "outbox" ("x") VALUES (1)`}, {sql: "INSERT INTO t (outbox_id) VALUES (7200000001)"}, {sql: "commit"}}
	_, err := buildPgbenchScript(tx, fixtureFacts, "h")
	require.ErrorContains(t, err, "outbox.id 7200000001")
}

// TestPgbenchScriptRunsAWriteThatAlsoNotifies: a statement that writes rows
// and notifies when a parameter says so (the service's click.write) is the
// click itself and runs in every transaction; only a statement that does
// nothing but notify is sent in a share of them.
func TestPgbenchScriptRunsAWriteThatAlsoNotifies(t *testing.T) {
	t.Parallel()
	write := statement{sql: "WITH c AS (INSERT INTO t (x) SELECT * FROM unnest($1::text[])) SELECT pg_notify($2, '') WHERE $3::bool",
		params: []*string{ptr("{a}"), ptr("aurix_deliveries"), ptr("f")}}
	res, err := buildPgbenchScript([]statement{write}, fixtureFacts, "h")
	require.NoError(t, err)
	require.False(t, res.Notify)
	require.NotContains(t, res.Script, `\if`)
	require.Contains(t, res.Script, "INSERT INTO t (x)")
}

func TestParsePgbenchLog(t *testing.T) {
	t.Parallel()
	lat, err := parsePgbenchLog([]byte("0 1 21532 0 1764627000 123456\n0 2 1532 0 1764627000 123456\n1 1 22400 0 1764627000 200000 312\n1 2 2400 0 1764627000 200000 312\n\n"))
	require.NoError(t, err)
	require.Equal(t, []time.Duration{1532 * time.Microsecond, 2400 * time.Microsecond}, lat, "each client's first transaction prepares: left out")
	_, err = parsePgbenchLog([]byte("0 2 skipped 0 1764627000 123456\n"))
	require.Error(t, err)
}

func TestParseDevEnvFromTheTaskfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Taskfile.yml")
	require.NoError(t, err)
	env, err := parseDevEnv(b)
	require.NoError(t, err)
	for _, k := range []string{"DATABASE_URL", "AURIX_WHATSAPP_NUMBER", "TOPKEE_INTEGRATION_API_KEY", "AURIX_WEBHOOK_ALLOW_INSECURE",
		"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS", "AURIX_WHATSAPP_VERIFY_TOKEN", "AURIX_WHATSAPP_APP_SECRET", "AURIX_AGENT_API_KEY"} {
		require.NotEmpty(t, env[k], k)
	}
	_, err = parseDevEnv([]byte("vars:\n  X: 1\n"))
	require.Error(t, err)

	svc := serviceEnv(env, "postgres://db", "127.0.0.1:1", "api", []string{"AURIX_LOG_LEVEL=warn", "AURIX_WIDGET_RATE_LIMIT=5/s"})
	got := map[string]string{}
	for _, kv := range svc {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	require.Equal(t, "postgres://db", got["DATABASE_URL"])
	require.Equal(t, "api", got["AURIX_ROLE"])
	require.Equal(t, "warn", got["AURIX_LOG_LEVEL"])
	require.Equal(t, "5/s", got["AURIX_WIDGET_RATE_LIMIT"], "-env comes last")
	require.Equal(t, "false", got["AURIX_MIGRATE_ON_START"])

	for _, kv := range maskedEnv(env, []string{"FOO_SECRET=s3cr3t"}) {
		require.NotContains(t, kv, "dev-topkee-key")
		require.NotContains(t, kv, "s3cr3t")
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	t.Parallel()
	doc := "# T\n\n" + markerBegin + "\nold\nlines\n" + markerEnd + "\n\nrest\n"
	out, err := replaceBetweenMarkers(doc, "new report\n")
	require.NoError(t, err)
	require.Equal(t, "# T\n\n"+markerBegin+"\nnew report\n"+markerEnd+"\n\nrest\n", out)
	again, err := replaceBetweenMarkers(out, "new report")
	require.NoError(t, err)
	require.Equal(t, out, again, "idempotent")
	_, err = replaceBetweenMarkers("# T\n", "x")
	require.Error(t, err)
	_, err = replaceBetweenMarkers(markerEnd+"\n"+markerBegin, "x")
	require.Error(t, err)

	readme, err := os.ReadFile("../bench/README.md")
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(readme, []byte(markerBegin)), "test/bench/README.md holds the markers")
	require.Equal(t, 1, bytes.Count(readme, []byte(markerEnd)))
}

func TestCapacitySearchFindsTheKnee(t *testing.T) {
	t.Parallel()
	for _, capacity := range []float64{73, 240, 437, 1210} {
		var tried []float64
		res := searchCapacity(searchParams{low: 50, high: 1600, resolution: 0.1, maxSteps: 12, budget: time.Hour},
			func(rate float64) (bool, string) {
				tried = append(tried, rate)
				return rate <= capacity, "fake"
			})
		require.Equal(t, 280.0, tried[0], "the first step is the geometric mean of the bounds, rounded")
		require.Equal(t, "exact", res.Bound, "capacity %g: %s", capacity, res.Decision)
		require.LessOrEqual(t, res.Capacity, capacity)
		require.GreaterOrEqual(t, res.Capacity*1.1, capacity*0.999, "within the resolution (and rounding): %v", tried)
		require.LessOrEqual(t, len(tried), 8, "bisection on a log scale: %v", tried)
		for _, r := range tried {
			require.Less(t, r, 1600.0, "the high bound itself is never run")
		}
	}
}

func TestCapacitySearchBoundsAndBudget(t *testing.T) {
	t.Parallel()
	p := searchParams{low: 50, high: 1600, resolution: 0.1, maxSteps: 12, budget: time.Hour}
	below := searchCapacity(p, func(float64) (bool, string) { return false, "too slow" })
	require.Equal(t, "below", below.Bound)
	require.Equal(t, 50.0, below.Steps[len(below.Steps)-1].Rate, "the low bound is tried last")
	require.Contains(t, below.Decision, "too slow")

	above := searchCapacity(p, func(float64) (bool, string) { return true, "fine" })
	require.Equal(t, "at least", above.Bound)
	require.Contains(t, above.Decision, "raise -capacity-high")

	p.maxSteps = 2
	capped := searchCapacity(p, func(r float64) (bool, string) { return r < 300, "" })
	require.Len(t, capped.Steps, 2)
	require.Contains(t, capped.Decision, "-capacity-steps")

	p.maxSteps, p.budget = 12, time.Minute
	p.stepCost = func(float64) time.Duration { return 2 * time.Minute }
	none := searchCapacity(p, func(float64) (bool, string) { return true, "" })
	require.Empty(t, none.Steps, "no step fits the budget")
	require.Contains(t, none.Decision, "-capacity-budget")
}

func TestJudge(t *testing.T) {
	t.Parallel()
	c := holdCriteria{p99: time.Second}
	ok := &phaseResult{Sent: 10, Acked: 10, Statuses: map[string]int{}, Delivery: summary{P99: 800}, Flat: true}
	holds, why := c.judge(ok)
	require.True(t, holds, why)
	for name, mutate := range map[string]func(*phaseResult){
		"refused": func(r *phaseResult) { r.Statuses["503"] = 1; r.Acked = 9 },
		"missing": func(r *phaseResult) { r.Missing = 1 },
		"slow":    func(r *phaseResult) { r.Delivery.P99 = 1001 },
		"growing": func(r *phaseResult) { r.Flat = false },
		"aborted": func(r *phaseResult) { r.Aborted = "late" },
		"warm-up": func(r *phaseResult) { r.WarmupMissing = 2 },
	} {
		r := *ok
		r.Statuses = map[string]int{}
		mutate(&r)
		holds, why := c.judge(&r)
		require.False(t, holds, name)
		require.NotEmpty(t, why)
	}
}

func TestProcStatAndLogs(t *testing.T) {
	t.Parallel()
	cpu, err := parseProcStatCPU("4242 (aurix (serve) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0")
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, cpu, "(250 + 50) ticks of 10 ms")
	_, err = parseProcStatCPU("garbage")
	require.Error(t, err)

	logs := `{"time":"t","level":"INFO","msg":"listening"}
{"time":"t","level":"WARN","msg":"slow"}
{"time":"t","level":"ERROR","msg":"jobcompleter.BatchCompleter: timed out"}
{"time":"t","level":"ERROR+2","msg":"worse"}
panic: runtime error

goroutine 1 [running]:
`
	c := countLogLevels(strings.NewReader(logs))
	require.Equal(t, logCounts{Lines: 6, Errors: 2, Warns: 1, NonJSON: 2,
		First: []string{"WARN slow", "ERROR jobcompleter.BatchCompleter: timed out", "ERROR+2 worse"}}, c)
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-rates", "20,50", "-duration", "10s", "-binary", "old=/tmp/a,new=build", "-topology", "api+worker+worker",
		"-env", "AURIX_LOG_LEVEL=warn", "-env", "X=a=b"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, []float64{20, 50}, o.rates)
	require.Equal(t, []binarySpec{{"old", "/tmp/a"}, {"new", "build"}}, o.binaries)
	require.Equal(t, [][]string{{"api", "worker", "worker"}}, o.topologies)
	require.Equal(t, []string{"AURIX_LOG_LEVEL=warn", "X=a=b"}, o.env)

	o, err = parseFlags(nil, &stderr)
	require.NoError(t, err)
	require.Equal(t, []float64{50, 200, 500}, o.rates, "the default run")
	require.Equal(t, 30*time.Second, o.duration)
	require.Equal(t, []binarySpec{{"tree", "build"}}, o.binaries)
	require.Equal(t, [][]string{{"all"}}, o.topologies)

	o, err = parseFlags([]string{"-topology", "all, api+worker+worker"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"all"}, {"api", "worker", "worker"}}, o.topologies, "several topologies, comma-separated")
	require.Equal(t, "all,api+worker+worker", o.topologyNames())

	for _, bad := range [][]string{
		{"-rates", "0"}, {"-rates", "x"}, {"-topology", "worker"}, {"-topology", "all+db"},
		{"-topology", "all,all"}, {"-topology", "all,"}, {"-topology", "all,worker+worker"},
		{"-binary", "a=/x,a=/y"}, {"-binary", "Bad Name=/x"}, {"-env", "NOEQUALS"}, {"-rates", "none"}, {"extra"},
	} {
		_, err := parseFlags(bad, &stderr)
		require.Error(t, err, "%v", bad)
	}
	require.Equal(t, "go run ./test/load -rates 20,50 -note 'smoke run, machine shared'",
		commandLine([]string{"-rates", "20,50", "-note", "smoke run, machine shared"}))
}

func TestPgbenchTPSLine(t *testing.T) {
	t.Parallel()
	m := tpsLine.FindStringSubmatch("latency average = 3.2 ms\ntps = 1234.567890 (without initial connection time)\n")
	require.Equal(t, "1234.567890", m[1])
	require.True(t, regexp.MustCompile(`^aurix_load_[0-9a-f]{8}_tree$`).MatchString(newDBName("tree")))
}

func TestAnalyseFailsARunWhoseAcknowledgedClickNeverArrives(t *testing.T) {
	t.Parallel()
	h := &harness{opts: &options{drainTimeout: time.Minute, capP99: time.Second}, tr: newTracker()}
	t0 := time.Unix(3000, 0)
	var recs []*clickRecord
	for i, status := range []int{201, 201, 201, 503} {
		rec := &clickRecord{sched: t0.Add(time.Duration(i) * 10 * time.Millisecond)}
		rec.sent = rec.sched
		corr := ""
		if status == 201 {
			corr = "O-" + strconv.Itoa(i)
		}
		h.tr.finish(rec, rec.sched.Add(5*time.Millisecond), status, "", corr)
		recs = append(recs, rec)
	}
	h.tr.arrived("O-0", "e0", t0.Add(50*time.Millisecond))
	h.tr.arrived("O-2", "e2", t0.Add(70*time.Millisecond))
	h.tr.arrived("O-2", "e2", t0.Add(900*time.Millisecond))
	res := &phaseResult{Rate: 100, DurationS: 1, Statuses: map[string]int{}}
	h.analyse(res, recs, nil, t0, t0.Add(time.Second), t0.Add(2*time.Second))

	require.Equal(t, 4, res.Sent)
	require.Equal(t, 3, res.Acked)
	require.Equal(t, map[string]int{"503": 1}, res.Statuses)
	require.Equal(t, 1, res.Missing)
	require.Equal(t, []string{"O-1"}, res.MissingIDs)
	require.Equal(t, 1, res.Duplicates)
	require.Equal(t, 2, res.Delivery.N)
	require.InDelta(t, 50, res.Delivery.P50, 1e-9, "from the scheduled time")
	require.Len(t, res.Failures, 1)
	require.Contains(t, res.Failures[0], "O-1")
	require.Equal(t, 1, res.BacklogEnd, "O-1 is acknowledged and not received")
	holds, _ := holdCriteria{p99: time.Second}.judge(res)
	require.False(t, holds)

	h.tr.arrived("O-1", "e1", t0.Add(3*time.Minute))
	h.recheckMissing(res)
	require.Equal(t, 1, res.ArrivedLate)
}

func TestFallbackScriptIsAGeneratedScript(t *testing.T) {
	t.Parallel()
	require.Contains(t, fallbackScript, "-- Fallback of test/load's ceiling")
	require.Contains(t, fallbackScript, fixedConfigID)
	require.Contains(t, fallbackScript, `\if random(1, 1000) <= :notify_permille`)
	require.Regexp(t, `(?m)^begin;$`, fallbackScript)
	require.Regexp(t, `(?m)^commit;$`, fallbackScript)
	require.Regexp(t, `\\gset lv_s\d+_`, fallbackScript)
	require.NotRegexp(t, `O-[A-Za-z0-9]{6}`, fallbackScript, "no captured correlation id left")
}

func TestTargetsPairEveryBinaryWithEveryTopology(t *testing.T) {
	t.Parallel()
	bins := []binarySpec{{"old", "/tmp/a"}, {"new", "build"}}
	one := makeTargets(bins, [][]string{{"api", "worker"}})
	require.Len(t, one, 2)
	require.Equal(t, "old", one[0].label(), "one topology: named by the binary alone, as before")
	require.Equal(t, "old", one[0].key())
	require.Empty(t, one[0].topoLabel)

	several := makeTargets(bins, [][]string{{"all"}, {"api", "worker", "worker"}})
	var labels, keys []string
	for _, tg := range several {
		labels = append(labels, tg.label())
		keys = append(keys, tg.key())
	}
	require.Equal(t, []string{"old/all", "old/api+worker+worker", "new/all", "new/api+worker+worker"}, labels)
	require.Equal(t, []string{"old_all", "old_api_worker_worker", "new_all", "new_api_worker_worker"}, keys)
	require.Regexp(t, `^aurix_load_[0-9a-f]{8}_new_api_worker_worker$`, newDBName(several[3].key()), "a database name PostgreSQL keeps whole (< 64 bytes)")
	require.Equal(t, []string{"api", "worker", "worker"}, several[3].topo)
}

// TestCapacitySearchesTakeTurns: with several targets, each capacity step
// of one is followed by a step of the next, the order reversed every round
// (as the rates alternate), and each search ends exactly as it would alone.
func TestCapacitySearchesTakeTurns(t *testing.T) {
	t.Parallel()
	p := searchParams{low: 50, high: 1600, resolution: 0.1, maxSteps: 12, budget: time.Hour}
	capacities := []float64{240, 1210, 73}
	holds := func(i int, rate float64) (bool, string) { return rate <= capacities[i], "fake" }
	searches := make([]*capacitySearch, len(capacities))
	for i := range searches {
		searches[i] = newCapacitySearch(p)
	}
	var order []int
	alternateSearches(searches, func(i int, rate float64) (bool, string) {
		order = append(order, i)
		return holds(i, rate)
	})
	alone := make([]capacityResult, len(capacities))
	for i := range capacities {
		alone[i] = searchCapacity(p, func(rate float64) (bool, string) { return holds(i, rate) })
		got := searches[i].result()
		require.Equal(t, alone[i].Steps, got.Steps, "target %d steps as it would alone", i)
		require.Equal(t, alone[i].Capacity, got.Capacity)
		require.Equal(t, alone[i].Bound, got.Bound)
		require.Equal(t, alone[i].Decision, got.Decision)
	}
	require.Equal(t, []int{0, 1, 2, 2, 1, 0, 0, 1, 2}, order[:9], "a step of each in turn, the order reversed every round")
	n := 0
	for _, r := range alone {
		n += len(r.Steps)
	}
	require.Len(t, order, n, "every step of every search, once")
}

func TestReportHasATopologyColumnOnlyWithSeveral(t *testing.T) {
	t.Parallel()
	phase := func(topology string) *phaseResult {
		return &phaseResult{Binary: "tree", Topology: topology, Kind: "rate", Rate: 20, Sent: 100, Acked: 100, Statuses: map[string]int{}, Drained: true}
	}
	one := renderReport(&runResult{Topology: "api+worker+worker", Phases: []*phaseResult{phase("")},
		Capacity: []*capacityResult{{Binary: "tree", Bound: "exact", Capacity: 240}}})
	require.Contains(t, one, "Service: topology api+worker+worker;")
	require.Contains(t, one, "| binary | clicks/s | kind |")
	require.Contains(t, one, "| tree | 20 | rate |")
	require.NotContains(t, one, "topology |")
	require.Contains(t, one, "\ntree: **exact 240 clicks/s**")

	several := renderReport(&runResult{Topology: "all,api+worker+worker", Phases: []*phaseResult{phase("all"), phase("api+worker+worker")},
		Capacity: []*capacityResult{{Binary: "tree", Topology: "all", Bound: "exact", Capacity: 240}, {Binary: "tree", Topology: "api+worker+worker", Bound: "exact", Capacity: 230}}})
	require.Contains(t, several, "Service: topologies all, api+worker+worker (")
	require.Contains(t, several, "| binary | topology | clicks/s | kind |")
	require.Contains(t, several, "|---|---|---:|---|")
	require.Contains(t, several, "| tree | all | 20 | rate |")
	require.Contains(t, several, "| tree | api+worker+worker | 20 | rate |")
	require.Contains(t, several, "| binary | topology | clicks/s | peak RSS")
	require.Contains(t, several, "\ntree/all: **exact 240 clicks/s**")
	require.Contains(t, several, "\ntree/api+worker+worker: **exact 230 clicks/s**")
}

// TestOvertaken: an event counts as overtaken when one scheduled at least
// the threshold later reached the partner first; shuffles within it do not.
func TestOvertaken(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(s, a float64) schedArrival {
		return schedArrival{sched: t0.Add(time.Duration(s * float64(time.Second))), arrived: t0.Add(time.Duration(a * float64(time.Second)))}
	}
	n, worst := overtaken([]schedArrival{at(0, 1), at(0.5, 1.2), at(0.4, 1.3), at(1, 1.4)}, time.Second)
	require.Equal(t, 0, n, "a shuffle of 0.1 s is in order")
	require.Zero(t, worst)
	n, worst = overtaken([]schedArrival{at(0, 10), at(1, 2), at(3, 4), at(2, 5), at(4, 6)}, time.Second)
	require.Equal(t, 2, n, "the first event was overtaken by events 3 s later, the fourth by one 1 s later")
	require.Equal(t, 4*time.Second, worst)
}

// TestClickProcesses: the pgbench ceiling gets the connections of the
// processes that take clicks, not the workers'.
func TestClickProcesses(t *testing.T) {
	require.Equal(t, 1, clickProcesses([]string{"all"}))
	require.Equal(t, 1, clickProcesses([]string{"api", "worker", "worker"}))
	require.Equal(t, 2, clickProcesses([]string{"api", "api", "worker"}))
	require.Equal(t, 1, clickProcesses([]string{"worker"}), "never zero clients")
}

// TestTemplates: -template copies one database for every binary, or for the
// binaries named only, so a filled and an empty database run side by side.
func TestTemplates(t *testing.T) {
	bins := []binarySpec{{"empty", "build"}, {"full", "build"}}
	all, err := parseTemplates("kept", bins)
	require.NoError(t, err)
	require.Equal(t, "kept", templateFor(all, "empty"))
	require.Equal(t, "kept", templateFor(all, "full"))

	one, err := parseTemplates("full=kept", bins)
	require.NoError(t, err)
	require.Empty(t, templateFor(one, "empty"), "a binary not named starts empty")
	require.Equal(t, "kept", templateFor(one, "full"))

	none, err := parseTemplates("", bins)
	require.NoError(t, err)
	require.Empty(t, templateFor(none, "full"))

	_, err = parseTemplates("other=kept", bins)
	require.ErrorContains(t, err, `no binary is named "other"`)
	_, err = parseTemplates("full=", bins)
	require.Error(t, err)
}
