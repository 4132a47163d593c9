package http

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// cursorToken is the opaque cursor's content: the last row's key.
type cursorToken struct {
	T int64 `json:"t"` // created_at, Unix microseconds
	I int64 `json:"i"`
}

func encodeCursor(k ports.PageKey) string {
	b, _ := json.Marshal(cursorToken{T: k.CreatedAt.UnixMicro(), I: k.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*ports.PageKey, bool) {
	if len(s) > 200 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	var c cursorToken
	if err := json.Unmarshal(b, &c); err != nil || c.I <= 0 || c.T <= 0 {
		return nil, false
	}
	return &ports.PageKey{CreatedAt: time.UnixMicro(c.T).UTC(), ID: c.I}, true
}

// parsePageQuery reads limit, from_date, to_date, cursor and include_bots;
// every bad parameter is named in one 400.
func parsePageQuery(q url.Values, bots bool) (ports.PageQuery, error) {
	var (
		pq     ports.PageQuery
		fields []domain.FieldError
	)
	bad := func(field, msg string) { fields = append(fields, domain.FieldError{Field: field, Message: msg}) }
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > 10000 {
			bad("limit", "must be a whole number from 1 to 10000")
		}
		pq.Limit = n
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from_date", &pq.From}, {"to_date", &pq.To}} {
		if v, ok := q[p.name]; ok {
			t, err := domain.ParseQueryDate(v[0])
			if err != nil {
				bad(p.name, err.Error())
				continue
			}
			*p.dst = &t
		}
	}
	if v, ok := q["cursor"]; ok {
		k, valid := decodeCursor(v[0])
		if !valid {
			bad("cursor", "is not a cursor this API returned")
		}
		pq.After = k
	}
	if v, ok := q["include_bots"]; ok && bots {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			bad("include_bots", "must be true or false")
		}
		pq.IncludeBots = b
	}
	if len(fields) > 0 {
		return pq, &domain.ValidationError{Fields: fields}
	}
	return pq, nil
}

// leadItem is one Leads API record: the partner document's fields and the
// platform contract's additions.
type leadItem struct {
	CorrelationID  *domain.CorrelationID    `json:"wa_inbound_source_correlation_id"`
	ConversationID int64                    `json:"conversation_id"`
	CreatedAt      domain.Timestamp         `json:"created_at"`
	CorrelatedAt   domain.NullableTimestamp `json:"wa_inbound_source_correlated_at"`
	ClickURL       *string                  `json:"wa_inbound_source_click_url"`
	ParsedParams   *domain.MarketingParams  `json:"wa_inbound_source_parsed_params"`
	LeadStatus     domain.LeadStatus        `json:"lead_status"`
	PhoneNumber    *string                  `json:"phone_number"`
	ChannelID      string                   `json:"channel_id"`
	LeadData       map[string]string        `json:"lead_data"`
	CompletedAt    domain.NullableTimestamp `json:"completed_at"`
}

func leadItemOf(r ports.LeadRecord) leadItem {
	it := leadItem{CorrelationID: r.CorrelationID, ConversationID: r.ConversationID, CreatedAt: domain.Timestamp(r.CreatedAt),
		CorrelatedAt: domain.TimestampPtr(r.CorrelatedAt), ClickURL: r.ClickURL, LeadStatus: r.Status,
		PhoneNumber: optional(r.PhoneNumber), ChannelID: r.ChannelID, LeadData: r.Data,
		CompletedAt: domain.TimestampPtr(r.CompletedAt)}
	if r.CorrelationID != nil {
		p := r.ParsedParams
		if p == nil {
			p = domain.MarketingParams{}
		}
		it.ParsedParams = &p
	}
	if it.LeadData == nil {
		it.LeadData = map[string]string{}
	}
	return it
}

