//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
)

// TestPermissions runs the three services against a nats-server and a redis-server started with
// the shipped users and permissions (deployment_test.go), checks that together they take a
// consult from submission to acceptance, and then that what no service needs is refused: notify
// appending consult events, anyone purging or deleting CONSULTS or AUDIT, routing or notify
// changing the consult stream or the roster, reading another service's replies or durable
// consumers, anonymous connections, and the Redis commands and keys outside each user's list.
// The whole acceptance suite runs against the same configuration in TestServicesAcceptance.
func TestPermissions(t *testing.T) {
	if testenv.RedisServerPath() == "" {
		t.Fatal("this suite needs a real redis-server (apt-get install redis-server)")
	}
	bin := build(t)
	d := startDeployment(t, bin)
	dir := t.TempDir()
	root := testenv.RepoRoot(t)
	ctx := context.Background()

	intakePort, notifyPort, routingPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", intakePort)
	notifyURL := fmt.Sprintf("http://127.0.0.1:%d", notifyPort)
	routingURL := fmt.Sprintf("http://127.0.0.1:%d", routingPort)
	spawn(t, dir, "notify", filepath.Join(bin, "notify"), nil, append(d.env("notify"), fmt.Sprintf("ADDR=127.0.0.1:%d", notifyPort),
		fmt.Sprintf("INTERNAL_ADDR=127.0.0.1:%d", testenv.FreePort(t)), fmt.Sprintf("ALLOWED_HOSTS=127.0.0.1:%d", intakePort))...)
	spawn(t, dir, "routing", filepath.Join(bin, "routing"), nil, append(d.env("routing"), fmt.Sprintf("ADDR=127.0.0.1:%d", routingPort))...)
	spawn(t, dir, "intake", filepath.Join(bin, "intake"), nil, append(d.env("intake"), fmt.Sprintf("ADDR=127.0.0.1:%d", intakePort),
		fmt.Sprintf("INTERNAL_ADDR=127.0.0.1:%d", testenv.FreePort(t)), "STREAM_UPSTREAM="+notifyURL,
		"ROSTER_FILE="+filepath.Join(root, "pkg/roster/demo.json"))...)
	for _, u := range []string{base, routingURL, notifyURL} {
		waitReady(t, u)
	}

	t.Run("EachServiceDoesItsJob", func(t *testing.T) {
		// intake stores the consult, routing offers it, notify delivers the offer on the stream
		// (through intake's forwarding), intake stores the acceptance.
		ref, onc1 := apiclient.New(base), apiclient.New(base)
		require.NoError(t, ref.Login(ctx, "referrer1", "demo"))
		require.NoError(t, onc1.Login(ctx, "onc1", "demo"))
		st, err := onc1.Stream(ctx, -1)
		require.NoError(t, err)
		defer st.Close()
		var c struct {
			ID string `json:"id"`
		}
		status, err := ref.Do(ctx, http.MethodPost, "/api/v1/consults", map[string]any{
			"urgency": "emergent", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 7, "sex": "female"},
			"question": "Febrile neutropenia on induction: start cefepime or escalate?",
		}, nil, &c)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, "got status %d for the submission, want 201", status)
		frame(t, st, c.ID, "consult.offered")
		t.Logf("consult %s submitted by intake, offered by routing, delivered by notify", c.ID)
		_, err = onc1.Do(ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/accept", nil, nil, nil)
		require.NoError(t, err)
		frame(t, st, c.ID, "consult.accepted")
		t.Logf("consult %s accepted through intake", c.ID)
		// Reading a consult is audited; a profile is written to its bucket and read by routing.
		_, err = ref.Do(ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
		require.NoError(t, err)
		_, err = onc1.Do(ctx, http.MethodPut, "/api/v1/me/profile", map[string]any{"locale": "he", "availability": "busy"}, nil, nil)
		require.NoError(t, err)
	})

	// Whatever the services did, none of it was refused: every permission they needed is there.
	t.Run("NothingTheServicesDidWasRefused", func(t *testing.T) {
		d.assertNoRefusals(t)
	})

	admin := d.conn(t, "admin")
	js, err := jetstream.New(admin.nc)
	require.NoError(t, err)
	count := func(stream string) uint64 {
		t.Helper()
		s, err := js.Stream(ctx, stream)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs
	}

	t.Run("NotifyCannotAppendConsultEvents", func(t *testing.T) {
		before := count("CONSULTS")
		d.conn(t, "notify").refused(t, "consult.ev.01FORGEDFORGEDFORGEDFORGED", `{"type":"consult.accepted"}`)
		assert.Equal(t, before, count("CONSULTS"), "got the consult stream changed by notify's refused publish")
	})

	t.Run("NoServiceCanPurgeOrDeleteTheRecord", func(t *testing.T) {
		// Audit records are stored without waiting for the stream's answer.
		require.Eventually(t, func() bool { return count("AUDIT") > 0 }, 10*time.Second, 20*time.Millisecond,
			"got an empty audit stream after the flow, want its records")
		consults, audit := count("CONSULTS"), count("AUDIT")
		for _, user := range []string{"intake", "routing", "notify"} {
			c := d.conn(t, user)
			for _, stream := range []string{"CONSULTS", "AUDIT"} {
				c.refused(t, "$JS.API.STREAM.PURGE."+stream, `{}`)
				c.refused(t, "$JS.API.STREAM.DELETE."+stream, ``)
				c.refused(t, "$JS.API.STREAM.MSG.DELETE."+stream, `{"seq":1}`)
			}
		}
		// Not the operator's user either: the records stay.
		admin.refused(t, "$JS.API.STREAM.PURGE.AUDIT", `{}`)
		admin.refused(t, "$JS.API.STREAM.DELETE.CONSULTS", ``)
		assert.Equal(t, consults, count("CONSULTS"), "got the consult stream changed")
		assert.Equal(t, audit, count("AUDIT"), "got the audit stream changed")
	})

	t.Run("OnlyIntakeChangesTheConsultStream", func(t *testing.T) {
		for _, user := range []string{"routing", "notify"} {
			d.conn(t, user).refused(t, "$JS.API.STREAM.UPDATE.CONSULTS", `{"name":"CONSULTS","max_msgs":1}`)
		}
		s, err := js.Stream(ctx, "CONSULTS")
		require.NoError(t, err)
		assert.Equal(t, int64(-1), s.CachedInfo().Config.MaxMsgs, "got the consult stream's limit changed")
	})

	t.Run("RosterReadByAllWrittenByIntakeOnly", func(t *testing.T) {
		// Every service needs the roster: it is one document, password hashes included, so each
		// may read it. Only intake, which seeds and edits it, may write it.
		for _, user := range []string{"intake", "routing", "notify"} {
			c := d.conn(t, user)
			kv, err := c.js.KeyValue(ctx, "directory")
			require.NoError(t, err, "%s looks up the directory bucket", user)
			e, err := kv.Get(ctx, "roster")
			require.NoError(t, err, "%s reads the roster", user)
			assert.Contains(t, string(e.Value()), "password_hash", "got a roster without hashes read by %s", user)
		}
		for _, user := range []string{"routing", "notify"} {
			d.conn(t, user).refused(t, "$KV.directory.roster", `{}`)
		}
	})

	t.Run("SessionsAndProfilesOnlyWhereNeeded", func(t *testing.T) {
		d.conn(t, "routing").refused(t, "$JS.API.DIRECT.GET.KV_sessions.$KV.sessions.x", ``)
		d.conn(t, "routing").refused(t, "$KV.sessions.x", `x`)
		d.conn(t, "routing").refused(t, "$KV.profiles.u-onc1", `{}`)
		d.conn(t, "notify").refused(t, "$JS.API.DIRECT.GET.KV_profiles.$KV.profiles.u-onc1", ``)
	})

	t.Run("NoServiceReadsAnothersRepliesOrConsumers", func(t *testing.T) {
		d.conn(t, "notify").refusedSubscription(t, "_INBOX.intake.>")
		d.conn(t, "routing").refusedSubscription(t, "_INBOX.>")
		d.conn(t, "intake").refusedSubscription(t, "consult.ev.>")
		d.conn(t, "notify").refused(t, "$JS.API.CONSUMER.MSG.NEXT.CONSULTS.routing", `{"batch":1}`)
		d.conn(t, "notify").refused(t, "$JS.API.CONSUMER.DELETE.CONSULTS.routing", ``)
		d.conn(t, "intake").refused(t, "$JS.API.CONSUMER.CREATE.CONSULTS.routing.consult.ev.*", `{}`)
		d.conn(t, "routing").refused(t, "$JS.API.CONSUMER.DELETE.CONSULTS.readmodel", ``)
	})

	t.Run("AnonymousAndWrongPasswordRefused", func(t *testing.T) {
		_, err := nats.Connect(d.natsURL, nats.Secure(d.tls.Clone()), nats.MaxReconnects(0))
		require.Error(t, err, "got an anonymous connection accepted")
		assert.Contains(t, strings.ToLower(err.Error()), "authorization violation", "got %v, want an authorization violation", err)
		_, err = nats.Connect(d.natsURL, nats.Secure(d.tls.Clone()), nats.UserInfo("intake", "not-the-password"), nats.MaxReconnects(0))
		require.Error(t, err, "got a wrong password accepted")
		assert.Contains(t, strings.ToLower(err.Error()), "authorization violation", "got %v, want an authorization violation", err)
		_, err = nats.Connect(strings.Replace(d.natsURL, "tls://", "nats://", 1), nats.MaxReconnects(0),
			nats.UserInfo("intake", d.secret(t, "nats", "intake")))
		require.Error(t, err, "got a connection that does not check the server's certificate accepted")
		t.Logf("anonymous, wrong password and unchecked certificate refused: %v", err)
	})

	t.Run("RedisUsersLimitedToTheirKeysAndCommands", func(t *testing.T) {
		for _, tc := range []struct {
			user string
			args []any
			want string
		}{
			{"", []any{"ping"}, "NOAUTH"},
			{"intake", []any{"flushall"}, "NOPERM"},
			{"intake", []any{"config", "get", "*"}, "NOPERM"},
			{"intake", []any{"keys", "*"}, "NOPERM"},
			{"intake", []any{"get", "consult:presence:u-onc1"}, "NOPERM"},
			{"routing", []any{"set", "consult:c:x", "forged"}, "NOPERM"},
			{"routing", []any{"zadd", "consult:presence:u-onc1", "1", "x"}, "NOPERM"},
			{"routing", []any{"flushdb"}, "NOPERM"},
			{"notify", []any{"hget", "consult:c:x", "doc"}, "NOPERM"},
			{"notify", []any{"get", "consult:idem:x"}, "NOPERM"},
			{"notify", []any{"shutdown"}, "NOPERM"},
			{"probe", []any{"get", "consult:c:x"}, "NOPERM"},
		} {
			var err error
			if tc.user == "probe" {
				c := d.redis(t, "")
				err = c.Do(ctx, "auth", "probe", "any").Err()
				require.NoError(t, err, "probe logs in with any password")
				err = c.Do(ctx, tc.args...).Err()
			} else {
				err = d.redis(t, tc.user).Do(ctx, tc.args...).Err()
			}
			require.Error(t, err, "got %v as %q accepted", tc.args, tc.user)
			assert.Contains(t, err.Error(), tc.want, "got %v for %v as %q, want %s", err, tc.args, tc.user, tc.want)
		}
		require.NoError(t, d.redis(t, "routing").Do(ctx, "zcount", "consult:presence:u-onc1", "-inf", "+inf").Err(),
			"routing reads presence")
	})
}

