package consult_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

func TestFoldRequestOpensConsult(t *testing.T) {
	t.Parallel()
	c := fold(t, hRequested...)

	r := requested().Request
	assert.Equal(t, cid, c.ID, "got id %q, want %q", c.ID, cid)
	assert.Equal(t, consult.StatusRequested, c.Status, "got status %s, want requested", c.Status)
	assert.Equal(t, r.Urgency, c.Urgency, "got urgency %q, want %q", c.Urgency, r.Urgency)
	assert.Equal(t, r.Specialty, c.Specialty, "got specialty %q, want %q", c.Specialty, r.Specialty)
	assert.Equal(t, r.ClinicID, c.ClinicID, "got clinic %q, want %q", c.ClinicID, r.ClinicID)
	assert.Equal(t, refID, c.ReferrerID, "got referrer %q, want the requesting actor %q", c.ReferrerID, refID)
	assert.Nil(t, c.AssigneeID, "got assignee %v, want none", c.AssigneeID)
	assert.Equal(t, "", c.Assignee(), "got Assignee() %q, want empty", c.Assignee())
	assert.Equal(t, r.Patient, c.Patient, "got patient %+v, want %+v", c.Patient, r.Patient)
	assert.Equal(t, r.Question, c.Question, "got question %q, want %q", c.Question, r.Question)
	assert.Equal(t, r.Summary, c.Summary, "got summary %q, want %q", c.Summary, r.Summary)
	assert.Equal(t, r.Language, c.Language, "got language %q, want %q", c.Language, r.Language)
	assert.Equal(t, r.IdempotencyKey, c.IdempotencyKey, "got key %q, want %q", c.IdempotencyKey, r.IdempotencyKey)
	assert.Equal(t, at(1), c.CreatedAt, "got created_at %v, want %v", c.CreatedAt, at(1))
	assert.Equal(t, at(1), c.UpdatedAt, "got updated_at %v, want %v", c.UpdatedAt, at(1))
	assert.Equal(t, r.AcceptBy, c.SLA.AcceptBy, "got accept_by %v, want %v", c.SLA.AcceptBy, r.AcceptBy)
	assert.NotNil(t, c.Messages, "got nil messages, want an empty list (JSON [] not null)")
	assert.Empty(t, c.Messages, "got %d messages, want none", len(c.Messages))
	assert.Nil(t, c.Offer, "got offer %+v, want none", c.Offer)
	assert.Equal(t, 1, c.Position(), "got position %d, want 1", c.Position())
	assert.Equal(t, uint64(101), c.LastStreamSeq, "got last stream seq %d, want 101", c.LastStreamSeq)
	require.Len(t, c.Events, 1, "got %d timeline entries, want 1", len(c.Events))
	assert.Equal(t, consult.EventRef{ID: "ev-01", Seq: 1, Type: event.Requested, At: at(1), ActorID: refID}, c.Events[0],
		"got timeline entry %+v, want the request", c.Events[0])
}

