package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/attachstore"
	"github.com/regionalconsult/broker/pkg/nats/auditlog"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
)

// Every stream the broker declares is left alone when it is declared again with the same
// configuration: the second start of any service sends no update, so a service whose NATS user
// may read a stream but not change it starts.
func TestDeclaringAgainSendsNoUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, nc := testenv.Bus(t)
	open := map[string]func() error{
		consultstore.Stream: func() error { _, err := consultstore.Open(ctx, b); return err },
		scheduler.Stream:    func() error { _, err := scheduler.Open(ctx, b); return err },
		auditlog.Stream:     func() error { _, err := auditlog.Open(ctx, b); return err },
		"OBJ_" + attachstore.Bucket: func() error {
			_, err := attachstore.Open(ctx, b)
			return err
		},
	}
	for name, o := range open {
		require.NoError(t, o(), "first declaration of %s", name)
	}
	updates, err := nc.SubscribeSync("$JS.API.STREAM.UPDATE.>")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	for name, o := range open {
		require.NoError(t, o(), "second declaration of %s", name)
	}
	// A request this connection sent is delivered to its own subscription before the answer it
	// waited for, so after a round trip every update request sent is pending.
	require.NoError(t, nc.Flush())
	for {
		m, err := updates.NextMsg(0)
		if err != nil {
			break
		}
		t.Errorf("got an update request on %s for a stream declared again unchanged, want none", m.Subject)
	}
}

// A changed declaration is applied to the existing stream.
func TestChangedDeclarationUpdatesTheStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := testenv.Bus(t)
	cfg := jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}
	_, err := b.Stream(ctx, cfg)
	require.NoError(t, err)
	cfg.DenyDelete, cfg.MaxAge = true, time.Hour
	s, err := b.Stream(ctx, cfg)
	require.NoError(t, err)
	got := s.CachedInfo().Config
	assert.True(t, got.DenyDelete, "got deny_delete false, want the declared true")
	assert.Equal(t, time.Hour, got.MaxAge, "got max age %s, want the declared 1h", got.MaxAge)
}

// A service whose NATS user may not change a stream, finding it with an older configuration,
// gets no answer to its update and goes on with the stream as it is.
func TestUpdateNotAllowedKeepsTheStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		Users: []*server.User{
			{Username: "owner", Password: "owner-pw"},
			{Username: "reader", Password: "reader-pw", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: []string{"$JS.API.STREAM.UPDATE.>"}}}},
		}}
	srv, err := server.NewServer(opts)
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(srv.Shutdown)
	require.True(t, srv.ReadyForConnections(10*time.Second), "server not ready")
	connect := func(user string) *bus.Bus {
		nc, err := bus.Connect(srv.ClientURL(), user, testenv.Logger(t), nats.UserInfo(user, user+"-pw"))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		b, err := bus.New(nc, 1, testenv.Logger(t))
		require.NoError(t, err)
		return b
	}
	cfg := jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}
	_, err = connect("owner").Stream(ctx, cfg)
	require.NoError(t, err)

	cfg.DenyDelete = true
	s, err := connect("reader").Stream(ctx, cfg)
	require.NoError(t, err, "a refused update stops the declaration")
	assert.False(t, s.CachedInfo().Config.DenyDelete, "got the stream changed by a user who may not, want it as it was")
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint([]string{"t.>"}), fmt.Sprint(info.Config.Subjects), "got a stream that does not answer")
}
