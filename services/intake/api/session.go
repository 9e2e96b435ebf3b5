package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/pkg/roster"
)

func errForbidden(msg string) error { return consult.Errorf(consult.Forbidden, "%s", msg) }
func errNotFound(msg string) error  { return consult.Errorf(consult.NotFound, "%s", msg) }
func errInvalid(field string, p problem.Problem) error {
	return consult.InvalidFields(field+" "+p.Message, map[string]problem.Problem{field: p})
}

// authed runs h with the session's user, or answers 401.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, roster.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.sessions.Use(r.Context(), session.Token(r))
		if errors.Is(err, session.ErrNoSession) {
			apierror.Write(w, s.log, consult.Errorf(consult.Unauthenticated, "please log in"))
			return
		}
		if err != nil {
			apierror.Write(w, s.log, apierror.Unavailable(err))
			return
		}
		h(w, r, u)
	}
}

func actor(u roster.User) consult.Actor {
	return consult.Actor{ID: u.ID, Role: u.Role, ClinicID: u.ClinicID}
}

// loginBackoffs pace wrong passwords. Per account and address: 5 free attempts, then a wait that
// doubles from a second up to 15 minutes before the next one, refused with 429 until then. Per
// address: the same after 100 (a clinic's clinicians may share one address). Per account, from
// anywhere: after 10, each attempt is slowed (never refused) by up to 2 seconds, so that guessing
// from many addresses is slow while the owner, from an address without failures, always gets in.
func loginBackoffs(username, addr string, known bool) (pair, address, account ratelimit.Backoff, all []ratelimit.Backoff) {
	pair = ratelimit.Backoff{Key: "login:pair:" + username + "\x00" + addr, Free: 5, Base: time.Second, Max: 15 * time.Minute,
		Forget: 24 * time.Hour, Refuse: true}
	address = ratelimit.Backoff{Key: "login:addr:" + addr, Free: 100, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour, Refuse: true}
	account = ratelimit.Backoff{Key: "login:user:" + username, Free: 10, Base: 100 * time.Millisecond, Max: 2 * time.Second, Forget: time.Hour}
	all = []ratelimit.Backoff{pair, address}
	if known { // no key per name for names nobody has: they would only fill Redis
		all = append(all, account)
	}
	return pair, address, account, all
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	fields := map[string]problem.Problem{}
	if p, bad := credentialProblem(req.Username, 128); bad {
		fields["username"] = p
	}
	if p, bad := credentialProblem(req.Password, 256); bad {
		fields["password"] = p
	}
	if len(fields) > 0 {
		apierror.Write(w, s.log, consult.InvalidFields("username and password are required", fields))
		return
	}
	// Every attempt is counted before the password is checked, so concurrent guesses cannot slip
	// past the count; a successful login takes it back.
	_, known := s.dir.Roster().ByUsername(req.Username)
	pair, address, account, backoffs := loginBackoffs(req.Username, s.clientAddr(r), known)
	refused, pace, err := s.limiter.Attempt(r.Context(), s.now(), backoffs...)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	if refused > 0 {
		apierror.Write(w, s.log, apierror.RetryAfter{Err: consult.Errorf(consult.RateLimited, "too many failed logins from here; try again later"), After: refused})
		return
	}
	if pace > 0 {
		select {
		case <-time.After(pace):
		case <-r.Context().Done():
			return
		}
	}
	started, err := s.sessions.Start(r.Context(), req.Username, req.Password, session.DescribeClient(r.UserAgent(), s.clientAddr(r)))
	if errors.Is(err, session.ErrBadCredentials) {
		apierror.Write(w, s.log, consult.Errorf(consult.Unauthenticated, "wrong username or password"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	token, u := started.Token, started.User
	ctx := context.WithoutCancel(r.Context())
	for _, id := range started.Ended {
		s.audit.Detail(ctx, u.ID, "session.end", map[string]string{"session_id": id, "outcome": "over_limit"})
	}
	if ferr := errors.Join(s.limiter.Clear(ctx, pair), s.limiter.Forgive(ctx, address, account)); ferr != nil {
		s.log.Warn("login attempt not taken back", "err", ferr)
	}
	secure := s.cfg.SecureCookies || r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: session.Cookie(secure), Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

// credentialProblem is what is wrong with a username or password that must be given and at most
// most bytes long: required or too_long, both with the one sentence the API has always given.
func credentialProblem(v string, most int) (problem.Problem, bool) {
	var p problem.Problem
	switch {
	case v == "":
		p = problem.Required()
	case len(v) > most:
		p = problem.TooLong(most)
	default:
		return p, false
	}
	p.Message = fmt.Sprintf("required, at most %d characters", most)
	return p, true
}

// clientAddr is the address a request came from: the connection's peer, or behind a trusted
// proxy the address it appended to X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.TrustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
				return last
			}
		}
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

func (s *Server) currentSession(w http.ResponseWriter, _ *http.Request, u roster.User) {
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if token := session.Token(r); token != "" {
		if err := s.sessions.Revoke(r.Context(), token); err != nil {
			apierror.Write(w, s.log, apierror.Unavailable(err))
			return
		}
	}
	s.clearCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}
