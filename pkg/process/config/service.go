package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Service is the configuration every service binary shares.
type Service struct {
	// Addr is where the service serves HTTP (ADDR).
	Addr string
	// AllowedHosts are Host names the public address answers for besides those of ADDR and the
	// configured origins (ALLOWED_HOSTS).
	AllowedHosts []string
	// NATSURL and RedisURL locate the infrastructure (NATS_URL, REDIS_URL); both are required.
	NATSURL, RedisURL string
	// NATS and Redis are the credentials and TLS settings of those connections (NATS_USER,
	// NATS_PASSWORD_FILE, NATS_CREDS_FILE, NATS_CA_FILE, NATS_CERT_FILE, NATS_KEY_FILE;
	// REDIS_USERNAME, REDIS_PASSWORD_FILE, REDIS_CA_FILE, REDIS_CERT_FILE, REDIS_KEY_FILE).
	NATS  NATSClient
	Redis RedisClient
	// Replicas is the replication of streams and buckets (STREAM_REPLICAS): 3 on a cluster.
	Replicas int
	// OTLPEndpoint receives traces when set (OTEL_EXPORTER_OTLP_ENDPOINT).
	OTLPEndpoint string
	// LogLevel is the minimum level logged (LOG_LEVEL).
	LogLevel slog.Level
}

// Service reads the shared settings; defaultAddr is the service's own default ADDR.
func (e *Env) Service(defaultAddr string) Service {
	s := Service{
		Addr:         e.String("ADDR", defaultAddr),
		AllowedHosts: e.List("ALLOWED_HOSTS"),
		NATSURL:      e.String("NATS_URL", ""),
		RedisURL:     e.String("REDIS_URL", ""),
		NATS:         e.NATSClient(),
		Replicas:     e.Int("STREAM_REPLICAS", 1),
		OTLPEndpoint: e.String("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		LogLevel:     e.Level("LOG_LEVEL"),
	}
	s.Redis = e.RedisClient(s.RedisURL)
	return s
}

// Validate reports what makes the shared settings unusable.
func (s Service) Validate() error {
	var errs []error
	if s.NATSURL == "" {
		errs = append(errs, errors.New("NATS_URL is required"))
	}
	if s.RedisURL == "" {
		errs = append(errs, errors.New("REDIS_URL is required"))
	}
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR=%q: want HOST:PORT", s.Addr))
	}

	errs = append(errs, CheckReplicas(s.Replicas))
	return errors.Join(errs...)
}

// CheckReplicas reports a replication factor (STREAM_REPLICAS) that JetStream cannot keep a
// majority with: it must be 1, 3 or 5.
func CheckReplicas(n int) error {
	if n != 1 && n != 3 && n != 5 {
		return fmt.Errorf("STREAM_REPLICAS=%d: want 1, 3 or 5", n)
	}
	return nil
}

// CheckInternalAddr reports an internal address (INTERNAL_ADDR: metrics and readiness detail, for
// the scraper and the orchestrator) that is not HOST:PORT or is the public address itself.
func CheckInternalAddr(internal, public string) error {
	if _, _, err := net.SplitHostPort(internal); err != nil {
		return fmt.Errorf("INTERNAL_ADDR=%q: want HOST:PORT", internal)
	}
	if internal == public {
		return fmt.Errorf("INTERNAL_ADDR=%q: must differ from ADDR, which the public reaches", internal)
	}
	return nil
}

// Logger returns a JSON logger at the configured level, tagged with the service's name.
func (s Service) Logger(w io.Writer, name string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: s.LogLevel})).With("service", name)
}

// SLA is the response-time targets, per urgency, counted from the request.
type SLA struct {
	// AcceptWithin is how soon a specialist must accept (SLA_ACCEPT_EMERGENT, _URGENT, _ROUTINE).
	AcceptWithin map[string]time.Duration
	// RecommendWithin is how soon the recommendation is due (SLA_RECOMMEND_*).
	RecommendWithin map[string]time.Duration
}

// SLA reads the response-time targets: accept within 10 minutes, an hour or a day, and
// recommend within 4 hours, a day or 3 days, for emergent, urgent and routine consults.
func (e *Env) SLA() SLA {
	s := SLA{
		AcceptWithin:    e.PerUrgency("SLA_ACCEPT", 10*time.Minute, time.Hour, 24*time.Hour),
		RecommendWithin: e.PerUrgency("SLA_RECOMMEND", 4*time.Hour, 24*time.Hour, 72*time.Hour),
	}
	for name, windows := range map[string]map[string]time.Duration{"SLA_ACCEPT": s.AcceptWithin, "SLA_RECOMMEND": s.RecommendWithin} {
		for urgency, w := range windows {
			if w < 0 || w > MaxSLA {
				e.errs = append(e.errs, fmt.Errorf("%s_%s=%s: want from 0 (none) to %s", name, strings.ToUpper(urgency), w, MaxSLA))
			}
		}
	}
	return s
}

