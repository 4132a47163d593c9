package http

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
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

// parsePageQuery reads limit, from_date, to_date, cursor and include_bots
// into the use case's query, naming every parameter it cannot read in one
// 400. It only translates: the rules of a query (the page size, the date
// window) are the use case's, checked once the query could be read.
func parsePageQuery(q url.Values, bots bool) (ports.PageQuery, error) {
	var (
		pq     ports.PageQuery
		fields []domain.FieldError
	)
	bad := func(field, msg string) { fields = append(fields, domain.FieldError{Field: field, Message: msg}) }
	if v, ok := q["limit"]; ok {
		// The page size's rule is the use case's; what cannot be read as a
		// whole number is no page size, and the rule refuses it (Atoi gives
		// 0, or the nearest int for one too large).
		pq.Paged = true
		pq.Limit, _ = strconv.Atoi(v[0])
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

// appendLead appends one Leads API record: the partner document's fields
// and the platform contract's additions, in the order below. The bytes are
// those json.Encoder writes with HTML escaping off; the struct they are
// checked against is in partner_lists_encode_test.go. The click fields of
// an uncorrelated lead are null, its phone is null when hidden, and its
// lead_data is {} when empty.
func appendLead(b []byte, r *ports.LeadRecord) []byte {
	b = append(b, `{"wa_inbound_source_correlation_id":`...)
	b = appendOptString(b, (*string)(r.CorrelationID))
	b = append(b, `,"conversation_id":`...)
	b = strconv.AppendInt(b, r.ConversationID, 10)
	b = append(b, `,"created_at":`...)
	b = appendTimestamp(b, r.CreatedAt)
	b = append(b, `,"wa_inbound_source_correlated_at":`...)
	b = appendOptTime(b, r.CorrelatedAt)
	b = append(b, `,"wa_inbound_source_click_url":`...)
	b = appendOptString(b, r.ClickURL)
	b = append(b, `,"wa_inbound_source_parsed_params":`...)
	if r.CorrelationID == nil {
		b = append(b, "null"...)
	} else {
		b = appendParams(b, r.ParsedParams) // nil is {}
	}
	b = append(b, `,"lead_status":`...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, `,"phone_number":`...)
	if r.PhoneNumber == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, r.PhoneNumber)
	}
	b = append(b, `,"channel_id":`...)
	b = appendJSONString(b, r.ChannelID)
	b = append(b, `,"lead_data":`...)
	b = appendStringMap(b, r.Data) // nil is {}
	b = append(b, `,"completed_at":`...)
	b = appendOptTime(b, r.CompletedAt)
	return append(b, '}')
}

// appendAttribution appends one Attribution API record: the widget.click
// data fields plus when it was made and what it became, in the bytes
// json.Encoder writes with HTML escaping off.
func appendAttribution(b []byte, r *ports.AttributionRecord) []byte {
	c := &r.Click
	b = append(b, `{"correlation_id":`...)
	b = appendJSONString(b, string(c.CorrelationID))
	b = append(b, `,"device_id":`...)
	b = appendJSONString(b, c.DeviceID)
	b = append(b, `,"click_url":`...)
	b = appendJSONString(b, c.ClickURL)
	b = append(b, `,"parsed_params":`...)
	b = appendParams(b, c.ParsedParams) // nil is {}
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, c.UserAgent)
	b = append(b, `,"ip_address":`...)
	b = appendJSONString(b, c.IPAddress)
	b = append(b, `,"is_bot":`...)
	b = strconv.AppendBool(b, r.IsBot)
	b = append(b, `,"created_at":`...)
	b = appendTimestamp(b, r.CreatedAt)
	b = append(b, `,"correlated_at":`...)
	b = appendOptTime(b, r.CorrelatedAt)
	b = append(b, `,"conversation_id":`...)
	if r.ConversationID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.ConversationID, 10)
	}
	return append(b, '}')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTimestamp(b, *t)
}

