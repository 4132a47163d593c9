package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The ceiling's pgbench script is the SQL of one real click, read from the
// server log while the service took a few clicks on a database with
// log_min_duration_statement = 0 (ceiling.go drives that). This file is the
// pure part: read the log, find the click's transaction, and turn it into a
// pgbench script whose per-click values are random or carried over with
// \gset.

// logPrefixRegexp turns log_line_prefix into a regexp that matches the start
// of a log record and captures the backend's pid and database name; the
// record's severity and message follow the prefix.
func logPrefixRegexp(prefix string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	optional := false
	for i := 0; i < len(prefix); i++ {
		if prefix[i] != '%' {
			b.WriteString(regexp.QuoteMeta(prefix[i : i+1]))
			continue
		}
		i++
		padded := false
		for i < len(prefix) && (prefix[i] == '-' || prefix[i] >= '0' && prefix[i] <= '9') {
			padded = true
			i++
		}
		if i >= len(prefix) {
			return nil, errors.New("log_line_prefix ends with %")
		}
		if padded {
			b.WriteString(`\s*`)
		}
		switch prefix[i] {
		case 'm':
			b.WriteString(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+`)
		case 't', 's':
			b.WriteString(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+`)
		case 'n':
			b.WriteString(`\d+\.\d+`)
		case 'p':
			if strings.Contains(b.String(), "?P<pid>") {
				b.WriteString(`\d+`)
			} else {
				b.WriteString(`(?P<pid>\d+)`)
			}
		case 'd':
			b.WriteString(`(?P<db>\S*?)`)
		case 'u', 'h', 'r', 'v':
			b.WriteString(`\S*?`)
		case 'a', 'i', 'b':
			b.WriteString(`.*?`)
		case 'l', 'x':
			b.WriteString(`\d+`)
		case 'e':
			b.WriteString(`[0-9A-Z]{5}`)
		case 'c':
			b.WriteString(`[0-9a-f]+\.[0-9a-f]+`)
		case 'Q', 'P':
			b.WriteString(`-?\d*`)
		case '%':
			b.WriteString(`%`)
		case 'q':
			if !optional {
				b.WriteString(`(?:`)
				optional = true
			}
		default:
			return nil, fmt.Errorf("log_line_prefix escape %%%c is not supported", prefix[i])
		}
		if padded {
			b.WriteString(`\s*`)
		}
	}
	if optional {
		b.WriteString(`)?`)
	}
	s := b.String()
	if !strings.Contains(s, "?P<pid>") || !strings.Contains(s, "?P<db>") {
		return nil, fmt.Errorf("log_line_prefix %q lacks %%p or %%d: the capture needs both", prefix)
	}
	b.WriteString(`(?P<level>[A-Z0-9]+):  (?P<msg>.*)$`)
	return regexp.Compile(b.String())
}

// logRecord is one server log record; a message spans lines.
type logRecord struct {
	pid   int
	db    string
	level string
	msg   string
}

// parseServerLog reads log records; a line that does not start with the
// prefix continues the record before it (the server indents such lines with
// a tab, which is dropped).
func parseServerLog(r io.Reader, re *regexp.Regexp) ([]logRecord, error) {
	var out []logRecord
	pidIdx, dbIdx, levelIdx, msgIdx := re.SubexpIndex("pid"), re.SubexpIndex("db"), re.SubexpIndex("level"), re.SubexpIndex("msg")
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Text()
		if m := re.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[pidIdx])
			out = append(out, logRecord{pid: pid, db: m[dbIdx], level: m[levelIdx], msg: m[msgIdx]})
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].msg += "\n" + strings.TrimPrefix(line, "\t")
		}
	}
	return out, sc.Err()
}

// statement is one statement a backend ran, with the values of its bind
// parameters (nil: NULL).
type statement struct {
	sql    string
	params []*string
}

var (
	stmtMsg   = regexp.MustCompile(`(?s)^(?:duration: [0-9.]+ ms  )?(statement|execute [^:]*|parse [^:]*|bind [^:]*): (.*)$`)
	paramsMsg = regexp.MustCompile(`(?s)^parameters: (.*)$`)
)

