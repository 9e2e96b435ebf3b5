package consult_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// TestParallelOffer follows an emergent consult offered to three specialists at once through the
// decisions routing and the specialists make: all three hold it, the first to accept wins, and
// the other two are told their offers ended and nothing after that.
func TestParallelOffer(t *testing.T) {
	t.Parallel()
	requested := fold(t, hRequested...)
	now := requested.UpdatedAt.Add(time.Minute)
	e, err := requested.OfferTo([]string{onc1, onc2, onc3}, 1, 1, now.Add(2*time.Minute), now)
	require.NoError(t, err)
	e.ID = "ev-offer"
	offered, err := consult.Apply(requested, e)
	require.NoError(t, err)

	assert.Equal(t, consult.StatusOffered, offered.Status, "got status %s, want offered", offered.Status)
	require.Len(t, offered.Offers, 3, "got %d live offers, want 3", len(offered.Offers))
	for _, o := range offered.Offers {
		assert.Equal(t, e.Position, o.Position, "got position %d for %s, want the shared %d", o.Position, o.SpecialistID, e.Position)
		assert.Equal(t, e.At, o.OfferedAt, "got offered at %v for %s, want %v", o.OfferedAt, o.SpecialistID, e.At)
		assert.Equal(t, e.ExpiresAt, o.ExpiresAt, "got expiry %v for %s, want %v", o.ExpiresAt, o.SpecialistID, e.ExpiresAt)
	}
	assert.Equal(t, []string{onc1, onc2, onc3}, offered.Holders(), "got holders %v, want all three", offered.Holders())
	require.NotNil(t, offered.Offer, "got no first offer, want onc1's")
	assert.Equal(t, onc1, offered.Offer.SpecialistID, "got first offer to %s, want %s", offered.Offer.SpecialistID, onc1)

	views := []struct {
		actor consult.Actor
		want  bool
	}{
		{spec1, true}, {spec2, true}, {spec3, true}, {spec4, false},
		{referrer, true}, {otherReferrer, false}, {coordinator, true}, {admin, false},
	}
	for _, v := range views {
		got := offered.CanView(v.actor)
		assert.Equal(t, v.want, got, "got CanView(%s) %v while offered to three, want %v", v.actor.ID, got, v.want)
	}

	acc, err := offered.Accept(spec2, now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []string{onc1, onc3}, acc.Withdrawn, "got withdrawn %v, want the two others", acc.Withdrawn)
	acc.ID = "ev-accept"
	accepted, err := consult.Apply(offered, acc)
	require.NoError(t, err)
	assert.Equal(t, consult.StatusAccepted, accepted.Status, "got status %s, want accepted", accepted.Status)
	assert.Equal(t, onc2, accepted.Assignee(), "got assignee %q, want %q", accepted.Assignee(), onc2)
	assert.Empty(t, accepted.Offers, "got offers %+v, want all ended", accepted.Offers)
	assert.Equal(t, consult.StatusOffered, offered.Status, "the state before the acceptance changed to %s", offered.Status)

	late := now.Add(90 * time.Second) // still within the offers' window
	for _, a := range []consult.Actor{spec1, spec3} {
		_, err := accepted.Accept(a, late)
		requireCode(t, err, consult.Conflict)
		_, err = accepted.Decline(a, "too late", late)
		requireCode(t, err, consult.Conflict)
		assert.False(t, accepted.CanView(a), "got %s able to view after another accepted, want not", a.ID)
	}
	_, err = accepted.Accept(spec4, late)
	requireCode(t, err, consult.Forbidden)

	msg, err := accepted.PostMessage(referrer, "m-1", "thanks", late)
	require.NoError(t, err)
	msg.ID = "ev-msg"
	next, err := consult.Apply(accepted, msg)
	require.NoError(t, err)

	sees := []struct {
		actor          consult.Actor
		accept, follow bool // receives the acceptance, receives the event after it
	}{
		{spec1, true, false},
		{spec2, true, true},
		{spec3, true, false},
		{spec4, false, false},
		{referrer, true, true},
		{coordinator, true, true},
		{admin, false, false},
	}
	for _, s := range sees {
		got := consult.Sees(s.actor, offered, accepted)
		assert.Equal(t, s.accept, got, "got Sees(%s) of the acceptance %v, want %v", s.actor.ID, got, s.accept)
		got = consult.Sees(s.actor, accepted, next)
		assert.Equal(t, s.follow, got, "got Sees(%s) of the next event %v, want %v", s.actor.ID, got, s.follow)
	}
}