// appendStringMap writes m as encoding/json writes a non-nil map: keys
// sorted; nil is {}.
func appendStringMap(b []byte, m map[string]string) []byte {
	var arr [16]string // lead_data rarely has more keys; no allocation then
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// listWriter streams {"data":[…],"next_cursor":…,"message":…} as rows arrive.
// A write error (the client went away) is kept and ends the listing.
type listWriter struct {
	w       *bufio.Writer
	rw      http.ResponseWriter
	enc     *json.Encoder // for item, made on first use
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

// item writes v with encoding/json, followed by the Encoder's newline.
func (lw *listWriter) item(v any) error {
	lw.start()
	if lw.n > 0 {
		lw.write(",")
	}
	lw.n++
	if lw.err != nil {
		return lw.err
	}
	if lw.enc == nil {
		// As in webhook bodies, "&" in a click URL stays "&".
		lw.enc = json.NewEncoder(lw.w)
		lw.enc.SetEscapeHTML(false)
	}
	lw.err = lw.enc.Encode(v)
	return lw.err
}

// appendItem writes the item add appends, straight into the response
// buffer, in the bytes item would write for it: add must append what
// json.Encoder writes with HTML escaping off; the newline is added here.
func (lw *listWriter) appendItem(add func(b []byte) []byte) error {
	lw.start()
	if lw.err != nil {
		return lw.err
	}
	b := lw.w.AvailableBuffer()
	if lw.n > 0 {
		b = append(b, ',')
	}
	lw.n++
	b = append(add(b), '\n')
	_, lw.err = lw.w.Write(b)
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

// stallCutter passes a listing's bytes to the response and gives every
// write at most timeout to be taken by the client: the connection's write
// deadline is set afresh before each write, so it moves on only while the
// client reads. A client that takes nothing for that long fails the write,
// which ends the listing and frees its slot and its database connection;
// one that keeps reading keeps its stream, however long it is.
type stallCutter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s stallCutter) Write(p []byte) (int, error) {
	// A writer without deadlines (a test recorder) keeps the server's
	// write timeout.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	return s.w.Write(p)
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
	var out io.Writer = w
	if h.deps.StreamStallTimeout > 0 {
		out = stallCutter{w: w, rc: http.NewResponseController(w), timeout: h.deps.StreamStallTimeout}
	}
	lw := &listWriter{w: bufio.NewWriterSize(out, 32<<10), rw: w}
	next, err := run(q, lw)
	if err != nil {
		if !lw.started {
			writeError(w, r, h.deps.Logger, err)
			return
		}
		if lw.err != nil {
			// The write error names the client's address: only its kind
			// is logged.
			h.deps.Logger.InfoContext(r.Context(), "listing cut: the client stopped reading or went away", "path", r.URL.Path,
				"stalled", errors.Is(lw.err, os.ErrDeadlineExceeded))
		} else {
			h.deps.Logger.ErrorContext(r.Context(), "listing failed mid-stream", "path", r.URL.Path, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	if err := lw.finish(q.Limit > 0, next, message); err != nil {
		h.deps.Logger.InfoContext(r.Context(), "listing not fully written", "path", r.URL.Path,
			"stalled", errors.Is(err, os.ErrDeadlineExceeded))
	}
}

func (h *handlers) listLeads(w http.ResponseWriter, r *http.Request) {
	h.list(w, r, false, "Leads fetched successfully", func(q ports.PageQuery, lw *listWriter) (*ports.PageKey, error) {
		return h.deps.Partner.ListLeads(r.Context(), q, func(rec ports.LeadRecord) error {
			return lw.appendItem(func(b []byte) []byte { return appendLead(b, &rec) })
		})
	})
}

func (h *handlers) listAttribution(w http.ResponseWriter, r *http.Request) {
	h.list(w, r, true, "Attribution logs fetched successfully", func(q ports.PageQuery, lw *listWriter) (*ports.PageKey, error) {
		return h.deps.Partner.ListAttribution(r.Context(), q, func(rec ports.AttributionRecord) error {
			return lw.appendItem(func(b []byte) []byte { return appendAttribution(b, &rec) })
		})
	})
}