// MaxSLA bounds a response-time target: its clock is a scheduled message in the deadline
// stream, which keeps messages 14 days.
const MaxSLA = 13 * 24 * time.Hour

// Sessions bound a login session: Lifetime from sign-in (SESSION_TTL, default 12 hours) and Idle
// without a request (SESSION_IDLE, default 30 minutes; 0 for none) for the roles in IdleRoles
// (SESSION_IDLE_ROLES, default referrer: the clinics' shared computers; a specialist on call
// keeps the app open for offers). PerUser bounds one user's live sessions (SESSIONS_PER_USER,
// default 20): a sign-in beyond it ends the user's oldest session.
type Sessions struct {
	Lifetime, Idle time.Duration
	IdleRoles      []string
	PerUser        int
}

// Sessions reads the session limits.
func (e *Env) Sessions() Sessions {
	s := Sessions{Lifetime: e.Duration("SESSION_TTL", 12*time.Hour), Idle: 30 * time.Minute, IdleRoles: e.List("SESSION_IDLE_ROLES"),
		PerUser: e.Int("SESSIONS_PER_USER", 20)}
	if s.PerUser < 1 || s.PerUser > 1000 {
		e.errs = append(e.errs, fmt.Errorf("SESSIONS_PER_USER=%d: want from 1 to 1000", s.PerUser))
	}
	if len(s.IdleRoles) == 0 {
		s.IdleRoles = []string{"referrer"}
	}
	for _, r := range s.IdleRoles {
		if r != "referrer" && r != "specialist" && r != "coordinator" {
			e.errs = append(e.errs, fmt.Errorf("SESSION_IDLE_ROLES: %q is no role (referrer, specialist, coordinator)", r))
		}
	}
	if v := e.String("SESSION_IDLE", ""); v == "0" {
		s.Idle = 0
	} else {
		s.Idle = e.Duration("SESSION_IDLE", s.Idle)
	}
	if s.Idle > s.Lifetime {
		e.errs = append(e.errs, fmt.Errorf("SESSION_IDLE=%s: must not exceed SESSION_TTL=%s", s.Idle, s.Lifetime))
	}
	return s
}

// Routing is the routing service's own settings beside the roster's escalation policies.
type Routing struct {
	// RemindEvery is how soon an unseen live offer is first re-alerted (REMIND_EVERY, a positive
	// duration, default 2 minutes). The gap then doubles.
	RemindEvery time.Duration
	// StepWaits, when set for an urgency (STEP_WAIT_EMERGENT, _URGENT, _ROUTINE), replaces the
	// wait of every escalation step of that urgency: for drills and tests that must not take
	// minutes. The roster's policies set the waits otherwise.
	StepWaits map[string]time.Duration
}

// Routing reads the routing settings.
func (e *Env) Routing() Routing {
	r := Routing{RemindEvery: e.Duration("REMIND_EVERY", 2*time.Minute), StepWaits: e.PerUrgency("STEP_WAIT", 0, 0, 0)}
	for _, u := range []string{"EMERGENT", "URGENT", "ROUTINE"} {
		e.Retired("OFFER_TIMEOUT_"+u, "escalation policies in the roster set how long each step waits (STEP_WAIT_"+u+" overrides them for drills)")
	}
	return r
}

// Mail says where the email fallback sends offers for specialists with no live connection.
type Mail struct {
	// SMTPAddr is the relay (host:port) (SMTP_ADDR). Empty disables the fallback.
	SMTPAddr string
	// From is the sender address (SMTP_FROM).
	From string
	// Username and Password authenticate to the relay when set (SMTP_USERNAME, SMTP_PASSWORD or
	// the content of the file SMTP_PASSWORD_FILE names; PLAIN, over TLS or to localhost).
	Username, Password string
	// PublicURL is the origin clinicians open, for the link (PUBLIC_URL, for example
	// https://consult.example.org).
	PublicURL string
}

// Mail reads the email fallback's settings. The relay's password may come from a file
// (SMTP_PASSWORD_FILE, a mounted Secret) instead of SMTP_PASSWORD.
func (e *Env) Mail() Mail {
	m := Mail{
		SMTPAddr: e.String("SMTP_ADDR", ""), From: e.String("SMTP_FROM", "consult-broker@localhost"),
		Username: e.String("SMTP_USERNAME", ""), Password: e.String("SMTP_PASSWORD", ""),
		PublicURL: e.String("PUBLIC_URL", ""),
	}
	if e.String("SMTP_PASSWORD_FILE", "") != "" {
		if m.Password != "" {
			e.errs = append(e.errs, errors.New("SMTP_PASSWORD and SMTP_PASSWORD_FILE: set one of them, not both"))
		}
		m.Password = e.secretFile("SMTP_PASSWORD_FILE")
	}
	return m
}