// TestFoldTransitions folds one history per event type and status transition and checks where
// the consult stands after it.
func TestFoldTransitions(t *testing.T) {
	t.Parallel()
	type want struct {
		status   consult.Status
		assignee string
		offerTo  string // "" for no live offer
		offered  []string
		messages []consult.Message
		rec      *string
		accepted time.Time
		closed   time.Time
	}
	tests := []struct {
		name  string
		steps []event.Event
		want  want
	}{
		{"requested", hRequested, want{status: consult.StatusRequested}},
		{"offered", hOffered, want{status: consult.StatusOffered, offerTo: onc1, offered: []string{onc1}}},
		{"offer expired returns to requested", hExpired,
			want{status: consult.StatusRequested, offered: []string{onc1}}},
		{"declined returns to requested", hDeclined,
			want{status: consult.StatusRequested, offered: []string{onc1}}},
		{"offered again after decline", hReoffered,
			want{status: consult.StatusOffered, offerTo: onc2, offered: []string{onc1, onc2}}},
		{"accepted", hAccepted,
			want{status: consult.StatusAccepted, assignee: onc1, offered: []string{onc1}, accepted: at(3)}},
		{"assigned from requested", then(hRequested, assigned(onc3)),
			want{status: consult.StatusAccepted, assignee: onc3, accepted: at(2)}},
		{"assigned while offered withdraws the offer", then(hOffered, assigned(onc3)),
			want{status: consult.StatusAccepted, assignee: onc3, offered: []string{onc1}, accepted: at(3)}},
		{"assigned after escalation", then(hEscalated, assigned(onc3)),
			want{status: consult.StatusAccepted, assignee: onc3, offered: []string{onc1, onc2}, accepted: at(7)}},
		{"reassigned keeps the first acceptance time", hReassigned,
			want{status: consult.StatusAccepted, assignee: onc2, offered: []string{onc1}, accepted: at(3)}},
		{"message while accepted", then(hAccepted, message(refID, "hello")),
			want{status: consult.StatusAccepted, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				messages: []consult.Message{{ID: "m-hello", AuthorID: refID, Body: "hello", At: at(4), Kind: consult.KindMessage}}}},
		{"message while requested", then(hRequested, message(coordID, "any news?")),
			want{status: consult.StatusRequested,
				messages: []consult.Message{{ID: "m-any news?", AuthorID: coordID, Body: "any news?", At: at(2), Kind: consult.KindMessage}}}},
		{"info requested", hInfo,
			want{status: consult.StatusInfoRequested, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				messages: []consult.Message{{ID: "m-weight?", AuthorID: onc1, Body: "weight?", At: at(4), Kind: consult.KindInfoRequest}}}},
		{"referrer's answer returns to accepted", then(hInfo, message(refID, "23 kg")),
			want{status: consult.StatusAccepted, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				messages: []consult.Message{
					{ID: "m-weight?", AuthorID: onc1, Body: "weight?", At: at(4), Kind: consult.KindInfoRequest},
					{ID: "m-23 kg", AuthorID: refID, Body: "23 kg", At: at(5), Kind: consult.KindMessage},
				}}},
		{"assignee's own message keeps waiting on the referrer", then(hInfo, message(onc1, "and height?")),
			want{status: consult.StatusInfoRequested, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				messages: []consult.Message{
					{ID: "m-weight?", AuthorID: onc1, Body: "weight?", At: at(4), Kind: consult.KindInfoRequest},
					{ID: "m-and height?", AuthorID: onc1, Body: "and height?", At: at(5), Kind: consult.KindMessage},
				}}},
		{"coordinator's note keeps waiting on the referrer", then(hInfo, message("u-coord1", "paging the clinic")),
			want{status: consult.StatusInfoRequested, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				messages: []consult.Message{
					{ID: "m-weight?", AuthorID: onc1, Body: "weight?", At: at(4), Kind: consult.KindInfoRequest},
					{ID: "m-paging the clinic", AuthorID: "u-coord1", Body: "paging the clinic", At: at(5), Kind: consult.KindMessage},
				}}},
		{"completed", hCompleted,
			want{status: consult.StatusCompleted, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				rec: ptr("start protocol B"), closed: at(4)}},
		{"completed from info requested", then(hInfo, completed(onc1)),
			want{status: consult.StatusCompleted, assignee: onc1, offered: []string{onc1}, accepted: at(3),
				rec: ptr("start protocol B"), closed: at(5),
				messages: []consult.Message{{ID: "m-weight?", AuthorID: onc1, Body: "weight?", At: at(4), Kind: consult.KindInfoRequest}}}},
		{"escalated", hEscalated, want{status: consult.StatusEscalated, offered: []string{onc1, onc2}}},
		{"escalated while offered withdraws the offer", then(hOffered, escalated()),
			want{status: consult.StatusEscalated, offered: []string{onc1}}},
		{"cancelled while offered withdraws the offer", hCancelled,
			want{status: consult.StatusCancelled, offered: []string{onc1}, closed: at(3)}},
		{"cancelled while requested", then(hRequested, cancelled(refID)),
			want{status: consult.StatusCancelled, closed: at(2)}},
		{"cancelled after acceptance", hCancelledAc,
			want{status: consult.StatusCancelled, assignee: onc1, offered: []string{onc1}, accepted: at(3), closed: at(4)}},
		{"cancelled after escalation", then(hEscalated, cancelled(coordID)),
			want{status: consult.StatusCancelled, offered: []string{onc1, onc2}, closed: at(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events := hist(tt.steps...)
			c, err := consult.Fold(events)
			require.NoError(t, err)
			w := tt.want

			assert.Equal(t, w.status, c.Status, "got status %s, want %s", c.Status, w.status)
			assert.Equal(t, w.assignee, c.Assignee(), "got assignee %q, want %q", c.Assignee(), w.assignee)
			if w.offerTo == "" {
				assert.Nil(t, c.Offer, "got offer %+v, want none", c.Offer)
			} else if assert.NotNil(t, c.Offer, "got no offer, want one to %s", w.offerTo) {
				last := events[len(events)-1]
				want := consult.Offer{SpecialistID: w.offerTo, OfferedAt: last.At, ExpiresAt: last.At.Add(offerWindow), Position: last.Position}
				assert.Equal(t, want, *c.Offer, "got offer %+v, want %+v", *c.Offer, want)
			}
			assert.Equal(t, w.offered, c.Offered, "got offered-to %v, want %v", c.Offered, w.offered)
			wantMsgs := w.messages
			if wantMsgs == nil {
				wantMsgs = []consult.Message{}
			}
			assert.Equal(t, wantMsgs, c.Messages, "got messages %+v, want %+v", c.Messages, wantMsgs)
			assert.Equal(t, w.rec, c.Recommendation, "got recommendation %v, want %v", c.Recommendation, w.rec)
			assert.Equal(t, w.accepted, c.AcceptedAt, "got accepted_at %v, want %v", c.AcceptedAt, w.accepted)
			assert.Equal(t, w.closed, c.ClosedAt, "got closed_at %v, want %v", c.ClosedAt, w.closed)
			assert.Equal(t, w.status.Closed(), !c.ClosedAt.IsZero(), "got closed_at %v for status %s", c.ClosedAt, c.Status)

			// The timeline has one entry per event, in order, and the state is as of the last one.
			require.Len(t, c.Events, len(events), "got %d timeline entries, want %d", len(c.Events), len(events))
			for i, e := range events {
				want := consult.EventRef{ID: e.ID, Seq: e.Position, Type: e.Type, At: e.At, ActorID: e.ActorID,
					SpecialistID: e.SpecialistID, Reason: e.Reason, ExpiresAt: e.ExpiresAt}
				assert.Equal(t, want, c.Events[i], "got timeline entry %d %+v, want %+v", i, c.Events[i], want)
			}
			last := events[len(events)-1]
			assert.Equal(t, len(events), c.Position(), "got position %d, want %d", c.Position(), len(events))
			assert.Equal(t, last.At, c.UpdatedAt, "got updated_at %v, want %v", c.UpdatedAt, last.At)
			assert.Equal(t, last.StreamSeq, c.LastStreamSeq, "got last stream seq %d, want %d", c.LastStreamSeq, last.StreamSeq)
			assert.Equal(t, at(1), c.CreatedAt, "got created_at %v, want %v", c.CreatedAt, at(1))
		})
	}
}

func TestStatusClosed(t *testing.T) {
	t.Parallel()
	for _, s := range consult.Statuses {
		want := s == consult.StatusCompleted || s == consult.StatusCancelled
		assert.Equal(t, want, s.Closed(), "got %s.Closed() %v, want %v", s, s.Closed(), want)
	}
}

func TestApplyRefuses(t *testing.T) {
	t.Parallel()
	good := hist(then(hOffered, accepted(onc1))...)
	tests := []struct {
		name   string
		before []event.Event // folded first; nil for no state
		e      event.Event
	}{
		{"history starting without a request", nil, hist(hOffered...)[1]},
		{"request not at position 1", nil, func() event.Event { e := good[0]; e.Position = 2; return e }()},
		{"second request", good[:1], func() event.Event { e := good[0]; e.Position = 2; return e }()},
		{"second request later on", good, func() event.Event { e := good[0]; e.Position = 4; return e }()},
		{"position skipped", good[:1], good[2]},
		{"position repeated", good[:2], good[1]},
		{"position going back", good, good[1]},
		{"event of another consult", good[:1], func() event.Event { e := good[1]; e.ConsultID = "other"; return e }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c *consult.Consult
			if tt.before != nil {
				var err error
				c, err = consult.Fold(tt.before)
				require.NoError(t, err)
			}
			got, err := consult.Apply(c, tt.e)
			assert.Error(t, err, "got no error applying %s at %d, want one", tt.e.Type, tt.e.Position)
			assert.Nil(t, got, "got state %+v, want nil", got)
		})
	}
}

