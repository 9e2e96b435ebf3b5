package auditlog_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/auditlog"
)

// An audit stream created before it denied purges (deletes only) is brought up to date by Open,
// and then neither a purge nor a delete of a record is accepted.
func TestOpenMakesAnExistingStreamDenyPurges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := testenv.Bus(t)
	js := b.JetStream()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: auditlog.Stream, Subjects: []string{"audit.>"},
		Storage: jetstream.FileStorage, DenyDelete: true})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "audit.read", []byte(`{"actor_id":"u1","action":"read"}`))
	require.NoError(t, err)

	_, err = auditlog.Open(ctx, b)
	require.NoError(t, err)

	s, err := js.Stream(ctx, auditlog.Stream)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	assert.True(t, cfg.DenyPurge, "got deny_purge false after Open, want true")
	assert.True(t, cfg.DenyDelete, "got deny_delete false after Open, want true")
	assert.Error(t, s.Purge(ctx), "got a purge of the audit stream accepted, want it refused")
	assert.Error(t, s.DeleteMsg(ctx, 1), "got a record deleted from the audit stream, want it refused")
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs, "got %d records after the refused purge and delete, want 1", info.State.Msgs)
}
