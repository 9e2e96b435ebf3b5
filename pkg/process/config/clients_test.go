package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/process/config"
)

// secret is the content of the password files: no error message may show it.
const secret = "s3cret-Zq81"

// files writes a password file, a certificate authority and a client certificate with its key
// into a temporary directory and returns their paths by name.
func files(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	out := map[string]string{
		"password": secret + "\n",
		"cert":     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"key":      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		"empty":    "",
	}
	paths := map[string]string{"missing": filepath.Join(dir, "missing"), "dir": dir}
	for name, content := range out {
		paths[name] = filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(paths[name], []byte(content), 0o600))
	}
	return paths
}

func TestClientSettingsUnsetChangeNothing(t *testing.T) {
	t.Parallel()
	e := config.New(env(map[string]string{"NATS_URL": "nats://n:4222", "REDIS_URL": "redis://r:6379/0"}))
	s := e.Service("127.0.0.1:8081")
	require.NoError(t, e.Err())
	assert.Equal(t, config.NATSClient{}, s.NATS, "got NATS client settings with nothing set, want none")
	assert.Equal(t, config.RedisClient{}, s.Redis, "got Redis client settings with nothing set, want none")
	assert.False(t, s.NATS.Authenticated(), "got an authenticated NATS connection with nothing set, want anonymous")
}

func TestClientSettingsFromFiles(t *testing.T) {
	t.Parallel()
	f := files(t)
	e := config.New(env(map[string]string{
		"NATS_URL": "tls://nats:4222", "NATS_USER": "routing", "NATS_PASSWORD_FILE": f["password"],
		"NATS_CA_FILE": f["cert"], "NATS_CERT_FILE": f["cert"], "NATS_KEY_FILE": f["key"],
		"REDIS_URL": "rediss://redis:6379/0", "REDIS_USERNAME": "routing", "REDIS_PASSWORD_FILE": f["password"],
		"REDIS_CA_FILE": f["cert"],
	}))
	s := e.Service("127.0.0.1:8081")
	require.NoError(t, e.Err())
	assert.Equal(t, "routing", s.NATS.User)
	assert.Equal(t, secret, s.NATS.Password, "got the NATS password %q, want the file's content without its line break", s.NATS.Password)
	assert.True(t, s.NATS.Authenticated(), "got an anonymous NATS connection with NATS_USER set")
	require.NotNil(t, s.NATS.TLS, "got no NATS TLS configuration with NATS_CA_FILE set")
	assert.NotNil(t, s.NATS.TLS.RootCAs, "got no NATS certificate authorities")
	assert.Len(t, s.NATS.TLS.Certificates, 1, "got %d NATS client certificates, want 1", len(s.NATS.TLS.Certificates))
	assert.Equal(t, "routing", s.Redis.Username)
	assert.Equal(t, secret, s.Redis.Password)
	require.NotNil(t, s.Redis.TLS, "got no Redis TLS configuration with REDIS_CA_FILE set")
	assert.Empty(t, s.Redis.TLS.Certificates, "got a Redis client certificate without REDIS_CERT_FILE")

	creds := config.New(env(map[string]string{"NATS_CREDS_FILE": f["password"]}))
	c := creds.NATSClient()
	require.NoError(t, creds.Err())
	assert.True(t, c.Authenticated(), "got an anonymous NATS connection with NATS_CREDS_FILE set")
}

