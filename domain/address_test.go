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
