//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
)

// deployment is a nats-server and a redis-server started as the shipped deployments start them:
// deploy/nats/nats.conf with deploy/nats/authorization.conf included as it is, and
// deploy/redis/start.sh with deploy/redis/redis.conf and users.acl; TLS with the certificates,
// and the passwords, that scripts/deploy-secrets.sh makes. Only what cannot be the same on a
// test machine changes: ports, directories and the paths of the mounted secrets.
type deployment struct {
	// secrets is the directory scripts/deploy-secrets.sh filled.
	secrets string
	// natsURL and redisURL are the servers' loopback addresses, over TLS.
	natsURL, redisURL string
	// tls trusts the deployment's certificate authority.
	tls *tls.Config
	// natsLog is the nats-server's log, where it reports what it refused.
	natsLog string
}

// startDeployment starts the servers with the binaries in bin (build) and returns them; they
// stop with the test.
func startDeployment(t *testing.T, bin string) *deployment {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("the deployment's secrets need openssl (apt-get install openssl)")
	}
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	d := &deployment{secrets: filepath.Join(dir, "secrets")}
	out, err := exec.Command(filepath.Join(root, "scripts/deploy-secrets.sh"), d.secrets).CombinedOutput()
	require.NoError(t, err, "scripts/deploy-secrets.sh: %s", out)
	ca, err := os.ReadFile(filepath.Join(d.secrets, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca), "ca.pem holds no certificate")
	d.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	// NATS: /etc/nats as the compose file and the StatefulSet lay it out.
	etc := filepath.Join(dir, "etc/nats")
	require.NoError(t, os.MkdirAll(filepath.Join(etc, "secrets"), 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(etc, "tls"), 0o700))
	copyFile(t, filepath.Join(root, "deploy/nats/authorization.conf"), filepath.Join(etc, "authorization.conf"))
	copyFile(t, filepath.Join(d.secrets, "nats-passwords.conf"), filepath.Join(etc, "secrets/nats-passwords.conf"))
	copyFile(t, filepath.Join(d.secrets, "ca.pem"), filepath.Join(etc, "tls/ca.pem"))
	copyFile(t, filepath.Join(d.secrets, "nats-server.pem"), filepath.Join(etc, "tls/server.pem"))
	copyFile(t, filepath.Join(d.secrets, "nats-server-key.pem"), filepath.Join(etc, "tls/server-key.pem"))
	natsPort := testenv.FreePort(t)
	conf := rewrite(t, filepath.Join(root, "deploy/nats/nats.conf"), map[string]string{
		"listen: 0.0.0.0:4222":      fmt.Sprintf("listen: 127.0.0.1:%d", natsPort),
		"http: 127.0.0.1:8222":      fmt.Sprintf("http: 127.0.0.1:%d", testenv.FreePort(t)),
		"store_dir: /data":          fmt.Sprintf("store_dir: %q", filepath.Join(dir, "js")),
		`"/etc/nats/`:               `"` + etc + "/",
		"server_name: nats-compose": "server_name: it-nats",
	})
	require.NoError(t, os.WriteFile(filepath.Join(etc, "nats.conf"), []byte(conf), 0o600))
	spawn(t, dir, "nats-server", filepath.Join(bin, "nats-server"), []string{"-c", filepath.Join(etc, "nats.conf")})
	d.natsURL = fmt.Sprintf("tls://127.0.0.1:%d", natsPort)
	d.natsLog = filepath.Join(dir, "nats-server.log")

	// Redis: the shipped start script, users and configuration; TLS files and port moved.
	redisPort := testenv.FreePort(t)
	redisDir := filepath.Join(dir, "redis")
	require.NoError(t, os.MkdirAll(redisDir, 0o700))
	spawn(t, dir, "redis-server", "sh", []string{filepath.Join(root, "deploy/redis/start.sh"),
		"--bind", "127.0.0.1", "--tls-port", fmt.Sprint(redisPort), "--dir", redisDir,
		"--tls-cert-file", filepath.Join(d.secrets, "redis-server.pem"), "--tls-key-file", filepath.Join(d.secrets, "redis-server-key.pem"),
		"--tls-ca-cert-file", filepath.Join(d.secrets, "ca.pem")},
		"REDIS_CONFIG="+filepath.Join(root, "deploy/redis/redis.conf"), "REDIS_USERS="+filepath.Join(root, "deploy/redis/users.acl"),
		"REDIS_SECRETS="+d.secrets, "REDIS_ACL="+filepath.Join(redisDir, "users.acl"))
	d.redisURL = fmt.Sprintf("rediss://127.0.0.1:%d/0", redisPort)

	admin := d.redis(t, "admin")
	require.Eventually(t, func() bool { return admin.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond,
		"redis-server did not answer the admin user over TLS")
	require.Eventually(t, func() bool {
		nc, err := d.nats("admin")
		if err == nil {
			nc.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "nats-server did not accept the admin user over TLS")
	return d
}

// env is the environment of service name (intake, routing, notify) as the shipped deployments
// give it: its own NATS and Redis users, secrets read from files.
func (d *deployment) env(name string) []string {
	return []string{
		"NATS_URL=" + d.natsURL, "NATS_USER=" + name, "NATS_PASSWORD_FILE=" + d.password("nats", name),
		"NATS_CA_FILE=" + filepath.Join(d.secrets, "ca.pem"),
		"REDIS_URL=" + d.redisURL, "REDIS_USERNAME=" + name, "REDIS_PASSWORD_FILE=" + d.password("redis", name),
		"REDIS_CA_FILE=" + filepath.Join(d.secrets, "ca.pem"),
	}
}

func (d *deployment) password(server, user string) string {
	return filepath.Join(d.secrets, server+"-"+user+"-password")
}

func (d *deployment) secret(t *testing.T, server, user string) string {
	t.Helper()
	b, err := os.ReadFile(d.password(server, user))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// nats connects as user over TLS with the user's password, on the inbox prefix the services
// use, adding opts.
func (d *deployment) nats(user string, opts ...nats.Option) (*nats.Conn, error) {
	pw, err := os.ReadFile(d.password("nats", user))
	if err != nil {
		return nil, err
	}
	return nats.Connect(d.natsURL, append([]nats.Option{nats.Secure(d.tls.Clone()), nats.UserInfo(user, strings.TrimSpace(string(pw))),
		nats.CustomInboxPrefix("_INBOX." + user), nats.MaxReconnects(0)}, opts...)...)
}

// redis is a client logged in as the Redis user.
func (d *deployment) redis(t *testing.T, user string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(d.redisURL)
	require.NoError(t, err)
	opt.TLSConfig = d.tls.Clone()
	opt.TLSConfig.ServerName = "127.0.0.1"
	if user != "" {
		opt.Username, opt.Password = user, d.secret(t, "redis", user)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// rewrite returns the file with each key replaced by its value, failing when a key is not in
// it: a shipped file changed in shape must not be tested as something else.
func rewrite(t *testing.T, path string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	for from, to := range replace {
		require.Contains(t, s, from, "%s no longer has %q; the test cannot start it as shipped", path, from)
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}