// frame reads st until consult id's frame of type typ arrives.
func frame(t *testing.T, st *apiclient.Stream, id, typ string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := st.Next(time.Until(deadline))
		require.NoError(t, err, "waiting for %s of %s", typ, id)
		if f.ConsultID == id && f.Type == typ {
			return
		}
	}
}

// conn is a connection as one user that collects what the server refuses.
type conn struct {
	user   string
	nc     *nats.Conn
	js     jetstream.JetStream
	errors chan error
}

func (d *deployment) conn(t *testing.T, user string) *conn {
	t.Helper()
	c := &conn{user: user, errors: make(chan error, 64)}
	nc, err := d.nats(user, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case c.errors <- err:
		default:
		}
	}))
	require.NoError(t, err, "connect as %s", user)
	t.Cleanup(nc.Close)
	c.nc = nc
	c.js, err = jetstream.New(nc)
	require.NoError(t, err)
	return c
}

// refused publishes data to subject as a request would and checks that the server refuses it:
// the refusal arrives before the answer to a ping sent after the message, so it is waited for,
// not guessed at with a timer.
func (c *conn) refused(t *testing.T, subject, data string) {
	t.Helper()
	require.NoError(t, c.nc.PublishRequest(subject, c.nc.NewRespInbox(), []byte(data)))
	require.NoError(t, c.nc.Flush())
	c.expect(t, fmt.Sprintf("Publish to %q", subject))
	t.Logf("%s: publish to %s refused", c.user, subject)
}

