package roster

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/regionalconsult/broker/pkg/problem"
	"slices"
	"strings"
	"time"
)

// Urgencies a consult may have, most urgent first.
const (
	Emergent = "emergent"
	Urgent   = "urgent"
	Routine  = "routine"
)

// Targets an escalation step may offer a consult to.
const (
	TargetPrimary      = "primary"
	TargetSecondary    = "secondary"
	TargetSpecialty    = "specialty"
	TargetPerson       = "person"
	TargetCoordinators = "coordinators"
)

// Bounds on escalation policies.
const (
	MaxRepeat = 10
	MaxWait   = 7 * 24 * time.Hour
	maxSteps  = 20
)

// Policy is how a consult escalates: its Steps in order, each waiting Wait for an answer, then
// the whole list again Repeat more times. Specialty and Urgency say which consults it is for; ""
// matches any.
type Policy struct {
	Specialty string `json:"specialty"`
	Urgency   string `json:"urgency"`
	Repeat    int    `json:"repeat"`
	Steps     []Step `json:"steps"`
}

// Step offers a consult to Target (the primary or secondary on call, the specialty's
// specialists, one person named by UserID, or the coordinators) for Wait. Parallel offers a
// specialty step to every eligible specialist at once instead of one after another.
type Step struct {
	Target   string   `json:"target"`
	UserID   string   `json:"user_id,omitempty"`
	Wait     Duration `json:"wait"`
	Parallel bool     `json:"parallel,omitempty"`
}

// Duration is a time.Duration written as a Go duration string such as "2m" or "4h".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration must be a string such as \"2m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("a duration must be a string such as \"2m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// String writes d as a Go duration string without zero trailing units: "2m", "4h", "1h30m".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// DefaultPolicies returns the built-in escalation policies that apply when a roster has none
// for a consult, one per urgency: an emergent consult goes to the primary and the secondary for
// 2 minutes each, to all of the specialty at once for 3, then to the coordinators for 3 (a
// round fits the 10-minute accept-by target), and runs once more; urgent 15, 15, 20 and 30
// minutes, once more; routine 4 hours to the primary, 4 to the secondary and 8 to the
// coordinators, once.
func DefaultPolicies() []Policy {
	m := func(n int) Duration { return Duration(time.Duration(n) * time.Minute) }
	return []Policy{
		{Urgency: Emergent, Repeat: 1, Steps: []Step{
			{Target: TargetPrimary, Wait: m(2)}, {Target: TargetSecondary, Wait: m(2)},
			{Target: TargetSpecialty, Wait: m(3), Parallel: true}, {Target: TargetCoordinators, Wait: m(3)}}},
		{Urgency: Urgent, Repeat: 1, Steps: []Step{
			{Target: TargetPrimary, Wait: m(15)}, {Target: TargetSecondary, Wait: m(15)},
			{Target: TargetSpecialty, Wait: m(20)}, {Target: TargetCoordinators, Wait: m(30)}}},
		{Urgency: Routine, Repeat: 0, Steps: []Step{
			{Target: TargetPrimary, Wait: m(4 * 60)}, {Target: TargetSecondary, Wait: m(4 * 60)},
			{Target: TargetCoordinators, Wait: m(8 * 60)}}},
	}
}

// DefaultPolicy returns the built-in policy for urgency; an unknown urgency gets routine's.
func DefaultPolicy(urgency string) Policy {
	defaults := DefaultPolicies()
	for _, p := range defaults {
		if p.Urgency == urgency {
			return p
		}
	}
	return defaults[len(defaults)-1]
}

// PolicyFor returns the escalation policy for a consult of specialty and urgency: the roster's
// most specific match (specialty and urgency, then the specialty at any urgency, then any
// specialty at the urgency, then any at all), else the built-in default for the urgency.
func (r *Roster) PolicyFor(specialty, urgency string) Policy {
	for _, want := range [][2]string{{specialty, urgency}, {specialty, ""}, {"", urgency}, {"", ""}} {
		for _, p := range r.Policies {
			if p.Specialty == want[0] && p.Urgency == want[1] {
				p.Steps = slices.Clone(p.Steps)
				return p
			}
		}
	}
	return DefaultPolicy(urgency)
}

func validUrgency(u string) bool { return u == Emergent || u == Urgent || u == Routine }

// UrgencyRank orders urgencies: emergent 3, urgent 2, routine 1, anything else 0.
func UrgencyRank(u string) int {
	switch u {
	case Emergent:
		return 3
	case Urgent:
		return 2
	case Routine:
		return 1
	}
	return 0
}

func (r *Roster) checkPolicies() error {
	seen := map[[2]string]bool{}
	for i, p := range r.Policies {
		path := fmt.Sprintf("policies[%d]", i)
		switch {
		case p.Specialty != "" && !r.HasSpecialty(p.Specialty):
			return invalid(path+".specialty", problem.Unknown(fmt.Sprintf("unknown specialty %q", p.Specialty)))
		case p.Urgency != "" && !validUrgency(p.Urgency):
			return invalid(path+".urgency", problem.NotAllowed("must be emergent, urgent, routine or empty for any"))
		case seen[[2]string{p.Specialty, p.Urgency}]:
			return invalid(path, problem.Duplicate(fmt.Sprintf("a second policy for specialty %q and urgency %q", p.Specialty, p.Urgency)))
		case p.Repeat < 0 || p.Repeat > MaxRepeat:
			return invalid(path+".repeat", problem.Between(fmt.Sprintf("must be 0 to %d", MaxRepeat), 0, MaxRepeat))
		case len(p.Steps) == 0 || len(p.Steps) > maxSteps:
			return invalid(path+".steps", problem.Between(fmt.Sprintf("a policy has 1 to %d steps", maxSteps), 1, maxSteps))
		}
		seen[[2]string{p.Specialty, p.Urgency}] = true
		for j, s := range p.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", path, j)
			switch s.Target {
			case TargetPrimary, TargetSecondary, TargetSpecialty, TargetPerson, TargetCoordinators:
			default:
				return invalid(sp+".target", problem.NotAllowed("must be primary, secondary, specialty, person or coordinators"))
			}
			switch {
			case s.Target == TargetPerson && !r.isSpecialist(s.UserID):
				return invalid(sp+".user_id", problem.NotAllowed(fmt.Sprintf("must name a specialist (got %q)", s.UserID)))
			case s.Target != TargetPerson && s.UserID != "":
				return invalid(sp+".user_id", problem.InvalidValue("only a person step names a user"))
			case s.Wait <= 0 || time.Duration(s.Wait) > MaxWait:
				return invalid(sp+".wait", problem.InvalidValue("must be more than 0 and at most 7 days (168h)"))
			case s.Parallel && s.Target != TargetSpecialty:
				return invalid(sp+".parallel", problem.InvalidValue("only a specialty step runs in parallel"))
			}
		}
	}
	return nil
}
