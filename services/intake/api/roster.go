package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// Bounds on roster edits.
const (
	maxOverrideReason = 500
	maxPolicies       = 200
	maxRedFlags       = 200
	maxListItems      = 20
	maxBoardDays      = 14
	defaultBoardDays  = 7
)

// rosterEditor reports whether u may read and change the roster.
func rosterEditor(u roster.User) bool {
	return u.Role == consult.RoleCoordinator || u.Role == consult.RoleAdmin
}

var errNotRosterEditor = consult.Errorf(consult.Forbidden, "only coordinators and administrators may see or change the roster")

// editRoster stores change as the new roster version and reports whether it did; otherwise it
// has answered: an error from change as it is, an invalid roster as 400 naming the field (the
// path in the roster document, made relative to the request body by field), a roster that kept
// changing meanwhile as 409, anything else as 503. The write runs detached from the request,
// like every other write, so a dropped connection does not leave its outcome undecided.
func (s *Server) editRoster(w http.ResponseWriter, r *http.Request, field func(path string) string,
	change func(*roster.Roster) (*roster.Roster, error)) (*roster.Roster, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	next, err := s.dir.Update(ctx, change)
	var fe *roster.FieldError
	var ce *consult.Error
	switch {
	case err == nil:
		return next, true
	case errors.As(err, &ce):
		apierror.Write(w, s.log, err)
	case errors.As(err, &fe):
		name := field(fe.Field)
		apierror.Write(w, s.log, errInvalid(name, fe.Problem))
	case errors.Is(err, directory.ErrBusy):
		apierror.Write(w, s.log, consult.Errorf(consult.Conflict, "the roster kept changing while this change was made; reload it and try again"))
	default:
		apierror.Write(w, s.log, apierror.Unavailable(err))
	}
	return nil, false
}

// within returns a field mapper that drops the document path's leading "list[i]." when the body
// holds what that element holds.
func within(list string) func(string) string {
	return func(path string) string {
		if rest, ok := strings.CutPrefix(path, list+"["); ok {
			if _, after, ok := strings.Cut(rest, "]."); ok {
				return after
			}
		}
		return path
	}
}

func asIs(path string) string { return path }

// publicRoster is the roster as editors see it: without password hashes.
func publicRoster(ros *roster.Roster) *roster.Roster {
	c := ros.Clone()
	for i := range c.Users {
		c.Users[i].PasswordHash = ""
	}
	return c
}

func (s *Server) getRoster(w http.ResponseWriter, _ *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"roster": publicRoster(s.dir.Roster()),
		"default_policies": roster.DefaultPolicies()})
}

// tierBody is the part of a tier a schedule edit replaces: its layers. Overrides are kept; they
// have their own endpoints.
type tierBody struct {
	Layers []roster.Layer `json:"layers"`
}

