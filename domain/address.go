package domain

import "net/netip"

// nonPublic4 lists the IPv4 ranges a webhook may never reach unless private
// targets are explicitly allowed: anything that is not public unicast.
var nonPublic4 = mustPrefixes(
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // CGNAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
)

// globalUnicast6 is the only IPv6 space a webhook may reach (RFC 4291);
// everything outside it (::/8 and the other reserved blocks, 64:ff9b:1::/48,
// 100::/8, 5f00::/16, unique-local, link-local, site-local, multicast) is
// refused, apart from the translation forms embeddedIPv4 recognises.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// nonPublic6 lists the blocks of the IANA IPv6 special-purpose registry that
// lie inside 2000::/3 and are not public webhook targets. 2001::/23 is
// refused whole, the registry's few globally reachable entries in it
// included: they are anycast service addresses (PCP's and TURN's reach
// the local gateway) and overlay identifiers, never a partner's endpoint.
var nonPublic6 = mustPrefixes(
	"2001::/23",     // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID, anycast services
	"2001:db8::/32", // documentation
	"3fff::/20",     // documentation
)

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052 well-known prefix
	translated = netip.MustParsePrefix("::ffff:0:0:0/96") // RFC 2765 / SIIT IPv4-translated
	sixToFour  = netip.MustParsePrefix("2002::/16")       // RFC 3056
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// embeddedIPv4 returns the IPv4 address carried inside an IPv6 address by the
// IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) forms, so that each is judged by the
// address it really reaches. The deprecated IPv4-compatible form (::/96) and
// local-use NAT64 (64:ff9b:1::/48, whose IPv4 position depends on the
// operator's prefix length) are not among them: they are refused outright.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), translated.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// IsPublicUnicast reports whether a webhook may be delivered to a: public
// unicast only. For IPv4 that is everything but loopback, private,
// link-local, CGNAT, multicast, broadcast, reserved, documentation and
// benchmarking space; for IPv6 it is global unicast (2000::/3) minus the
// special-purpose blocks in it, and the IPv6 forms that embed an IPv4 address
// are judged by that address. An address with a zone is link-scoped and never
// public. The same function judges a URL's host when it is saved and every
// address the sender dials.
func IsPublicUnicast(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.Is6() {
		if v4, ok := embeddedIPv4(a); ok {
			a = v4
		}
	}
	if a.Is4() {
		return !inAny(a, nonPublic4)
	}
	return globalUnicast6.Contains(a) && !inAny(a, nonPublic6)
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
