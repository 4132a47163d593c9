package postgres

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeStringObject decodes a JSON object of strings (lead_data,
// parsed_params) as json.Unmarshal into a map[string]string does. The flat
// objects PostgreSQL prints for these jsonb columns are read without
// reflection, into one string that every key and value shares; anything
// else (other value types, surrogate escapes, invalid UTF-8, null, bad
// JSON) goes to json.Unmarshal, so results and errors stay its own.
func decodeStringObject(b []byte) (map[string]string, error) {
	if m, ok := decodeFlatStringObject(b); ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeFlatStringObject reads {"key": "value", …} and reports false for
// anything it does not handle.
func decodeFlatStringObject(b []byte) (map[string]string, bool) {
	if !utf8.Valid(b) {
		return nil, false
	}
	i := skipJSONSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipJSONSpace(b, i+1)
	// The decoded keys and values, back to back, and where each one ends;
	// the arrays keep an object of the usual size off the heap.
	var (
		textArr [1024]byte
		endsArr [32]int
	)
	text, ends := textArr[:0], endsArr[:0]
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			// A key, then a value: both must be strings.
			for part := range 2 {
				if i == len(b) || b[i] != '"' {
					return nil, false
				}
				var ok bool
				if i, text, ok = unquoteOnto(text, b, i+1); !ok {
					return nil, false
				}
				ends = append(ends, len(text))
				i = skipJSONSpace(b, i)
				if part == 0 {
					if i == len(b) || b[i] != ':' {
						return nil, false
					}
					i = skipJSONSpace(b, i+1)
				}
			}
			if i == len(b) {
				return nil, false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return nil, false
			}
			i = skipJSONSpace(b, i+1)
		}
	}
	if skipJSONSpace(b, i) != len(b) {
		return nil, false
	}
	all := string(text)
	m := make(map[string]string, len(ends)/2)
	start := 0
	for j := 0; j < len(ends); j += 2 {
		m[all[start:ends[j]]] = all[ends[j]:ends[j+1]]
		start = ends[j+1]
	}
	return m, true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// unquoteOnto decodes the JSON string whose content starts at b[i] (after
// its opening quote) onto text, and returns the index after its closing
// quote. ok is false for what the caller leaves to encoding/json: control
// characters, bad escapes and \u escapes of surrogates (pairs included).
func unquoteOnto(text, b []byte, i int) (int, []byte, bool) {
	start := i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, append(text, b[start:i]...), true
		case c < 0x20:
			return i, text, false
		case c != '\\':
			i++
			continue
		}
		text = append(text, b[start:i]...)
		if i+1 == len(b) {
			return i, text, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			text = append(text, e)
		case 'b':
			text = append(text, '\b')
		case 'f':
			text = append(text, '\f')
		case 'n':
			text = append(text, '\n')
		case 'r':
			text = append(text, '\r')
		case 't':
			text = append(text, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok || utf8.RuneLen(r) < 0 { // surrogate halves have no UTF-8 length
				return i, text, false
			}
			text = utf8.AppendRune(text, r)
			i += 4
		default:
			return i, text, false
		}
		i += 2
		start = i
	}
	return i, text, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
