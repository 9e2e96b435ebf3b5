package event_test

import (
	"testing"

	"github.com/regionalconsult/broker/pkg/event"
)

// FuzzUnmarshal feeds the event decoder arbitrary stream messages: it never panics, what it
// accepts has the fields every event must have, and it encodes and decodes to itself.
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`{"id":"e1","type":"consult.requested","consult_id":"c1","position":1,"at":"2026-12-04T10:00:00Z","actor_id":"u",` +
			`"request":{"urgency":"urgent","specialty":"onc","clinic_id":"hebron","patient":{"age_years":7,"sex":"female"},"question":"q","accept_by":"2026-12-04T11:00:00Z"}}`,
		`{"id":"e2","type":"consult.offered","consult_id":"c1","position":2,"at":"2026-12-04T10:00:01Z","specialist_ids":["u-onc1"]}`,
		`{"id":"e3","type":"consult.from_the_future","consult_id":"c1","position":3}`,
		`{"id":"e4","type":"consult.accepted","consult_id":"c1","position":0}`,
		`{"type":"consult.requested"}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.Unmarshal(data)
		if err != nil {
			return
		}
		if e.Type == "" || e.ID == "" || e.ConsultID == "" || e.Position < 1 || (e.Type == event.Requested && e.Request == nil) {
			t.Fatalf("accepted an event without its required fields: %+v", e)
		}
		again, err := event.Marshal(e)
		if err != nil {
			t.Fatalf("an accepted event does not encode: %v", err)
		}
		back, err := event.Unmarshal(again)
		if err != nil {
			t.Fatalf("an accepted event does not decode after encoding: %v", err)
		}
		if back.ID != e.ID || back.Type != e.Type || back.Position != e.Position || back.ConsultID != e.ConsultID {
			t.Fatalf("got %+v after a round trip, want %+v", back, e)
		}
	})
}
