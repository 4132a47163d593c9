package test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dbProxy is a TCP proxy between a service and PostgreSQL that the test
// controls, so a test can take the database away from one service without
// touching the shared cluster. Cut closes every proxied connection and stops
// listening (new connections are refused, as by a server that is
// restarting); Restore listens again on the same address.
type dbProxy struct {
	target string // PostgreSQL's host:port
	addr   string // where the proxy listens

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	accepted int
	wg       sync.WaitGroup
}

// newDBProxy starts a proxy to the server of dbURL; it is closed when t ends.
func newDBProxy(t *testing.T, dbURL string) *dbProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	p := &dbProxy{target: u.Host, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// URL is dbURL with its server replaced by the proxy.
func (p *dbProxy) URL(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Host = p.addr
	return u.String()
}

// Accepted counts the connections the proxy has taken so far.
func (p *dbProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut closes every proxied connection and refuses new ones until Restore.
func (p *dbProxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for c := range conns {
		_ = c.Close()
	}
}

// Restore accepts connections again on the same address.
func (p *dbProxy) Restore(t *testing.T) {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	// The port was ours a moment ago; another process taking it in between
	// is unlikely but possible, so try for a little while.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "listen again on %s", p.addr)
	p.serve(ln)
}

func (p *dbProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.mu.Lock()
			if p.ln != ln { // cut between Accept and here
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.accepted++
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

// pipe forwards one client connection until either side closes it or Cut.
func (p *dbProxy) pipe(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	live := p.ln != nil // not cut while dialling
	if live {
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	}
	p.mu.Unlock()
	if !live {
		_ = client.Close()
		_ = server.Close()
		return
	}
	var halves sync.WaitGroup
	for _, pair := range [][2]net.Conn{{server, client}, {client, server}} {
		halves.Go(func() {
			_, _ = io.Copy(pair[0], pair[1]) // an error (a reset, a cut) ends the pair like a close
			_ = pair[0].Close()
			_ = pair[1].Close()
		})
	}
	halves.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
