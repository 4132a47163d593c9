package http

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRateLimitKey: IPv4 per address (mapped IPv6 counts as IPv4), IPv6 per
// /64 whatever its spelling.
func TestRateLimitKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, want string }{
		{"198.51.100.7", "198.51.100.7"},
		{"198.51.100.8", "198.51.100.8"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"::ffff:c633:6407", "198.51.100.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:0:0:0:99", "2001:db8:1:2::/64"},
		{"2001:0db8:0001:0002:abcd::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"", ""},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, rateLimitKey(tt.ip), tt.ip)
	}
	assert.Equal(t, rateLimitKey("2001:db8:1:2::1"), rateLimitKey("2001:db8:1:2:8000::1"), "one /64 is one client")
	assert.NotEqual(t, rateLimitKey("2001:db8:1:2::1"), rateLimitKey("2001:db8:1:3::1"), "the next /64 is another")
	assert.NotEqual(t, rateLimitKey("198.51.100.7"), rateLimitKey("198.51.100.6"), "IPv4 is per address")
}
