package http

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP returns the visitor's address: the TCP peer, or, when the peer is
// a trusted proxy, the right-most X-Forwarded-For address that is not a
// trusted proxy. With no trusted proxies the header is ignored, so a client
// cannot forge its address.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r)
	if !peer.IsValid() {
		return ""
	}
	if len(trusted) == 0 || !inAny(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A malformed hop ends what can be trusted; the last trusted
			// proxy's view is the best answer left.
			break
		}
		a = a.Unmap().WithZone("")
		if !inAny(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rateLimitKey is the widget rate limit's key for a client address (as
// clientIP returns it): the address itself for IPv4, IPv4-mapped IPv6
// included, and its /64 for IPv6. One IPv6 subscriber is usually given a
// whole /64 (SLAAC, privacy addresses), so keyed by full address a single
// client could rotate through 2^64 addresses and never be limited.
func rateLimitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