// statementsByPID lists, per backend of database db, the statements it ran
// in order: simple-protocol statements and extended-protocol executes (with
// the parameters of the DETAIL line that follows an execute).
func statementsByPID(records []logRecord, db string) map[int][]statement {
	out := map[int][]statement{}
	lastKind := map[int]string{}
	for _, r := range records {
		if r.db != db {
			continue
		}
		switch r.level {
		case "LOG":
			m := stmtMsg.FindStringSubmatch(r.msg)
			if m == nil {
				lastKind[r.pid] = "other"
				continue
			}
			kind, _, _ := strings.Cut(m[1], " ")
			lastKind[r.pid] = kind
			if kind == "statement" || kind == "execute" {
				out[r.pid] = append(out[r.pid], statement{sql: m[2]})
			}
		case "DETAIL":
			m := paramsMsg.FindStringSubmatch(r.msg)
			if m == nil || lastKind[r.pid] != "execute" {
				continue
			}
			list := out[r.pid]
			if len(list) == 0 {
				continue
			}
			params, err := parseParams(m[1])
			if err == nil {
				list[len(list)-1].params = params
			}
			lastKind[r.pid] = "detail"
		}
	}
	return out
}

// parseParams reads a DETAIL parameter list such as $1 = 'a', $2 = NULL
// (a quote inside a value is doubled, as in SQL).
func parseParams(s string) ([]*string, error) {
	var out []*string
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] != '$' {
			return nil, fmt.Errorf("parameter list: expected $ at %d", i)
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(s[i+1 : j])
		if err != nil || n != len(out)+1 {
			return nil, fmt.Errorf("parameter list: $%s out of order", s[i+1:j])
		}
		if !strings.HasPrefix(s[j:], " = ") {
			return nil, errors.New("parameter list: expected ' = '")
		}
		j += 3
		switch {
		case strings.HasPrefix(s[j:], "NULL"):
			out = append(out, nil)
			i = j + 4
		case j < len(s) && s[j] == '\'':
			var v strings.Builder
			k := j + 1
			for ; k < len(s); k++ {
				if s[k] == '\'' {
					if k+1 < len(s) && s[k+1] == '\'' {
						v.WriteByte('\'')
						k++
						continue
					}
					break
				}
				v.WriteByte(s[k])
			}
			if k >= len(s) {
				return nil, errors.New("parameter list: unterminated value (truncated log line?)")
			}
			val := v.String()
			out = append(out, &val)
			i = k + 1
		default:
			return nil, fmt.Errorf("parameter list: unexpected value at %d", j)
		}
	}
	return out, nil
}

func isBegin(sql string) bool {
	s := strings.ToLower(strings.TrimSpace(sql))
	return s == "begin" || strings.HasPrefix(s, "begin ") || strings.HasPrefix(s, "begin;") || strings.HasPrefix(s, "start transaction")
}

func isCommit(sql string) bool {
	s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(sql)), ";")
	return s == "commit" || s == "end" || s == "commit work" || s == "commit transaction"
}

func isRollback(sql string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(sql)), "rollback")
}

func mentions(s statement, needle string) bool {
	if strings.Contains(s.sql, needle) {
		return true
	}
	for _, p := range s.params {
		if p != nil && strings.Contains(*p, needle) {
			return true
		}
	}
	return false
}

// clickTransaction finds the committed transaction whose statements mention
// corrID (the click's correlation id), from BEGIN to COMMIT; a statement
// that mentions it outside a transaction block is a transaction of its own.
func clickTransaction(byPID map[int][]statement, corrID string) ([]statement, error) {
	pids := make([]int, 0, len(byPID))
	for pid := range byPID {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		list := byPID[pid]
		begin, found := -1, false
		for i, s := range list {
			switch {
			case isBegin(s.sql):
				begin, found = i, false
			case isCommit(s.sql):
				if begin >= 0 && found {
					return slices.Clone(list[begin : i+1]), nil
				}
				begin, found = -1, false
			case isRollback(s.sql):
				begin, found = -1, false
			case mentions(s, corrID):
				if begin < 0 {
					return []statement{s}, nil
				}
				found = true
			}
		}
	}
	return nil, fmt.Errorf("no committed transaction mentions correlation id %s in the log", corrID)
}

