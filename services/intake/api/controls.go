package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// submitPolicy is what a new consult is checked and timed against: the roster's specialties,
// their forms and red-flag rules, and the SLA.
func (s *Server) submitPolicy(ros *roster.Roster) consult.Policy {
	return consult.Policy{
		KnownSpecialty: ros.HasSpecialty,
		CheckDetails:   ros.CheckDetails,
		Triage: func(specialty, urgency string, details map[string]any) (string, []map[string]string) {
			raised, flags := ros.Triage(specialty, urgency, details)
			return raised, roster.Reasons(flags)
		},
		AcceptWithin:    s.cfg.SLA.AcceptWithin,
		RecommendWithin: s.cfg.SLA.RecommendWithin,
	}
}

// controlBody is the body of a coordinator's correction: the new value and why.
type controlBody struct {
	Urgency   *string `json:"urgency"`
	Specialty *string `json:"specialty"`
	Minutes   *int    `json:"minutes"`
	Reason    string  `json:"reason"`
}

// decodeControl reads a coordinator's correction whose one required field is named by field.
// Anyone else is refused before the body is looked at.
func decodeControl(w http.ResponseWriter, r *http.Request, u roster.User, field string) (controlBody, error) {
	var b controlBody
	if u.Role != consult.RoleCoordinator {
		return b, errForbidden("only a coordinator may change a consult's routing")
	}
	if err := decode(w, r, &b); err != nil {
		return b, err
	}
	present := map[string]bool{"urgency": b.Urgency != nil, "specialty": b.Specialty != nil, "minutes": b.Minutes != nil}
	for k, ok := range present {
		if ok && k != field {
			return b, errInvalid(k, problem.UnknownField())
		}
	}
	if !present[field] {
		return b, errInvalid(field, problem.Required())
	}
	b.Reason = strings.TrimSpace(b.Reason)
	if p, bad := consult.CheckText(b.Reason, 0, consult.MaxText); bad {
		return b, errInvalid("reason", p)
	}
	return b, nil
}

// changeUrgency lets a coordinator correct a consult's urgency. Its SLA deadlines become those
// of the new urgency, counted from the request, and routing starts over under that policy.
func (s *Server) changeUrgency(w http.ResponseWriter, r *http.Request, u roster.User) {
	b, err := decodeControl(w, r, u, "urgency")
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		acceptBy, recommendBy := consult.SLAFor(*b.Urgency, c.CreatedAt, s.cfg.SLA.AcceptWithin, s.cfg.SLA.RecommendWithin)
		e, err := c.ChangeUrgency(a, *b.Urgency, b.Reason, acceptBy, recommendBy, now)
		return e, err
	})
}

// changeSpecialty lets a coordinator move a consult to another specialty; it is routed again.
func (s *Server) changeSpecialty(w http.ResponseWriter, r *http.Request, u roster.User) {
	b, err := decodeControl(w, r, u, "specialty")
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if !s.dir.Roster().HasSpecialty(*b.Specialty) {
		apierror.Write(w, s.log, errInvalid("specialty", problem.Unknown("unknown specialty")))
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.ChangeSpecialty(a, *b.Specialty, b.Reason, now)
	})
}

// snooze lets a coordinator mute an escalated consult's alarm for a number of minutes.
func (s *Server) snooze(w http.ResponseWriter, r *http.Request, u roster.User) {
	b, err := decodeControl(w, r, u, "minutes")
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if m, most := *b.Minutes, int(consult.MaxSnooze/time.Minute); m < 1 || m > most {
		apierror.Write(w, s.log, errInvalid("minutes", problem.OutOfRange(1, most)))
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Snooze(a, now.Add(time.Duration(*b.Minutes)*time.Minute), b.Reason, now)
	})
}