// refusedSubscription subscribes to subject and checks that the server refuses it.
func (c *conn) refusedSubscription(t *testing.T, subject string) {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, c.nc.Flush())
	c.expect(t, fmt.Sprintf("Subscription to %q", subject))
	t.Logf("%s: subscription to %s refused", c.user, subject)
}

func (c *conn) expect(t *testing.T, what string) {
	t.Helper()
	for {
		select {
		case err := <-c.errors:
			if strings.Contains(err.Error(), "Permissions Violation for "+what) {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: got no permissions violation for %s, want the server to refuse it", c.user, what)
		}
	}
}

// assertNoRefusals checks that nats-server refused nothing and Redis logged no denied command
// (the client's own optional CLIENT SETINFO aside, which it sends to any server and tolerates
// being refused).
func (d *deployment) assertNoRefusals(t *testing.T) {
	t.Helper()
	log, err := os.ReadFile(d.natsLog)
	require.NoError(t, err)
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "Violation") {
			t.Errorf("got a refusal in the nats-server log, want none: %s", line)
		}
	}
	entries, err := d.redis(t, "admin").Do(context.Background(), "acl", "log").Slice()
	require.NoError(t, err)
	for _, e := range entries {
		fields := map[string]any{}
		switch e := e.(type) {
		case map[any]any: // RESP3
			for k, v := range e {
				fields[fmt.Sprint(k)] = v
			}
		case []any: // RESP2: name, value, ...
			for i := 0; i+1 < len(e); i += 2 {
				fields[fmt.Sprint(e[i])] = e[i+1]
			}
		}
		if strings.HasPrefix(fmt.Sprint(fields["object"]), "client") {
			continue
		}
		b, _ := json.Marshal(fields)
		t.Errorf("got a denied Redis command, want none: %s", b)
	}
}
