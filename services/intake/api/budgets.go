package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/pkg/roster"
)

// The names of the users' budgets, as refusals report them (the `budget` of a 429, the metric
// label, the coordinators' list). They never change meaning.
const (
	BudgetSubmissions         = "submissions"
	BudgetEmergentSubmissions = "emergent_submissions"
	BudgetMessages            = "messages"
	BudgetUploads             = "uploads"
)

// quotas are the budgets this API charges, per user, shared by every instance through Redis.
type quotas struct {
	submissions, emergent, messages, uploads ratelimit.Quota
}

// quotasFrom returns the budgets of b; a budget left zero takes the default.
func quotasFrom(b config.Budgets) quotas {
	def := config.New(func(string) string { return "" }).Budgets()
	q := func(name string, got, fallback config.Budget) ratelimit.Quota {
		if got.Limit <= 0 || got.Window <= 0 {
			got = fallback
		}
		return ratelimit.Quota{Name: name, Limit: got.Limit, Window: got.Window}
	}
	return quotas{
		submissions: q(BudgetSubmissions, b.Submissions, def.Submissions),
		emergent:    q(BudgetEmergentSubmissions, b.EmergentSubmissions, def.EmergentSubmissions),
		messages:    q(BudgetMessages, b.Messages, def.Messages),
		uploads:     q(BudgetUploads, b.Uploads, def.Uploads),
	}
}

// forSubmission is what a consult of urgency costs: a submission, and an emergent one too when
// it pages a specialist at once (after red-flag rules raised it, too).
func (q quotas) forSubmission(urgency string) []ratelimit.Quota {
	if urgency == "emergent" {
		return []ratelimit.Quota{q.submissions, q.emergent}
	}
	return []ratelimit.Quota{q.submissions}
}

// spend charges one use of every quota to u. When one is spent it charges nothing, answers 429
// naming it (and records the refusal for the coordinators) and reports false; a Redis failure
// answers 503 and reports false too.
func (s *Server) spend(w http.ResponseWriter, r *http.Request, u roster.User, qs ...ratelimit.Quota) bool {
	spent, wait, err := s.limiter.Spend(r.Context(), u.ID, qs...)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return false
	}
	if spent == "" {
		return true
	}
	for _, q := range qs {
		if q.Name == spent {
			s.refused(context.WithoutCancel(r.Context()), u.ID, q)
		}
	}
	apierror.Write(w, s.log, apierror.RetryAfter{Err: consult.Errorf(consult.RateLimited,
		"too many requests of this kind from your account in a short time (%s); nothing was changed, try again later", spent),
		After: wait, Budget: spent})
	return false
}

// refund gives back a use charged for something that did not happen after all.
func (s *Server) refund(ctx context.Context, u roster.User, qs ...ratelimit.Quota) {
	if err := s.limiter.Refund(ctx, u.ID, qs...); err != nil {
		s.log.Warn("budget not refunded; it frees itself when its window ends", "err", err)
	}
}

// refused counts a refusal by q (the metric names the budget, never the user) and records it for
// the coordinators; the first refusal of a run is audited.
func (s *Server) refused(ctx context.Context, userID string, q ratelimit.Quota) {
	s.refusals.Add(ctx, 1, metric.WithAttributes(attribute.String("budget", q.Name)))
	first, err := s.limiter.Refused(ctx, s.now(), userID, q.Name, q.Window)
	if err != nil {
		s.log.Warn("refusal not recorded for the coordinators", "budget", q.Name, "err", err)
		return
	}
	if first {
		s.audit.Detail(ctx, userID, "budget.refused", map[string]string{"budget": q.Name})
	}
}

// throttledWithin is how far back the coordinators' list of throttled users looks, and
// throttledMax how many runs of refusals it shows at most.
const (
	throttledWithin = 24 * time.Hour
	throttledMax    = 100
)

// throttled answers the coordinators which users were refused by one of their budgets in the
// last day: who, which budget, since when, until when and how often. It names no consult.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, u roster.User) {
	if u.Role != consult.RoleCoordinator {
		apierror.Write(w, s.log, errForbidden("only coordinators may see who was held back by a budget"))
		return
	}
	list, err := s.limiter.ThrottledSince(r.Context(), s.now().Add(-throttledWithin), throttledMax)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	ids := make([]string, 0, len(list))
	for _, t := range list {
		ids = append(ids, t.UserID)
	}
	s.audit.Detail(r.Context(), u.ID, "throttled.list", map[string]string{"users": joinIDs(ids)})
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"throttled": list})
}

// joinIDs joins ids with commas, sorted, once each.
func joinIDs(ids []string) string {
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(ids))), ",")
}
