// Package api is the intake service's HTTP surface: the JSON API described in docs/api.md, the OpenAPI
// document that describes it, health and metrics, and the browser app on the same origin.
// Handlers check who asks, call the consult lifecycle's decisions and append what they return;
// every read and change of a consult leaves an audit record.
package api

import (
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/attachstore"
	"github.com/regionalconsult/broker/pkg/nats/auditlog"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/services/intake/internal/web"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document of the API.
func OpenAPI() []byte { return openAPI }

// Config is what the API needs besides its dependencies.
type Config struct {
	// AllowedOrigins are the origins, besides the serving one, whose pages may change state.
	AllowedOrigins []string
	// SLA is the response-time targets per urgency.
	SLA config.SLA
	// TrustForwardedFor takes the client's address from X-Forwarded-For, set by a proxy in front.
	TrustForwardedFor bool
	// SecureCookies marks the session cookie Secure (set when served over TLS, also behind a proxy).
	SecureCookies bool
	// Stream serves /api/v1/stream: the notify gateway in process, or a proxy to it. Nil: 404.
	Stream http.Handler
	// Mount adds the process's own routes (health) to the mux.
	Mount func(*http.ServeMux)
	// Hosts are the Host names the API answers for (all when empty): a page of another site that
	// points its name at this address (DNS rebinding) is refused.
	Hosts hosts.List
	// Now is the clock (time.Now when nil), for tests of what depends on time.
	Now func() time.Time
	// UploadIdle is how long an upload may send nothing before it is cut off (a minute when 0).
	UploadIdle time.Duration
	// ServerName is the address the API is served on (host:port), recorded in telemetry in place
	// of whatever Host a client sent.
	ServerName string
	// Budgets are every user's own budgets of submissions, messages and uploads; a budget left
	// zero takes its default.
	Budgets config.Budgets
}

// Server is the intake API.
type Server struct {
	cfg      Config
	consults *consultstore.Store
	audit    *auditlog.Log
	files    *attachstore.Store
	store    *readmodel.Store
	dir      *directory.Directory
	sessions *session.Store
	limiter  *ratelimit.Limiter
	profiles *profile.Store
	uploads  uploadSlots
	quotas   quotas
	log      *slog.Logger
	now      func() time.Time

	submitted metric.Int64Counter
	refusals  metric.Int64Counter
}

// New returns the API over its dependencies.
func New(cfg Config, d Deps, log *slog.Logger) *Server {
	submitted, _ := otel.Meter("intake").Int64Counter("consults_submitted_total",
		metric.WithDescription("consults stored, by urgency"))
	refusals, _ := otel.Meter("intake").Int64Counter("budget_refusals_total",
		metric.WithDescription("requests refused because the user's budget was spent, by budget"))
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Server{cfg: cfg, consults: d.Consults, audit: d.Audit, files: d.Files, store: d.ReadModel, dir: d.Directory,
		sessions: d.Sessions, limiter: d.Limiter, profiles: d.Profiles, quotas: quotasFrom(cfg.Budgets), log: log, now: now,
		submitted: submitted, refusals: refusals}
}

// route is one endpoint of the API.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routes lists the API's endpoints; the OpenAPI document describes exactly these.
func (s *Server) routes() []route {
	return []route{
		{"POST /api/v1/session", s.login},
		{"GET /api/v1/session", s.authed(s.currentSession)},
		{"DELETE /api/v1/session", s.logout},
		{"GET /api/v1/me/profile", s.authed(s.getProfile)},
		{"PUT /api/v1/me/profile", s.authed(s.putProfile)},
		{"GET /api/v1/me/sessions", s.authed(s.listSessions)},
		{"DELETE /api/v1/me/sessions", s.authed(s.endOtherSessions)},
		{"DELETE /api/v1/me/sessions/{id}", s.authed(s.endSession)},

		{"POST /api/v1/consults", s.authed(s.createConsult)},
		{"POST /api/v1/attachments", s.authed(s.uploadAttachment)},
		{"GET /api/v1/consults/{id}/attachments/{attachment_id}", s.authed(s.getAttachment)},
		{"GET /api/v1/consults", s.authed(s.listConsults)},
		{"GET /api/v1/consults/{id}", s.authed(s.getConsult)},
		{"POST /api/v1/consults/{id}/accept", s.authed(s.accept)},
		{"POST /api/v1/consults/{id}/decline", s.authed(s.decline)},
		{"POST /api/v1/consults/{id}/messages", s.authed(s.postMessage)},
		{"POST /api/v1/consults/{id}/request-info", s.authed(s.requestInfo)},
		{"POST /api/v1/consults/{id}/complete", s.authed(s.complete)},
		{"POST /api/v1/consults/{id}/cancel", s.authed(s.cancel)},
		{"POST /api/v1/consults/{id}/assign", s.authed(s.assign)},
		{"POST /api/v1/consults/{id}/seen", s.authed(s.seen)},
		{"POST /api/v1/consults/{id}/urgency", s.authed(s.changeUrgency)},
		{"POST /api/v1/consults/{id}/specialty", s.authed(s.changeSpecialty)},
		{"POST /api/v1/consults/{id}/snooze", s.authed(s.snooze)},

		{"GET /api/v1/oncall", s.authed(s.onCall)},
		{"GET /api/v1/oncall/board", s.authed(s.onCallBoard)},
		{"GET /api/v1/roster", s.authed(s.getRoster)},
		{"PUT /api/v1/roster/schedules/{specialty}", s.authed(s.putSchedule)},
		{"POST /api/v1/roster/overrides", s.authed(s.createOverride)},
		{"DELETE /api/v1/roster/overrides/{id}", s.authed(s.deleteOverride)},
		{"PATCH /api/v1/roster/users/{id}", s.authed(s.patchUser)},
		{"PUT /api/v1/roster/policies", s.authed(s.putPolicies)},
		{"PUT /api/v1/roster/red-flags", s.authed(s.putRedFlags)},
		{"GET /api/v1/specialties", s.authed(s.specialties)},
		{"GET /api/v1/specialists", s.authed(s.specialists)},
		{"GET /api/v1/figures", s.authed(s.figures)},
		{"GET /api/v1/throttled", s.authed(s.throttled)},
		{"GET /api/v1/users/{id}", s.authed(s.user)},
		{"GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(openAPI)
		}},
	}
}