// tokenKind is a lexical class of SQL text.
type tokenKind int

const (
	tokText    tokenKind = iota // keywords, identifiers, operators, numbers, white space
	tokString                   // '…' (standard_conforming_strings)
	tokEString                  // E'…'
	tokIdent                    // "…"
	tokComment                  // -- … or /* … */
	tokDollar                   // $tag$…$tag$
	tokParam                    // $1
)

type sqlToken struct {
	kind tokenKind
	text string // the source text, quotes included
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

var dollarTag = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)

// lexSQL splits SQL into literals, quoted identifiers, comments, parameters
// and the text between them; joining the tokens' text gives the input back.
func lexSQL(s string) []sqlToken {
	var out []sqlToken
	start := 0
	flush := func(i int) {
		if i > start {
			out = append(out, sqlToken{tokText, s[start:i]})
		}
	}
	i := 0
	for i < len(s) {
		c := s[i]
		prevIdent := i > 0 && isIdentChar(s[i-1])
		switch {
		case c == '\'':
			kind, from := tokString, i
			if i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2])) {
				kind, from = tokEString, i-1
			}
			j := i + 1
			for j < len(s) {
				if kind == tokEString && s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(s))
			flush(from)
			out = append(out, sqlToken{kind, s[from:end]})
			i, start = end, end
		case c == '"':
			j := i + 1
			for j < len(s) {
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(s))
			flush(i)
			out = append(out, sqlToken{tokIdent, s[i:end]})
			i, start = end, end
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			end := len(s)
			if j >= 0 {
				end = i + j
			}
			flush(i)
			out = append(out, sqlToken{tokComment, s[i:end]})
			i, start = end, end
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			depth, j := 1, i+2
			for j < len(s) && depth > 0 {
				switch {
				case strings.HasPrefix(s[j:], "/*"):
					depth++
					j += 2
				case strings.HasPrefix(s[j:], "*/"):
					depth--
					j += 2
				default:
					j++
				}
			}
			flush(i)
			out = append(out, sqlToken{tokComment, s[i:j]})
			i, start = j, j
		case c == '$' && !prevIdent && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			flush(i)
			out = append(out, sqlToken{tokParam, s[i:j]})
			i, start = j, j
		case c == '$' && !prevIdent && dollarTag.MatchString(s[i:]):
			tag := dollarTag.FindString(s[i:])
			k := strings.Index(s[i+len(tag):], tag)
			end := len(s)
			if k >= 0 {
				end = i + len(tag) + k + len(tag)
			}
			flush(i)
			out = append(out, sqlToken{tokDollar, s[i:end]})
			i, start = end, end
		default:
			i++
		}
	}
	flush(len(s))
	return out
}

// quoteLiteral is a standard SQL string literal.
func quoteLiteral(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// literalValue is the value of a standard string literal token.
func literalValue(tok string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(tok, "'"), "'"), "''", "'")
}

var whitespace = regexp.MustCompile(`\s+`)

// normalizeStatement puts the bind parameters' values in place of $n (as
// literals, which take their type from the context as an unknown-typed
// parameter does), drops comments and folds white space outside literals,
// so that each statement is one line of a pgbench script.
func normalizeStatement(s statement) ([]sqlToken, error) {
	toks := lexSQL(s.sql)
	var out []sqlToken
	for _, t := range toks {
		switch t.kind {
		case tokParam:
			n, _ := strconv.Atoi(t.text[1:])
			if n < 1 || n > len(s.params) {
				return nil, fmt.Errorf("statement uses %s but the log gave %d parameters", t.text, len(s.params))
			}
			if p := s.params[n-1]; p == nil {
				out = append(out, sqlToken{tokText, "NULL"})
			} else {
				out = append(out, sqlToken{tokString, quoteLiteral(*p)})
			}
		case tokComment:
			out = append(out, sqlToken{tokText, " "})
		case tokText:
			out = append(out, sqlToken{tokText, whitespace.ReplaceAllString(t.text, " ")})
		default:
			out = append(out, t)
		}
	}
	// Merge adjacent text and trim.
	var merged []sqlToken
	for _, t := range out {
		if t.kind == tokText && len(merged) > 0 && merged[len(merged)-1].kind == tokText {
			merged[len(merged)-1].text = whitespace.ReplaceAllString(merged[len(merged)-1].text+t.text, " ")
			continue
		}
		merged = append(merged, t)
	}
	if len(merged) > 0 && merged[0].kind == tokText {
		merged[0].text = strings.TrimLeft(merged[0].text, " ")
	}
	if n := len(merged); n > 0 && merged[n-1].kind == tokText {
		merged[n-1].text = strings.TrimRight(strings.TrimRight(merged[n-1].text, " "), ";")
		merged[n-1].text = strings.TrimRight(merged[n-1].text, " ")
	}
	return merged, nil
}

