package domain_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aurix/integrations/domain"
)

// TestIsPublicUnicast decides which addresses a webhook may reach: only
// public unicast, judging IPv6 forms that embed an IPv4 address (mapped,
// NAT64, 6to4) by the IPv4 address they really reach.
func TestIsPublicUnicast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want bool
		why  string
	}{
		{"8.8.8.8", true, "public IPv4"},
		{"1.1.1.1", true, "public IPv4"},
		{"93.184.216.34", true, "public IPv4"},
		{"2606:4700:4700::1111", true, "public IPv6"},
		{"2a00:1450:4001:82b::200e", true, "public IPv6"},
		{"64:ff9b::808:808", true, "NAT64 of 8.8.8.8"},
		{"::ffff:8.8.8.8", true, "IPv4-mapped 8.8.8.8"},
		{"2002:808:808::1", true, "6to4 of 8.8.8.8"},

		{"127.0.0.1", false, "loopback"},
		{"127.255.255.254", false, "loopback /8"},
		{"10.0.0.1", false, "private 10/8"},
		{"10.255.255.255", false, "private 10/8"},
		{"172.16.0.1", false, "private 172.16/12"},
		{"172.31.255.255", false, "private 172.16/12, last"},
		{"192.168.1.1", false, "private 192.168/16"},
		{"169.254.169.254", false, "link-local (cloud metadata)"},
		{"100.64.0.1", false, "CGNAT 100.64/10"},
		{"100.127.255.255", false, "CGNAT 100.64/10, last"},
		{"0.0.0.0", false, "unspecified"},
		{"255.255.255.255", false, "broadcast"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast (SSDP)"},
		{"192.0.2.1", false, "TEST-NET-1"},
		{"198.51.100.1", false, "TEST-NET-2"},
		{"203.0.113.1", false, "TEST-NET-3"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking, last"},
		{"::1", false, "IPv6 loopback"},
		{"::", false, "IPv6 unspecified"},
		{"fe80::1", false, "IPv6 link-local"},
		{"fe80::1%eth0", false, "IPv6 link-local with zone"},
		{"fc00::1", false, "unique-local"},
		{"fd12::1", false, "unique-local"},
		{"ff02::1", false, "IPv6 multicast"},
		{"2001:db8::1", false, "IPv6 documentation"},
		{"::ffff:127.0.0.1", false, "IPv4-mapped loopback"},
		{"::ffff:10.0.0.1", false, "IPv4-mapped private"},
		{"::ffff:169.254.169.254", false, "IPv4-mapped link-local"},
		{"64:ff9b::7f00:1", false, "NAT64 of 127.0.0.1"},
		{"64:ff9b::a00:1", false, "NAT64 of 10.0.0.1"},
		{"2002:7f00:1::1", false, "6to4 of 127.0.0.1"},
		{"2002:0a00:0001::1", false, "6to4 of 10.0.0.1"},
		{"2002:c0a8:101::1", false, "6to4 of 192.168.1.1"},

		// IPv6 is public only inside global unicast (2000::/3), minus the
		// IANA special-purpose registry; the translation forms are judged
		// by the IPv4 address they carry.
		{"::ffff:0:7f00:1", false, "IPv4-translated (SIIT, ::ffff:0:0:0/96) 127.0.0.1"},
		{"::ffff:0:a00:1", false, "IPv4-translated 10.0.0.1"},
		{"::ffff:0:a9fe:a9fe", false, "IPv4-translated 169.254.169.254"},
		{"::ffff:0:808:808", true, "IPv4-translated 8.8.8.8"},
		{"::ffff:0:0.0.0.0", false, "IPv4-translated 0.0.0.0"},
		{"::7f00:1", false, "IPv4-compatible (deprecated) 127.0.0.1"},
		{"::808:808", false, "IPv4-compatible (deprecated) 8.8.8.8: reserved ::/8, not global unicast"},
		{"::2", false, "reserved ::/8"},
		{"::1:0:0:1", false, "reserved ::/8"},
		{"ff::1", false, "reserved ::/8"},
		{"0:0:0:1::", false, "reserved ::/8"},
		{"100::1", false, "discard-only 100::/64"},
		{"100:0:0:1::1", false, "dummy prefix 100:0:0:1::/64"},
		{"100:1::1", false, "reserved 100::/8"},
		{"400::1", false, "reserved 400::/6"},
		{"1000::1", false, "reserved 1000::/4"},
		{"4000::1", false, "reserved 4000::/3"},
		{"5f00::1", false, "SRv6 SIDs 5f00::/16"},
		{"8000::1", false, "reserved 8000::/3"},
		{"e000::1", false, "reserved e000::/4"},
		{"fec0::1", false, "site-local (deprecated)"},
		{"64:ff9b::8.8.8.8", true, "NAT64 (dotted) of 8.8.8.8"},
		{"64:ff9b::127.0.0.1", false, "NAT64 (dotted) of 127.0.0.1"},
		{"64:ff9b::c0a8:1", false, "NAT64 of 192.168.0.1"},
		{"64:ff9b:1::808:808", false, "local-use NAT64 64:ff9b:1::/48: not global"},
		{"64:ff9b:1::7f00:1", false, "local-use NAT64 of 127.0.0.1"},
		{"2002:a9fe:a9fe::", false, "6to4 of 169.254.169.254"},
		{"2002:6440:1::1", false, "6to4 of CGNAT 100.64.0.1"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "Teredo"},
		{"2001::1", false, "Teredo"},
		{"2001:2::1", false, "benchmarking 2001:2::/48"},
		{"2001:1::1", false, "PCP anycast (reaches the local gateway)"},
		{"2001:10::1", false, "ORCHID (deprecated)"},
		{"2001:20::1", false, "ORCHIDv2"},
		{"2001:db8:85a3::8a2e:370:7334", false, "documentation"},
		{"3fff::1", false, "documentation 3fff::/20"},
		{"3fff:fff:ffff::1", false, "documentation 3fff::/20, last"},
		{"fd00:ec2::254", false, "unique-local (cloud metadata)"},
		{"fe80::a9fe:a9fe", false, "link-local"},
		{"febf::1", false, "link-local, last"},
		{"ff05::2", false, "multicast, site"},
		{"ff0e::1", false, "multicast, global"},
		{"2001:4860:4860::8888", true, "public IPv6 (2001:4860::/32 is outside 2001::/23)"},
		{"2001:200::1", true, "public IPv6 just past 2001::/23"},
		{"2400:cb00::1", true, "public IPv6"},
		{"3ffe:ffff::1", true, "global unicast just below 3fff::/20"},
		{"2620:4f:8000::1", true, "AS112 direct delegation: globally reachable"},
		{"2606:4700:4700::1111%eth0", false, "an address with a zone is link-scoped, never a public target"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			a := netip.MustParseAddr(tt.addr)
			assert.Equal(t, tt.want, domain.IsPublicUnicast(a), "%s (%s)", tt.addr, tt.why)
		})
	}
}

func TestIsPublicUnicast_InvalidAddressIsNotPublic(t *testing.T) {
	t.Parallel()
	assert.False(t, domain.IsPublicUnicast(netip.Addr{}))
}
