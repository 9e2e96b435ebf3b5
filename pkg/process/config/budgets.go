package config

import (
	"fmt"
	"time"
)

// Budget is how many times one user may do something within a window.
type Budget struct {
	Limit  int
	Window time.Duration
}

// Budgets are every user's own budgets, shared by every instance through Redis, so that one
// account (a script, a stuck client) cannot page specialists over and over or exhaust the
// service. The defaults are far above what a clinician does by hand.
type Budgets struct {
	// Submissions bounds consult requests (BUDGET_SUBMISSIONS per BUDGET_SUBMISSIONS_WINDOW,
	// default 30 per 10 minutes) and EmergentSubmissions the emergent ones among them, which page
	// a specialist at once (BUDGET_EMERGENT_SUBMISSIONS per BUDGET_EMERGENT_SUBMISSIONS_WINDOW,
	// default 10 per 10 minutes).
	Submissions, EmergentSubmissions Budget
	// Messages bounds thread messages and information requests (BUDGET_MESSAGES per
	// BUDGET_MESSAGES_WINDOW, default 120 per minute).
	Messages Budget
	// Uploads bounds attachment uploads (BUDGET_UPLOADS per BUDGET_UPLOADS_WINDOW, default 60 per
	// 10 minutes).
	Uploads Budget
	// SocketsPerUser and SocketsPerSession bound the live-stream connections open at once, on all
	// notify instances together (BUDGET_STREAM_SOCKETS, default 20; BUDGET_STREAM_SOCKETS_PER_SESSION,
	// default 10).
	SocketsPerUser, SocketsPerSession int
}

// Bounds on the budget settings: at least one, at most a million, windows up to a day.
const (
	maxBudget       = 1_000_000
	maxBudgetWindow = 24 * time.Hour
)

// Budgets reads every user's budgets.
func (e *Env) Budgets() Budgets {
	b := Budgets{
		Submissions:         e.budget("BUDGET_SUBMISSIONS", 30, 10*time.Minute),
		EmergentSubmissions: e.budget("BUDGET_EMERGENT_SUBMISSIONS", 10, 10*time.Minute),
		Messages:            e.budget("BUDGET_MESSAGES", 120, time.Minute),
		Uploads:             e.budget("BUDGET_UPLOADS", 60, 10*time.Minute),
		SocketsPerUser:      e.count("BUDGET_STREAM_SOCKETS", 20),
		SocketsPerSession:   e.count("BUDGET_STREAM_SOCKETS_PER_SESSION", 10),
	}
	if b.SocketsPerSession > b.SocketsPerUser {
		e.errs = append(e.errs, fmt.Errorf("BUDGET_STREAM_SOCKETS_PER_SESSION=%d: must not exceed BUDGET_STREAM_SOCKETS=%d",
			b.SocketsPerSession, b.SocketsPerUser))
	}
	return b
}

// budget reads KEY (a count) and KEY_WINDOW (a duration).
func (e *Env) budget(key string, limit int, window time.Duration) Budget {
	b := Budget{Limit: e.count(key, limit), Window: e.Duration(key+"_WINDOW", window)}
	if b.Window > maxBudgetWindow {
		e.errs = append(e.errs, fmt.Errorf("%s_WINDOW=%s: want at most %s", key, b.Window, maxBudgetWindow))
	}
	return b
}

// count reads a budget's count, from 1 to maxBudget.
func (e *Env) count(key string, def int) int {
	n := e.Int(key, def)
	if n < 1 || n > maxBudget {
		e.errs = append(e.errs, fmt.Errorf("%s=%d: want from 1 to %d", key, n, maxBudget))
		return def
	}
	return n
}