func TestFoldRefuses(t *testing.T) {
	t.Parallel()
	good := hist(hAccepted...)
	tests := []struct {
		name   string
		events []event.Event
	}{
		{"no events", nil},
		{"out of order", []event.Event{good[0], good[2], good[1]}},
		{"duplicate", []event.Event{good[0], good[1], good[1]}},
		{"second request", []event.Event{good[0], func() event.Event { e := good[0]; e.Position = 2; return e }()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := consult.Fold(tt.events)
			assert.Error(t, err, "got no error, want one")
			assert.Nil(t, c, "got state %+v, want nil", c)
		})
	}
}

// TestApplyDoesNotMutate applies every kind of event to a state and checks the state before is
// exactly what it was: callers keep it beside the state after.
func TestApplyDoesNotMutate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before []event.Event
		next   event.Event
	}{
		{"offered", hRequested, offered(onc1)},
		{"offer expired", hOffered, expired(onc1)},
		{"declined", hOffered, declined(onc1)},
		{"accepted", hOffered, accepted(onc1)},
		{"assigned", hOffered, assigned(onc2)},
		{"reassigned", hAccepted, assigned(onc2)},
		{"message", hInfo, message(refID, "23 kg")},
		{"message while offered", hOffered, message(coordID, "any news?")},
		{"info requested", then(hAccepted, message(refID, "hi")), infoRequested(onc1, "weight?")},
		{"completed", hInfo, completed(onc1)},
		{"escalated", hDeclined, escalated()},
		{"cancelled", hReoffered, cancelled(refID)},
		{"offered to several", hRequested, offeredTo(1, 1, onc1, onc2, onc3)},
		{"same step, next candidate", then(hRequested, offeredTo(1, 1, onc1), declined(onc1)), offeredTo(1, 1, onc2)},
		{"same step, next candidate after growing the step", then(hRequested, offeredTo(1, 1, onc1), declined(onc1),
			offeredTo(1, 1, onc2), declined(onc2)), offeredTo(1, 1, onc3)},
		{"next step of the round", then(hRequested, offeredTo(1, 1, onc1, onc2), expiredAll(onc1, onc2)), offeredTo(1, 2, onc3)},
		{"next round", then(hRequested, offeredTo(1, 1, onc1), expired(onc1)), offeredTo(2, 1, onc2)},
		{"coordinators alerted", then(hRequested, offeredTo(1, 1, onc1), expired(onc1)), alerted(1, 2)},
		{"one of several declines", hMulti, declined(onc2)},
		{"a second of several declines", then(hMulti, declined(onc2)), declined(onc1)},
		{"one of several accepts", hMulti, acceptedOver(onc2, onc1, onc3)},
		{"one of several seen", hMulti, seen(onc2)},
		{"another of several seen", then(hMulti, seen(onc2)), seen(onc3)},
		{"reminder to several", then(hMulti, seen(onc1)), reminded(1, onc2, onc3)},
		{"several expire", then(hMulti, declined(onc3)), expiredAll(onc1, onc2)},
		{"several assigned past", hMulti, assigned(onc4)},
		{"several cancelled", hMulti, cancelled(coordID)},
		{"escalated after several", then(hMulti, expiredAll(onc1, onc2, onc3)), escalated()},
		{"snoozed", hEscalated, snoozed(at(7).Add(time.Hour))},
		{"escalated again after a snooze", hSnoozed, escalated()},
		{"urgency changed while offered to several", hMulti, urgencyChanged("urgent", t0.Add(time.Hour), t0.Add(24*time.Hour))},
		{"specialty changed under the assignee", then(hMulti, declined(onc1), acceptedOver(onc2, onc3)), specialtyChanged("pediatric-hematology")},
		{"accept clock breached", hOffered, breached(consult.ClockAccept)},
		{"accepted after a breach", then(hOffered, breached(consult.ClockAccept)), accepted(onc1)},
		{"seen after a breach and a decline", then(hMulti, declined(onc1), breached(consult.ClockAccept)), seen(onc2)},
		{"recommend clock breached after the accept clock", then(hMulti, breached(consult.ClockAccept)), breached(consult.ClockRecommend)},
		{"urgency changed after a breach", then(hEscalated, breached(consult.ClockAccept)), urgencyChanged("urgent", time.Time{}, time.Time{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events := hist(then(tt.before, tt.next)...)
			before, err := consult.Fold(events[:len(events)-1])
			require.NoError(t, err)
			twin, err := consult.Fold(events[:len(events)-1])
			require.NoError(t, err)
			var offerBefore *consult.Offer
			if before.Offer != nil {
				offerBefore = before.Offer
			}
			assigneeBefore := before.AssigneeID

			after, err := consult.Apply(before, events[len(events)-1])
			require.NoError(t, err)

			assert.NotSame(t, before, after, "got the same pointer back, want a new state")
			assert.Equal(t, twin, before, "the state before %s changed", tt.next.Type)
			assert.Same(t, offerBefore, before.Offer, "the state before had its offer pointer replaced")
			assert.Same(t, assigneeBefore, before.AssigneeID, "the state before had its assignee pointer replaced")
			if before.Escalation != nil {
				assert.NotSame(t, before.Escalation, after.Escalation, "the states share an escalation")
			}
			if after.Offer != nil && before.Offer != nil {
				assert.NotSame(t, before.Offer, after.Offer, "the states share an offer")
			}

			// Writing through the state after must not reach the state before.
			after.Events[0].ActorID = "scribbled"
			if len(after.Messages) > 0 && len(before.Messages) > 0 {
				after.Messages[0].Body = "scribbled"
			}
			if len(after.Offered) > 0 && len(before.Offered) > 0 {
				after.Offered[0] = "scribbled"
			}
			if after.Offer != nil {
				after.Offer.SpecialistID = "scribbled"
			}
			for i := range after.Offers {
				after.Offers[i].SpecialistID = "scribbled"
				after.Offers[i].Reminders += 10
			}
			if len(after.Declined) > 0 {
				after.Declined[0] = "scribbled"
			}
			if len(after.Receipts) > 0 {
				after.Receipts[0].UserID = "scribbled"
			}
			if len(after.SLA.Recorded) > 0 {
				after.SLA.Recorded[0] = "scribbled"
			}
			if after.Escalation != nil {
				after.Escalation.Round += 10
				after.Escalation.SnoozedUntil = t0
				if len(after.Escalation.Tried) > 0 {
					after.Escalation.Tried[0] = "scribbled"
				}
				if len(after.Escalation.RoundTried) > 0 {
					after.Escalation.RoundTried[0] = "scribbled"
				}
			}
			assert.Equal(t, twin, before, "writing to the state after %s changed the state before", tt.next.Type)
		})
	}
}