func (s *Server) putSchedule(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	slug := r.PathValue("specialty")
	if !s.dir.Roster().HasSpecialty(slug) {
		apierror.Write(w, s.log, errNotFound("no such specialty"))
		return
	}
	var body struct {
		Primary   *tierBody `json:"primary"`
		Secondary *tierBody `json:"secondary"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if body.Primary == nil {
		apierror.Write(w, s.log, errInvalid("primary", problem.Required()))
		return
	}
	if body.Secondary == nil {
		body.Secondary = &tierBody{}
	}
	next, ok := s.editRoster(w, r, within("schedules"), func(cur *roster.Roster) (*roster.Roster, error) {
		if !cur.HasSpecialty(slug) {
			return nil, errNotFound("no such specialty")
		}
		next := cur.Clone()
		i := slices.IndexFunc(next.Schedules, func(s roster.Schedule) bool { return s.Specialty == slug })
		if i < 0 {
			next.Schedules = append(next.Schedules, roster.Schedule{Specialty: slug})
			i = len(next.Schedules) - 1
		}
		next.Schedules[i].Primary.Layers = body.Primary.Layers
		next.Schedules[i].Secondary.Layers = body.Secondary.Layers
		return next, nil
	})
	if !ok {
		return
	}
	s.audit.Detail(r.Context(), u.ID, "roster.schedule.replace", map[string]string{"specialty": slug})
	i := slices.IndexFunc(next.Schedules, func(s roster.Schedule) bool { return s.Specialty == slug })
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"schedule": next.Schedules[i]})
}

// overrideAnswer is an override with where it sits.
type overrideAnswer struct {
	roster.Override
	Specialty string `json:"specialty"`
	Tier      string `json:"tier"`
}

func (s *Server) createOverride(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	var body struct {
		Specialty string `json:"specialty"`
		Tier      string `json:"tier"`
		UserID    string `json:"user_id"`
		From      string `json:"from"`
		To        string `json:"to"`
		Reason    string `json:"reason"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	o, fields := s.checkOverride(s.dir.Roster(), body.Specialty, body.Tier, body.UserID, body.From, body.To, body.Reason)
	if len(fields) > 0 {
		apierror.Write(w, s.log, consult.InvalidFields("the override has invalid fields", fields))
		return
	}
	o.ID, o.CreatedBy = ulid.Make().String(), u.ID
	overrideField := func(path string) string {
		if i := strings.LastIndex(path, "]."); i >= 0 && strings.Contains(path, ".overrides[") {
			return path[i+2:]
		}
		return path
	}
	_, ok := s.editRoster(w, r, overrideField, func(cur *roster.Roster) (*roster.Roster, error) {
		if _, fields := s.checkOverride(cur, body.Specialty, body.Tier, body.UserID, body.From, body.To, body.Reason); len(fields) > 0 {
			return nil, consult.InvalidFields("the override has invalid fields", fields)
		}
		next := cur.Clone()
		i := slices.IndexFunc(next.Schedules, func(s roster.Schedule) bool { return s.Specialty == body.Specialty })
		if i < 0 {
			next.Schedules = append(next.Schedules, roster.Schedule{Specialty: body.Specialty})
			i = len(next.Schedules) - 1
		}
		tier := &next.Schedules[i].Primary
		if body.Tier == "secondary" {
			tier = &next.Schedules[i].Secondary
		}
		tier.Overrides = append(tier.Overrides, o)
		return next, nil
	})
	if !ok {
		return
	}
	s.audit.Detail(r.Context(), u.ID, "roster.override.create", map[string]string{"override_id": o.ID,
		"specialty": body.Specialty, "tier": body.Tier, "user_id": o.UserID})
	apierror.WriteJSON(w, http.StatusCreated, map[string]any{"override": overrideAnswer{Override: o, Specialty: body.Specialty, Tier: body.Tier}})
}

// checkOverride checks a new override against ros and returns it, or the fields that are wrong.
func (s *Server) checkOverride(ros *roster.Roster, specialty, tier, userID, from, to, reason string) (roster.Override, map[string]problem.Problem) {
	fields := map[string]problem.Problem{}
	switch {
	case specialty == "":
		fields["specialty"] = problem.Required()
	case !ros.HasSpecialty(specialty):
		fields["specialty"] = problem.Unknown("unknown specialty")
	}
	if tier != "primary" && tier != "secondary" {
		fields["tier"] = problem.NotAllowed("must be primary or secondary")
	}
	if who, ok := ros.User(userID); !ok || who.Role != consult.RoleSpecialist {
		fields["user_id"] = problem.Unknown("must name a specialist")
	} else if who.Disabled {
		fields["user_id"] = problem.NotAllowed("names a disabled account")
	}
	o := roster.Override{UserID: userID, Reason: strings.TrimSpace(reason)}
	var fromErr, toErr error
	if o.From, fromErr = time.Parse(time.RFC3339, from); fromErr != nil {
		fields["from"] = problem.NotADate("must be an RFC 3339 time such as 2026-03-27T06:00:00Z")
	}
	if o.To, toErr = time.Parse(time.RFC3339, to); toErr != nil {
		fields["to"] = problem.NotADate("must be an RFC 3339 time such as 2026-03-28T06:00:00Z")
	}
	if fromErr == nil && toErr == nil {
		switch { // relations between times: no finer code than the sentence
		case !o.To.After(o.From):
			fields["to"] = problem.InvalidValue("must be after from")
		case !o.To.After(s.now()):
			fields["to"] = problem.InvalidValue("must be in the future")
		case o.To.Sub(o.From) > 366*24*time.Hour:
			fields["to"] = problem.InvalidValue("an override lasts at most 366 days")
		}
	}
	switch {
	case utf8.RuneCountInString(o.Reason) > maxOverrideReason:
		fields["reason"] = problem.TooLong(maxOverrideReason)
	case strings.ContainsFunc(o.Reason, unicode.IsControl):
		fields["reason"] = problem.InvalidText("must be one line without control characters")
	}
	o.From, o.To = o.From.UTC(), o.To.UTC()
	return o, fields
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	id := r.PathValue("id")
	var specialty, tier string
	_, ok := s.editRoster(w, r, asIs, func(cur *roster.Roster) (*roster.Roster, error) {
		next := cur.Clone()
		for i := range next.Schedules {
			sc := &next.Schedules[i]
			for _, t := range []struct {
				name string
				tier *roster.Tier
			}{{"primary", &sc.Primary}, {"secondary", &sc.Secondary}} {
				if k := slices.IndexFunc(t.tier.Overrides, func(o roster.Override) bool { return o.ID == id }); k >= 0 {
					t.tier.Overrides = slices.Delete(t.tier.Overrides, k, k+1)
					specialty, tier = sc.Specialty, t.name
					return next, nil
				}
			}
		}
		return nil, errNotFound("no such override")
	})
	if !ok {
		return
	}
	s.audit.Detail(r.Context(), u.ID, "roster.override.delete", map[string]string{"override_id": id, "specialty": specialty, "tier": tier})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	id := r.PathValue("id")
	var body struct {
		Specialties    *[]string `json:"specialties"`
		SubSpecialties *[]string `json:"sub_specialties"`
		Languages      *[]string `json:"languages"`
		MaxConsults    *int      `json:"max_consults"`
		Disabled       *bool     `json:"disabled"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	var changed []string
	for name, given := range map[string]bool{"specialties": body.Specialties != nil, "sub_specialties": body.SubSpecialties != nil,
		"languages": body.Languages != nil, "max_consults": body.MaxConsults != nil, "disabled": body.Disabled != nil} {
		if given {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if len(changed) == 0 {
		apierror.Write(w, s.log, consult.Errorf(consult.Invalid,
			"the body names nothing to change: specialties, sub_specialties, languages, max_consults or disabled"))
		return
	}
	check := func(cur *roster.Roster) error {
		target, ok := cur.User(id)
		if !ok {
			return errNotFound("no such user")
		}
		if (target.Role == consult.RoleCoordinator || target.Role == consult.RoleAdmin) && u.Role != consult.RoleAdmin {
			return errForbidden("only an administrator changes a coordinator's or administrator's account")
		}
		fields := map[string]problem.Problem{}
		if target.Role != consult.RoleSpecialist {
			for _, name := range []string{"specialties", "sub_specialties", "max_consults"} {
				if slices.Contains(changed, name) {
					fields[name] = problem.NotAllowed("only a specialist has " + strings.ReplaceAll(name, "_", " "))
				}
			}
		}
		if body.Specialties != nil {
			for _, slug := range *body.Specialties {
				if !cur.HasSpecialty(slug) {
					fields["specialties"] = problem.Unknown(fmt.Sprintf("unknown specialty %q", slug))
				}
			}
		}
		for name, list := range map[string]*[]string{"specialties": body.Specialties, "sub_specialties": body.SubSpecialties,
			"languages": body.Languages} {
			if list != nil && len(*list) > maxListItems {
				fields[name] = problem.TooMany(maxListItems, "entries")
			}
		}
		if body.Languages != nil {
			for _, l := range *body.Languages {
				if !consult.LanguageTag(strings.TrimSpace(l)) {
					fields["languages"] = problem.Malformed(fmt.Sprintf("must be language tags such as ar or he (got %q)", l))
				}
			}
		}
		if body.Disabled != nil && *body.Disabled && id == u.ID {
			fields["disabled"] = problem.NotAllowed("you cannot disable your own account")
		}
		if len(fields) > 0 {
			return consult.InvalidFields("the user change has invalid fields", fields)
		}
		return nil
	}
	if err := check(s.dir.Roster()); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	next, ok := s.editRoster(w, r, within("users"), func(cur *roster.Roster) (*roster.Roster, error) {
		if err := check(cur); err != nil {
			return nil, err
		}
		next := cur.Clone()
		i := slices.IndexFunc(next.Users, func(x roster.User) bool { return x.ID == id })
		t := &next.Users[i]
		if body.Specialties != nil {
			t.Specialties = dedupe(*body.Specialties)
		}
		if body.SubSpecialties != nil {
			t.SubSpecialties = dedupe(*body.SubSpecialties)
		}
		if body.Languages != nil {
			t.Languages = dedupe(*body.Languages)
		}
		if body.MaxConsults != nil {
			t.MaxConsults = *body.MaxConsults
		}
		if body.Disabled != nil {
			t.Disabled = *body.Disabled
		}
		return next, nil
	})
	if !ok {
		return
	}
	s.audit.Detail(r.Context(), u.ID, "roster.user.update", map[string]string{"user_id": id, "changed": strings.Join(changed, ",")})
	changedUser, _ := next.User(id)
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"user": changedUser.Public()})
}

// dedupe returns list trimmed, without blanks and repeats, in its order; never nil.
func dedupe(list []string) []string {
	out := []string{}
	for _, v := range list {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// policyBody is a policy as a request writes it; its waits are duration strings checked here
// so that a bad one is named.
type policyBody struct {
	Specialty string `json:"specialty"`
	Urgency   string `json:"urgency"`
	Repeat    int    `json:"repeat"`
	Steps     []struct {
		Target   string `json:"target"`
		UserID   string `json:"user_id"`
		Wait     string `json:"wait"`
		Parallel bool   `json:"parallel"`
	} `json:"steps"`
}

func (s *Server) putPolicies(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	var body struct {
		Policies *[]policyBody `json:"policies"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if body.Policies == nil {
		apierror.Write(w, s.log, errInvalid("policies", problem.RequiredNote("an empty list leaves the built-in defaults")))
		return
	}
	if len(*body.Policies) > maxPolicies {
		apierror.Write(w, s.log, errInvalid("policies", problem.TooMany(maxPolicies, "policies")))
		return
	}
	policies := make([]roster.Policy, 0, len(*body.Policies))
	fields := map[string]problem.Problem{}
	for i, p := range *body.Policies {
		policy := roster.Policy{Specialty: p.Specialty, Urgency: p.Urgency, Repeat: p.Repeat, Steps: make([]roster.Step, 0, len(p.Steps))}
		for j, st := range p.Steps {
			wait, err := time.ParseDuration(st.Wait)
			if err != nil {
				fields[fmt.Sprintf("policies[%d].steps[%d].wait", i, j)] = problem.Malformed("must be a duration such as 2m, 90s or 4h")
			}
			policy.Steps = append(policy.Steps, roster.Step{Target: st.Target, UserID: st.UserID, Wait: roster.Duration(wait), Parallel: st.Parallel})
		}
		policies = append(policies, policy)
	}
	if len(fields) > 0 {
		apierror.Write(w, s.log, consult.InvalidFields("the policies have invalid fields", fields))
		return
	}
	next, ok := s.editRoster(w, r, asIs, func(cur *roster.Roster) (*roster.Roster, error) {
		next := cur.Clone()
		next.Policies = policies
		return next, nil
	})
	if !ok {
		return
	}
	s.audit.Detail(r.Context(), u.ID, "roster.policies.replace", map[string]string{"count": strconv.Itoa(len(policies))})
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"policies": orEmpty(next.Policies)})
}

