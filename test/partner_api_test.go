package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// page is one page of a partner listing.
type page struct {
	Data       []map[string]any `json:"data"`
	NextCursor *string          `json:"next_cursor"`
	Message    string           `json:"message"`
}

func (s *service) page(t *testing.T, api string, q url.Values) page {
	t.Helper()
	resp, raw := s.do(t, http.MethodGet, "/api/integrations/topkee/"+api+"?"+q.Encode(), topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var p page
	require.NoError(t, json.Unmarshal(raw, &p))
	return p
}

// TestCursorPagingIsStableUnderConcurrentInserts pages through the clicks
// with a small limit while new clicks keep arriving: every click that existed
// before paging began is seen exactly once, in order.
func TestCursorPagingIsStableUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	const before = 60
	existing := map[string]bool{}
	for i := range before {
		existing[svc.click(t, fmt.Sprintf("https://example.com/p%d?utm_source=s%d", i, i), "").CorrelationID] = true
	}

	stop := make(chan struct{})
	var inserted atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, _ := svc.do(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/late"}`)
			if resp.StatusCode == http.StatusCreated {
				inserted.Add(1)
			}
		}
	}()

	seen := map[string]int{}
	var last string
	q := url.Values{"limit": {"7"}}
	pages := 0
	for {
		p := svc.page(t, "attribution", q)
		pages++
		assert.LessOrEqual(t, len(p.Data), 7)
		for _, item := range p.Data {
			ref := item["correlation_id"].(string)
			seen[ref]++
			created := item["created_at"].(string)
			assert.GreaterOrEqual(t, created, last, "oldest first")
			last = created
		}
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
		require.Less(t, pages, 500, "paging does not end")
	}
	close(stop)
	wg.Wait()
	require.Positive(t, inserted.Load(), "clicks kept arriving while paging")
	for ref := range existing {
		assert.Equal(t, 1, seen[ref], "click %s seen once", ref)
	}
	for ref, n := range seen {
		assert.Equal(t, 1, n, "click %s repeated", ref)
	}
}

// TestDateWindowAndLimit: from_date is inclusive, to_date exclusive, and a
// limit pages the window.
func TestDateWindowAndLimit(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	var created []string
	for i := range 5 {
		created = append(created, svc.click(t, fmt.Sprintf("https://example.com/w%d", i), "").CreatedAt)
		time.Sleep(3 * time.Millisecond)
	}
	all := svc.page(t, "attribution", url.Values{"from_date": {created[1]}, "to_date": {created[4]}})
	require.Len(t, all.Data, 3, "created[1] included, created[4] excluded")
	assert.Equal(t, created[1], all.Data[0]["created_at"])
	assert.Equal(t, created[3], all.Data[2]["created_at"])
	assert.Nil(t, all.NextCursor)

	first := svc.page(t, "attribution", url.Values{"from_date": {created[1]}, "to_date": {created[4]}, "limit": {"2"}})
	require.Len(t, first.Data, 2)
	require.NotNil(t, first.NextCursor)
	second := svc.page(t, "attribution", url.Values{"from_date": {created[1]}, "to_date": {created[4]}, "limit": {"2"}, "cursor": {*first.NextCursor}})
	require.Len(t, second.Data, 1)
	assert.Equal(t, created[3], second.Data[0]["created_at"])
	assert.Nil(t, second.NextCursor)

	day := created[0][:10]
	assert.Len(t, svc.page(t, "attribution", url.Values{"from_date": {day}}).Data, 5, "a bare date means 00:00 UTC")
	assert.Empty(t, svc.page(t, "attribution", url.Values{"to_date": {day}}).Data)
	assert.Len(t, svc.page(t, "leads", url.Values{"from_date": {day}}).Data, 0)
}

// TestBotClicksAreFlaggedAndSilent: a preview fetcher's click is stored as a
// bot, emits no widget.click, and is left out of attribution by default.
func TestBotClicksAreFlaggedAndSilent(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)

	for _, ua := range []string{"WhatsApp/2.23.20.0 A", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36"} {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/api/widget/click", jsonBody(`{"click_url":"https://example.com/?utm_source=bot"}`))
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "a bot still gets its link")
	}
	human := svc.click(t, "https://example.com/?utm_source=human", "")
	rc.waitForEvents(t, secret, "widget.click", 1)
	time.Sleep(700 * time.Millisecond)
	events := rc.events(t, secret)
	require.Len(t, events, 1, "only the person's click is announced")
	assert.Equal(t, human.CorrelationID, events[0].Data["correlation_id"])

	def := svc.page(t, "attribution", nil)
	require.Len(t, def.Data, 1)
	assert.Equal(t, human.CorrelationID, def.Data[0]["correlation_id"])
	withBots := svc.page(t, "attribution", url.Values{"include_bots": {"true"}})
	require.Len(t, withBots.Data, 4)
	bots := 0
	for _, it := range withBots.Data {
		if it["is_bot"] == true {
			bots++
		}
	}
	assert.Equal(t, 3, bots)
	var stored int
	require.NoError(t, svc.db(t).QueryRow(context.Background(), "SELECT count(*) FROM inbound_sources WHERE is_bot").Scan(&stored))
	assert.Equal(t, 3, stored)
}
