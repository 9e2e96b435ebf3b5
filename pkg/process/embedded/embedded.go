// Package embedded runs the broker's dependencies inside the process for the single-machine
// install and for tests: the real NATS server as a library, with JetStream on disk and every
// write synced before it is acknowledged, and an in-process Redis-protocol server.
package embedded

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATS is a running embedded NATS server.
type NATS struct {
	srv *server.Server
}

// StartNATS starts a NATS server with JetStream storing under dir, listening on host:port
// (port 0 picks a free one), or on no port at all when host is "": then only Connect reaches
// it, and no other process on the machine can read or forge consult events. Every JetStream
// write is fsynced before it is acknowledged.
func StartNATS(dir, host string, port int) (*NATS, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "consultd",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
		// A clinic's attachment-free consult is small; this bounds a runaway client.
		MaxPayload: 8 << 20,
		DontListen: host == "",
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return &NATS{srv: srv}, nil
}

// URL is the client URL of the server.
func (n *NATS) URL() string { return n.srv.ClientURL() }

// Shutdown stops the server and waits until it has.
func (n *NATS) Shutdown() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// Redis is a running in-process Redis-protocol server. It keeps data in memory only, which the
// broker allows because Redis holds working state that is rebuilt from the stream. It requires
// a random password, which its URL carries, so other local users cannot read it.
type Redis struct {
	m        *miniredis.Miniredis
	password string
	stop     chan struct{}
	done     chan struct{}
}

// StartRedis starts an in-process Redis-protocol server on addr (host:port; port 0 picks one).
func StartRedis(addr string) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	secret := make([]byte, 18)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	m.RequireAuth(base64.RawURLEncoding.EncodeToString(secret))
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	r := &Redis{m: m, password: base64.RawURLEncoding.EncodeToString(secret), stop: make(chan struct{}), done: make(chan struct{})}
	go r.clock()
	return r, nil
}

// clock advances the server's expiry clock with the wall clock: miniredis only expires keys
// when told that time has passed.
func (r *Redis) clock() {
	defer close(r.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://:" + r.password + "@" + r.m.Addr() + "/0" }

// FlushAll empties the server, as an operator's FLUSHALL would.
func (r *Redis) FlushAll() { r.m.FlushAll() }

// Close stops the server.
func (r *Redis) Close() {
	close(r.stop)
	<-r.done
	r.m.Close()
}

// Connect returns a client connection to the server that does not leave the process.
func (n *NATS) Connect(name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.Name(name), nats.InProcessServer(n.srv), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}
