package consult_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// The coordinators' corrections: a new urgency or specialty starts routing over, a snooze mutes
// an escalation's alarm for a while.

func TestChangeUrgency(t *testing.T) {
	t.Parallel()
	// The new deadlines, in another zone: the event carries them in UTC.
	acceptBy, recommendBy := t0.Add(2*time.Hour).In(idt), t0.Add(24*time.Hour).In(idt)
	change := func(a consult.Actor, urgency string) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) {
			return c.ChangeUrgency(a, urgency, "triaged again", acceptBy, recommendBy, soon(c))
		}
	}
	// changes checks the event and that routing starts over: offers withdrawn, no escalation, the
	// consult back to requested unless someone owns it.
	changes := func(urgency string, status consult.Status) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.UrgencyChanged, e.Type, "got type %s, want urgency_changed", e.Type)
			assert.Equal(t, coordID, e.ActorID, "got actor %q, want %q", e.ActorID, coordID)
			assert.Equal(t, urgency, e.Urgency, "got urgency %q, want %q", e.Urgency, urgency)
			assert.Equal(t, "triaged again", e.Reason, "got reason %q, want %q", e.Reason, "triaged again")
			assert.Equal(t, c.Holders(), e.Withdrawn, "got withdrawn %v, want the holders %v", e.Withdrawn, c.Holders())
			assert.True(t, acceptBy.Equal(e.AcceptBy), "got accept_by %v, want %v", e.AcceptBy, acceptBy)
			assert.True(t, recommendBy.Equal(e.RecommendBy), "got recommend_by %v, want %v", e.RecommendBy, recommendBy)
			assert.Equal(t, time.UTC, e.AcceptBy.Location(), "got accept_by in %v, want UTC", e.AcceptBy.Location())
			assert.Equal(t, time.UTC, e.RecommendBy.Location(), "got recommend_by in %v, want UTC", e.RecommendBy.Location())

			assert.Equal(t, urgency, after.Urgency, "got urgency %q, want %q", after.Urgency, urgency)
			assert.Equal(t, status, after.Status, "got status %s, want %s", after.Status, status)
			assert.Equal(t, e.AcceptBy, after.SLA.AcceptBy, "got accept_by %v, want %v", after.SLA.AcceptBy, e.AcceptBy)
			assert.Equal(t, e.RecommendBy, after.SLA.RecommendBy, "got recommend_by %v, want %v", after.SLA.RecommendBy, e.RecommendBy)
			assert.Equal(t, c.SLA.Recorded, after.SLA.Recorded, "got recorded breaches %v, want %v kept: a breach stays on the record", after.SLA.Recorded, c.SLA.Recorded)
			assert.Empty(t, after.Offers, "got offers %+v, want all withdrawn", after.Offers)
			assert.Nil(t, after.Offer, "got offer %+v, want none", after.Offer)
			assert.Nil(t, after.Escalation, "got escalation %+v, want routing to start over", after.Escalation)
			assert.Equal(t, c.Assignee(), after.Assignee(), "got assignee %q, want %q kept", after.Assignee(), c.Assignee())
			assert.Equal(t, c.AcceptedAt, after.AcceptedAt, "got accepted_at %v, want %v kept", after.AcceptedAt, c.AcceptedAt)
			assert.Equal(t, c.Specialty, after.Specialty, "got specialty %q, want %q kept", after.Specialty, c.Specialty)
			assert.Equal(t, status == consult.StatusRequested, after.Routable(), "got Routable() %v in status %s", after.Routable(), status)
		}
	}
	bad := map[string]string{"urgency": "must be one of emergent, urgent, routine"}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: change(coordinator, "urgent"), check: changes("urgent", consult.StatusRequested)},
		{name: "to routine", steps: hRequested, do: change(coordinator, "routine"), check: changes("routine", consult.StatusRequested)},
		{name: "while offered", steps: hOffered, do: change(coordinator, "urgent"), check: changes("urgent", consult.StatusRequested)},
		{name: "while offered to several", steps: hMulti, do: change(coordinator, "urgent"), check: changes("urgent", consult.StatusRequested)},
		{name: "while one of several still holds", steps: then(hMulti, declined(onc1), declined(onc3)), do: change(coordinator, "routine"),
			check: changes("routine", consult.StatusRequested)},
		{name: "while the coordinators are alerted", steps: then(hExpired, alerted(1, 2)), do: change(coordinator, "urgent"),
			check: changes("urgent", consult.StatusRequested)},
		{name: "while escalated", steps: hEscalated, do: change(coordinator, "urgent"), check: changes("urgent", consult.StatusRequested)},
		{name: "while escalated and snoozed", steps: hSnoozed, do: change(coordinator, "routine"),
			check: changes("routine", consult.StatusRequested)},
		{name: "while accepted", steps: hAccepted, do: change(coordinator, "urgent"), check: changes("urgent", consult.StatusAccepted)},
		{name: "while accepted from several", steps: hMultiAccepted, do: change(coordinator, "urgent"),
			check: changes("urgent", consult.StatusAccepted)},
		{name: "while waiting on the referrer", steps: hInfo, do: change(coordinator, "routine"),
			check: changes("routine", consult.StatusInfoRequested)},
		{name: "after a breach was recorded", steps: then(hRequested, stamped(breached(consult.ClockAccept), t0.Add(time.Hour))),
			do: change(coordinator, "routine"), check: changes("routine", consult.StatusRequested)},
		{name: "back after an earlier change", steps: then(hRequested, urgencyChanged("urgent", time.Time{}, time.Time{})),
			do: change(coordinator, "emergent"), check: changes("emergent", consult.StatusRequested)},
		{name: "unknown urgency", steps: hOffered, do: change(coordinator, "critical"), want: consult.Invalid, fields: bad},
		{name: "urgency in capitals", steps: hOffered, do: change(coordinator, "Urgent"), want: consult.Invalid, fields: bad},
		{name: "no urgency", steps: hOffered, do: change(coordinator, ""), want: consult.Invalid, fields: bad},
		{name: "the same urgency", steps: hOffered, do: change(coordinator, "emergent"), want: consult.Conflict},
		{name: "the same urgency after a change", steps: then(hRequested, urgencyChanged("urgent", time.Time{}, time.Time{})),
			do: change(coordinator, "urgent"), want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: change(coordinator, "urgent"), want: consult.Conflict},
		{name: "after cancellation", steps: hCancelled, do: change(coordinator, "urgent"), want: consult.Conflict},
		{name: "unknown urgency after cancellation", steps: hCancelled, do: change(coordinator, "critical"), want: consult.Conflict},
		{name: "referrer", steps: hOffered, do: change(referrer, "urgent"), want: consult.Forbidden},
		{name: "specialist holding the offer", steps: hOffered, do: change(spec1, "urgent"), want: consult.Forbidden},
		{name: "assignee", steps: hAccepted, do: change(spec1, "routine"), want: consult.Forbidden},
		{name: "admin", steps: hEscalated, do: change(admin, "urgent"), want: consult.Forbidden},
		{name: "referrer with an unknown urgency", steps: hOffered, do: change(referrer, "critical"), want: consult.Forbidden},
	})
}