// seqRange is a sequence the capture moved to a distinctive range before
// the clicks, so that a number in [base, base+seqSpan) in the log can only be
// a row id of that table's column, made by a click.
type seqRange struct {
	table, column string
	base          int64
}

const seqSpan = 100_000_000

// captureFacts is what the harness knows of the captured click.
type captureFacts struct {
	corrID   string     // the click's correlation_id (from its 201)
	configID string     // the webhook config's id: replaced by fixedConfigID
	seqs     []seqRange // tagged sequences
}

// fixedConfigID is the webhook config every generated script writes its
// deliveries for; the harness puts an inactive copy of the captured config
// under this id into the ceiling's database, so a script (the committed
// fallback too) runs on any database.
const fixedConfigID = "00000000-0000-4000-8000-00000000c0f1"

var (
	uuidPattern   = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	hex64Pattern  = regexp.MustCompile(`(?i)[0-9a-f]{64,}`)
	numberPattern = regexp.MustCompile(`[0-9]+`)
	insertInto    = regexp.MustCompile(`(?i)^\s*(?:WITH\b.*?\)\s*)?INSERT\s+INTO\s+(?:"?[a-z_][a-z0-9_]*"?\.)?"?([a-z_][a-z0-9_]*)"?`)
	returningCols = regexp.MustCompile(`(?i)\bRETURNING\b(.*)$`)
	writesRows    = regexp.MustCompile(`(?i)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b`)
)

// span is a part of a literal or of text that a variable replaces.
type span struct {
	from, to int
	expr     string // SQL expression producing the replacement (text)
	whole    string // expression to use when the span is the whole literal
}

// scriptBuilder turns a captured transaction into a pgbench script.
type scriptBuilder struct {
	facts    captureFacts
	uuidVars map[string]string // per-click uuid -> variable stem
	keyVars  map[string]string // unique key -> variable
	idVars   map[string]string // row id -> \gset variable
	randoms  []string          // \set lines
}

func (b *scriptBuilder) random(name string) {
	b.randoms = append(b.randoms, `\set `+name+` random(1, 9223372036854775806)`)
}

func hexExpr(v string) string { return `lpad(to_hex(:` + v + `::bigint), 16, '0')` }

