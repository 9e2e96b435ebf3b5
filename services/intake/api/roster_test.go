package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// rosterCall sends a request and returns the status and, for a non-2xx answer, the error body
// with its problems.
func rosterCall(t *testing.T, c *apiclient.Client, method, path string, body, out any) (int, *apiError) {
	t.Helper()
	return send(t, c, method, path, body, out)
}

type rosterAnswer struct {
	Roster          roster.Roster   `json:"roster"`
	DefaultPolicies []roster.Policy `json:"default_policies"`
}

// storedRoster is the roster as the coordinator reads it, as a JSON document.
func storedRoster(t *testing.T, c *apiclient.Client) string {
	t.Helper()
	var raw map[string]any
	status, apiErr := rosterCall(t, c, http.MethodGet, "/api/v1/roster", nil, &raw)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	data, err := roster.Parse(mustJSON(t, raw["roster"]))
	require.NoError(t, err, "got a roster document that does not parse")
	doc, err := data.Marshal()
	require.NoError(t, err)
	return string(doc)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

type onCallAnswer struct {
	OnCall []roster.OnCall `json:"oncall"`
}

// onCallOf returns who is on call for specialty at at, as the API answers.
func onCallOf(t *testing.T, c *apiclient.Client, specialty string, at time.Time) roster.OnCall {
	t.Helper()
	var out onCallAnswer
	status, apiErr := rosterCall(t, c, http.MethodGet, "/api/v1/oncall?at="+at.UTC().Format(time.RFC3339), nil, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	for _, oc := range out.OnCall {
		if oc.Specialty == specialty {
			return oc
		}
	}
	t.Fatalf("got no on-call entry for %s", specialty)
	return roster.OnCall{}
}

func TestRosterRead(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	for _, who := range []string{"coord1", "admin1"} {
		t.Run(who, func(t *testing.T) {
			var raw map[string]any
			status, apiErr := rosterCall(t, s.login(who), http.MethodGet, "/api/v1/roster", nil, &raw)
			require.Equal(t, http.StatusOK, status, "%v", apiErr)
			data := mustJSON(t, raw)
			assert.NotContains(t, string(data), "password_hash", "got password hashes in the roster answer")
			assert.NotContains(t, string(data), "$2a$", "got a bcrypt hash in the roster answer")
			var out rosterAnswer
			require.NoError(t, json.Unmarshal(data, &out))
			assert.Len(t, out.Roster.Users, len(mustDemo(t).Users), "got %d users, want every demo user", len(out.Roster.Users))
			assert.Equal(t, roster.DefaultPolicies(), out.DefaultPolicies, "got other default policies")
			require.NotEmpty(t, out.Roster.Specialties)
			assert.NotEmpty(t, out.Roster.Specialties[0].Form, "got no form for %s", out.Roster.Specialties[0].Slug)
		})
	}
	for _, who := range []string{"onc1", "referrer1"} {
		status, _ := rosterCall(t, s.login(who), http.MethodGet, "/api/v1/roster", nil, nil)
		assert.Equal(t, http.StatusForbidden, status, "%s: got %d, want 403", who, status)
	}
	status, _ := rosterCall(t, apiclient.New(s.url), http.MethodGet, "/api/v1/roster", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "got %d without a session, want 401", status)
}

func mustDemo(t *testing.T) *roster.Roster {
	t.Helper()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	return r
}

type boardAnswer struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Board []struct {
		Specialty string         `json:"specialty"`
		Primary   []roster.Shift `json:"primary"`
		Secondary []roster.Shift `json:"secondary"`
	} `json:"board"`
}

func TestOnCallBoard(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	ref := s.login("referrer1")

	// 1 February 2026 is a Sunday: radiology's weekday reading room is open 08:00 to 17:00
	// Jerusalem time (06:00 to 15:00 UTC).
	var out boardAnswer
	status, apiErr := rosterCall(t, ref, http.MethodGet, "/api/v1/oncall/board?from=2026-02-01T00:00:00Z&days=2", nil, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	assert.True(t, from.Equal(out.From), "got from %v, want %v", out.From, from)
	assert.True(t, from.Add(48*time.Hour).Equal(out.To), "got to %v, want two days later", out.To)
	require.Len(t, out.Board, len(mustDemo(t).Schedules), "got %d specialties, want one per schedule", len(out.Board))
	bySpecialty := map[string]int{}
	for i, e := range out.Board {
		bySpecialty[e.Specialty] = i
	}
	onc := out.Board[bySpecialty["pediatric-oncology"]]
	assert.Equal(t, []roster.Shift{{UserID: "u-onc1", From: from, To: from.Add(48 * time.Hour), Source: "Oncology attending"}}, onc.Primary,
		"got oncology's primary shifts %+v, want onc1 throughout", onc.Primary)
	assert.Equal(t, []roster.Shift{{UserID: "u-onc2", From: from, To: from.Add(48 * time.Hour), Source: "Oncology backup"}}, onc.Secondary)
	rad := out.Board[bySpecialty["pediatric-radiology"]]
	assert.Contains(t, rad.Primary, roster.Shift{UserID: "u-rad4", From: time.Date(2026, 2, 1, 6, 0, 0, 0, time.UTC),
		To: time.Date(2026, 2, 1, 15, 0, 0, 0, time.UTC), Source: "Reading room, weekdays"}, "got radiology's shifts %+v", rad.Primary)

	var week boardAnswer
	status, apiErr = rosterCall(t, ref, http.MethodGet, "/api/v1/oncall/board", nil, &week)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, 7*24*time.Hour, week.To.Sub(week.From), "got a period of %v by default, want 7 days", week.To.Sub(week.From))
	assert.WithinDuration(t, time.Now(), week.From, time.Minute, "got the default period starting %v, want now", week.From)

	badDays := problem.Problem{Code: "out_of_range", Min: ptr(1.0), Max: ptr(14.0)}
	badFrom := problem.Problem{Code: "not_a_date"}
	for _, tt := range []struct {
		query, field string
		problem      problem.Problem
	}{
		{"days=0", "days", badDays}, {"days=15", "days", badDays}, {"days=seven", "days", badDays}, {"days=-1", "days", badDays},
		{"from=yesterday", "from", badFrom}, {"from=2026-02-01", "from", badFrom},
	} {
		t.Run(tt.query, func(t *testing.T) {
			status, apiErr := rosterCall(t, ref, http.MethodGet, "/api/v1/oncall/board?"+tt.query, nil, nil)
			require.Equal(t, http.StatusBadRequest, status, "got %d, want 400", status)
			assert.Contains(t, apiErr.Body.Error.Fields, tt.field, "got fields %v, want %s named", apiErr.Body.Error.Fields, tt.field)
			got := apiErr.Body.Error.Problems[tt.field]
			assert.Equal(t, tt.problem, got, "%s: got problem %+v, want %+v", tt.field, got, tt.problem)
		})
	}
	status, _ = rosterCall(t, apiclient.New(s.url), http.MethodGet, "/api/v1/oncall/board", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status)
}

type scheduleAnswer struct {
	Schedule roster.Schedule `json:"schedule"`
}

type overrideAnswer struct {
	Override struct {
		roster.Override
		Specialty string `json:"specialty"`
		Tier      string `json:"tier"`
	} `json:"override"`
}

func TestRosterScheduleEdit(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	coord := s.login("coord1")
	at := time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC) // a Monday, 12:00 in Jerusalem
	require.Equal(t, "u-neuro1", onCallOf(t, coord, "pediatric-neurology", at).PrimaryID, "the demo's neurology week")

	// An override on the schedule is kept when its layers are replaced.
	oFrom := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var ov overrideAnswer
	status, apiErr := rosterCall(t, coord, http.MethodPost, "/api/v1/roster/overrides", map[string]any{"specialty": "pediatric-neurology",
		"tier": "primary", "user_id": "u-neuro2", "from": oFrom.Format(time.RFC3339), "to": oFrom.Add(time.Hour).Format(time.RFC3339)}, &ov)
	require.Equal(t, http.StatusCreated, status, "%v", apiErr)

	layers := map[string]any{
		"primary": map[string]any{"layers": []map[string]any{
			{"name": "Days", "start": "2026-01-04", "handoff": "08:00", "shift": "custom", "shift_hours": 12, "members": []string{"u-neuro2", "u-neuro1"}},
		}},
		"secondary": map[string]any{"layers": []map[string]any{
			{"name": "Backup", "start": "2026-01-04", "handoff": "08:00", "shift": "weekly", "members": []string{"u-neuro1"},
				"restrict": map[string]any{"weekdays": []string{"sun", "mon", "tue", "wed", "thu"}}},
		}},
	}
	var out scheduleAnswer
	status, apiErr = rosterCall(t, coord, http.MethodPut, "/api/v1/roster/schedules/pediatric-neurology", layers, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, "pediatric-neurology", out.Schedule.Specialty)
	require.Len(t, out.Schedule.Primary.Layers, 1)
	assert.Equal(t, "Days", out.Schedule.Primary.Layers[0].Name)
	require.Len(t, out.Schedule.Primary.Overrides, 1, "got the override dropped by the layer change")
	assert.Equal(t, ov.Override.ID, out.Schedule.Primary.Overrides[0].ID)
	oc := onCallOf(t, coord, "pediatric-neurology", at)
	assert.Equal(t, "u-neuro2", oc.PrimaryID, "got primary %s after the change, want neuro2's day shift", oc.PrimaryID)
	assert.Equal(t, "u-neuro1", oc.SecondaryID)
	audit := awaitAudit(t, s.b, "roster.schedule.replace")
	assert.Equal(t, "u-coord1", audit["actor_id"])
	assert.Equal(t, map[string]any{"specialty": "pediatric-neurology"}, audit["detail"])

	before := storedRoster(t, coord)
	badLayer := func(edit func(l map[string]any)) map[string]any {
		l := map[string]any{"name": "Days", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": []string{"u-neuro1"}}
		edit(l)
		return map[string]any{"primary": map[string]any{"layers": []map[string]any{l}}}
	}
	for _, tt := range []struct {
		name   string
		path   string
		body   any
		status int
		fields map[string]string
		codes  map[string]string
	}{
		{"handoff out of range", "pediatric-neurology", badLayer(func(l map[string]any) { l["handoff"] = "25:00" }), http.StatusBadRequest,
			map[string]string{"primary.layers[0].handoff": "must be a time of day as HH:MM"},
			map[string]string{"primary.layers[0].handoff": "not_a_date"}},
		{"a coordinator as a member", "pediatric-neurology", badLayer(func(l map[string]any) { l["members"] = []string{"u-coord1"} }), http.StatusBadRequest,
			map[string]string{"primary.layers[0].members[0]": "member u-coord1 is not a specialist"},
			map[string]string{"primary.layers[0].members[0]": "not_allowed"}},
		{"an unknown shift", "pediatric-neurology", badLayer(func(l map[string]any) { l["shift"] = "fortnightly" }), http.StatusBadRequest,
			map[string]string{"primary.layers[0].shift": "must be daily, weekly or custom"},
			map[string]string{"primary.layers[0].shift": "not_allowed"}},
		{"a bad weekday", "pediatric-neurology", badLayer(func(l map[string]any) { l["restrict"] = map[string]any{"weekdays": []string{"funday"}} }),
			http.StatusBadRequest, map[string]string{"primary.layers[0].restrict.weekdays[0]": "must be one of sun, mon, tue, wed, thu, fri, sat"},
			map[string]string{"primary.layers[0].restrict.weekdays[0]": "not_allowed"}},
		{"shift_hours as text", "pediatric-neurology", badLayer(func(l map[string]any) { l["shift_hours"] = "12" }), http.StatusBadRequest,
			map[string]string{"primary.layers.shift_hours": "must be a whole number"},
			map[string]string{"primary.layers.shift_hours": "not_a_whole_number"}},
		{"overrides in the body", "pediatric-neurology", map[string]any{"primary": map[string]any{"layers": []any{}, "overrides": []any{}}},
			http.StatusBadRequest, map[string]string{"overrides": "unknown field"}, map[string]string{"overrides": "unknown_field"}},
		{"the old single-rotation form", "pediatric-neurology", map[string]any{"primary": map[string]any{"anchor": "2026-01-04"}},
			http.StatusBadRequest, map[string]string{"anchor": "unknown field"}, map[string]string{"anchor": "unknown_field"}},
		{"no primary", "pediatric-neurology", map[string]any{"secondary": map[string]any{"layers": []any{}}}, http.StatusBadRequest,
			map[string]string{"primary": "required"}, map[string]string{"primary": "required"}},
		{"an unknown specialty", "astrology", layers, http.StatusNotFound, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, apiErr := rosterCall(t, coord, http.MethodPut, "/api/v1/roster/schedules/"+tt.path, tt.body, nil)
			require.Equal(t, tt.status, status, "got %d %v, want %d", status, apiErr, tt.status)
			if tt.fields != nil {
				assert.Equal(t, tt.fields, apiErr.Body.Error.Fields)
				assert.Equal(t, tt.codes, apiErr.codes(), "got codes %v, want %v", apiErr.codes(), tt.codes)
			}
		})
	}
	for _, who := range []string{"onc1", "referrer1"} {
		status, _ := rosterCall(t, s.login(who), http.MethodPut, "/api/v1/roster/schedules/pediatric-neurology", layers, nil)
		assert.Equal(t, http.StatusForbidden, status, "%s: got %d, want 403", who, status)
	}
	assert.JSONEq(t, before, storedRoster(t, coord), "got the roster changed by refused requests")
}