// TestFoldParallelOffers folds histories of offers made to several at once and checks who holds
// one, who declined and where the consult stands.
func TestFoldParallelOffers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    []event.Event
		status   consult.Status
		holders  []string
		declined []string
		assignee string
	}{
		{"offered to three", hMulti, consult.StatusOffered, []string{onc1, onc2, onc3}, nil, ""},
		{"one declines", then(hMulti, declined(onc2)), consult.StatusOffered, []string{onc1, onc3}, []string{onc2}, ""},
		{"the first declines", then(hMulti, declined(onc1)), consult.StatusOffered, []string{onc2, onc3}, []string{onc1}, ""},
		{"two decline", then(hMulti, declined(onc2), declined(onc1)), consult.StatusOffered, []string{onc3},
			[]string{onc2, onc1}, ""},
		{"the last declines", then(hMulti, declined(onc2), declined(onc1), declined(onc3)), consult.StatusRequested,
			[]string{}, []string{onc2, onc1, onc3}, ""},
		{"one declines, another accepts", then(hMulti, declined(onc1), acceptedOver(onc3, onc2)), consult.StatusAccepted,
			[]string{}, []string{onc1}, onc3},
		{"one accepts", hMultiAccepted, consult.StatusAccepted, []string{}, nil, onc2},
		{"all expire", then(hMulti, expiredAll(onc1, onc2, onc3)), consult.StatusRequested, []string{}, nil, ""},
		{"the rest expire after a decline", then(hMulti, declined(onc3), expiredAll(onc1, onc2)), consult.StatusRequested,
			[]string{}, []string{onc3}, ""},
		{"a coordinator assigns one of them", then(hMulti, assigned(onc1)), consult.StatusAccepted, []string{}, nil, onc1},
		{"cancelled", then(hMulti, cancelled(refID)), consult.StatusCancelled, []string{}, nil, ""},
		{"escalated", then(hMulti, escalated()), consult.StatusEscalated, []string{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			assert.Equal(t, tt.status, c.Status, "got status %s, want %s", c.Status, tt.status)
			assert.Equal(t, tt.holders, c.Holders(), "got holders %v, want %v", c.Holders(), tt.holders)
			assert.Equal(t, tt.declined, c.Declined, "got declined-by %v, want %v", c.Declined, tt.declined)
			assert.Equal(t, tt.assignee, c.Assignee(), "got assignee %q, want %q", c.Assignee(), tt.assignee)
			assert.Equal(t, []string{onc1, onc2, onc3}, c.Offered, "got offered-to %v, want all three", c.Offered)
			assert.NotNil(t, c.Offers, "got nil offers, want a list (JSON [] not null)")
			if len(tt.holders) == 0 {
				assert.Nil(t, c.Offer, "got offer %+v, want none", c.Offer)
			} else if assert.NotNil(t, c.Offer, "got no offer, want %s's", tt.holders[0]) {
				assert.Equal(t, c.Offers[0], *c.Offer, "got offer %+v, want the first of offers %+v", *c.Offer, c.Offers[0])
			}
			for _, id := range []string{onc1, onc2, onc3} {
				holds := false
				for _, h := range tt.holders {
					holds = holds || h == id
				}
				o := c.OfferFor(id)
				assert.Equal(t, holds, o != nil, "got OfferFor(%s) %+v, want held %v", id, o, holds)
				canView := holds || id == tt.assignee
				got := c.CanView(consult.Actor{ID: id, Role: consult.RoleSpecialist})
				assert.Equal(t, canView, got, "got CanView(%s) %v, want %v", id, got, canView)
			}
		})
	}
}

