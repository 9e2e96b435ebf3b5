package roster

import (
	"fmt"
	"github.com/regionalconsult/broker/pkg/problem"
	"maps"
	"slices"
)

// Operators a red-flag condition compares with.
const (
	OpEq = "eq"
	OpNe = "ne"
	OpLt = "lt"
	OpLe = "le"
	OpGt = "gt"
	OpGe = "ge"
)

// RedFlagRule raises a consult of Specialty to Urgency when all its When conditions hold on the
// referrer's answers, saying why in English, Arabic and Hebrew.
type RedFlagRule struct {
	ID        string            `json:"id"`
	Specialty string            `json:"specialty"`
	When      []Condition       `json:"when"`
	Urgency   string            `json:"urgency"`
	Reason    map[string]string `json:"reason"`
}

// Condition compares the answer to the form field Field with Value: eq and ne compare JSON
// values, lt, le, gt and ge numbers only. A missing answer fails every condition, and a
// non-numeric one fails lt, le, gt and ge.
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value"`
}

// RedFlag is a rule that fired, and why.
type RedFlag struct {
	ID     string            `json:"id"`
	Reason map[string]string `json:"reason"`
}

// Triage applies the red-flag rules of specialty to a consult's answers (as CheckDetails cleans
// them). raised is the most urgent of urgency and the urgencies of the rules that fired, so never
// lower than urgency; reasons lists the fired rules in roster order.
func (r *Roster) Triage(specialty, urgency string, details map[string]any) (raised string, reasons []RedFlag) {
	raised = urgency
	for _, rule := range r.RedFlags {
		if rule.Specialty != specialty || !rule.holds(details) {
			continue
		}
		reasons = append(reasons, RedFlag{ID: rule.ID, Reason: maps.Clone(rule.Reason)})
		if UrgencyRank(rule.Urgency) > UrgencyRank(raised) {
			raised = rule.Urgency
		}
	}
	return raised, reasons
}

func (rule RedFlagRule) holds(details map[string]any) bool {
	for _, c := range rule.When {
		if !c.holds(details) {
			return false
		}
	}
	return len(rule.When) > 0
}

func (c Condition) holds(details map[string]any) bool {
	v, ok := details[c.Field]
	switch c.Op {
	case OpEq:
		return ok && equal(v, c.Value)
	case OpNe:
		return ok && !equal(v, c.Value)
	}
	got, ok1 := number(v)
	want, ok2 := number(c.Value)
	if !ok || !ok1 || !ok2 {
		return false
	}
	switch c.Op {
	case OpLt:
		return got < want
	case OpLe:
		return got <= want
	case OpGt:
		return got > want
	case OpGe:
		return got >= want
	}
	return false
}

// equal compares two JSON scalars; numbers by value whatever Go type carries them.
func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func (r *Roster) checkRedFlags() error {
	ids := map[string]bool{}
	for i, rule := range r.RedFlags {
		path := fmt.Sprintf("red_flags[%d]", i)
		switch {
		case rule.ID == "" || len(rule.ID) > 64:
			return invalid(path+".id", problem.InvalidValue("required, at most 64 characters"))
		case ids[rule.ID]:
			return invalid(path+".id", problem.Duplicate(fmt.Sprintf("duplicate red flag %s", rule.ID)))
		case !r.HasSpecialty(rule.Specialty):
			return invalid(path+".specialty", problem.Unknown(fmt.Sprintf("unknown specialty %q", rule.Specialty)))
		case rule.Urgency != Emergent && rule.Urgency != Urgent:
			return invalid(path+".urgency", problem.NotAllowed("must be emergent or urgent"))
		case rule.Reason["en"] == "":
			return invalid(path+".reason.en", problem.Required())
		case len(rule.When) == 0 || len(rule.When) > 10:
			return invalid(path+".when", problem.Between("a rule has 1 to 10 conditions", 1, 10))
		}
		ids[rule.ID] = true
		form := r.bySlug[rule.Specialty].Form
		for j, c := range rule.When {
			cp := fmt.Sprintf("%s.when[%d]", path, j)
			k := slices.IndexFunc(form, func(f Field) bool { return f.Key == c.Field })
			if k < 0 {
				return invalid(cp+".field", problem.InvalidValue(fmt.Sprintf("%s has no form field %q", rule.Specialty, c.Field)))
			}
			if err := checkCondition(cp, form[k], c); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCondition checks that c compares f's answers with a value of their kind.
func checkCondition(path string, f Field, c Condition) error {
	_, isNumber := number(c.Value)
	switch c.Op {
	case OpLt, OpLe, OpGt, OpGe:
		if f.Type != FieldNumber {
			return invalid(path+".op", problem.InvalidValue(fmt.Sprintf("%s compares numbers only; %s is a %s field", c.Op, f.Key, f.Type)))
		}
		if !isNumber {
			return invalid(path+".value", problem.NotANumber("must be a number"))
		}
		return nil
	case OpEq, OpNe:
	default:
		return invalid(path+".op", problem.NotAllowed("must be eq, ne, lt, le, gt or ge"))
	}
	switch f.Type {
	case FieldNumber:
		if !isNumber {
			return invalid(path+".value", problem.NotANumber("must be a number"))
		}
	case FieldBoolean:
		if _, ok := c.Value.(bool); !ok {
			return invalid(path+".value", problem.Malformed("must be true or false"))
		}
	default:
		s, ok := c.Value.(string)
		if !ok {
			return invalid(path+".value", problem.Malformed("must be a string"))
		}
		if f.Type == FieldSelect && !slices.ContainsFunc(f.Options, func(o Option) bool { return o.Value == s }) {
			return invalid(path+".value", problem.NotAllowed(fmt.Sprintf("must be one of %s's options", f.Key)))
		}
	}
	return nil
}

// Reasons returns why each flag fired, by language, with the rule's id standing in for an
// English reason the rule does not give.
func Reasons(flags []RedFlag) []map[string]string {
	out := make([]map[string]string, len(flags))
	for i, f := range flags {
		out[i] = maps.Clone(f.Reason)
		if out[i] == nil {
			out[i] = map[string]string{}
		}
		if out[i]["en"] == "" {
			out[i]["en"] = f.ID
		}
	}
	return out
}