// TestApplyBranches applies two different events to one state: each result is right and neither
// sees the other, the way the notify gateway keeps before and after side by side.
func TestApplyBranches(t *testing.T) {
	t.Parallel()
	base := fold(t, hOffered...)
	evs := hist(then(hOffered, accepted(onc1))...)
	acc := evs[2]
	dec := hist(then(hOffered, declined(onc1))...)[2]

	a, err := consult.Apply(base, acc)
	require.NoError(t, err)
	d, err := consult.Apply(base, dec)
	require.NoError(t, err)

	assert.Equal(t, consult.StatusAccepted, a.Status, "got %s, want accepted", a.Status)
	assert.Equal(t, consult.StatusRequested, d.Status, "got %s, want requested", d.Status)
	assert.Equal(t, consult.StatusOffered, base.Status, "got %s, want offered", base.Status)
	assert.Equal(t, event.Accepted, a.Events[2].Type, "got %s, want accepted", a.Events[2].Type)
	assert.Equal(t, event.Declined, d.Events[2].Type, "got %s, want declined", d.Events[2].Type)
	assert.Len(t, base.Events, 2, "got %d events in the base, want 2", len(base.Events))
}

// A type this version does not know (written by a newer instance during a rolling upgrade)
// joins the timeline and changes nothing else.
func TestApplyKeepsUnknownTypesAsTimelineEntries(t *testing.T) {
	t.Parallel()
	c := fold(t, hOffered...)
	next, err := consult.Apply(c, event.Event{ID: "ev-x", Type: "consult.translated", ConsultID: c.ID, Position: c.Position() + 1, At: c.UpdatedAt})
	require.NoError(t, err)
	assert.Equal(t, c.Status, next.Status)
	assert.Equal(t, c.Offer, next.Offer)
	assert.Equal(t, event.Type("consult.translated"), next.Events[len(next.Events)-1].Type)
	assert.True(t, next.Has("ev-x"))
}
