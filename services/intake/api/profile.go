package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, u roster.User) {
	p, _, err := s.profiles.Get(r.Context(), u.ID)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"profile": p})
}

// putProfile changes the fields the body names and keeps the others. Only specialists set an
// availability: it steers routing's offers to them.
func (s *Server) putProfile(w http.ResponseWriter, r *http.Request, u roster.User) {
	var body struct {
		Locale       *string `json:"locale"`
		Availability *string `json:"availability"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if body.Availability != nil && u.Role != consult.RoleSpecialist {
		apierror.Write(w, s.log, errForbidden("only specialists set an availability"))
		return
	}
	var change profile.Profile
	if body.Locale != nil {
		change.Locale = *body.Locale
	}
	if body.Availability != nil {
		change.Availability = *body.Availability
		if change.Availability == "" { // "" would read as the default; an explicit value is required
			apierror.Write(w, s.log, errInvalid("availability", problem.OneOf(profile.Availabilities...)))
			return
		}
	}
	if f := change.Check(); f != nil {
		apierror.Write(w, s.log, consult.InvalidFields("the profile has invalid fields", f))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	before, after, err := s.profiles.Update(ctx, u.ID, func(p *profile.Profile) error {
		if body.Locale != nil {
			p.Locale = change.Locale
		}
		if body.Availability != nil {
			p.Availability = change.Availability
		}
		return nil
	})
	if errors.Is(err, profile.ErrConflict) {
		apierror.Write(w, s.log, consult.Errorf(consult.Conflict, "the profile keeps changing; reload it and try again"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	if changed := profileChanges(before, after); len(changed) > 0 {
		s.audit.Detail(ctx, u.ID, "profile.update", changed)
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"profile": after})
}

// profileChanges names each field whose value changed, with its new value.
func profileChanges(before, after profile.Profile) map[string]string {
	out := map[string]string{}
	if before.Locale != after.Locale {
		out["locale"] = after.Locale
	}
	if before.Availability != after.Availability {
		out["availability"] = after.Availability
	}
	return out
}
