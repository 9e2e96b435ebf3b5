// Package roster owns who works in the broker and when: users and their roles, clinics,
// specialties and the questions each asks of a referrer, the on-call schedules (rotation layers
// and overrides) that say who answers for a specialty at a moment, the escalation policies that
// say how long each level gets, and the red-flag rules that raise a consult's urgency. Times are
// civil times in the hospital's zone, so handoffs stay at their hour across daylight-saving
// changes. A roster document is JSON or YAML. The package imports the standard library and a
// YAML decoder only.
package roster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/regionalconsult/broker/pkg/problem"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the hospital's zone must resolve in minimal container images

	"go.yaml.in/yaml/v3"
)

// Zone is the hospital's time zone, in which rotations hand off.
const Zone = "Asia/Jerusalem"

// Roles a user may have.
const (
	RoleReferrer    = "referrer"
	RoleSpecialist  = "specialist"
	RoleCoordinator = "coordinator"
	RoleAdmin       = "admin"
)

// DefaultCapacity is how many consults a specialist holds at once when max_consults is not set.
const DefaultCapacity = 3

// MaxCapacity bounds max_consults.
const MaxCapacity = 50

// User is a person with an account. PasswordHash is a bcrypt hash and never leaves the server.
type User struct {
	ID             string   `json:"id"`
	Username       string   `json:"username"`
	Name           string   `json:"name"`
	Role           string   `json:"role"`
	ClinicID       string   `json:"clinic_id,omitempty"`
	Specialties    []string `json:"specialties,omitempty"`
	SubSpecialties []string `json:"sub_specialties,omitempty"`
	Languages      []string `json:"languages"`
	// MaxConsults is how many consults a specialist holds at once; 0 means DefaultCapacity.
	MaxConsults int `json:"max_consults,omitempty"`
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

// Capacity is how many consults u holds at once.
func (u User) Capacity() int {
	if u.MaxConsults <= 0 {
		return DefaultCapacity
	}
	return u.MaxConsults
}

// Clinic is a referring clinic.
type Clinic struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Specialty is a field of medicine consults are routed by, named in English, Arabic and Hebrew,
// with the structured questions (its form) a referrer answers for it.
type Specialty struct {
	Slug string            `json:"slug"`
	Name map[string]string `json:"name"`
	Form []Field           `json:"form"`
}

// Roster is one consistent version of the directory. It is immutable once built by Parse; to
// change it, Clone it, edit the copy and Parse the copy's Marshal.
type Roster struct {
	Users       []User        `json:"users"`
	Clinics     []Clinic      `json:"clinics"`
	Specialties []Specialty   `json:"specialties"`
	Schedules   []Schedule    `json:"schedules"`
	Policies    []Policy      `json:"policies,omitempty"`
	RedFlags    []RedFlagRule `json:"red_flags,omitempty"`

	loc        *time.Location
	byID       map[string]*User
	byUsername map[string]*User
	bySlug     map[string]*Specialty
	plans      map[string]*schedulePlan
}

// FieldError says which part of a roster document is wrong and why. Field is a path into the
// document such as "schedules[0].primary.layers[1].handoff".
type FieldError struct {
	Field   string
	Problem problem.Problem
}

func (e *FieldError) Error() string { return "roster: " + e.Field + ": " + e.Problem.Message }

func invalid(field string, p problem.Problem) error {
	return &FieldError{Field: field, Problem: p}
}

// Parse decodes and checks a roster document, JSON (when its first non-space byte is '{') or
// YAML.
func Parse(data []byte) (*Roster, error) {
	doc, err := jsonDocument(data)
	if err != nil {
		return nil, err
	}
	var r Roster
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("parse roster: %w", err)
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	return &r, nil
}

// jsonDocument returns data as JSON, converting a YAML document.
func jsonDocument(data []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return trimmed, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse roster: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("parse roster: the document must be a mapping with users, clinics, specialties and schedules")
	}
	v, err := yamlValue(doc.Content[0], 0)
	if err != nil {
		return nil, fmt.Errorf("parse roster: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("parse roster: %w", err)
	}
	return out, nil
}

// yamlValue reads a YAML node as the JSON value it stands for. Dates and times stay the strings
// they are written as (start: 2026-01-04, from: 2026-02-03T10:00:00Z), as in a JSON document.
func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("the document nests too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain string", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: merge keys are not supported", k.Line)
			}
			val, err := yamlValue(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float", "!!bool", "!!null":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// Marshal encodes r as a JSON roster document.
func (r *Roster) Marshal() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Clone returns a deep copy of r to edit; r stays as it was. The copy's lookups are those of the
// copy as made: an edited copy is checked and indexed again by parsing its Marshal (as
// directory.Update does).
func (r *Roster) Clone() *Roster {
	c := &Roster{
		Users:       make([]User, len(r.Users)),
		Clinics:     slices.Clone(r.Clinics),
		Specialties: make([]Specialty, len(r.Specialties)),
		Schedules:   make([]Schedule, len(r.Schedules)),
		Policies:    make([]Policy, len(r.Policies)),
		RedFlags:    make([]RedFlagRule, len(r.RedFlags)),
	}
	for i, u := range r.Users {
		u.Specialties = slices.Clone(u.Specialties)
		u.SubSpecialties = slices.Clone(u.SubSpecialties)
		u.Languages = slices.Clone(u.Languages)
		c.Users[i] = u
	}
	for i, s := range r.Specialties {
		c.Specialties[i] = s.clone()
	}
	for i, s := range r.Schedules {
		c.Schedules[i] = Schedule{Specialty: s.Specialty, Primary: s.Primary.clone(), Secondary: s.Secondary.clone()}
	}
	for i, p := range r.Policies {
		p.Steps = slices.Clone(p.Steps)
		c.Policies[i] = p
	}
	for i, f := range r.RedFlags {
		f.When = slices.Clone(f.When) // condition values are JSON scalars
		f.Reason = maps.Clone(f.Reason)
		c.RedFlags[i] = f
	}
	if r.Policies == nil {
		c.Policies = nil
	}
	if r.RedFlags == nil {
		c.RedFlags = nil
	}
	if r.loc != nil {
		_ = c.index() // r was valid, so its copy is
	}
	return c
}

func (s Specialty) clone() Specialty {
	s.Name = maps.Clone(s.Name)
	form := make([]Field, len(s.Form))
	for i, f := range s.Form {
		f.Label = maps.Clone(f.Label)
		if f.Min != nil {
			v := *f.Min
			f.Min = &v
		}
		if f.Max != nil {
			v := *f.Max
			f.Max = &v
		}
		opts := make([]Option, len(f.Options))
		for j, o := range f.Options {
			o.Label = maps.Clone(o.Label)
			opts[j] = o
		}
		if f.Options == nil {
			opts = nil
		}
		f.Options = opts
		form[i] = f
	}
	if s.Form == nil {
		form = nil
	}
	s.Form = form
	return s
}

// Location returns the hospital's zone, loaded once (it is compiled in through time/tzdata).
var Location = sync.OnceValues(func() (*time.Location, error) { return time.LoadLocation(Zone) })

func (r *Roster) index() error {
	loc, err := Location()
	if err != nil {
		return fmt.Errorf("roster: load zone: %w", err)
	}
	r.loc = loc
	if err := r.indexSpecialties(); err != nil {
		return err
	}
	if err := r.indexUsers(); err != nil {
		return err
	}
	clinics := make(map[string]bool, len(r.Clinics))
	for i, c := range r.Clinics {
		if c.ID == "" {
			return invalid(fmt.Sprintf("clinics[%d].id", i), problem.Required())
		}
		if clinics[c.ID] {
			return invalid(fmt.Sprintf("clinics[%d].id", i), problem.Duplicate(fmt.Sprintf("duplicate clinic id %s", c.ID)))
		}
		clinics[c.ID] = true
	}
	if err := r.indexSchedules(); err != nil {
		return err
	}
	if err := r.checkPolicies(); err != nil {
		return err
	}
	return r.checkRedFlags()
}

func (r *Roster) indexSpecialties() error {
	r.bySlug = make(map[string]*Specialty, len(r.Specialties))
	for i := range r.Specialties {
		s := &r.Specialties[i]
		path := fmt.Sprintf("specialties[%d]", i)
		if s.Slug == "" {
			return invalid(path+".slug", problem.Required())
		}
		if _, dup := r.bySlug[s.Slug]; dup {
			return invalid(path+".slug", problem.Duplicate(fmt.Sprintf("duplicate specialty %s", s.Slug)))
		}
		if s.Form == nil {
			s.Form = []Field{}
		}
		if err := checkForm(path+".form", s.Form); err != nil {
			return err
		}
		r.bySlug[s.Slug] = s
	}
	return nil
}

func (r *Roster) indexUsers() error {
	r.byID = make(map[string]*User, len(r.Users))
	r.byUsername = make(map[string]*User, len(r.Users))
	for i := range r.Users {
		u := &r.Users[i]
		path := fmt.Sprintf("users[%d]", i)
		if u.ID == "" || u.Username == "" {
			return invalid(path, problem.InvalidValue(fmt.Sprintf("user %d has no id or username", i)))
		}
		if _, dup := r.byID[u.ID]; dup {
			return invalid(path+".id", problem.Duplicate(fmt.Sprintf("duplicate user id %s", u.ID)))
		}
		if _, dup := r.byUsername[u.Username]; dup {
			return invalid(path+".username", problem.Duplicate(fmt.Sprintf("duplicate username %s", u.Username)))
		}
		switch u.Role {
		case RoleReferrer, RoleSpecialist, RoleCoordinator, RoleAdmin:
		default:
			return invalid(path+".role", problem.Unknown(fmt.Sprintf("user %s has unknown role %q", u.ID, u.Role)))
		}
		if u.Role == RoleReferrer && u.ClinicID == "" {
			return invalid(path+".clinic_id", problem.InvalidValue(fmt.Sprintf("referrer %s has no clinic", u.ID)))
		}
		for j, s := range u.SubSpecialties {
			if strings.TrimSpace(s) == "" || len(s) > 64 {
				return invalid(fmt.Sprintf("%s.sub_specialties[%d]", path, j), problem.InvalidValue("must be 1 to 64 characters"))
			}
		}
		if u.MaxConsults < 0 || u.MaxConsults > MaxCapacity {
			return invalid(path+".max_consults", problem.Between(fmt.Sprintf("must be 0 (the default, %d) to %d", DefaultCapacity, MaxCapacity), 0, MaxCapacity))
		}
		r.byID[u.ID], r.byUsername[u.Username] = u, u
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
	_, ok := r.bySlug[slug]
	return ok
}

// Specialty returns the specialty slug, if any.
func (r *Roster) Specialty(slug string) (Specialty, bool) {
	s, ok := r.bySlug[slug]
	if !ok {
		return Specialty{}, false
	}
	return *s, true
}

// Members returns the enabled users with role, in roster order, without password hashes.
func (r *Roster) Members(role string) []User {
	var out []User
	for _, u := range r.Users {
		if u.Role == role && !u.Disabled {
			out = append(out, u.Public())
		}
	}
	return out
}

func (r *Roster) isSpecialist(id string) bool {
	u := r.byID[id]
	return u != nil && u.Role == RoleSpecialist
}
