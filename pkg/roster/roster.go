// Package roster owns who works in the broker and when: users and their roles, clinics,
// specialties, and the on-call rotations that say who answers for a specialty at a moment.
// Times are civil times in the hospital's zone, so handoffs stay at their hour across
// daylight-saving changes. It imports the standard library only.
package roster

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // the hospital's zone must resolve in minimal container images
)

// Zone is the hospital's time zone, in which rotations hand off.
const Zone = "Asia/Jerusalem"

// User is a person with an account. PasswordHash is a bcrypt hash and never leaves the server.
type User struct {
	ID          string   `json:"id"`
	Username    string   `json:"username"`
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	ClinicID    string   `json:"clinic_id,omitempty"`
	Specialties []string `json:"specialties,omitempty"`
	Languages   []string `json:"languages"`
	// Email receives offers while the user has no live connection (specialists).
	Email        string `json:"email,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
}

// Public returns u without its password hash.
func (u User) Public() User {
	u.PasswordHash = ""
	return u
}

// Clinic is a referring clinic.
type Clinic struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Specialty is a field of medicine consults are routed by, named in English, Arabic and Hebrew.
type Specialty struct {
	Slug string            `json:"slug"`
	Name map[string]string `json:"name"`
}

// Rotation hands a shift from one member to the next every ShiftDays days at Handoff (HH:MM,
// hospital time), counting from the civil date Anchor, on which Members[0] starts.
type Rotation struct {
	Anchor    string   `json:"anchor"`
	Handoff   string   `json:"handoff"`
	ShiftDays int      `json:"shift_days"`
	Members   []string `json:"members"`
}

// Schedule is a specialty's on-call: a primary and a secondary rotation.
type Schedule struct {
	Specialty string   `json:"specialty"`
	Primary   Rotation `json:"primary"`
	Secondary Rotation `json:"secondary"`
}

// OnCall says who answers for a specialty now, and until when that holds.
type OnCall struct {
	Specialty   string    `json:"specialty"`
	PrimaryID   string    `json:"primary_id"`
	SecondaryID string    `json:"secondary_id"`
	Until       time.Time `json:"until"`
}

// Roster is one consistent version of the directory. It is immutable once built by Parse or New.
type Roster struct {
	Users       []User      `json:"users"`
	Clinics     []Clinic    `json:"clinics"`
	Specialties []Specialty `json:"specialties"`
	Schedules   []Schedule  `json:"schedules"`

	loc        *time.Location
	byID       map[string]*User
	byUsername map[string]*User
}

// Parse decodes and checks a roster document.
func Parse(data []byte) (*Roster, error) {
	var r Roster
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse roster: %w", err)
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Marshal encodes r as a roster document.
func (r *Roster) Marshal() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

func (r *Roster) index() error {
	loc, err := time.LoadLocation(Zone)
	if err != nil {
		return fmt.Errorf("roster: load zone: %w", err)
	}
	r.loc = loc
	r.byID = make(map[string]*User, len(r.Users))
	r.byUsername = make(map[string]*User, len(r.Users))
	for i := range r.Users {
		u := &r.Users[i]
		if u.ID == "" || u.Username == "" {
			return fmt.Errorf("roster: user %d has no id or username", i)
		}
		if _, dup := r.byID[u.ID]; dup {
			return fmt.Errorf("roster: duplicate user id %s", u.ID)
		}
		if _, dup := r.byUsername[u.Username]; dup {
			return fmt.Errorf("roster: duplicate username %s", u.Username)
		}
		switch u.Role {
		case "referrer", "specialist", "coordinator", "admin":
		default:
			return fmt.Errorf("roster: user %s has unknown role %q", u.ID, u.Role)
		}
		if u.Role == "referrer" && u.ClinicID == "" {
			return fmt.Errorf("roster: referrer %s has no clinic", u.ID)
		}
		r.byID[u.ID], r.byUsername[u.Username] = u, u
	}
	for _, s := range r.Schedules {
		if !r.HasSpecialty(s.Specialty) {
			return fmt.Errorf("roster: schedule for unknown specialty %s", s.Specialty)
		}
		for _, rot := range []Rotation{s.Primary, s.Secondary} {
			if err := r.checkRotation(s.Specialty, rot); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Roster) checkRotation(specialty string, rot Rotation) error {
	if len(rot.Members) == 0 {
		return nil
	}
	if _, err := time.ParseInLocation(time.DateOnly, rot.Anchor, r.loc); err != nil {
		return fmt.Errorf("roster: %s rotation anchor: %w", specialty, err)
	}
	if _, err := time.Parse("15:04", rot.Handoff); err != nil {
		return fmt.Errorf("roster: %s rotation handoff: %w", specialty, err)
	}
	if rot.ShiftDays < 1 {
		return fmt.Errorf("roster: %s rotation shift_days must be at least 1", specialty)
	}
	for _, m := range rot.Members {
		if u := r.byID[m]; u == nil || u.Role != "specialist" {
			return fmt.Errorf("roster: %s rotation member %s is not a specialist", specialty, m)
		}
	}
	return nil
}

// User returns the user with id, if any.
func (r *Roster) User(id string) (User, bool) {
	u, ok := r.byID[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// ByUsername returns the user with username, if any.
func (r *Roster) ByUsername(username string) (User, bool) {
	u, ok := r.byUsername[username]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// HasSpecialty reports whether slug is one of the roster's specialties.
func (r *Roster) HasSpecialty(slug string) bool {
	return slices.ContainsFunc(r.Specialties, func(s Specialty) bool { return s.Slug == slug })
}

// Members returns the users with role, in roster order.
func (r *Roster) Members(role string) []User {
	var out []User
	for _, u := range r.Users {
		if u.Role == role && !u.Disabled {
			out = append(out, u.Public())
		}
	}
	return out
}

// OnCallAt answers who is on call for every specialty at t.
func (r *Roster) OnCallAt(t time.Time) []OnCall {
	out := make([]OnCall, 0, len(r.Schedules))
	for _, s := range r.Schedules {
		out = append(out, r.onCall(s, t))
	}
	return out
}

// OnCallFor answers who is on call for one specialty at t; ok is false when it has no schedule.
func (r *Roster) OnCallFor(specialty string, t time.Time) (OnCall, bool) {
	for _, s := range r.Schedules {
		if s.Specialty == specialty {
			return r.onCall(s, t), true
		}
	}
	return OnCall{}, false
}

func (r *Roster) onCall(s Schedule, t time.Time) OnCall {
	p, pUntil := r.shift(s.Primary, t)
	sec, sUntil := r.shift(s.Secondary, t)
	until := pUntil
	if !sUntil.IsZero() && (until.IsZero() || sUntil.Before(until)) {
		until = sUntil
	}
	return OnCall{Specialty: s.Specialty, PrimaryID: p, SecondaryID: sec, Until: until.UTC()}
}

// shift returns the member of rot on duty at t and when that shift ends. A shift starts at the
// handoff instant of its first civil day; the duty day of t is the last civil day whose handoff
// instant is not after t. Handoff instants come from one function, so that the moment the member
// changes is exactly the previous shift's end, also when the handoff falls in the hour a
// daylight-saving change skips or repeats.
func (r *Roster) shift(rot Rotation, t time.Time) (string, time.Time) {
	if len(rot.Members) == 0 {
		return "", time.Time{}
	}
	anchor, _ := time.ParseInLocation(time.DateOnly, rot.Anchor, r.loc)
	hand, _ := time.Parse("15:04", rot.Handoff)
	handoff := func(day time.Time) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), hand.Hour(), hand.Minute(), 0, 0, r.loc)
	}
	local := t.In(r.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	if t.Before(handoff(day)) {
		day = day.AddDate(0, 0, -1)
	}
	a := time.Date(anchor.Year(), anchor.Month(), anchor.Day(), 0, 0, 0, 0, time.UTC)
	days := int(day.Sub(a).Hours() / 24) // whole civil days: both are UTC midnights
	k := floorDiv(days, rot.ShiftDays)
	member := rot.Members[mod(k, len(rot.Members))]
	return member, handoff(a.AddDate(0, 0, (k+1)*rot.ShiftDays))
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, b int) int { return ((a % b) + b) % b }
