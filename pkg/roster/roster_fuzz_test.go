package roster_test

import (
	"testing"

	"github.com/regionalconsult/broker/pkg/roster"
)

// FuzzParse feeds roster documents, JSON or YAML, to Parse: it never panics, and a document it
// accepts encodes to one it accepts again.
func FuzzParse(f *testing.F) {
	f.Add(roster.DemoJSON())
	for _, seed := range []string{`{}`, `users: []`, `{"users":[{"id":"u","username":"u","role":"coordinator"}]}`,
		"specialties:\n  - slug: onc\n    form: [{key: anc, type: number, min: 0, max: 100}]\n", `{"schedules":[{"specialty":"x"}]}`, `[`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := roster.Parse(data)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("an accepted roster does not encode: %v", err)
		}
		if _, err := roster.Parse(again); err != nil {
			t.Fatalf("an accepted roster is refused after encoding: %v\n%s", err, again)
		}
	})
}