func TestChangeSpecialty(t *testing.T) {
	t.Parallel()
	const hematology = "pediatric-hematology"
	change := func(a consult.Actor, slug string) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) {
			return c.ChangeSpecialty(a, slug, "wrong service", soon(c))
		}
	}
	// changes checks the event and that routing starts over: offers withdrawn, no escalation, an
	// owner from the old specialty gone, the consult back to requested.
	changes := func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
		assert.Equal(t, event.SpecialtyChanged, e.Type, "got type %s, want specialty_changed", e.Type)
		assert.Equal(t, coordID, e.ActorID, "got actor %q, want %q", e.ActorID, coordID)
		assert.Equal(t, hematology, e.Specialty, "got specialty %q, want %q", e.Specialty, hematology)
		assert.Equal(t, "wrong service", e.Reason, "got reason %q, want %q", e.Reason, "wrong service")
		assert.Equal(t, c.Holders(), e.Withdrawn, "got withdrawn %v, want the holders %v", e.Withdrawn, c.Holders())

		assert.Equal(t, hematology, after.Specialty, "got specialty %q, want %q", after.Specialty, hematology)
		assert.Equal(t, consult.StatusRequested, after.Status, "got status %s, want requested", after.Status)
		assert.True(t, after.Routable(), "got not routable, want routing to start over")
		assert.Nil(t, after.AssigneeID, "got assignee %v, want none", after.AssigneeID)
		assert.Zero(t, after.AcceptedAt, "got accepted_at %v, want none until someone of the new specialty accepts", after.AcceptedAt)
		assert.Empty(t, after.Declined, "got declined_by %v, want the old specialty's declines forgotten", after.Declined)
		assert.Empty(t, after.Offers, "got offers %+v, want all withdrawn", after.Offers)
		assert.Nil(t, after.Escalation, "got escalation %+v, want routing to start over", after.Escalation)
		assert.Equal(t, c.Urgency, after.Urgency, "got urgency %q, want %q kept", after.Urgency, c.Urgency)
		assert.Equal(t, c.SLA.AcceptBy, after.SLA.AcceptBy, "got accept_by %v, want %v kept", after.SLA.AcceptBy, c.SLA.AcceptBy)
		// Whoever held or owned it is told it left them, and nothing after.
		for _, id := range append(c.Holders(), c.Assignee()) {
			if id == "" {
				continue
			}
			a := consult.Actor{ID: id, Role: consult.RoleSpecialist}
			assert.True(t, consult.Sees(a, c, after), "got %s not told of the change, want told", id)
			assert.False(t, after.CanView(a), "got %s still able to view, want not", id)
		}
	}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: change(coordinator, hematology), check: changes},
		{name: "while offered", steps: hOffered, do: change(coordinator, hematology), check: changes},
		{name: "while offered to several", steps: hMulti, do: change(coordinator, hematology), check: changes},
		{name: "while escalated", steps: hEscalated, do: change(coordinator, hematology), check: changes},
		{name: "while escalated and snoozed", steps: hSnoozed, do: change(coordinator, hematology), check: changes},
		{name: "while accepted", steps: hAccepted, do: change(coordinator, hematology), check: changes},
		{name: "while accepted from several", steps: hMultiAccepted, do: change(coordinator, hematology), check: changes},
		{name: "while reassigned", steps: hReassigned, do: change(coordinator, hematology), check: changes},
		{name: "while waiting on the referrer", steps: hInfo, do: change(coordinator, hematology), check: changes},
		{name: "the same specialty", steps: hOffered, do: change(coordinator, "pediatric-oncology"), want: consult.Conflict},
		{name: "the same specialty after a change", steps: then(hRequested, specialtyChanged(hematology)),
			do: change(coordinator, hematology), want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: change(coordinator, hematology), want: consult.Conflict},
		{name: "after cancellation", steps: hCancelledAc, do: change(coordinator, hematology), want: consult.Conflict},
		{name: "referrer", steps: hRequested, do: change(referrer, hematology), want: consult.Forbidden},
		{name: "assignee", steps: hAccepted, do: change(spec1, hematology), want: consult.Forbidden},
		{name: "specialist holding the offer", steps: hMulti, do: change(spec2, hematology), want: consult.Forbidden},
		{name: "admin", steps: hEscalated, do: change(admin, hematology), want: consult.Forbidden},
	})
}