// TestDeclineOfSeveralIsSeen checks who receives one holder's decline of a parallel offer: the
// holders (the one who declined is told its offer ended), not a stranger.
func TestDeclineOfSeveralIsSeen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before []event.Event
		after  []event.Event
		want   map[consult.Actor]bool
	}{
		{"the first decline", hMulti, then(hMulti, declined(onc2)),
			map[consult.Actor]bool{spec1: true, spec2: true, spec3: true, spec4: false}},
		{"the next event after it", then(hMulti, declined(onc2)), then(hMulti, declined(onc2), declined(onc1)),
			map[consult.Actor]bool{spec1: true, spec2: false, spec3: true, spec4: false}},
		{"the expiry of the rest", then(hMulti, declined(onc2)), then(hMulti, declined(onc2), expiredAll(onc1, onc3)),
			map[consult.Actor]bool{spec1: true, spec2: false, spec3: true, spec4: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before, after := fold(t, tt.before...), fold(t, tt.after...)
			for a, want := range tt.want {
				got := consult.Sees(a, before, after)
				assert.Equal(t, want, got, "got Sees(%s) %v, want %v", a.ID, got, want)
			}
		})
	}
}

func TestRemind(t *testing.T) {
	t.Parallel()
	remind := func(pos, n int, now func(*consult.Consult) time.Time) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Remind(pos, n, now(c)) }
	}
	// reminds checks the n-th reminder went to the unseen holders and was counted on the offers.
	reminds := func(n int, unseen ...string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.OfferReminder, e.Type, "got type %s, want offer_reminder", e.Type)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, n, e.Reminder, "got reminder %d, want %d", e.Reminder, n)
			assert.Equal(t, unseen[0], e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, unseen[0])
			var wantIDs []string
			if len(c.Offers) > 1 {
				wantIDs = unseen // with several holders the reminder names its recipients
			}
			assert.Equal(t, wantIDs, e.SpecialistIDs, "got specialist ids %v, want %v", e.SpecialistIDs, wantIDs)
			assert.Equal(t, c.Holders(), after.Holders(), "got holders %v, want %v", after.Holders(), c.Holders())
			for _, id := range unseen {
				if o := after.OfferFor(id); assert.NotNil(t, o, "got no offer for %s, want it kept", id) {
					assert.Equal(t, n, o.Reminders, "got %d reminders on %s's offer, want %d", o.Reminders, id, n)
					assert.Nil(t, o.SeenAt, "got %s's offer seen, want unseen", id)
				}
			}
			assert.Equal(t, c.Status, after.Status, "got status %s, want %s", after.Status, c.Status)
		}
	}
	oneSeen := then(hMulti, seen(onc2))
	remindedOnce := then(hMulti, reminded(1, onc1, onc2, onc3))
	runDecisions(t, []decision{
		{name: "the only holder, unseen", steps: hOffered, do: remind(2, 1, soon), check: reminds(1, onc1)},
		{name: "the only holder, second reminder", steps: then(hOffered, reminded(1, onc1)), do: remind(2, 2, soon),
			check: reminds(2, onc1)},
		{name: "several holders, none seen", steps: hMulti, do: remind(2, 1, soon), check: reminds(1, onc1, onc2, onc3)},
		{name: "several holders, one seen", steps: oneSeen, do: remind(2, 1, soon), check: reminds(1, onc1, onc3)},
		{name: "several holders, the first seen", steps: then(hMulti, seen(onc1)), do: remind(2, 1, soon), check: reminds(1, onc2, onc3)},
		{name: "several holders, two seen", steps: then(oneSeen, seen(onc3)), do: remind(2, 1, soon), check: reminds(1, onc1)},
		{name: "several holders, seen after the first reminder", steps: then(remindedOnce, seen(onc1)), do: remind(2, 2, soon),
			check: reminds(2, onc2, onc3)},
		{name: "several holders, one declined", steps: then(hMulti, declined(onc1)), do: remind(2, 1, soon), check: reminds(1, onc2, onc3)},
		{name: "several holders, just before expiry", steps: hMulti, do: remind(2, 1, justBeforeExpiry), check: reminds(1, onc1, onc2, onc3)},
		{name: "the same reminder twice", steps: remindedOnce, do: remind(2, 1, soon), want: consult.Conflict},
		{name: "a reminder skipped", steps: hMulti, do: remind(2, 2, soon), want: consult.Conflict},
		{name: "a reminder skipped after the first", steps: remindedOnce, do: remind(2, 3, soon), want: consult.Conflict},
		{name: "reminder zero", steps: hMulti, do: remind(2, 0, soon), want: consult.Conflict},
		{name: "at the expiry instant", steps: hMulti, do: remind(2, 1, atExpiry), want: consult.Conflict},
		{name: "after expiry", steps: hMulti, do: remind(2, 1, afterExpiry), want: consult.Conflict},
		{name: "all holders have seen", steps: then(oneSeen, seen(onc1), seen(onc3)), do: remind(2, 1, soon), want: consult.Conflict},
		{name: "the only holder has seen", steps: then(hOffered, seen(onc1)), do: remind(2, 1, soon), want: consult.Conflict},
		{name: "the unseen holder declined, the rest have seen", steps: then(oneSeen, seen(onc1), declined(onc3)),
			do: remind(2, 1, soon), want: consult.Conflict},
		{name: "wrong position", steps: hMulti, do: remind(3, 1, soon), want: consult.Conflict},
		{name: "an earlier offer, now replaced", steps: hReoffered, do: remind(2, 1, soon), want: consult.Conflict},
		{name: "after acceptance", steps: hMultiAccepted, do: remind(2, 1, soon), want: consult.Conflict},
		{name: "after the offers expired", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: remind(2, 1, soon),
			want: consult.Conflict},
		{name: "never offered", steps: hRequested, do: remind(2, 1, soon), want: consult.Conflict},
	})
}