// Handler returns the routes of the API, the stream and the browser app.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		apierror.Write(w, s.log, errNotFound("no such endpoint"))
	})
	if s.cfg.Stream != nil {
		mux.Handle("GET /api/v1/stream", s.cfg.Stream)
	}

	if s.cfg.Mount != nil {
		s.cfg.Mount(mux)
	}
	mux.Handle("/", web.Handler())
	return otelhttp.NewHandler(s.guard(mux), "intake", otelhttp.WithServerName(s.serverName()), otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return "intake " + r.Method // the route is recorded once the mux has matched it; paths carry ids
	}), otelhttp.WithFilter(func(r *http.Request) bool {
		return !strings.HasPrefix(r.URL.Path, "/static/") && r.URL.Path != "/metrics" && r.URL.Path != "/healthz"
	}))
}

// contentSecurityPolicy lets the app load only its own scripts and styles and talk only to its
// own origin: clinical text that slips into markup cannot run.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// permissionsPolicy turns off the browser features the app never uses, so that text shown in it
// cannot reach them either.
// (Sound, for the coordinators' alarm, and passkeys stay allowed.)
const permissionsPolicy = "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), " +
	"magnetometer=(), microphone=(), midi=(), payment=(), usb=(), xr-spatial-tracking=()"

// guard sets the security headers and refuses state-changing requests from foreign origins.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// No powerful feature the app does not use, no window of another site holding a reference
		// to this one, and none of its responses embedded by another site.
		h.Set("Permissions-Policy", permissionsPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		if !s.cfg.Hosts.Allows(r.Host) {
			apierror.Write(w, s.log, errForbidden("this server does not answer for that host name"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions &&
			!s.originAllowed(r) {
			apierror.Write(w, s.log, errForbidden("requests from another site's page are refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serverName is what telemetry records as the server's address: the configured one, never a
// client's Host header (which would make a new series of every name a client sends).
func (s *Server) serverName() string {
	if s.cfg.ServerName != "" {
		return s.cfg.ServerName
	}
	return "intake:0"
}

// originAllowed is the CSRF defence beside SameSite=Strict cookies.
func (s *Server) originAllowed(r *http.Request) bool {
	return session.OriginAllowed(r, s.cfg.AllowedOrigins)
}