func TestRosterOverrides(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	coord := s.login("coord2")
	now := time.Now().UTC().Truncate(time.Second)
	from, to := now.Add(time.Hour), now.Add(3*time.Hour)
	mid := now.Add(2 * time.Hour)
	require.Equal(t, "u-onc1", onCallOf(t, coord, "pediatric-oncology", mid).PrimaryID)

	var out overrideAnswer
	status, apiErr := rosterCall(t, coord, http.MethodPost, "/api/v1/roster/overrides", map[string]any{"specialty": "pediatric-oncology",
		"tier": "primary", "user_id": "u-onc2", "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "reason": "  swap with Dr. Levi "}, &out)
	require.Equal(t, http.StatusCreated, status, "%v", apiErr)
	_, err := ulid.ParseStrict(out.Override.ID)
	assert.NoError(t, err, "got override id %q, want a ULID", out.Override.ID)
	assert.Equal(t, "u-onc2", out.Override.UserID)
	assert.Equal(t, "pediatric-oncology", out.Override.Specialty)
	assert.Equal(t, "primary", out.Override.Tier)
	assert.Equal(t, "swap with Dr. Levi", out.Override.Reason, "got the reason untrimmed")
	assert.Equal(t, "u-coord2", out.Override.CreatedBy)
	assert.True(t, from.Equal(out.Override.From) && to.Equal(out.Override.To), "got %v..%v, want %v..%v", out.Override.From, out.Override.To, from, to)
	audit := awaitAudit(t, s.b, "roster.override.create")
	assert.Equal(t, "u-coord2", audit["actor_id"])
	assert.Equal(t, map[string]any{"override_id": out.Override.ID, "specialty": "pediatric-oncology", "tier": "primary", "user_id": "u-onc2"}, audit["detail"])

	oc := onCallOf(t, coord, "pediatric-oncology", mid)
	assert.Equal(t, "u-onc2", oc.PrimaryID, "got primary %s during the override, want onc2", oc.PrimaryID)
	assert.True(t, to.Equal(oc.Until), "got until %v, want the override's end %v", oc.Until, to)
	before := onCallOf(t, coord, "pediatric-oncology", from.Add(-time.Minute))
	assert.Equal(t, "u-onc1", before.PrimaryID)
	assert.True(t, from.Equal(before.Until), "got until %v before the override, want its start %v", before.Until, from)

	for _, who := range []string{"onc1", "referrer1"} {
		status, _ := rosterCall(t, s.login(who), http.MethodDelete, "/api/v1/roster/overrides/"+out.Override.ID, nil, nil)
		assert.Equal(t, http.StatusForbidden, status, "%s: got %d, want 403", who, status)
	}
	status, apiErr = rosterCall(t, coord, http.MethodDelete, "/api/v1/roster/overrides/"+out.Override.ID, nil, nil)
	require.Equal(t, http.StatusNoContent, status, "%v", apiErr)
	assert.Equal(t, "u-onc1", onCallOf(t, coord, "pediatric-oncology", mid).PrimaryID, "got the override still in force after its removal")
	audit = awaitAudit(t, s.b, "roster.override.delete")
	assert.Equal(t, map[string]any{"override_id": out.Override.ID, "specialty": "pediatric-oncology", "tier": "primary"}, audit["detail"])
	status, _ = rosterCall(t, coord, http.MethodDelete, "/api/v1/roster/overrides/"+out.Override.ID, nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "got %d removing it twice, want 404", status)

	rosterBefore := storedRoster(t, coord)
	valid := func(edit func(b map[string]any)) map[string]any {
		b := map[string]any{"specialty": "pediatric-oncology", "tier": "secondary", "user_id": "u-onc1",
			"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}
		edit(b)
		return b
	}
	for _, tt := range []struct {
		name    string
		body    map[string]any
		fields  map[string]string
		problem problem.Problem // of the one field named
	}{
		{"unknown specialty", valid(func(b map[string]any) { b["specialty"] = "astrology" }), map[string]string{"specialty": "unknown specialty"},
			problem.Problem{Code: "unknown"}},
		{"no specialty", valid(func(b map[string]any) { delete(b, "specialty") }), map[string]string{"specialty": "required"},
			problem.Problem{Code: "required"}},
		{"unknown tier", valid(func(b map[string]any) { b["tier"] = "tertiary" }), map[string]string{"tier": "must be primary or secondary"},
			problem.Problem{Code: "not_allowed"}},
		{"a referrer", valid(func(b map[string]any) { b["user_id"] = "u-referrer1" }), map[string]string{"user_id": "must name a specialist"},
			problem.Problem{Code: "unknown"}},
		{"nobody", valid(func(b map[string]any) { b["user_id"] = "u-nobody" }), map[string]string{"user_id": "must name a specialist"},
			problem.Problem{Code: "unknown"}},
		{"from not a time", valid(func(b map[string]any) { b["from"] = "tomorrow" }), map[string]string{"from": "must be an RFC 3339 time such as 2026-03-27T06:00:00Z"},
			problem.Problem{Code: "not_a_date"}},
		{"to before from", valid(func(b map[string]any) { b["to"] = from.Add(-time.Minute).Format(time.RFC3339) }), map[string]string{"to": "must be after from"},
			problem.Problem{Code: "invalid"}},
		{"entirely past", valid(func(b map[string]any) {
			b["from"], b["to"] = now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
		}), map[string]string{"to": "must be in the future"}, problem.Problem{Code: "invalid"}},
		{"over a year", valid(func(b map[string]any) { b["to"] = from.AddDate(1, 1, 0).Format(time.RFC3339) }), map[string]string{"to": "an override lasts at most 366 days"},
			problem.Problem{Code: "invalid"}},
		{"a reason with a control character", valid(func(b map[string]any) { b["reason"] = "swap\x1b[2J" }), map[string]string{"reason": "must be one line without control characters"},
			problem.Problem{Code: "invalid_text"}},
		{"a long reason", valid(func(b map[string]any) { b["reason"] = strings.Repeat("r", 501) }), map[string]string{"reason": "must be at most 500 characters"},
			problem.Problem{Code: "too_long", Max: ptr(500.0)}},
		{"an id from the client", valid(func(b map[string]any) { b["id"] = "mine" }), map[string]string{"id": "unknown field"},
			problem.Problem{Code: "unknown_field"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, apiErr := rosterCall(t, coord, http.MethodPost, "/api/v1/roster/overrides", tt.body, nil)
			require.Equal(t, http.StatusBadRequest, status, "got %d %v, want 400", status, apiErr)
			assert.Equal(t, tt.fields, apiErr.Body.Error.Fields)
			for field := range tt.fields {
				got := apiErr.Body.Error.Problems[field]
				assert.Equal(t, tt.problem, got, "%s: got problem %+v, want %+v", field, got, tt.problem)
			}
		})
	}
	status, _ = rosterCall(t, s.login("onc2"), http.MethodPost, "/api/v1/roster/overrides", valid(func(map[string]any) {}), nil)
	assert.Equal(t, http.StatusForbidden, status, "got %d from a specialist, want 403", status)
	assert.JSONEq(t, rosterBefore, storedRoster(t, coord), "got the roster changed by refused requests")
}

type userAnswer struct {
	User roster.User `json:"user"`
}

func TestRosterUserPatch(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	coord, admin := s.login("coord1"), s.login("admin1")

	var out userAnswer
	status, apiErr := rosterCall(t, coord, http.MethodPatch, "/api/v1/roster/users/u-onc2", map[string]any{"max_consults": 6,
		"sub_specialties": []string{"solid-tumors", " retinoblastoma ", "solid-tumors"}, "languages": []string{"he", "en", "ar", "ru"}}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, 6, out.User.Capacity())
	assert.Equal(t, []string{"solid-tumors", "retinoblastoma"}, out.User.SubSpecialties, "got sub-specialties %v", out.User.SubSpecialties)
	assert.Equal(t, []string{"he", "en", "ar", "ru"}, out.User.Languages)
	assert.Equal(t, []string{"pediatric-oncology"}, out.User.Specialties, "got specialties changed though not named")
	assert.Empty(t, out.User.PasswordHash, "got the password hash in the answer")
	audit := awaitAudit(t, s.b, "roster.user.update")
	assert.Equal(t, map[string]any{"user_id": "u-onc2", "changed": "languages,max_consults,sub_specialties"}, audit["detail"])

	// A disabled account's sessions stop working and it cannot log in; enabled again, it can.
	onc2 := s.login("onc2")
	status, apiErr = rosterCall(t, coord, http.MethodPatch, "/api/v1/roster/users/u-onc2", map[string]any{"disabled": true}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.True(t, out.User.Disabled)
	status, _ = rosterCall(t, onc2, http.MethodGet, "/api/v1/session", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "got %d for a disabled account's session, want 401", status)
	assert.Error(t, apiclient.New(s.url).Login(t.Context(), "onc2", "demo"), "got a disabled account logged in")
	status, _ = rosterCall(t, coord, http.MethodPost, "/api/v1/roster/overrides", map[string]any{"specialty": "pediatric-oncology",
		"tier": "primary", "user_id": "u-onc2", "from": time.Now().Add(time.Hour).Format(time.RFC3339), "to": time.Now().Add(2 * time.Hour).Format(time.RFC3339)}, nil)
	assert.Equal(t, http.StatusBadRequest, status, "got an override for a disabled account")
	status, apiErr = rosterCall(t, coord, http.MethodPatch, "/api/v1/roster/users/u-onc2", map[string]any{"disabled": false}, nil)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	require.NoError(t, apiclient.New(s.url).Login(t.Context(), "onc2", "demo"), "got the enabled account refused")

	// A specialist's specialties.
	status, apiErr = rosterCall(t, coord, http.MethodPatch, "/api/v1/roster/users/u-hem2",
		map[string]any{"specialties": []string{"pediatric-hematology", "pediatric-oncology"}}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, []string{"pediatric-hematology", "pediatric-oncology"}, out.User.Specialties)

	// Only an administrator changes a coordinator.
	status, _ = rosterCall(t, coord, http.MethodPatch, "/api/v1/roster/users/u-coord2", map[string]any{"languages": []string{"he"}}, nil)
	assert.Equal(t, http.StatusForbidden, status, "got %d from a coordinator changing a coordinator, want 403", status)
	status, apiErr = rosterCall(t, admin, http.MethodPatch, "/api/v1/roster/users/u-coord2", map[string]any{"languages": []string{"he"}}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, []string{"he"}, out.User.Languages)

	before := storedRoster(t, coord)
	for _, tt := range []struct {
		name   string
		client *apiclient.Client
		id     string
		body   any
		status int
		fields map[string]string
		codes  map[string]string
	}{
		{"an unknown specialty", coord, "u-onc1", map[string]any{"specialties": []string{"astrology"}}, http.StatusBadRequest,
			map[string]string{"specialties": `unknown specialty "astrology"`}, map[string]string{"specialties": "unknown"}},
		{"max_consults too high", coord, "u-onc1", map[string]any{"max_consults": 99}, http.StatusBadRequest,
			map[string]string{"max_consults": "must be 0 (the default, 3) to 50"}, map[string]string{"max_consults": "out_of_range"}},
		{"max_consults negative", coord, "u-onc1", map[string]any{"max_consults": -1}, http.StatusBadRequest,
			map[string]string{"max_consults": "must be 0 (the default, 3) to 50"}, map[string]string{"max_consults": "out_of_range"}},
		{"max_consults as text", coord, "u-onc1", map[string]any{"max_consults": "5"}, http.StatusBadRequest,
			map[string]string{"max_consults": "must be a whole number"}, map[string]string{"max_consults": "not_a_whole_number"}},
		{"a language that is not a tag", coord, "u-onc1", map[string]any{"languages": []string{"en", "Hebrew!"}}, http.StatusBadRequest,
			map[string]string{"languages": `must be language tags such as ar or he (got "Hebrew!")`}, map[string]string{"languages": "malformed"}},
		{"sub-specialties of a referrer", coord, "u-referrer1", map[string]any{"sub_specialties": []string{"x"}}, http.StatusBadRequest,
			map[string]string{"sub_specialties": "only a specialist has sub specialties"}, map[string]string{"sub_specialties": "not_allowed"}},
		{"max_consults of a referrer", coord, "u-referrer1", map[string]any{"max_consults": 2}, http.StatusBadRequest,
			map[string]string{"max_consults": "only a specialist has max consults"}, map[string]string{"max_consults": "not_allowed"}},
		{"disabling oneself", coord, "u-coord1", map[string]any{"disabled": true}, http.StatusForbidden, nil, nil},
		{"an administrator disabling themself", admin, "u-admin1", map[string]any{"disabled": true}, http.StatusBadRequest,
			map[string]string{"disabled": "you cannot disable your own account"}, map[string]string{"disabled": "not_allowed"}},
		{"changing the role", coord, "u-onc1", map[string]any{"role": "admin"}, http.StatusBadRequest, map[string]string{"role": "unknown field"},
			map[string]string{"role": "unknown_field"}},
		{"nothing to change", coord, "u-onc1", map[string]any{}, http.StatusBadRequest, nil, nil},
		{"only nulls", coord, "u-onc1", map[string]any{"disabled": nil}, http.StatusBadRequest, nil, nil},
		{"an unknown user", coord, "u-nobody", map[string]any{"disabled": true}, http.StatusNotFound, nil, nil},
		{"a specialist", s.login("onc1"), "u-onc1", map[string]any{"max_consults": 9}, http.StatusForbidden, nil, nil},
		{"a referrer", s.login("referrer1"), "u-referrer1", map[string]any{"languages": []string{"ar"}}, http.StatusForbidden, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, apiErr := rosterCall(t, tt.client, http.MethodPatch, "/api/v1/roster/users/"+tt.id, tt.body, nil)
			require.Equal(t, tt.status, status, "got %d %v, want %d", status, apiErr, tt.status)
			if tt.fields != nil {
				assert.Equal(t, tt.fields, apiErr.Body.Error.Fields)
				assert.Equal(t, tt.codes, apiErr.codes(), "got codes %v, want %v", apiErr.codes(), tt.codes)
			}
		})
	}
	assert.JSONEq(t, before, storedRoster(t, coord), "got the roster changed by refused requests")
}

type policiesAnswer struct {
	Policies []roster.Policy `json:"policies"`
}

func TestRosterPolicies(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	coord := s.login("coord1")
	body := map[string]any{"policies": []map[string]any{
		{"specialty": "pediatric-cardiology", "urgency": "urgent", "repeat": 2, "steps": []map[string]any{
			{"target": "primary", "wait": "10m"}, {"target": "person", "user_id": "u-card3", "wait": "5m"},
			{"target": "specialty", "wait": "90s", "parallel": true}, {"target": "coordinators", "wait": "1h"}}},
		{"urgency": "routine", "steps": []map[string]any{{"target": "coordinators", "wait": "2h"}}},
	}}
	var out policiesAnswer
	status, apiErr := rosterCall(t, coord, http.MethodPut, "/api/v1/roster/policies", body, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	require.Len(t, out.Policies, 2)
	assert.Equal(t, roster.Duration(90*time.Second), out.Policies[0].Steps[2].Wait)
	var read rosterAnswer
	status, _ = rosterCall(t, coord, http.MethodGet, "/api/v1/roster", nil, &read)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, out.Policies, read.Roster.Policies, "got other policies stored than answered")
	assert.Equal(t, "u-card3", s.in.Directory.Roster().PolicyFor("pediatric-cardiology", "urgent").Steps[1].UserID, "got the new policy not applied")
	assert.Equal(t, 1, len(s.in.Directory.Roster().PolicyFor("pediatric-surgery", "routine").Steps), "got the any-specialty routine policy not applied")
	audit := awaitAudit(t, s.b, "roster.policies.replace")
	assert.Equal(t, map[string]any{"count": "2"}, audit["detail"])

	before := storedRoster(t, coord)
	step := func(st map[string]any) map[string]any {
		return map[string]any{"policies": []map[string]any{{"specialty": "pediatric-surgery", "steps": []map[string]any{st}}}}
	}
	for _, tt := range []struct {
		name   string
		body   any
		fields map[string]string
		codes  map[string]string
	}{
		{"a wait in words", step(map[string]any{"target": "primary", "wait": "soon"}), map[string]string{"policies[0].steps[0].wait": "must be a duration such as 2m, 90s or 4h"},
			map[string]string{"policies[0].steps[0].wait": "malformed"}},
		{"a wait as a number", step(map[string]any{"target": "primary", "wait": 120}), map[string]string{"policies.steps.wait": "must be a string"},
			map[string]string{"policies.steps.wait": "malformed"}},
		{"a zero wait", step(map[string]any{"target": "primary", "wait": "0s"}), map[string]string{"policies[0].steps[0].wait": "must be more than 0 and at most 7 days (168h)"},
			map[string]string{"policies[0].steps[0].wait": "invalid"}},
		{"a wait over a week", step(map[string]any{"target": "primary", "wait": "200h"}), map[string]string{"policies[0].steps[0].wait": "must be more than 0 and at most 7 days (168h)"},
			map[string]string{"policies[0].steps[0].wait": "invalid"}},
		{"an unknown target", step(map[string]any{"target": "chief", "wait": "1m"}), map[string]string{"policies[0].steps[0].target": "must be primary, secondary, specialty, person or coordinators"},
			map[string]string{"policies[0].steps[0].target": "not_allowed"}},
		{"a person step naming a referrer", step(map[string]any{"target": "person", "user_id": "u-referrer1", "wait": "1m"}),
			map[string]string{"policies[0].steps[0].user_id": `must name a specialist (got "u-referrer1")`}, map[string]string{"policies[0].steps[0].user_id": "not_allowed"}},
		{"a parallel primary step", step(map[string]any{"target": "primary", "wait": "1m", "parallel": true}),
			map[string]string{"policies[0].steps[0].parallel": "only a specialty step runs in parallel"}, map[string]string{"policies[0].steps[0].parallel": "invalid"}},
		{"repeat 11", map[string]any{"policies": []map[string]any{{"repeat": 11, "steps": []map[string]any{{"target": "primary", "wait": "1m"}}}}},
			map[string]string{"policies[0].repeat": "must be 0 to 10"}, map[string]string{"policies[0].repeat": "out_of_range"}},
		{"no steps", map[string]any{"policies": []map[string]any{{"urgency": "urgent", "steps": []any{}}}}, map[string]string{"policies[0].steps": "a policy has 1 to 20 steps"},
			map[string]string{"policies[0].steps": "out_of_range"}},
		{"no policies key", map[string]any{}, map[string]string{"policies": "required (an empty list leaves the built-in defaults)"},
			map[string]string{"policies": "required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, apiErr := rosterCall(t, coord, http.MethodPut, "/api/v1/roster/policies", tt.body, nil)
			require.Equal(t, http.StatusBadRequest, status, "got %d %v, want 400", status, apiErr)
			assert.Equal(t, tt.fields, apiErr.Body.Error.Fields)
			assert.Equal(t, tt.codes, apiErr.codes(), "got codes %v, want %v", apiErr.codes(), tt.codes)
		})
	}
	status, _ = rosterCall(t, s.login("onc1"), http.MethodPut, "/api/v1/roster/policies", body, nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.JSONEq(t, before, storedRoster(t, coord), "got the roster changed by refused requests")

	status, apiErr = rosterCall(t, coord, http.MethodPut, "/api/v1/roster/policies", map[string]any{"policies": []any{}}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Empty(t, out.Policies)
	assert.Equal(t, roster.DefaultPolicy("urgent"), s.in.Directory.Roster().PolicyFor("pediatric-cardiology", "urgent"), "got no defaults after clearing the policies")
}

type redFlagsAnswer struct {
	RedFlags []roster.RedFlagRule `json:"red_flags"`
}

func TestRosterRedFlags(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	admin := s.login("admin1")
	rules := []map[string]any{
		{"id": "surg-neonate", "specialty": "pediatric-surgery", "urgency": "urgent", "reason": map[string]string{"en": "Neonate", "ar": "حديث الولادة", "he": "יילוד"},
			"when": []map[string]any{{"field": "weight_kg", "op": "lt", "value": 2.5}}},
		{"id": "card-murmur-hypoxemia", "specialty": "pediatric-cardiology", "urgency": "emergent", "reason": map[string]string{"en": "Murmur with low saturation"},
			"when": []map[string]any{{"field": "murmur", "op": "eq", "value": true}, {"field": "oxygen_saturation", "op": "le", "value": 90}}},
	}
	var out redFlagsAnswer
	status, apiErr := rosterCall(t, admin, http.MethodPut, "/api/v1/roster/red-flags", map[string]any{"red_flags": rules}, &out)
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	require.Len(t, out.RedFlags, 2)
	raised, fired := s.in.Directory.Roster().Triage("pediatric-surgery", "routine", map[string]any{"weight_kg": 2.1})
	assert.Equal(t, "urgent", raised, "got the new rule not applied")
	assert.Len(t, fired, 1)
	raised, _ = s.in.Directory.Roster().Triage("pediatric-oncology", "routine", map[string]any{"fever": true, "anc": 0.1})
	assert.Equal(t, "routine", raised, "got the demo's oncology rules kept, want every rule replaced")
	audit := awaitAudit(t, s.b, "roster.red_flags.replace")
	assert.Equal(t, "u-admin1", audit["actor_id"])
	assert.Equal(t, map[string]any{"count": "2", "ids": "surg-neonate,card-murmur-hypoxemia"}, audit["detail"])

	before := storedRoster(t, admin)
	rule := func(edit func(r map[string]any)) map[string]any {
		r := map[string]any{"id": "x", "specialty": "pediatric-surgery", "urgency": "urgent", "reason": map[string]string{"en": "x"},
			"when": []map[string]any{{"field": "weight_kg", "op": "lt", "value": 2.5}}}
		edit(r)
		return map[string]any{"red_flags": []map[string]any{r}}
	}
	for _, tt := range []struct {
		name   string
		body   any
		fields map[string]string
		codes  map[string]string
	}{
		{"an unknown field", rule(func(r map[string]any) { r["when"] = []map[string]any{{"field": "height_cm", "op": "lt", "value": 40}} }),
			map[string]string{"red_flags[0].when[0].field": `pediatric-surgery has no form field "height_cm"`}, map[string]string{"red_flags[0].when[0].field": "invalid"}},
		{"a number compared with text", rule(func(r map[string]any) {
			r["when"] = []map[string]any{{"field": "weight_kg", "op": "lt", "value": "2.5"}}
		}),
			map[string]string{"red_flags[0].when[0].value": "must be a number"}, map[string]string{"red_flags[0].when[0].value": "not_a_number"}},
		{"an unknown operator", rule(func(r map[string]any) {
			r["when"] = []map[string]any{{"field": "weight_kg", "op": "below", "value": 2}}
		}),
			map[string]string{"red_flags[0].when[0].op": "must be eq, ne, lt, le, gt or ge"}, map[string]string{"red_flags[0].when[0].op": "not_allowed"}},
		{"a routine rule", rule(func(r map[string]any) { r["urgency"] = "routine" }), map[string]string{"red_flags[0].urgency": "must be emergent or urgent"},
			map[string]string{"red_flags[0].urgency": "not_allowed"}},
		{"an unknown specialty", rule(func(r map[string]any) { r["specialty"] = "astrology" }), map[string]string{"red_flags[0].specialty": `unknown specialty "astrology"`},
			map[string]string{"red_flags[0].specialty": "unknown"}},
		{"no red_flags key", map[string]any{"rules": []any{}}, map[string]string{"rules": "unknown field"}, map[string]string{"rules": "unknown_field"}},
		{"a missing red_flags key", map[string]any{}, map[string]string{"red_flags": "required (an empty list removes every rule)"},
			map[string]string{"red_flags": "required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, apiErr := rosterCall(t, admin, http.MethodPut, "/api/v1/roster/red-flags", tt.body, nil)
			require.Equal(t, http.StatusBadRequest, status, "got %d %v, want 400", status, apiErr)
			assert.Equal(t, tt.fields, apiErr.Body.Error.Fields)
			assert.Equal(t, tt.codes, apiErr.codes(), "got codes %v, want %v", apiErr.codes(), tt.codes)
		})
	}
	status, _ = rosterCall(t, s.login("referrer1"), http.MethodPut, "/api/v1/roster/red-flags", map[string]any{"red_flags": []any{}}, nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.JSONEq(t, before, storedRoster(t, admin), "got the roster changed by refused requests")
}