// attributionItem is one Attribution API record: the widget.click data
// fields plus when it was made and what it became.
type attributionItem struct {
	domain.WidgetClickData
	IsBot          bool                     `json:"is_bot"`
	CreatedAt      domain.Timestamp         `json:"created_at"`
	CorrelatedAt   domain.NullableTimestamp `json:"correlated_at"`
	ConversationID *int64                   `json:"conversation_id"`
}

func attributionItemOf(r ports.AttributionRecord) attributionItem {
	return attributionItem{WidgetClickData: r.Click, IsBot: r.IsBot, CreatedAt: domain.Timestamp(r.CreatedAt),
		CorrelatedAt: domain.TimestampPtr(r.CorrelatedAt), ConversationID: r.ConversationID}
}

// listWriter streams {"data":[…],"next_cursor":…,"message":…} as rows arrive.
// A write error (the client went away) is kept and ends the listing.
type listWriter struct {
	w       *bufio.Writer
	rw      http.ResponseWriter
	started bool
	n       int
	err     error
}

func (lw *listWriter) write(s string) {
	if lw.err == nil {
		_, lw.err = lw.w.WriteString(s)
	}
}

func (lw *listWriter) start() {
	if !lw.started {
		lw.rw.Header().Set("Content-Type", "application/json")
		lw.rw.WriteHeader(http.StatusOK)
		lw.write(`{"data":[`)
		lw.started = true
	}
}

func (lw *listWriter) item(v any) error {
	lw.start()
	if lw.n > 0 {
		lw.write(",")
	}
	lw.n++
	if lw.err != nil {
		return lw.err
	}
	// As in webhook bodies, "&" in a click URL stays "&".
	enc := json.NewEncoder(lw.w)
	enc.SetEscapeHTML(false)
	lw.err = enc.Encode(v)
	return lw.err
}

func (lw *listWriter) finish(paged bool, next *ports.PageKey, message string) error {
	lw.start()
	lw.write(`]`)
	if paged {
		cursor := "null"
		if next != nil {
			cursor = strconv.Quote(encodeCursor(*next)) // base64url: nothing to escape
		}
		lw.write(`,"next_cursor":` + cursor)
	}
	msg, _ := json.Marshal(message)
	lw.write(`,"message":` + string(msg) + "}\n")
	if lw.err != nil {
		return lw.err
	}
	return lw.w.Flush()
}

// list runs a listing and streams it. An error before the first row is an
// ordinary problem response; one after it aborts the connection, so a client
// never mistakes a cut-off list for a whole one.
func (h *handlers) list(w http.ResponseWriter, r *http.Request, bots bool, message string,
	run func(q ports.PageQuery, lw *listWriter) (*ports.PageKey, error)) {
	q, err := parsePageQuery(r.URL.Query(), bots)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	lw := &listWriter{w: bufio.NewWriterSize(w, 32<<10), rw: w}
	next, err := run(q, lw)
	if err != nil {
		if !lw.started {
			writeError(w, r, h.deps.Logger, err)
			return
		}
		h.deps.Logger.ErrorContext(r.Context(), "listing failed mid-stream", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err := lw.finish(q.Limit > 0, next, message); err != nil {
		h.deps.Logger.InfoContext(r.Context(), "listing not fully written", "path", r.URL.Path, "err", err)
	}
}

func (h *handlers) listLeads(w http.ResponseWriter, r *http.Request) {
	h.list(w, r, false, "Leads fetched successfully", func(q ports.PageQuery, lw *listWriter) (*ports.PageKey, error) {
		return h.deps.Partner.ListLeads(r.Context(), q, func(rec ports.LeadRecord) error { return lw.item(leadItemOf(rec)) })
	})
}

func (h *handlers) listAttribution(w http.ResponseWriter, r *http.Request) {
	h.list(w, r, true, "Attribution logs fetched successfully", func(q ports.PageQuery, lw *listWriter) (*ports.PageKey, error) {
		return h.deps.Partner.ListAttribution(r.Context(), q, func(rec ports.AttributionRecord) error {
			return lw.item(attributionItemOf(rec))
		})
	})
}