// spansIn finds the per-click values in s (a literal's value, or text when
// inText): the correlation id, uuids, unique keys and row ids.
func (b *scriptBuilder) spansIn(s string, inText bool) []span {
	var spans []span
	if !inText && b.facts.corrID != "" {
		for i := 0; ; {
			k := strings.Index(s[i:], b.facts.corrID)
			if k < 0 {
				break
			}
			e := `'L-' || to_hex(:lv_corr::bigint)`
			spans = append(spans, span{i + k, i + k + len(b.facts.corrID), e, "(" + e + ")"})
			i += k + len(b.facts.corrID)
		}
	}
	if !inText {
		for _, m := range uuidPattern.FindAllStringIndex(s, -1) {
			u := strings.ToLower(s[m[0]:m[1]])
			if u == strings.ToLower(b.facts.configID) || u == fixedConfigID {
				spans = append(spans, span{m[0], m[1], quoteLiteral(fixedConfigID), quoteLiteral(fixedConfigID) + "::uuid"})
				continue
			}
			v, ok := b.uuidVars[u]
			if !ok {
				v = fmt.Sprintf("lv_u%d", len(b.uuidVars)+1)
				b.uuidVars[u] = v
				b.random(v + "a")
				b.random(v + "b")
			}
			e := hexExpr(v+"a") + " || " + hexExpr(v+"b")
			spans = append(spans, span{m[0], m[1], e, "(" + e + ")::uuid"})
		}
		for _, m := range hex64Pattern.FindAllStringIndex(s, -1) {
			if m[1]-m[0] != 64 {
				continue // a longer run is payload bytes, not a key
			}
			k := strings.ToLower(s[m[0]:m[1]])
			v, ok := b.keyVars[k]
			if !ok {
				v = fmt.Sprintf("lv_k%d", len(b.keyVars)+1)
				b.keyVars[k] = v
				b.random(v)
			}
			e := hexExpr(v) + " || " + quoteLiteral(k[16:])
			spans = append(spans, span{m[0], m[1], e, "(" + e + ")"})
		}
	}
	for _, m := range numberPattern.FindAllStringIndex(s, -1) {
		if m[0] > 0 && isIdentChar(s[m[0]-1]) || m[1] < len(s) && isIdentChar(s[m[1]]) {
			continue
		}
		if v, ok := b.idVars[s[m[0]:m[1]]]; ok {
			spans = append(spans, span{m[0], m[1], ":" + v + "::text", ":" + v})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var out []span
	end := -1
	for _, sp := range spans {
		if sp.from >= end {
			out = append(out, sp)
			end = sp.to
		}
	}
	return out
}

// rewrite replaces the per-click values of one normalized statement.
func (b *scriptBuilder) rewrite(toks []sqlToken) string {
	var sb strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tokText:
			spans := b.spansIn(t.text, true)
			last := 0
			for _, sp := range spans {
				sb.WriteString(t.text[last:sp.from])
				sb.WriteString(sp.whole)
				last = sp.to
			}
			sb.WriteString(t.text[last:])
		case tokString:
			v := literalValue(t.text)
			spans := b.spansIn(v, false)
			if len(spans) == 0 {
				sb.WriteString(t.text)
				continue
			}
			if len(spans) == 1 && spans[0].from == 0 && spans[0].to == len(v) {
				sb.WriteString(spans[0].whole)
				continue
			}
			var parts []string
			last := 0
			for _, sp := range spans {
				if sp.from > last {
					parts = append(parts, quoteLiteral(v[last:sp.from]))
				}
				parts = append(parts, sp.expr)
				last = sp.to
			}
			if last < len(v) {
				parts = append(parts, quoteLiteral(v[last:]))
			}
			sb.WriteString("(" + strings.Join(parts, " || ") + ")")
		default:
			sb.WriteString(t.text)
		}
	}
	return sb.String()
}

// scriptResult is a generated pgbench script and what it is made of.
type scriptResult struct {
	Script     string   `json:"-"`
	Statements int      `json:"statements"`
	Summary    []string `json:"summary"` // one line per statement: what it does
	Gsets      int      `json:"gsets"`
	Notify     bool     `json:"notify"`
}

