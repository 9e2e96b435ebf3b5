package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// NATSClient is how a service proves who it is to NATS and checks the server's certificate.
// Secrets come from files (a mounted Secret), never from the environment itself. The zero value
// connects as before: anonymously, without TLS unless the URL or the server asks for it.
type NATSClient struct {
	// User and Password log in as a user of the server's configuration: NATS_USER, with the
	// password read from the file NATS_PASSWORD_FILE names.
	User, Password string
	// CredsFile is a user's credentials file (NATS_CREDS_FILE), instead of User and Password.
	CredsFile string
	// TLS, when set, makes the connection use TLS, trusting the certificate authority in
	// NATS_CA_FILE and presenting the client certificate NATS_CERT_FILE with its key
	// NATS_KEY_FILE when both are set.
	TLS *tls.Config
}

// Authenticated reports whether the connection logs in as a user: then the server's permissions
// for that user apply, and replies come to the service's own inbox prefix.
func (c NATSClient) Authenticated() bool { return c.User != "" || c.CredsFile != "" }

// RedisClient is how a service logs in to Redis and checks its certificate. The zero value
// connects as the URL says.
type RedisClient struct {
	// Username and Password log in as an ACL user: REDIS_USERNAME, with the password read from the
	// file REDIS_PASSWORD_FILE names (the password alone logs in as the default user).
	Username, Password string
	// TLS, when set, is the TLS configuration of a rediss:// URL: the certificate authority in
	// REDIS_CA_FILE, and the client certificate REDIS_CERT_FILE with its key REDIS_KEY_FILE when
	// both are set.
	TLS *tls.Config
}

// NATSClient reads the NATS credentials and TLS settings.
func (e *Env) NATSClient() NATSClient {
	c := NATSClient{User: e.String("NATS_USER", ""), CredsFile: e.String("NATS_CREDS_FILE", "")}
	e.notInEnvironment("NATS_PASSWORD", "NATS_PASSWORD_FILE")
	c.Password = e.secretFile("NATS_PASSWORD_FILE")
	switch {
	case c.User != "" && c.CredsFile != "":
		e.errs = append(e.errs, errors.New("NATS_USER and NATS_CREDS_FILE: set one of them, not both"))
	case c.User != "" && e.String("NATS_PASSWORD_FILE", "") == "":
		e.errs = append(e.errs, errors.New("NATS_USER is set without NATS_PASSWORD_FILE: name the file that holds its password"))
	case c.User == "" && e.String("NATS_PASSWORD_FILE", "") != "":
		e.errs = append(e.errs, errors.New("NATS_PASSWORD_FILE is set without NATS_USER: name the user it is the password of"))
	}
	if c.CredsFile != "" {
		e.readable("NATS_CREDS_FILE", c.CredsFile)
	}
	c.TLS = e.tlsFiles("NATS")
	return c
}

// RedisClient reads the Redis credentials and TLS settings; url is REDIS_URL, which must be a
// rediss:// URL when TLS files are given.
func (e *Env) RedisClient(url string) RedisClient {
	c := RedisClient{Username: e.String("REDIS_USERNAME", "")}
	e.notInEnvironment("REDIS_PASSWORD", "REDIS_PASSWORD_FILE")
	c.Password = e.secretFile("REDIS_PASSWORD_FILE")
	if c.Username != "" && e.String("REDIS_PASSWORD_FILE", "") == "" {
		e.errs = append(e.errs, errors.New("REDIS_USERNAME is set without REDIS_PASSWORD_FILE: name the file that holds its password"))
	}
	c.TLS = e.tlsFiles("REDIS")
	if c.TLS != nil && url != "" && !strings.HasPrefix(url, "rediss://") {
		e.errs = append(e.errs, errors.New("REDIS_CA_FILE or REDIS_CERT_FILE is set but REDIS_URL is not a rediss:// URL"))
	}
	return c
}

// secretFile returns the content of the file that key names, without its final line break, or
// "" when key is unset. A missing, unreadable or empty file is an error naming key and the path,
// never the content.
func (e *Env) secretFile(key string) string {
	path := e.String(key, "")
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%s: cannot read the file: %w", key, path, pathless(err)))
		return ""
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		e.errs = append(e.errs, fmt.Errorf("%s=%s: the file is empty", key, path))
	}
	return s
}

// readable records an error naming key when the file at path cannot be read.
func (e *Env) readable(key, path string) {
	f, err := os.Open(path)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%s: cannot read the file: %w", key, path, pathless(err)))
		return
	}
	_ = f.Close()
}

// notInEnvironment refuses a secret given in the environment itself, which every process
// inspector shows, instead of silently ignoring it.
func (e *Env) notInEnvironment(key, fileKey string) {
	if e.getenv(key) != "" {
		e.errs = append(e.errs, fmt.Errorf("%s is not read: put the secret in a file and name the file in %s", key, fileKey))
	}
}

// tlsFiles reads PREFIX_CA_FILE, PREFIX_CERT_FILE and PREFIX_KEY_FILE into a TLS configuration,
// or returns nil when none is set.
func (e *Env) tlsFiles(prefix string) *tls.Config {
	caKey, certKey, keyKey := prefix+"_CA_FILE", prefix+"_CERT_FILE", prefix+"_KEY_FILE"
	ca, cert, key := e.String(caKey, ""), e.String(certKey, ""), e.String(keyKey, "")
	if ca == "" && cert == "" && key == "" {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		switch {
		case err != nil:
			e.errs = append(e.errs, fmt.Errorf("%s=%s: cannot read the file: %w", caKey, ca, pathless(err)))
		default:
			c.RootCAs = x509.NewCertPool()
			if !c.RootCAs.AppendCertsFromPEM(pem) {
				e.errs = append(e.errs, fmt.Errorf("%s=%s: no PEM certificate in the file", caKey, ca))
			}
		}
	}
	switch {
	case (cert == "") != (key == ""):
		e.errs = append(e.errs, fmt.Errorf("%s and %s go together: set both or neither", certKey, keyKey))
	case cert != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%s, %s=%s: cannot load the certificate and key: %w", certKey, cert, keyKey, key, pathless(err)))
		} else {
			c.Certificates = []tls.Certificate{pair}
		}
	}
	return c
}

// pathless returns the cause of a file error without the path, which the message names already.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
