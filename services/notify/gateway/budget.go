package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
)

// The bounds on one user's open stream connections, on every instance together, unless the
// deployment says otherwise: a few tabs on a few devices each, far above real use.
const (
	DefaultSocketsPerUser    = 20
	DefaultSocketsPerSession = 10
)

// The budget names an upgrade refusal reports (the `budget` of its 429, the metric label).
const (
	BudgetSockets           = "stream_sockets"
	BudgetSocketsPerSession = "stream_sockets_per_session"
)

var (
	refusalsOnce sync.Once
	refusals     metric.Int64Counter
)

// refusalCounter counts refused upgrades by budget, never by user.
func refusalCounter() metric.Int64Counter {
	refusalsOnce.Do(func() {
		refusals, _ = otel.Meter("notify").Int64Counter("budget_refusals_total",
			metric.WithDescription("requests refused because the user's budget was spent, by budget"))
	})
	return refusals
}

// admit records s as open in presence, or answers the upgrade request with 429 when its user
// or its session has as many connections open, on every instance together, as allowed (or 503
// when presence cannot be asked) and reports false. Nothing is upgraded or registered before.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, s *stream) bool {
	perUser, perSession := g.cfg.SocketsPerUser, g.cfg.SocketsPerSession
	if perUser <= 0 {
		perUser = DefaultSocketsPerUser
	}
	if perSession <= 0 {
		perSession = DefaultSocketsPerSession
	}
	full, err := g.presence.Admit(r.Context(), s.user, s.key, s.name(), perUser, perSession)
	if err != nil {
		apierror.Write(w, g.log, apierror.Unavailable(err))
		return false
	}
	if full == "" {
		return true
	}
	budget, limit := BudgetSockets, perUser
	if full == "session" {
		budget, limit = BudgetSocketsPerSession, perSession
	}
	ctx := context.WithoutCancel(r.Context())
	refusalCounter().Add(ctx, 1, metric.WithAttributes(attribute.String("budget", budget)))
	if g.cfg.Refused != nil {
		g.cfg.Refused(ctx, s.user, budget)
	}
	// A place frees when a connection closes, or when a stopped instance's connections lapse.
	apierror.Write(w, g.log, apierror.RetryAfter{Err: consult.Errorf(consult.RateLimited,
		"too many live connections open for this account (at most %d); close one and try again", limit),
		After: g.presence.TTL(), Budget: budget})
	return false
}

// forget removes s from presence, which frees its place in its user's budget.
func (g *Gateway) forget(s *stream) {
	if err := g.presence.Disconnected(context.Background(), s.user, s.id()); err != nil {
		g.log.Warn("presence not cleared; it lapses by itself", "user_id", s.user, "err", err)
	}
}

// Throttles keeps refusals for the coordinators to see (ratelimit.Limiter).
type Throttles interface {
	Refused(ctx context.Context, now time.Time, user, budget string, window time.Duration) (bool, error)
}

// refusalRun is how quiet a user must be before a refused upgrade starts a new run of refusals
// in the coordinators' list.
const refusalRun = time.Minute

// RecordRefusals returns a Config.Refused that keeps every refused upgrade in t, where the
// coordinators' list of throttled users reads it. A failure to record is logged at most once a
// minute: a flood of refusals must not become a flood of log lines.
func RecordRefusals(t Throttles, log *slog.Logger) func(ctx context.Context, userID, budget string) {
	var lastLogged atomic.Int64
	return func(ctx context.Context, userID, budget string) {
		_, err := t.Refused(ctx, time.Now(), userID, budget, refusalRun)
		if err == nil {
			return
		}
		now, last := time.Now().UnixNano(), lastLogged.Load()
		if now-last >= int64(time.Minute) && lastLogged.CompareAndSwap(last, now) {
			log.Warn("refused connection not recorded for the coordinators", "budget", budget, "err", err)
		}
	}
}