// buildPgbenchScript turns the statements of one captured click transaction
// into a pgbench script:
//   - the correlation id, every uuid but the webhook config's, and 64-hex
//     unique keys become random per transaction (pgbench \set);
//   - a row id the transaction made (a number in a tagged sequence's range)
//     comes from the RETURNING of the statement that inserted it, carried
//     with \gset, as the service carries it;
//   - the webhook config id becomes fixedConfigID;
//   - a pg_notify statement (River's insert notification, which River sends
//     at most once per fetch cooldown, not per click) runs in notify_permille
//     of the transactions (-D notify_permille=N).
//
// Variables stay outside quoted strings, so the script runs with -M simple
// and -M prepared alike.
func buildPgbenchScript(stmts []statement, facts captureFacts, header string) (scriptResult, error) {
	b := &scriptBuilder{facts: facts, uuidVars: map[string]string{}, keyVars: map[string]string{}, idVars: map[string]string{}}
	b.random("lv_corr")
	norm := make([][]sqlToken, len(stmts))
	flat := make([]string, len(stmts))
	for i, s := range stmts {
		toks, err := normalizeStatement(s)
		if err != nil {
			return scriptResult{}, fmt.Errorf("statement %d: %w", i+1, err)
		}
		norm[i] = toks
		var sb strings.Builder
		for _, t := range toks {
			sb.WriteString(t.text)
		}
		flat[i] = sb.String()
	}
	// Row ids: each tagged number must come from an earlier INSERT … RETURNING
	// of its table.
	gset := map[int]bool{}
	for i, toks := range norm {
		for _, t := range toks {
			text := t.text
			if t.kind == tokString {
				text = literalValue(t.text)
			} else if t.kind != tokText {
				continue
			}
			for _, m := range numberPattern.FindAllString(text, -1) {
				n, err := strconv.ParseInt(m, 10, 64)
				if err != nil {
					continue
				}
				for _, r := range facts.seqs {
					if n < r.base || n >= r.base+seqSpan {
						continue
					}
					if _, done := b.idVars[m]; done {
						break
					}
					src := -1
					for j := i - 1; j >= 0; j-- {
						if im := insertInto.FindStringSubmatch(flat[j]); im != nil && strings.EqualFold(im[1], r.table) {
							if rm := returningCols.FindStringSubmatch(flat[j]); rm != nil && returnsColumn(rm[1], r.column) {
								src = j
								break
							}
						}
					}
					if src < 0 {
						return scriptResult{}, fmt.Errorf("statement %d uses %s.%s %s, which no earlier INSERT … RETURNING of the transaction gives", i+1, r.table, r.column, m)
					}
					b.idVars[m] = fmt.Sprintf("lv_s%d_%s", src+1, r.column)
					gset[src] = true
				}
			}
		}
	}
	res := scriptResult{Statements: len(stmts)}
	var body strings.Builder
	for i, toks := range norm {
		line := b.rewrite(toks)
		// River's insert notification is a statement of its own, sent with
		// a share of the transactions; a statement that writes rows and
		// notifies as well (the service's click.write, whose NOTIFY is a
		// parameter) runs every time, as captured.
		notify := strings.Contains(strings.ToLower(flat[i]), "pg_notify(") && !writesRows.MatchString(flat[i])
		if notify {
			res.Notify = true
			body.WriteString("\\if random(1, 1000) <= :notify_permille\n")
		}
		body.WriteString(line)
		if gset[i] {
			fmt.Fprintf(&body, " \\gset lv_s%d_\n", i+1)
			res.Gsets++
		} else {
			body.WriteString(";\n")
		}
		if notify {
			body.WriteString("\\endif\n")
		}
	}
	for _, st := range stmts {
		res.Summary = append(res.Summary, describe(st.sql))
	}
	var sb strings.Builder
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		sb.WriteString("-- " + l + "\n")
	}
	for _, r := range b.randoms {
		sb.WriteString(r + "\n")
	}
	sb.WriteString(body.String())
	res.Script = sb.String()
	return res, nil
}

// returnsColumn reports whether a RETURNING list names the column.
func returnsColumn(list, column string) bool {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if i := strings.LastIndexByte(item, '.'); i >= 0 {
			item = item[i+1:]
		}
		item = strings.Trim(item, `"`)
		if strings.EqualFold(item, column) || item == "*" {
			return true
		}
	}
	return false
}

var (
	sqlName   = regexp.MustCompile(`^-- name: (\S+)`)
	fromTable = regexp.MustCompile(`(?i)\b(?:FROM|UPDATE)\s+"?([a-z_][a-z0-9_]*)"?`)
)

// describe names a statement in a few words for the report.
func describe(sql string) string {
	s := strings.TrimSpace(sql)
	if m := sqlName.FindStringSubmatch(s); m != nil {
		return "river " + m[1]
	}
	if m := insertInto.FindStringSubmatch(s); m != nil {
		return "INSERT " + m[1]
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return ""
	}
	verb := strings.ToUpper(words[0])
	if verb == "SELECT" || verb == "UPDATE" || verb == "DELETE" {
		if m := fromTable.FindStringSubmatch(s); m != nil {
			return verb + " " + m[1]
		}
	}
	return verb
}
