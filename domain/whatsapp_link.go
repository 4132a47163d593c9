package domain

import "strings"

// DefaultPrefill is the message a visitor's WhatsApp opens with.
const DefaultPrefill = "Hi! I'd like to know more. [ref: {ref}]"

// WhatsAppLink builds the wa.me link a widget click opens.
type WhatsAppLink struct {
	// Number is the business number; anything but digits is dropped.
	Number string
	// Prefill is the message text, with {ref} replaced by the correlation id.
	Prefill string
}

// For returns https://wa.me/<digits>?text=<prefill>, the text percent-encoded
// as encodeURIComponent does (so a space is %20, never +).
func (l WhatsAppLink) For(ref CorrelationID) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, l.Number)
	prefill := l.Prefill
	if prefill == "" {
		prefill = DefaultPrefill
	}
	text := strings.ReplaceAll(prefill, "{ref}", string(ref))
	return "https://wa.me/" + digits + "?text=" + percentEncode(text)
}

// percentEncode escapes every byte but RFC 3986's unreserved characters.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