func (s *Server) putRedFlags(w http.ResponseWriter, r *http.Request, u roster.User) {
	if !rosterEditor(u) {
		apierror.Write(w, s.log, errNotRosterEditor)
		return
	}
	var body struct {
		RedFlags *[]roster.RedFlagRule `json:"red_flags"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if body.RedFlags == nil {
		apierror.Write(w, s.log, errInvalid("red_flags", problem.RequiredNote("an empty list removes every rule")))
		return
	}
	if len(*body.RedFlags) > maxRedFlags {
		apierror.Write(w, s.log, errInvalid("red_flags", problem.TooMany(maxRedFlags, "rules")))
		return
	}
	next, ok := s.editRoster(w, r, asIs, func(cur *roster.Roster) (*roster.Roster, error) {
		next := cur.Clone()
		next.RedFlags = *body.RedFlags
		return next, nil
	})
	if !ok {
		return
	}
	ids := make([]string, 0, len(next.RedFlags))
	for _, f := range next.RedFlags {
		ids = append(ids, f.ID)
	}
	s.audit.Detail(r.Context(), u.ID, "roster.red_flags.replace", map[string]string{"count": strconv.Itoa(len(ids)), "ids": strings.Join(ids, ",")})
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"red_flags": orEmpty(next.RedFlags)})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// boardEntry is one specialty's shifts on the on-call board.
type boardEntry struct {
	Specialty string         `json:"specialty"`
	Primary   []roster.Shift `json:"primary"`
	Secondary []roster.Shift `json:"secondary"`
}

func (s *Server) onCallBoard(w http.ResponseWriter, r *http.Request, _ roster.User) {
	q := r.URL.Query()
	from := s.now()
	fields := map[string]problem.Problem{}
	if v := q.Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fields["from"] = problem.NotADate("must be an RFC 3339 time such as 2026-03-27T00:00:00Z")
		}
		from = t
	}
	days := defaultBoardDays
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxBoardDays {
			fields["days"] = problem.WholeNumberFrom(1, maxBoardDays)
		}
		days = n
	}
	if len(fields) > 0 {
		apierror.Write(w, s.log, consult.InvalidFields("the board's period is invalid", fields))
		return
	}
	from = from.UTC()
	to := from.Add(time.Duration(days) * 24 * time.Hour)
	ros := s.dir.Roster()
	board := make([]boardEntry, 0, len(ros.Schedules))
	for _, sc := range ros.Schedules {
		primary, secondary, _ := ros.Shifts(sc.Specialty, from, to)
		board = append(board, boardEntry{Specialty: sc.Specialty, Primary: primary, Secondary: secondary})
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "board": board})
}
