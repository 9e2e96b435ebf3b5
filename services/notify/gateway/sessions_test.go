package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

// A session its user ends from another device closes its streams on every gateway at once,
// exactly like a logout; the user's other sessions keep theirs.
func TestEndedSessionClosesItsStreamsEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url1, _ := e.gateway(t, gateway.Config{})
	url2, _ := e.gateway(t, gateway.Config{})
	phone, desk := e.login(t, "coord1"), e.login(t, "coord1")
	a, b := dial(t, url1, phone, -1), dial(t, url2, phone, -1)
	defer a.Close()
	defer b.Close()
	kept := dial(t, url1, desk, -1)
	defer kept.Close()

	require.NoError(t, e.sessions.End(context.Background(), "u-coord1", session.ID(phone)))
	for i, conn := range []interface {
		ReadMessage() (int, []byte, error)
		SetReadDeadline(time.Time) error
	}{a, b} {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := conn.ReadMessage()
		require.Error(t, err, "stream %d of the ended session stayed open", i+1)
		assert.Equal(t, gateway.CloseSessionEnded, closeCode(err), "stream %d: got %v, want close code 4001", i+1, err)
	}
	// The desk's stream stays open: it receives what happens next.
	id := e.submit(t)
	f, err := read(kept, 5*time.Second)
	require.NoError(t, err, "the other session's stream closed")
	assert.Equal(t, id, f.ConsultID, "got a frame of %s, want the new consult %s", f.ConsultID, id)
}
