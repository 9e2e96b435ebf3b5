package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
)

// The figures cover from 1 to maxFigureDays civil days, defaultFigureDays unless asked.
const (
	defaultFigureDays = 7
	maxFigureDays     = 31
)

// figures answers the coordinators' dashboard figures: today's and the last days' counts and
// response times, by the day the consults were requested. Aggregates only: it names no consult.
func (s *Server) figures(w http.ResponseWriter, r *http.Request, u roster.User) {
	if u.Role != consult.RoleCoordinator {
		apierror.Write(w, s.log, errForbidden("only coordinators may see the figures"))
		return
	}
	days := defaultFigureDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxFigureDays {
			apierror.Write(w, s.log, errInvalid("days", problem.WholeNumberFrom(1, maxFigureDays)))
			return
		}
		days = n
	}
	loc, err := roster.Location() // the hospital's civil days are the days the figures count
	if err != nil {
		apierror.Write(w, s.log, err) // the zone is compiled in: a bug if it fails
		return
	}
	report, err := s.store.Figures(r.Context(), s.now(), days, loc)
	if errors.Is(err, readmodel.ErrRebuilding) {
		apierror.Write(w, s.log, consult.Errorf(consult.Unavailable, "the figures are being rebuilt; retry in a moment"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	apierror.WriteJSON(w, http.StatusOK, report)
}