func TestSnooze(t *testing.T) {
	t.Parallel()
	snooze := func(a consult.Actor, d time.Duration) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) {
			now := soon(c)
			return c.Snooze(a, now.Add(d), "calling the ward", now)
		}
	}
	snoozes := func(d time.Duration) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			until := soon(c).Add(d)
			assert.Equal(t, event.Snoozed, e.Type, "got type %s, want snoozed", e.Type)
			assert.Equal(t, coordID, e.ActorID, "got actor %q, want %q", e.ActorID, coordID)
			assert.Equal(t, "calling the ward", e.Reason, "got reason %q, want %q", e.Reason, "calling the ward")
			assert.True(t, until.Equal(e.Until), "got until %v, want %v", e.Until, until)
			assert.Equal(t, time.UTC, e.Until.Location(), "got until in %v, want UTC", e.Until.Location())
			assert.Equal(t, consult.StatusEscalated, after.Status, "got status %s, want escalated", after.Status)
			if assert.NotNil(t, after.Escalation, "got no escalation, want one") {
				assert.Equal(t, e.Until, after.Escalation.SnoozedUntil, "got snoozed until %v, want %v", after.Escalation.SnoozedUntil, e.Until)
			}
			_, err := after.Escalate("again", e.Until.Add(-time.Nanosecond))
			requireCode(t, err, consult.Conflict)
			_, err = after.Escalate("again", e.Until)
			assert.NoError(t, err, "got %v when the snooze ended, want the alarm to sound again", err)
		}
	}
	bad := map[string]string{"minutes": "must be between 1 and 1440"}
	runDecisions(t, []decision{
		{name: "escalated, for 30 minutes", steps: hEscalated, do: snooze(coordinator, 30*time.Minute), check: snoozes(30 * time.Minute)},
		{name: "escalated, for a minute", steps: hEscalated, do: snooze(coordinator, time.Minute), check: snoozes(time.Minute)},
		{name: "escalated, for a day", steps: hEscalated, do: snooze(coordinator, consult.MaxSnooze), check: snoozes(consult.MaxSnooze)},
		{name: "escalated, for a nanosecond", steps: hEscalated, do: snooze(coordinator, time.Nanosecond), check: snoozes(time.Nanosecond)},
		{name: "snoozed already, for longer", steps: hSnoozed, do: snooze(coordinator, 2*time.Hour), check: snoozes(2 * time.Hour)},
		{name: "escalated without a step", steps: then(hRequested, escalated()), do: snooze(coordinator, time.Hour), check: snoozes(time.Hour)},
		{name: "for over a day", steps: hEscalated, do: snooze(coordinator, consult.MaxSnooze+time.Nanosecond), want: consult.Invalid,
			fields: bad},
		{name: "until now", steps: hEscalated, do: snooze(coordinator, 0), want: consult.Invalid, fields: bad},
		{name: "until the past", steps: hEscalated, do: snooze(coordinator, -time.Minute), want: consult.Invalid, fields: bad},
		{name: "while requested", steps: hRequested, do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "while the coordinators are alerted", steps: then(hExpired, alerted(1, 2)), do: snooze(coordinator, time.Hour),
			want: consult.Conflict},
		{name: "while offered", steps: hOffered, do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "while offered to several", steps: hMulti, do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "while accepted", steps: hAccepted, do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "assigned after escalation", steps: then(hEscalated, assigned(onc3)), do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: snooze(coordinator, time.Hour), want: consult.Conflict},
		{name: "cancelled after escalation", steps: then(hEscalated, cancelled(coordID)), do: snooze(coordinator, time.Hour),
			want: consult.Conflict},
		{name: "while requested, for over a day", steps: hRequested, do: snooze(coordinator, 48*time.Hour), want: consult.Conflict},
		{name: "referrer", steps: hEscalated, do: snooze(referrer, time.Hour), want: consult.Forbidden},
		{name: "specialist", steps: hEscalated, do: snooze(spec1, time.Hour), want: consult.Forbidden},
		{name: "admin", steps: hEscalated, do: snooze(admin, time.Hour), want: consult.Forbidden},
		{name: "referrer while requested", steps: hRequested, do: snooze(referrer, time.Hour), want: consult.Forbidden},
	})
}
