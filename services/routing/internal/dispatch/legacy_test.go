package dispatch_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// TestOfferStoredBeforeEscalationSteps routes a consult whose offer was stored by a release
// that did not record rounds and steps: once that offer expires, the policy goes on from its
// first step, without offering the same specialist twice in a row, and without failing.
func TestOfferStoredBeforeEscalationSteps(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	t0 := time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)
	age := 6
	req, err := consult.Submit(consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
		consult.Draft{Urgency: "urgent", Specialty: "pediatric-oncology", Patient: &consult.DraftPatient{AgeYears: &age, Sex: "female"}, Question: "q"},
		"01J00000000000000000000000", "", consult.Policy{KnownSpecialty: r.HasSpecialty}, t0)
	require.NoError(t, err)
	old := event.Event{ID: "e2", Type: event.Offered, ConsultID: req.ConsultID, Position: 2, At: t0, ActorID: "routing",
		SpecialistID: "u-onc1", ExpiresAt: t0.Add(15 * time.Minute)} // no round, no step
	req.ID = "e1"
	c, err := consult.Fold([]event.Event{req, old})
	require.NoError(t, err)
	exp, err := c.ExpireOffer(2, t0.Add(15*time.Minute))
	require.NoError(t, err)
	exp.ID = "e3"
	c, err = consult.Apply(c, exp)
	require.NoError(t, err)

	e, ok, err := dispatch.Next(c, r, dispatch.Facts{}, dispatch.DefaultSettings(), t0.Add(15*time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "got no decision, want the next offer")
	assert.Equal(t, event.Offered, e.Type)
	assert.Equal(t, "u-onc2", e.SpecialistID, "got %s, want the secondary after the primary's old offer", e.SpecialistID)
	assert.Equal(t, 1, e.Round)
	assert.Equal(t, 2, e.Step)
}