func TestClientSettingsBadInput(t *testing.T) {
	t.Parallel()
	f := files(t)
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string // in the error
	}{
		{"unreadable password file", map[string]string{"NATS_USER": "intake", "NATS_PASSWORD_FILE": f["missing"]},
			[]string{"NATS_PASSWORD_FILE=" + f["missing"], "cannot read the file", "no such file"}},
		{"password file is a directory", map[string]string{"REDIS_USERNAME": "intake", "REDIS_PASSWORD_FILE": f["dir"]},
			[]string{"REDIS_PASSWORD_FILE=" + f["dir"], "cannot read the file"}},
		{"empty password file", map[string]string{"NATS_USER": "intake", "NATS_PASSWORD_FILE": f["empty"]},
			[]string{"NATS_PASSWORD_FILE=" + f["empty"], "empty"}},
		{"user without password", map[string]string{"NATS_USER": "intake"}, []string{"NATS_USER", "NATS_PASSWORD_FILE"}},
		{"password without user", map[string]string{"NATS_PASSWORD_FILE": f["password"]}, []string{"NATS_PASSWORD_FILE is set without NATS_USER"}},
		{"user and creds", map[string]string{"NATS_USER": "intake", "NATS_PASSWORD_FILE": f["password"], "NATS_CREDS_FILE": f["password"]},
			[]string{"NATS_USER and NATS_CREDS_FILE"}},
		{"unreadable creds file", map[string]string{"NATS_CREDS_FILE": f["missing"]}, []string{"NATS_CREDS_FILE=" + f["missing"]}},
		{"password in the environment", map[string]string{"NATS_PASSWORD": secret, "REDIS_PASSWORD": secret},
			[]string{"NATS_PASSWORD is not read", "NATS_PASSWORD_FILE", "REDIS_PASSWORD is not read"}},
		{"redis user without password", map[string]string{"REDIS_USERNAME": "notify"}, []string{"REDIS_USERNAME", "REDIS_PASSWORD_FILE"}},
		{"authority file holds no certificate", map[string]string{"NATS_CA_FILE": f["password"]},
			[]string{"NATS_CA_FILE=" + f["password"], "no PEM certificate"}},
		{"unreadable authority file", map[string]string{"REDIS_URL": "rediss://r:6379/0", "REDIS_CA_FILE": f["missing"]},
			[]string{"REDIS_CA_FILE=" + f["missing"], "cannot read the file"}},
		{"certificate without key", map[string]string{"NATS_CERT_FILE": f["cert"]}, []string{"NATS_CERT_FILE and NATS_KEY_FILE go together"}},
		{"key file holds no key", map[string]string{"NATS_CERT_FILE": f["cert"], "NATS_KEY_FILE": f["password"]},
			[]string{"NATS_CERT_FILE=" + f["cert"], "NATS_KEY_FILE=" + f["password"], "cannot load"}},
		{"redis TLS without rediss", map[string]string{"REDIS_URL": "redis://r:6379/0", "REDIS_CA_FILE": f["cert"]},
			[]string{"REDIS_CA_FILE", "rediss://"}},
		{"smtp password twice", map[string]string{"SMTP_PASSWORD": "x", "SMTP_PASSWORD_FILE": f["password"]},
			[]string{"SMTP_PASSWORD and SMTP_PASSWORD_FILE"}},
		{"unreadable smtp password file", map[string]string{"SMTP_PASSWORD_FILE": f["missing"]}, []string{"SMTP_PASSWORD_FILE=" + f["missing"]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"NATS_URL": "nats://n:4222", "REDIS_URL": "redis://r:6379/0"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			e := config.New(env(vars))
			e.Service("127.0.0.1:8081")
			e.Mail()
			err := e.Err()
			require.Error(t, err, "got no error for %v, want one", tc.vars)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want, "got error %q, want it to name %q", err, want)
			}
			assert.NotContains(t, err.Error(), secret, "got the secret in the error %q, want it left out", err)
			assert.False(t, strings.Contains(err.Error(), "PRIVATE KEY"), "got key material in the error %q", err)
		})
	}
}

func TestSMTPPasswordFromFile(t *testing.T) {
	t.Parallel()
	f := files(t)
	e := config.New(env(map[string]string{"SMTP_PASSWORD_FILE": f["password"]}))
	m := e.Mail()
	require.NoError(t, e.Err())
	assert.Equal(t, secret, m.Password, "got the relay password %q, want the file's content", m.Password)
}
