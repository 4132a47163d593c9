// Package system implements the small outbound ports backed by the
// operating system: the clock, random identifiers and DNS.
package system

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Clock is the wall clock.
type Clock struct{}

// Now returns the current time.
func (Clock) Now() time.Time { return time.Now() }

// UUIDs makes time-ordered UUIDv7 identifiers, which keep index inserts
// local and sort by creation.
type UUIDs struct{}

// NewID returns a new UUIDv7.
func (UUIDs) NewID() string { return uuid.Must(uuid.NewV7()).String() }

// CorrelationIDs draws references from crypto/rand.
type CorrelationIDs struct{}

const refAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewCorrelationID returns "O-" and six characters drawn uniformly from
// [A-Za-z0-9] (rejection sampling avoids modulo bias).
func (CorrelationIDs) NewCorrelationID() (domain.CorrelationID, error) {
	out := []byte("O-")
	buf := make([]byte, 16)
	for len(out) < 8 {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: keep the draw uniform
				continue
			}
			out = append(out, refAlphabet[int(b)%len(refAlphabet)])
			if len(out) == 8 {
				break
			}
		}
	}
	return domain.CorrelationID(out), nil
}

// Resolver resolves hosts through the system resolver.
type Resolver struct{}

// LookupNetIP returns the host's addresses.
func (Resolver) LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	return addrs, nil
}

// Random draws secrets from crypto/rand and jitter from math/rand.
type Random struct{}

// Float64 returns a number in [0, 1).
func (Random) Float64() float64 {
	return mathrand.Float64() //nolint:gosec // G404: retry jitter needs no cryptographic randomness
}

// Secret returns bytes from crypto/rand.
func (Random) Secret() ([domain.SecretBytes]byte, error) {
	var b [domain.SecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return b, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

var (
	_ ports.Random                 = Random{}
	_ ports.Clock                  = Clock{}
	_ ports.IDGenerator            = UUIDs{}
	_ ports.CorrelationIDGenerator = CorrelationIDs{}
	_ ports.HostResolver           = Resolver{}
)
