package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

func (s *Server) onCall(w http.ResponseWriter, r *http.Request, _ roster.User) {
	at := s.now()
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			apierror.Write(w, s.log, errInvalid("at", problem.NotADate("must be an RFC 3339 time such as 2026-03-27T02:30:00Z")))
			return
		}
		at = t
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"at": at.UTC(), "oncall": s.dir.Roster().OnCallAt(at)})
}

func (s *Server) specialties(w http.ResponseWriter, _ *http.Request, _ roster.User) {
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"specialties": s.dir.Roster().Specialties})
}

type specialist struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Specialties []string `json:"specialties"`
	Languages   []string `json:"languages"`
	// Availability is what the specialist set (available, busy, away), for whoever assigns.
	Availability string `json:"availability,omitempty"`
}

func (s *Server) specialists(w http.ResponseWriter, r *http.Request, u roster.User) {
	if u.Role != consult.RoleCoordinator && u.Role != consult.RoleSpecialist {
		apierror.Write(w, s.log, errForbidden("only coordinators and specialists may list specialists"))
		return
	}
	ros := s.dir.Roster()
	want := r.URL.Query().Get("specialty")
	if want != "" && !ros.HasSpecialty(want) {
		apierror.Write(w, s.log, errInvalid("specialty", problem.Unknown("unknown specialty")))
		return
	}
	out := []specialist{}
	for _, m := range ros.Members(consult.RoleSpecialist) {
		if want == "" || slices.Contains(m.Specialties, want) {
			sp := specialist{ID: m.ID, Name: m.Name, Specialties: m.Specialties, Languages: m.Languages}
			if p, _, err := s.profiles.Get(r.Context(), m.ID); err == nil {
				sp.Availability = p.Availability
			}
			out = append(out, sp)
		}
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"specialists": out})
}

func (s *Server) user(w http.ResponseWriter, r *http.Request, _ roster.User) {
	u, ok := s.dir.Roster().User(r.PathValue("id"))
	if !ok {
		apierror.Write(w, s.log, errNotFound("no such user"))
		return
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"user": map[string]string{"id": u.ID, "name": u.Name, "role": u.Role}})
}
