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
		u, err := s.sessions.Lookup(r.Context(), session.Token(r))
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

// Failed logins allowed per window, per username and per client address (a clinic's clinicians
// may share one address behind NAT, so that budget is larger). Successful logins do not count.
const (
	failedLoginsPerUser = 10
	failedLoginsPerAddr = 100
	failedLoginWindow   = 15 * time.Minute
)

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
	// Every attempt takes from the budgets before the password is checked, so concurrent
	// guesses cannot overdraw them; a successful login gives its attempt back.
	budgets := []ratelimit.Budget{{Key: "login:user:" + req.Username, Limit: failedLoginsPerUser},
		{Key: "login:addr:" + s.clientAddr(r), Limit: failedLoginsPerAddr}}
	ok, wait, err := s.limiter.Take(r.Context(), failedLoginWindow, budgets...)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	if !ok {
		apierror.Write(w, s.log, apierror.RetryAfter{Err: consult.Errorf(consult.RateLimited, "too many failed logins; try again later"), After: wait})
		return
	}
	token, u, err := s.sessions.Login(r.Context(), req.Username, req.Password)
	if errors.Is(err, session.ErrBadCredentials) {
		apierror.Write(w, s.log, consult.Errorf(consult.Unauthenticated, "wrong username or password"))
		return
	}
	if rerr := s.limiter.Return(context.WithoutCancel(r.Context()), budgets...); rerr != nil {
		s.log.Warn("login attempt not given back", "err", rerr)
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.SecureCookies || r.TLS != nil})
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
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.SecureCookies || r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}
