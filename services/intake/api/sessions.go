package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/roster"
)

// listSessions answers the caller's live sessions, the current one marked and first. Only the caller's
// own index is read: nobody lists anyone else's sessions.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, u roster.User) {
	list, err := s.sessions.List(r.Context(), u.ID)
	if errors.Is(err, session.ErrNoSession) {
		apierror.Write(w, s.log, consult.Errorf(consult.Unauthenticated, "please log in"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	current := session.ID(session.Token(r))
	for i := range list {
		list[i].Current = list[i].ID == current
	}
	// The current session first, then the others as the store orders them (most recently used).
	slices.SortStableFunc(list, func(a, b session.Info) int {
		switch {
		case a.Current == b.Current:
			return 0
		case a.Current:
			return -1
		}
		return 1
	})
	s.audit.Detail(r.Context(), u.ID, "session.list", map[string]string{"sessions": strconv.Itoa(len(list))})
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// endSession ends one of the caller's sessions everywhere, as a logout does (its streams close).
// An id that is malformed, unknown or another user's is 404 and changes nothing. Ending the
// current session also clears its cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, u roster.User) {
	id := r.PathValue("id")
	if !session.ValidID(id) {
		s.audit.Detail(r.Context(), u.ID, "session.end", map[string]string{"outcome": "not_found"})
		apierror.Write(w, s.log, errNotFound("no such session"))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	err := s.sessions.End(ctx, u.ID, id)
	if errors.Is(err, session.ErrNoSession) {
		s.audit.Detail(ctx, u.ID, "session.end", map[string]string{"session_id": id, "outcome": "not_found"})
		apierror.Write(w, s.log, errNotFound("no such session"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	s.audit.Detail(ctx, u.ID, "session.end", map[string]string{"session_id": id, "outcome": "ended"})
	if id == session.ID(session.Token(r)) {
		s.clearCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

// endOtherSessions ends every session of the caller but the current one, everywhere.
func (s *Server) endOtherSessions(w http.ResponseWriter, r *http.Request, u roster.User) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	ended, err := s.sessions.EndOthers(ctx, u.ID, session.Token(r))
	if len(ended) > 0 {
		s.audit.Detail(ctx, u.ID, "session.end_others", map[string]string{"session_ids": strings.Join(ended, ","), "outcome": "ended"})
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"ended": len(ended)})
}

// clearCookie removes the session cookie from the browser.
func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	secure := s.cfg.SecureCookies || r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: session.Cookie(secure), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
}
