package http

import (
	"time"
	"unicode/utf8"

	"github.com/aurix/integrations/domain"
)

// The partner lists (Leads, Attribution) append each item straight into
// the response buffer instead of going through encoding/json, which cost
// most of a page's Go time (test/bench/README.md, change L2). The bytes are
// exactly those encoding/json writes with HTML escaping off, as the tests
// and fuzz targets in jsonappend_test.go check against encoding/json.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s to dst as a JSON string, byte for byte as
// encoding/json writes a string with HTML escaping off (the encoder that
// writes event payloads and API lists): '"', '\\' and control characters
// escaped (\b, \f, \n, \r, \t by name, the rest as \u00XX), invalid UTF-8
// as \ufffd, U+2028 and U+2029 as \u2028 and \u2029, everything else as is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendParams appends p as domain.MarketingParams.MarshalJSON writes it:
// an object in the domain's canonical key order; nil is {}.
func appendParams(dst []byte, p domain.MarketingParams) []byte {
	var arr [8]string // parameter sets are small: no allocation then
	dst = append(dst, '{')
	for i, k := range p.CanonicalKeys(arr[:0]) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, p[k])
	}
	return append(dst, '}')
}

// appendTimestamp appends t as domain.Timestamp.MarshalJSON writes it: the
// contract's format between quotes, which holds nothing JSON would escape.
func appendTimestamp(dst []byte, t time.Time) []byte {
	u := t.UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		// Beyond four digits: leave the year's sign and width to time.
		dst = append(dst, '"')
		return append(u.AppendFormat(dst, domain.TimeLayout), '"')
	}
	hour, minute, sec := u.Clock()
	ms := u.Nanosecond() / int(time.Millisecond)
	return append(dst, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
}
