package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"net/url"
	"strings"
)

// Prefix lengths an anonymized IP address keeps.
const (
	AnonymizedIPv4Bits = 24
	AnonymizedIPv6Bits = 48
)

// AnonymizeIP truncates an address to its network: IPv4 (an IPv4-mapped
// IPv6 address included, written as IPv4) to /24, IPv6 to /48. What is left
// says roughly where a visitor came from (a provider, a city), not who. A
// value that is not an address is returned as it is (validation refuses it).
func AnonymizeIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	a = a.Unmap().WithZone("")
	bits := AnonymizedIPv6Bits
	if a.Is4() {
		bits = AnonymizedIPv4Bits
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return s
	}
	return p.Addr().String()
}

// StripClickURL is what an erasure keeps of a click URL: scheme, host, port
// and path, and of the query only the marketing parameters (utm_* and the
// click ids, as parsed_params reads them), in their order. Userinfo and the
// fragment go, and so does anything in the query a visitor's browser may
// have carried about them (an email, a name, a session token). A URL that
// does not parse as http(s) is removed whole.
func StripClickURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	var kept []string
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		rawKey, _, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !isMarketingKey(strings.ToLower(key)) {
			continue
		}
		kept = append(kept, pair)
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: strings.Join(kept, "&")}
	return out.String()
}

// MessageKey is how a WhatsApp message id is kept for deduplication: its
// SHA-256, never the id itself. Meta's message ids carry the sender's phone
// number (base64 inside the "wamid."), and a digest of an id that also holds
// a random part tells nothing about it, while a redelivered message still
// finds its key.
func MessageKey(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return "sha256:" + hex.EncodeToString(sum[:])
}