func TestMarkSeen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []event.Event
		actor consult.Actor
		want  consult.Code // "" when allowed
		fresh bool         // whether there is something new to record
	}{
		{"one of several holders", hMulti, spec2, "", true},
		{"the first of several holders", hMulti, spec1, "", true},
		{"another holder after one has seen", then(hMulti, seen(onc2)), spec3, "", true},
		{"the holder who has seen already", then(hMulti, seen(onc2)), spec2, "", false},
		{"the only holder", hOffered, spec1, "", true},
		{"the only holder again", then(hOffered, seen(onc1)), spec1, "", false},
		{"a holder again after reminders", then(hMulti, seen(onc2), reminded(1, onc1, onc3)), spec2, "", false},
		{"offered again after seeing an earlier offer", then(hOffered, seen(onc1), expired(onc1), offeredTo(2, 1, onc1)),
			spec1, "", true},
		{"the assignee after seeing the offer", then(hMulti, seen(onc2), acceptedOver(onc2, onc1, onc3)), spec2, "", false},
		{"the assignee who never saw an offer", then(hMulti, assigned(onc4)), spec4, "", true},
		{"a holder who declined", then(hMulti, declined(onc2)), spec2, consult.Forbidden, false},
		{"a holder withdrawn by another's acceptance", hMultiAccepted, spec1, consult.Forbidden, false},
		{"a stranger while offered to several", hMulti, spec4, consult.Forbidden, false},
		{"a coordinator", hMulti, coordinator, consult.Forbidden, false},
		{"the referrer", hMulti, referrer, consult.Forbidden, false},
		{"a holder's id under another role", hMulti, consult.Actor{ID: onc1, Role: consult.RoleCoordinator}, consult.Forbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			twin := fold(t, tt.steps...)
			now := soon(c)
			e, ok, err := c.MarkSeen(tt.actor, now)
			assert.Equal(t, twin, c, "MarkSeen changed the state it decided on")
			if tt.want != "" {
				requireCode(t, err, tt.want)
				assert.False(t, ok, "got something to record beside the error, want not")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.fresh, ok, "got something new %v, want %v", ok, tt.fresh)
			if !tt.fresh {
				assert.Zero(t, e, "got event %+v, want none", e)
				return
			}
			assert.Equal(t, event.Seen, e.Type, "got type %s, want seen", e.Type)
			assert.Equal(t, tt.actor.ID, e.ActorID, "got actor %q, want %q", e.ActorID, tt.actor.ID)
			assert.Equal(t, c.Position()+1, e.Position, "got position %d, want %d", e.Position, c.Position()+1)
			assert.Equal(t, time.UTC, e.At.Location(), "got time in %v, want UTC", e.At.Location())
			after, err := consult.Apply(c, e)
			require.NoError(t, err)

			for _, o := range after.Offers {
				was := c.OfferFor(o.SpecialistID)
				switch {
				case o.SpecialistID == tt.actor.ID:
					if assert.NotNil(t, o.SeenAt, "got %s's offer unseen, want seen", o.SpecialistID) {
						assert.Equal(t, e.At, *o.SeenAt, "got seen at %v, want %v", *o.SeenAt, e.At)
					}
				case was.SeenAt == nil:
					assert.Nil(t, o.SeenAt, "got %s's offer seen at %v, want it unseen still", o.SpecialistID, o.SeenAt)
				default:
					assert.Equal(t, was.SeenAt, o.SeenAt, "got %s's seen at %v, want %v", o.SpecialistID, o.SeenAt, was.SeenAt)
				}
			}
			if after.Offer != nil {
				assert.Equal(t, after.Offers[0], *after.Offer, "got offer %+v, want the first of offers %+v", *after.Offer, after.Offers[0])
			}
			n := 0
			for _, r := range after.Receipts {
				if r.UserID == tt.actor.ID {
					n++
				}
			}
			assert.Equal(t, 1, n, "got %d receipts for %s, want 1", n, tt.actor.ID)
			_, again, err := after.MarkSeen(tt.actor, now.Add(time.Second))
			require.NoError(t, err)
			assert.False(t, again, "got something new to record right after, want not")
		})
	}
}

