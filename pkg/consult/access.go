package consult

import "slices"

// Roles of the people who use the broker.
const (
	RoleReferrer    = "referrer"
	RoleSpecialist  = "specialist"
	RoleCoordinator = "coordinator"
	RoleAdmin       = "admin"
)

// Actor is who asks: enough of a user to decide what they may see and do.
type Actor struct {
	ID       string
	Role     string
	ClinicID string
}

// CanView reports whether a may see c: a referrer the consults of its clinic, a specialist the
// consults offered to it now or owned by it, a coordinator all. Administrators manage the roster
// and see no clinical records.
func (c *Consult) CanView(a Actor) bool {
	switch a.Role {
	case RoleCoordinator:
		return true
	case RoleReferrer:
		return a.ClinicID != "" && c.ClinicID == a.ClinicID
	case RoleSpecialist:
		return c.Assignee() == a.ID || c.OfferFor(a.ID) != nil
	}
	return false
}

// Sees reports whether a receives the event that moved a consult from before to after: everyone
// who could see the consult on either side of it. So a specialist is told when its offer ends and
// a reassigned specialist when the consult leaves it. before is nil for the first event.
func Sees(a Actor, before, after *Consult) bool {
	return (before != nil && before.CanView(a)) || after.CanView(a)
}

// wasOffered reports whether the consult was ever offered to the specialist id.
func (c *Consult) wasOffered(id string) bool { return slices.Contains(c.Offered, id) }
