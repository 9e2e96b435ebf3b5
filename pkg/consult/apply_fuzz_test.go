package consult_test

import (
	"testing"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// FuzzApply folds arbitrary decoded events onto a requested consult: Apply never panics, an
// event it refuses leaves the state as it was, and one it accepts moves the consult one position
// on, and the access rule holds whatever the events say.
func FuzzApply(f *testing.F) {
	req := `{"id":"e1","type":"consult.requested","consult_id":"c1","position":1,"at":"2026-12-04T10:00:00Z","actor_id":"u-ref",` +
		`"request":{"urgency":"urgent","specialty":"onc","clinic_id":"hebron","patient":{"age_years":7,"sex":"female"},"question":"q",` +
		`"accept_by":"2026-12-04T11:00:00Z"}}`
	for _, seed := range [][2]string{
		{req, `{"id":"e2","type":"consult.offered","consult_id":"c1","position":2,"at":"2026-12-04T10:00:01Z","specialist_ids":["u-onc1"],"expires_at":"2026-12-04T10:05:00Z"}`},
		{req, `{"id":"e2","type":"consult.accepted","consult_id":"c1","position":2,"actor_id":"u-onc1"}`},
		{req, `{"id":"e2","type":"consult.accepted","consult_id":"c1","position":7}`},
		{req, `{"id":"e2","type":"consult.cancelled","consult_id":"c2","position":2}`},
		{req, `{"id":"e2","type":"consult.message_posted","consult_id":"c1","position":2,"body":"x"}`},
		{req, `{"id":"e2","type":"consult.unknown_kind","consult_id":"c1","position":2}`},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, first, next []byte) {
		e1, err := event.Unmarshal(first)
		if err != nil {
			return
		}
		c, err := consult.Apply(nil, e1)
		if err != nil {
			return
		}
		if c == nil || c.Position() != e1.Position {
			t.Fatalf("got state %+v after %+v, want a consult at position %d", c, e1, e1.Position)
		}
		e2, err := event.Unmarshal(next)
		if err != nil {
			return
		}
		before := c.Position()
		after, err := consult.Apply(c, e2)
		if err != nil {
			if c.Position() != before {
				t.Fatalf("a refused event moved the consult from %d to %d", before, c.Position())
			}
			return
		}
		if after.Position() != before+1 {
			t.Fatalf("got position %d after applying %+v at %d, want %d", after.Position(), e2, before, before+1)
		}
		// Whatever the events say, the access rule holds: coordinators see every consult, a
		// referrer of another clinic none.
		if !after.CanView(consult.Actor{ID: "u-coord", Role: consult.RoleCoordinator}) {
			t.Fatalf("a coordinator may not see %+v", after)
		}
		if after.CanView(consult.Actor{ID: "u-other", Role: consult.RoleReferrer, ClinicID: "elsewhere"}) && after.ClinicID != "elsewhere" {
			t.Fatalf("a referrer of another clinic may see %+v", after)
		}
	})
}