// TestFoldEscalation checks where a consult stands in its escalation policy after each kind of
// step: an offer to the same step's next candidate extends who the step has tried, a new step
// starts its own list but keeps the round's, a new round starts both over.
func TestFoldEscalation(t *testing.T) {
	t.Parallel()
	ends := func(pos int) time.Time { return at(pos).Add(offerWindow) }
	snoozeEnd := at(4).Add(time.Hour)
	tests := []struct {
		name  string
		steps []event.Event
		want  *consult.Escalation
	}{
		{"no step yet", hRequested, nil},
		{"first offer", []event.Event{requested(), offeredTo(1, 1, onc1)},
			&consult.Escalation{Round: 1, Step: 1, Target: "offer", Position: 2, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(2)}},
		{"several at once", hMulti,
			&consult.Escalation{Round: 1, Step: 1, Target: "offer", Position: 2, Tried: []string{onc1, onc2, onc3},
				RoundTried: []string{onc1, onc2, onc3}, StepEndsAt: ends(2)}},
		{"a decline keeps the step", then(hMulti, declined(onc1)),
			&consult.Escalation{Round: 1, Step: 1, Target: "offer", Position: 2, Tried: []string{onc1, onc2, onc3},
				RoundTried: []string{onc1, onc2, onc3}, StepEndsAt: ends(2)}},
		{"same step, next candidate", []event.Event{requested(), offeredTo(1, 1, onc1), declined(onc1), offeredTo(1, 1, onc2)},
			&consult.Escalation{Round: 1, Step: 1, Target: "offer", Position: 4, Tried: []string{onc1, onc2},
				RoundTried: []string{onc1, onc2}, StepEndsAt: ends(4)}},
		{"next step of the round", []event.Event{requested(), offeredTo(1, 1, onc1), declined(onc1), offeredTo(1, 1, onc2),
			expired(onc2), offeredTo(1, 2, onc3)},
			&consult.Escalation{Round: 1, Step: 2, Target: "offer", Position: 6, Tried: []string{onc3},
				RoundTried: []string{onc1, onc2, onc3}, StepEndsAt: ends(6)}},
		{"next step offers several", []event.Event{requested(), offeredTo(1, 1, onc1), expired(onc1), offeredTo(1, 2, onc2, onc3)},
			&consult.Escalation{Round: 1, Step: 2, Target: "offer", Position: 4, Tried: []string{onc2, onc3},
				RoundTried: []string{onc1, onc2, onc3}, StepEndsAt: ends(4)}},
		{"next round", []event.Event{requested(), offeredTo(1, 1, onc1), expired(onc1), offeredTo(1, 2, onc2), expired(onc2),
			offeredTo(2, 1, onc1)},
			&consult.Escalation{Round: 2, Step: 1, Target: "offer", Position: 6, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(6)}},
		{"coordinators alerted", []event.Event{requested(), offeredTo(1, 1, onc1), expired(onc1), alerted(1, 2)},
			&consult.Escalation{Round: 1, Step: 2, Target: "coordinators", Position: 4, RoundTried: []string{onc1}, StepEndsAt: ends(4)}},
		{"coordinators alerted first", []event.Event{requested(), alerted(1, 1)},
			&consult.Escalation{Round: 1, Step: 1, Target: "coordinators", Position: 2, StepEndsAt: ends(2)}},
		{"offer after the coordinators' step", []event.Event{requested(), offeredTo(1, 1, onc1), expired(onc1), alerted(1, 2),
			offeredTo(1, 3, onc2)},
			&consult.Escalation{Round: 1, Step: 3, Target: "offer", Position: 5, Tried: []string{onc2},
				RoundTried: []string{onc1, onc2}, StepEndsAt: ends(5)}},
		{"coordinators alerted in the next round", []event.Event{requested(), offeredTo(1, 1, onc1), expired(onc1), alerted(2, 1)},
			&consult.Escalation{Round: 2, Step: 1, Target: "coordinators", Position: 4, StepEndsAt: ends(4)}},
		{"escalated keeps the step", []event.Event{requested(), offeredTo(1, 2, onc1), expired(onc1), escalated()},
			&consult.Escalation{Round: 1, Step: 2, Target: "escalated", Position: 2, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(2)}},
		{"escalated without a step", []event.Event{requested(), escalated()}, &consult.Escalation{Target: "escalated"}},
		{"snoozed", []event.Event{requested(), offeredTo(1, 1, onc1), escalated(), snoozed(snoozeEnd)},
			&consult.Escalation{Round: 1, Step: 1, Target: "escalated", Position: 2, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(2), SnoozedUntil: snoozeEnd}},
		{"snoozed again", []event.Event{requested(), escalated(), snoozed(snoozeEnd), snoozed(snoozeEnd.Add(time.Hour))},
			&consult.Escalation{Target: "escalated", SnoozedUntil: snoozeEnd.Add(time.Hour)}},
		{"escalated again clears the snooze", []event.Event{requested(), offeredTo(1, 1, onc1), escalated(), snoozed(snoozeEnd),
			stamped(escalated(), snoozeEnd)},
			&consult.Escalation{Round: 1, Step: 1, Target: "escalated", Position: 2, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(2)}},
		{"urgency change starts over", then(hMulti, urgencyChanged("urgent", time.Time{}, time.Time{})), nil},
		{"specialty change starts over", then(hSnoozed, specialtyChanged("pediatric-hematology")), nil},
		{"first offer after starting over", then(hMulti, urgencyChanged("urgent", time.Time{}, time.Time{}), offeredTo(1, 1, onc1)),
			&consult.Escalation{Round: 1, Step: 1, Target: "offer", Position: 4, Tried: []string{onc1}, RoundTried: []string{onc1},
				StepEndsAt: ends(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			if tt.want == nil {
				assert.Nil(t, c.Escalation, "got escalation %+v, want none", c.Escalation)
				return
			}
			if assert.NotNil(t, c.Escalation, "got no escalation, want %+v", tt.want) {
				assert.Equal(t, *tt.want, *c.Escalation, "got escalation %+v, want %+v", *c.Escalation, *tt.want)
			}
		})
	}
}
