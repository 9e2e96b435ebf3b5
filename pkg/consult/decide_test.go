package consult_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/problem"
)

// idt is a zone other than UTC, so the tests see decisions stamp events in UTC.
var idt = time.FixedZone("IDT", 3*60*60)

// soon is a moment just after c's last event, in another zone: within any offer made by it.
func soon(c *consult.Consult) time.Time { return c.UpdatedAt.Add(30 * time.Second).In(idt) }

// decision is one case of a decision: the state it is asked of, the call, and either the
// code it must refuse with or checks on the event it returns.
type decision struct {
	name  string
	steps []event.Event
	do    func(c *consult.Consult) (event.Event, error)
	want  consult.Code // "" when the decision is allowed
	// fields are the fields an Invalid refusal must name, when given.
	fields map[string]string
	check  func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult)
}

func runDecisions(t *testing.T, tests []decision) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			twin := fold(t, tt.steps...)
			e, err := tt.do(c)
			assert.Equal(t, twin, c, "the decision changed the state it decided on")
			if tt.want != "" {
				requireCode(t, err, tt.want)
				assert.Zero(t, e, "got event %+v beside the error, want none", e)
				if tt.fields != nil {
					var ce *consult.Error
					require.ErrorAs(t, err, &ce)
					assert.Equal(t, tt.fields, ce.Fields, "got fields %v, want %v", ce.Fields, tt.fields)
					problems := ce.FieldProblems()
					for field := range tt.fields {
						if assert.Contains(t, problems, field, "got problems %v, want %s named", problems, field) {
							assert.Contains(t, problem.Codes, problems[field].Code, "%s: got code %q, want one of the API's", field, problems[field].Code)
						}
					}
				}
				return
			}
			require.NoError(t, err, "got error %v, want the decision allowed", err)
			assert.Equal(t, cid, e.ConsultID, "got consult id %q, want %q", e.ConsultID, cid)
			assert.Equal(t, c.Position()+1, e.Position, "got position %d, want %d", e.Position, c.Position()+1)
			assert.Equal(t, time.UTC, e.At.Location(), "got event time in %v, want UTC", e.At.Location())
			assert.Empty(t, e.ID, "got event id %q, want it left to the adapter", e.ID)
			after, err := consult.Apply(c, e)
			require.NoError(t, err, "the decided event must fold onto the state it was decided on")
			if tt.check != nil {
				tt.check(t, c, e, after)
			}
		})
	}
}

func accept(a consult.Actor, now func(*consult.Consult) time.Time) func(*consult.Consult) (event.Event, error) {
	return func(c *consult.Consult) (event.Event, error) { return c.Accept(a, now(c)) }
}

// Relative to the live offer's deadline.
func justBeforeExpiry(c *consult.Consult) time.Time { return c.Offer.ExpiresAt.Add(-time.Nanosecond) }
func atExpiry(c *consult.Consult) time.Time         { return c.Offer.ExpiresAt }
func afterExpiry(c *consult.Consult) time.Time      { return c.Offer.ExpiresAt.Add(time.Minute) }

func TestAccept(t *testing.T) {
	t.Parallel()
	// accepts checks that spec took the consult and every other live offer was withdrawn with it.
	accepts := func(spec string, withdrawn ...string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Accepted, e.Type, "got type %s, want accepted", e.Type)
			assert.Equal(t, spec, e.ActorID, "got actor %q, want %q", e.ActorID, spec)
			assert.ElementsMatch(t, withdrawn, e.Withdrawn, "got withdrawn %v, want %v", e.Withdrawn, withdrawn)
			assert.Equal(t, consult.StatusAccepted, after.Status, "got status %s, want accepted", after.Status)
			assert.Equal(t, spec, after.Assignee(), "got assignee %q, want %q", after.Assignee(), spec)
			assert.Nil(t, after.Offer, "got offer %+v after acceptance, want none", after.Offer)
			assert.Empty(t, after.Offers, "got offers %+v after acceptance, want none", after.Offers)
		}
	}
	runDecisions(t, []decision{
		{name: "holder within the offer", steps: hOffered, do: accept(spec1, soon), check: accepts(onc1)},
		{name: "holder just before expiry", steps: hOffered, do: accept(spec1, justBeforeExpiry), check: accepts(onc1)},
		{name: "holder of a second offer", steps: hReoffered, do: accept(spec2, soon), check: accepts(onc2)},
		{name: "first of several holders", steps: hMulti, do: accept(spec1, soon), check: accepts(onc1, onc2, onc3)},
		{name: "middle of several holders", steps: hMulti, do: accept(spec2, soon), check: accepts(onc2, onc1, onc3)},
		{name: "last of several holders, just before expiry", steps: hMulti, do: accept(spec3, justBeforeExpiry),
			check: accepts(onc3, onc1, onc2)},
		{name: "holder of several after another declined", steps: then(hMulti, declined(onc2)), do: accept(spec3, soon),
			check: accepts(onc3, onc1)},
		{name: "holder of several at the expiry instant", steps: hMulti, do: accept(spec2, atExpiry), want: consult.Conflict},
		{name: "specialist who declined while others hold", steps: then(hMulti, declined(onc2)), do: accept(spec2, soon),
			want: consult.Conflict},
		{name: "holder withdrawn when another of several accepted", steps: hMultiAccepted, do: accept(spec1, soon),
			want: consult.Conflict},
		{name: "last holder withdrawn when another of several accepted", steps: hMultiAccepted, do: accept(spec3, soon),
			want: consult.Conflict},
		{name: "holders of several after they expired", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: accept(spec2, soon),
			want: consult.Conflict},
		{name: "stranger specialist while offered to several", steps: hMulti, do: accept(spec4, soon), want: consult.Forbidden},
		{name: "holder at the expiry instant", steps: hOffered, do: accept(spec1, atExpiry), want: consult.Conflict},
		{name: "holder after expiry", steps: hOffered, do: accept(spec1, afterExpiry), want: consult.Conflict},
		{name: "specialist who declined, now offered to another", steps: hReoffered, do: accept(spec1, soon), want: consult.Conflict},
		{name: "specialist who declined", steps: hDeclined, do: accept(spec1, soon), want: consult.Conflict},
		{name: "specialist whose offer expired", steps: hExpired, do: accept(spec1, soon), want: consult.Conflict},
		{name: "specialist offered before escalation", steps: hEscalated, do: accept(spec2, soon), want: consult.Conflict},
		{name: "specialist whose offer was cancelled", steps: hCancelled, do: accept(spec1, soon), want: consult.Conflict},
		{name: "assignee accepting again", steps: hAccepted, do: accept(spec1, soon), want: consult.Conflict},
		{name: "specialist reassigned away", steps: hReassigned, do: accept(spec1, soon), want: consult.Conflict},
		{name: "specialist assigned by a coordinator", steps: hReassigned, do: accept(spec2, soon), want: consult.Conflict},
		{name: "offer taken by another", steps: hAccepted, do: accept(spec2, soon), want: consult.Forbidden},
		{name: "stranger specialist while offered", steps: hOffered, do: accept(spec3, soon), want: consult.Forbidden},
		{name: "specialist while requested", steps: hRequested, do: accept(spec1, soon), want: consult.Forbidden},
		{name: "referrer", steps: hOffered, do: accept(referrer, soon), want: consult.Forbidden},
		{name: "coordinator", steps: hOffered, do: accept(coordinator, soon), want: consult.Forbidden},
		{name: "admin", steps: hOffered, do: accept(admin, soon), want: consult.Forbidden},
		{name: "holder's id under another role", steps: hOffered,
			do: accept(consult.Actor{ID: onc1, Role: consult.RoleReferrer, ClinicID: "hebron"}, soon), want: consult.Forbidden},
	})
}

func TestAcceptStampsNow(t *testing.T) {
	t.Parallel()
	c := fold(t, hOffered...)
	now := soon(c)
	e, err := c.Accept(spec1, now)
	require.NoError(t, err)
	assert.True(t, now.Equal(e.At), "got at %v, want %v", e.At, now)
	assert.Equal(t, time.UTC, e.At.Location(), "got %v, want UTC", e.At.Location())
}

func TestDecline(t *testing.T) {
	t.Parallel()
	decline := func(a consult.Actor, now func(*consult.Consult) time.Time) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Decline(a, "in theatre", now(c)) }
	}
	declines := func(spec string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Declined, e.Type, "got type %s, want declined", e.Type)
			assert.Equal(t, spec, e.ActorID, "got actor %q, want %q", e.ActorID, spec)
			assert.Equal(t, spec, e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, spec)
			assert.Equal(t, "in theatre", e.Reason, "got reason %q, want %q", e.Reason, "in theatre")
			assert.Equal(t, consult.StatusRequested, after.Status, "got status %s, want requested", after.Status)
			assert.Nil(t, after.Offer, "got offer %+v, want none", after.Offer)
			assert.True(t, after.Routable(), "got not routable after a decline, want routable")
			assert.Contains(t, after.Declined, spec, "got declined-by %v, want it to hold %s", after.Declined, spec)
		}
	}
	// declinesOneOf checks that spec gave up its offer while the others still hold theirs.
	declinesOneOf := func(spec string, holders ...string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Declined, e.Type, "got type %s, want declined", e.Type)
			assert.Equal(t, spec, e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, spec)
			assert.Equal(t, consult.StatusOffered, after.Status, "got status %s, want offered while others hold", after.Status)
			assert.Equal(t, holders, after.Holders(), "got holders %v, want %v", after.Holders(), holders)
			assert.Nil(t, after.OfferFor(spec), "got offer %+v for %s, want it gone", after.OfferFor(spec), spec)
			assert.Contains(t, after.Declined, spec, "got declined-by %v, want it to hold %s", after.Declined, spec)
			assert.False(t, after.Routable(), "got routable while others hold offers, want not")
			if assert.NotNil(t, after.Offer, "got no first offer, want %s's", holders[0]) {
				assert.Equal(t, holders[0], after.Offer.SpecialistID, "got first offer to %s, want %s", after.Offer.SpecialistID, holders[0])
			}
			for _, o := range after.Offers {
				assert.Equal(t, c.Offer.Position, o.Position, "got offer position %d, want %d", o.Position, c.Offer.Position)
				assert.Equal(t, c.Offer.ExpiresAt, o.ExpiresAt, "got offer expiry %v, want %v", o.ExpiresAt, c.Offer.ExpiresAt)
			}
		}
	}
	runDecisions(t, []decision{
		{name: "holder", steps: hOffered, do: decline(spec1, soon), check: declines(onc1)},
		{name: "holder of a second offer", steps: hReoffered, do: decline(spec2, soon), check: declines(onc2)},
		{name: "one of several holders", steps: hMulti, do: decline(spec2, soon), check: declinesOneOf(onc2, onc1, onc3)},
		{name: "first of several holders", steps: hMulti, do: decline(spec1, soon), check: declinesOneOf(onc1, onc2, onc3)},
		{name: "second of several holders", steps: then(hMulti, declined(onc2)), do: decline(spec3, soon),
			check: declinesOneOf(onc3, onc1)},
		{name: "last of several holders", steps: then(hMulti, declined(onc2), declined(onc1)), do: decline(spec3, soon),
			check: declines(onc3)},
		{name: "one of several after they expired", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: decline(spec1, soon),
			want: consult.Conflict},
		{name: "one of several declining twice", steps: then(hMulti, declined(onc2)), do: decline(spec2, soon), want: consult.Conflict},
		{name: "holder withdrawn when another of several accepted", steps: hMultiAccepted, do: decline(spec1, soon),
			want: consult.Conflict},
		{name: "stranger while offered to several", steps: hMulti, do: decline(spec4, soon), want: consult.Forbidden},
		{name: "holder after expiry", steps: hOffered, do: decline(spec1, afterExpiry), want: consult.Conflict},
		{name: "holder at the expiry instant", steps: hOffered, do: decline(spec1, atExpiry), want: consult.Conflict},
		{name: "specialist who declined already", steps: hDeclined, do: decline(spec1, soon), want: consult.Conflict},
		{name: "specialist offered earlier", steps: hReoffered, do: decline(spec1, soon), want: consult.Conflict},
		{name: "assignee", steps: hAccepted, do: decline(spec1, soon), want: consult.Conflict},
		{name: "stranger specialist", steps: hOffered, do: decline(spec3, soon), want: consult.Forbidden},
		{name: "referrer", steps: hOffered, do: decline(referrer, soon), want: consult.Forbidden},
		{name: "coordinator", steps: hOffered, do: decline(coordinator, soon), want: consult.Forbidden},
		{name: "admin", steps: hOffered, do: decline(admin, soon), want: consult.Forbidden},
	})
}

func TestPostMessage(t *testing.T) {
	t.Parallel()
	post := func(a consult.Actor) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.PostMessage(a, "m-1", "مرحبا", soon(c)) }
	}
	posts := func(author string, status consult.Status) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Message, e.Type, "got type %s, want message", e.Type)
			assert.Equal(t, author, e.ActorID, "got actor %q, want %q", e.ActorID, author)
			assert.Equal(t, "m-1", e.MessageID, "got message id %q, want m-1", e.MessageID)
			assert.Equal(t, "مرحبا", e.Body, "got body %q, want مرحبا", e.Body)
			assert.Equal(t, status, after.Status, "got status %s, want %s", after.Status, status)
			require.Len(t, after.Messages, len(c.Messages)+1, "got %d messages, want %d", len(after.Messages), len(c.Messages)+1)
			last := after.Messages[len(after.Messages)-1]
			want := consult.Message{ID: "m-1", AuthorID: author, Body: "مرحبا", At: e.At, Kind: consult.KindMessage}
			assert.Equal(t, want, last, "got message %+v, want %+v", last, want)
		}
	}
	runDecisions(t, []decision{
		{name: "referrer while requested", steps: hRequested, do: post(referrer), check: posts(refID, consult.StatusRequested)},
		{name: "colleague of the same clinic", steps: hAccepted, do: post(colleague), check: posts(colleague.ID, consult.StatusAccepted)},
		{name: "referrer answering an info request", steps: hInfo, do: post(referrer), check: posts(refID, consult.StatusAccepted)},
		{name: "assignee", steps: hAccepted, do: post(spec1), check: posts(onc1, consult.StatusAccepted)},
		{name: "assignee while waiting on the referrer", steps: hInfo, do: post(spec1), check: posts(onc1, consult.StatusInfoRequested)},
		{name: "new assignee after reassignment", steps: hReassigned, do: post(spec2), check: posts(onc2, consult.StatusAccepted)},
		{name: "coordinator while escalated", steps: hEscalated, do: post(coordinator), check: posts(coordID, consult.StatusEscalated)},
		{name: "coordinator while offered", steps: hOffered, do: post(coordinator), check: posts(coordID, consult.StatusOffered)},
		{name: "specialist holding the offer", steps: hOffered, do: post(spec1), want: consult.Forbidden},
		{name: "specialist reassigned away", steps: hReassigned, do: post(spec1), want: consult.Forbidden},
		{name: "stranger specialist", steps: hAccepted, do: post(spec3), want: consult.Forbidden},
		{name: "referrer of another clinic", steps: hAccepted, do: post(otherReferrer), want: consult.Forbidden},
		{name: "referrer without a clinic", steps: hAccepted, do: post(clinicless), want: consult.Forbidden},
		{name: "admin", steps: hAccepted, do: post(admin), want: consult.Forbidden},
		{name: "referrer after completion", steps: hCompleted, do: post(referrer), want: consult.Conflict},
		{name: "assignee after completion", steps: hCompleted, do: post(spec1), want: consult.Conflict},
		{name: "coordinator after cancellation", steps: hCancelled, do: post(coordinator), want: consult.Conflict},
		{name: "referrer after cancellation", steps: hCancelledAc, do: post(referrer), want: consult.Conflict},
		{name: "referrer of another clinic after completion", steps: hCompleted, do: post(otherReferrer), want: consult.Forbidden},
	})
}

func TestRequestInfo(t *testing.T) {
	t.Parallel()
	ask := func(a consult.Actor) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.RequestInfo(a, "m-9", "weight?", soon(c)) }
	}
	asks := func(spec string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.InfoRequested, e.Type, "got type %s, want info_requested", e.Type)
			assert.Equal(t, spec, e.ActorID, "got actor %q, want %q", e.ActorID, spec)
			assert.Equal(t, "m-9", e.MessageID, "got message id %q, want m-9", e.MessageID)
			assert.Equal(t, "weight?", e.Body, "got body %q, want weight?", e.Body)
			assert.Equal(t, consult.StatusInfoRequested, after.Status, "got status %s, want info-requested", after.Status)
			last := after.Messages[len(after.Messages)-1]
			assert.Equal(t, consult.KindInfoRequest, last.Kind, "got kind %q, want %q", last.Kind, consult.KindInfoRequest)
		}
	}
	runDecisions(t, []decision{
		{name: "assignee", steps: hAccepted, do: ask(spec1), check: asks(onc1)},
		{name: "assignee asking again", steps: hInfo, do: ask(spec1), check: asks(onc1)},
		{name: "new assignee after reassignment", steps: hReassigned, do: ask(spec2), check: asks(onc2)},
		{name: "specialist holding the offer", steps: hOffered, do: ask(spec1), want: consult.Forbidden},
		{name: "specialist reassigned away", steps: hReassigned, do: ask(spec1), want: consult.Forbidden},
		{name: "stranger specialist", steps: hAccepted, do: ask(spec3), want: consult.Forbidden},
		{name: "referrer", steps: hAccepted, do: ask(referrer), want: consult.Forbidden},
		{name: "coordinator", steps: hAccepted, do: ask(coordinator), want: consult.Forbidden},
		{name: "admin", steps: hAccepted, do: ask(admin), want: consult.Forbidden},
		{name: "assignee's id under another role", steps: hAccepted,
			do: ask(consult.Actor{ID: onc1, Role: consult.RoleCoordinator}), want: consult.Forbidden},
		{name: "assignee after completion", steps: hCompleted, do: ask(spec1), want: consult.Conflict},
		{name: "assignee after cancellation", steps: hCancelledAc, do: ask(spec1), want: consult.Conflict},
	})
}

func TestComplete(t *testing.T) {
	t.Parallel()
	complete := func(a consult.Actor) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Complete(a, "start protocol B", soon(c)) }
	}
	completes := func(spec string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Completed, e.Type, "got type %s, want completed", e.Type)
			assert.Equal(t, spec, e.ActorID, "got actor %q, want %q", e.ActorID, spec)
			assert.Equal(t, "start protocol B", e.Recommendation, "got recommendation %q, want %q", e.Recommendation, "start protocol B")
			assert.Equal(t, consult.StatusCompleted, after.Status, "got status %s, want completed", after.Status)
			assert.Equal(t, e.At, after.ClosedAt, "got closed_at %v, want %v", after.ClosedAt, e.At)
			if assert.NotNil(t, after.Recommendation, "got no recommendation, want one") {
				assert.Equal(t, "start protocol B", *after.Recommendation, "got %q, want %q", *after.Recommendation, "start protocol B")
			}
		}
	}
	runDecisions(t, []decision{
		{name: "assignee", steps: hAccepted, do: complete(spec1), check: completes(onc1)},
		{name: "assignee while waiting on the referrer", steps: hInfo, do: complete(spec1), check: completes(onc1)},
		{name: "new assignee after reassignment", steps: hReassigned, do: complete(spec2), check: completes(onc2)},
		{name: "specialist holding the offer", steps: hOffered, do: complete(spec1), want: consult.Forbidden},
		{name: "specialist reassigned away", steps: hReassigned, do: complete(spec1), want: consult.Forbidden},
		{name: "stranger specialist", steps: hAccepted, do: complete(spec3), want: consult.Forbidden},
		{name: "referrer", steps: hAccepted, do: complete(referrer), want: consult.Forbidden},
		{name: "coordinator", steps: hAccepted, do: complete(coordinator), want: consult.Forbidden},
		{name: "admin", steps: hAccepted, do: complete(admin), want: consult.Forbidden},
		{name: "assignee again after completion", steps: hCompleted, do: complete(spec1), want: consult.Conflict},
		{name: "assignee after cancellation", steps: hCancelledAc, do: complete(spec1), want: consult.Conflict},
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	cancel := func(a consult.Actor) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Cancel(a, "transferred", soon(c)) }
	}
	cancels := func(who string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Cancelled, e.Type, "got type %s, want cancelled", e.Type)
			assert.Equal(t, who, e.ActorID, "got actor %q, want %q", e.ActorID, who)
			assert.Equal(t, "transferred", e.Reason, "got reason %q, want transferred", e.Reason)
			assert.Equal(t, consult.StatusCancelled, after.Status, "got status %s, want cancelled", after.Status)
			assert.Nil(t, after.Offer, "got offer %+v, want the offer withdrawn", after.Offer)
			assert.Empty(t, after.Offers, "got offers %+v, want every offer withdrawn", after.Offers)
			assert.ElementsMatch(t, c.Holders(), e.Withdrawn, "got withdrawn %v, want the holders %v", e.Withdrawn, c.Holders())
			assert.Equal(t, e.At, after.ClosedAt, "got closed_at %v, want %v", after.ClosedAt, e.At)
		}
	}
	runDecisions(t, []decision{
		{name: "referrer while requested", steps: hRequested, do: cancel(referrer), check: cancels(refID)},
		{name: "colleague while offered", steps: hOffered, do: cancel(colleague), check: cancels(colleague.ID)},
		{name: "referrer while accepted", steps: hAccepted, do: cancel(referrer), check: cancels(refID)},
		{name: "referrer while waiting on it", steps: hInfo, do: cancel(referrer), check: cancels(refID)},
		{name: "coordinator while escalated", steps: hEscalated, do: cancel(coordinator), check: cancels(coordID)},
		{name: "coordinator while offered", steps: hOffered, do: cancel(coordinator), check: cancels(coordID)},
		{name: "coordinator while offered to several", steps: hMulti, do: cancel(coordinator), check: cancels(coordID)},
		{name: "referrer after one of several declined", steps: then(hMulti, declined(onc3)), do: cancel(referrer), check: cancels(refID)},
		{name: "referrer of another clinic", steps: hRequested, do: cancel(otherReferrer), want: consult.Forbidden},
		{name: "referrer without a clinic", steps: hRequested, do: cancel(clinicless), want: consult.Forbidden},
		{name: "assignee", steps: hAccepted, do: cancel(spec1), want: consult.Forbidden},
		{name: "specialist holding the offer", steps: hOffered, do: cancel(spec1), want: consult.Forbidden},
		{name: "admin", steps: hRequested, do: cancel(admin), want: consult.Forbidden},
		{name: "referrer after completion", steps: hCompleted, do: cancel(referrer), want: consult.Conflict},
		{name: "coordinator after completion", steps: hCompleted, do: cancel(coordinator), want: consult.Conflict},
		{name: "referrer after cancellation", steps: hCancelled, do: cancel(referrer), want: consult.Conflict},
		{name: "referrer of another clinic after completion", steps: hCompleted, do: cancel(otherReferrer), want: consult.Forbidden},
	})
}

func TestAssign(t *testing.T) {
	t.Parallel()
	assign := func(a consult.Actor, spec string) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Assign(a, spec, soon(c)) }
	}
	assigns := func(spec string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Assigned, e.Type, "got type %s, want assigned", e.Type)
			assert.Equal(t, coordID, e.ActorID, "got actor %q, want %q", e.ActorID, coordID)
			assert.Equal(t, spec, e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, spec)
			assert.Equal(t, consult.StatusAccepted, after.Status, "got status %s, want accepted", after.Status)
			assert.Equal(t, spec, after.Assignee(), "got assignee %q, want %q", after.Assignee(), spec)
			assert.Nil(t, after.Offer, "got offer %+v, want any offer withdrawn", after.Offer)
			assert.Empty(t, after.Offers, "got offers %+v, want every offer withdrawn", after.Offers)
			var others []string
			for _, h := range c.Holders() {
				if h != spec {
					others = append(others, h)
				}
			}
			assert.ElementsMatch(t, others, e.Withdrawn, "got withdrawn %v, want %v", e.Withdrawn, others)
			wantAccepted := c.AcceptedAt
			if wantAccepted.IsZero() {
				wantAccepted = e.At
			}
			assert.Equal(t, wantAccepted, after.AcceptedAt, "got accepted_at %v, want %v", after.AcceptedAt, wantAccepted)
		}
	}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: assign(coordinator, onc3), check: assigns(onc3)},
		{name: "while offered to another", steps: hOffered, do: assign(coordinator, onc2), check: assigns(onc2)},
		{name: "to the specialist holding the offer", steps: hOffered, do: assign(coordinator, onc1), check: assigns(onc1)},
		{name: "to one of several holders", steps: hMulti, do: assign(coordinator, onc3), check: assigns(onc3)},
		{name: "past several holders", steps: hMulti, do: assign(coordinator, onc4), check: assigns(onc4)},
		{name: "while escalated", steps: hEscalated, do: assign(coordinator, onc3), check: assigns(onc3)},
		{name: "reassign while accepted", steps: hAccepted, do: assign(coordinator, onc2), check: assigns(onc2)},
		{name: "reassign while waiting on the referrer", steps: hInfo, do: assign(coordinator, onc2), check: assigns(onc2)},
		{name: "to the current assignee", steps: hAccepted, do: assign(coordinator, onc1), want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: assign(coordinator, onc2), want: consult.Conflict},
		{name: "after cancellation", steps: hCancelled, do: assign(coordinator, onc2), want: consult.Conflict},
		{name: "referrer", steps: hEscalated, do: assign(referrer, onc3), want: consult.Forbidden},
		{name: "specialist assigning itself", steps: hEscalated, do: assign(spec3, onc3), want: consult.Forbidden},
		{name: "assignee handing over", steps: hAccepted, do: assign(spec1, onc2), want: consult.Forbidden},
		{name: "admin", steps: hEscalated, do: assign(admin, onc3), want: consult.Forbidden},
	})
}

func TestOfferTo(t *testing.T) {
	t.Parallel()
	offerTo := func(round, step int, ids ...string) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) {
			now := soon(c)
			return c.OfferTo(ids, round, step, now.Add(2*time.Minute), now)
		}
	}
	offers := func(round, step int, ids ...string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.Offered, e.Type, "got type %s, want offered", e.Type)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, ids[0], e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, ids[0])
			wantIDs := ids
			if len(ids) == 1 {
				wantIDs = nil // one offer is named by SpecialistID alone
			}
			assert.Equal(t, wantIDs, e.SpecialistIDs, "got specialist ids %v, want %v", e.SpecialistIDs, wantIDs)
			assert.Equal(t, round, e.Round, "got round %d, want %d", e.Round, round)
			assert.Equal(t, step, e.Step, "got step %d, want %d", e.Step, step)
			wantExp := soon(c).Add(2 * time.Minute)
			assert.True(t, wantExp.Equal(e.ExpiresAt), "got expires %v, want %v", e.ExpiresAt, wantExp)
			assert.Equal(t, time.UTC, e.ExpiresAt.Location(), "got expires in %v, want UTC", e.ExpiresAt.Location())
			assert.Equal(t, consult.StatusOffered, after.Status, "got status %s, want offered", after.Status)
			assert.False(t, after.Routable(), "got routable while offered, want not")
			require.Len(t, after.Offers, len(ids), "got %d live offers, want %d", len(after.Offers), len(ids))
			for i, id := range ids {
				want := consult.Offer{SpecialistID: id, OfferedAt: e.At, ExpiresAt: e.ExpiresAt, Position: e.Position, Round: round, Step: step}
				assert.Equal(t, want, after.Offers[i], "got offer %d %+v, want %+v", i, after.Offers[i], want)
				if assert.NotNil(t, after.OfferFor(id), "got no offer for %s, want one", id) {
					assert.Equal(t, want, *after.OfferFor(id), "got OfferFor(%s) %+v, want %+v", id, *after.OfferFor(id), want)
				}
			}
			if assert.NotNil(t, after.Offer, "got no offer, want one") {
				assert.Equal(t, after.Offers[0], *after.Offer, "got offer %+v, want the first of offers %+v", *after.Offer, after.Offers[0])
			}
			assert.Equal(t, ids, after.Holders(), "got holders %v, want %v", after.Holders(), ids)
			assert.Equal(t, ids, after.Offered[len(after.Offered)-len(ids):], "got offered-to %v, want it to end with %v", after.Offered, ids)
		}
	}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: offerTo(1, 1, onc1), check: offers(1, 1, onc1)},
		{name: "after a decline", steps: hDeclined, do: offerTo(1, 1, onc2), check: offers(1, 1, onc2)},
		{name: "after an expiry", steps: hExpired, do: offerTo(1, 2, onc2), check: offers(1, 2, onc2)},
		{name: "to several at once", steps: hRequested, do: offerTo(1, 1, onc1, onc2, onc3), check: offers(1, 1, onc1, onc2, onc3)},
		{name: "to several in a later round", steps: hExpired, do: offerTo(2, 3, onc3, onc2), check: offers(2, 3, onc3, onc2)},
		{name: "after the coordinators were alerted", steps: then(hExpired, alerted(1, 2)), do: offerTo(1, 3, onc2),
			check: offers(1, 3, onc2)},
		{name: "after an urgency change withdrew several", steps: then(hMulti, urgencyChanged("urgent", time.Time{}, time.Time{})),
			do: offerTo(1, 1, onc1, onc2), check: offers(1, 1, onc1, onc2)},
		{name: "to nobody", steps: hRequested, do: offerTo(1, 1), want: consult.Invalid},
		{name: "while offered", steps: hOffered, do: offerTo(1, 1, onc2), want: consult.Conflict},
		{name: "while offered to several", steps: hMulti, do: offerTo(1, 1, onc4), want: consult.Conflict},
		{name: "while one of several still holds", steps: then(hMulti, declined(onc1), declined(onc2)), do: offerTo(1, 1, onc4),
			want: consult.Conflict},
		{name: "while accepted", steps: hAccepted, do: offerTo(1, 1, onc2), want: consult.Conflict},
		{name: "while waiting on the referrer", steps: hInfo, do: offerTo(1, 1, onc2), want: consult.Conflict},
		{name: "while escalated", steps: hEscalated, do: offerTo(1, 1, onc3), want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: offerTo(1, 1, onc2), want: consult.Conflict},
		{name: "after cancellation", steps: hCancelled, do: offerTo(1, 1, onc2), want: consult.Conflict},
	})
}

func TestAlertCoordinators(t *testing.T) {
	t.Parallel()
	alert := func(round, step int) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) {
			now := soon(c)
			return c.AlertCoordinators(round, step, now.Add(10*time.Minute), "nobody accepted", now)
		}
	}
	alerts := func(round, step int) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.CoordinatorsAlerted, e.Type, "got type %s, want coordinators_alerted", e.Type)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, "nobody accepted", e.Reason, "got reason %q, want %q", e.Reason, "nobody accepted")
			assert.Equal(t, round, e.Round, "got round %d, want %d", e.Round, round)
			assert.Equal(t, step, e.Step, "got step %d, want %d", e.Step, step)
			wantEnds := soon(c).Add(10 * time.Minute)
			assert.True(t, wantEnds.Equal(e.ExpiresAt), "got step end %v, want %v", e.ExpiresAt, wantEnds)
			assert.Equal(t, time.UTC, e.ExpiresAt.Location(), "got step end in %v, want UTC", e.ExpiresAt.Location())
			assert.Equal(t, consult.StatusRequested, after.Status, "got status %s, want requested", after.Status)
			if assert.NotNil(t, after.Escalation, "got no escalation, want the coordinators' step") {
				assert.Equal(t, "coordinators", after.Escalation.Target, "got target %q, want coordinators", after.Escalation.Target)
				assert.Equal(t, e.ExpiresAt, after.Escalation.StepEndsAt, "got step end %v, want %v", after.Escalation.StepEndsAt, e.ExpiresAt)
				assert.Equal(t, e.Position, after.Escalation.Position, "got position %d, want %d", after.Escalation.Position, e.Position)
			}
		}
	}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: alert(1, 1), check: alerts(1, 1)},
		{name: "after the offers of a step expired", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: alert(1, 2), check: alerts(1, 2)},
		{name: "while offered", steps: hOffered, do: alert(1, 2), want: consult.Conflict},
		{name: "while offered to several", steps: hMulti, do: alert(1, 2), want: consult.Conflict},
		{name: "while accepted", steps: hAccepted, do: alert(1, 2), want: consult.Conflict},
		{name: "while escalated", steps: hEscalated, do: alert(1, 2), want: consult.Conflict},
		{name: "after cancellation", steps: hCancelled, do: alert(1, 2), want: consult.Conflict},
	})
}

func TestExpireOffer(t *testing.T) {
	t.Parallel()
	expire := func(pos int, now func(*consult.Consult) time.Time) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.ExpireOffer(pos, now(c)) }
	}
	// after the deadline of the first offer (position 2), whatever state the consult is in now.
	late := func(*consult.Consult) time.Time { return at(2).Add(offerWindow + time.Hour) }
	// expires checks that every live offer ended, held by holders (the first named by SpecialistID,
	// all of them by SpecialistIDs when several).
	expires := func(holders ...string) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.OfferExpired, e.Type, "got type %s, want offer_expired", e.Type)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, holders[0], e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, holders[0])
			wantIDs := holders
			if len(holders) == 1 {
				wantIDs = nil
			}
			assert.Equal(t, wantIDs, e.SpecialistIDs, "got specialist ids %v, want %v", e.SpecialistIDs, wantIDs)
			assert.Equal(t, consult.StatusRequested, after.Status, "got status %s, want requested", after.Status)
			assert.Nil(t, after.Offer, "got offer %+v, want none", after.Offer)
			assert.Empty(t, after.Offers, "got offers %+v, want none", after.Offers)
			assert.True(t, after.Routable(), "got not routable after the offers ended, want routable")
			for _, h := range holders {
				assert.False(t, after.CanView(consult.Actor{ID: h, Role: consult.RoleSpecialist}), "got %s still able to view, want not", h)
			}
		}
	}
	runDecisions(t, []decision{
		{name: "live offer after its deadline", steps: hOffered, do: expire(2, afterExpiry), check: expires(onc1)},
		{name: "live offer at its deadline", steps: hOffered, do: expire(2, atExpiry), check: expires(onc1)},
		{name: "second offer after its deadline", steps: hReoffered, do: expire(4, afterExpiry), check: expires(onc2)},
		{name: "several offers at their deadline", steps: hMulti, do: expire(2, atExpiry), check: expires(onc1, onc2, onc3)},
		{name: "several offers, one seen, after their deadline", steps: then(hMulti, seen(onc2)), do: expire(2, afterExpiry),
			check: expires(onc1, onc2, onc3)},
		{name: "the rest of several after a decline", steps: then(hMulti, declined(onc1)), do: expire(2, afterExpiry),
			check: expires(onc2, onc3)},
		{name: "the last of several after two declines", steps: then(hMulti, declined(onc1), declined(onc3)), do: expire(2, afterExpiry),
			check: expires(onc2)},
		{name: "several offers before their deadline", steps: hMulti, do: expire(2, justBeforeExpiry), want: consult.Conflict},
		{name: "several offers, wrong position", steps: hMulti, do: expire(3, afterExpiry), want: consult.Conflict},
		{name: "several offers, position of the request", steps: hMulti, do: expire(1, afterExpiry), want: consult.Conflict},
		{name: "several offers, one accepted", steps: hMultiAccepted, do: expire(2, late), want: consult.Conflict},
		{name: "several offers, all declined", steps: then(hMulti, declined(onc1), declined(onc2), declined(onc3)),
			do: expire(2, late), want: consult.Conflict},
		{name: "several offers expired already", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: expire(2, late),
			want: consult.Conflict},
		{name: "live offer before its deadline", steps: hOffered, do: expire(2, justBeforeExpiry), want: consult.Conflict},
		{name: "an earlier offer, now replaced", steps: hReoffered, do: expire(2, afterExpiry), want: consult.Conflict},
		{name: "wrong position", steps: hOffered, do: expire(1, afterExpiry), want: consult.Conflict},
		{name: "declined offer", steps: hDeclined, do: expire(2, late), want: consult.Conflict},
		{name: "expired already", steps: hExpired, do: expire(2, late), want: consult.Conflict},
		{name: "accepted offer", steps: hAccepted, do: expire(2, late), want: consult.Conflict},
		{name: "cancelled consult", steps: hCancelled, do: expire(2, late), want: consult.Conflict},
		{name: "never offered", steps: hRequested, do: expire(2, late), want: consult.Conflict},
	})
}

func TestEscalate(t *testing.T) {
	t.Parallel()
	escalateAt := func(now func(*consult.Consult) time.Time) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.Escalate("nobody on call", now(c)) }
	}
	escalate := escalateAt(soon)
	// Relative to the end of the snooze of hSnoozed.
	snoozeEnd := func(c *consult.Consult) time.Time { return c.Escalation.SnoozedUntil.In(idt) }
	inSnooze := func(c *consult.Consult) time.Time { return c.Escalation.SnoozedUntil.Add(-time.Nanosecond) }
	afterSnooze := func(c *consult.Consult) time.Time { return c.Escalation.SnoozedUntil.Add(time.Hour) }
	resounds := func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
		escalatesCheck(t, e, after)
		if assert.NotNil(t, after.Escalation, "got no escalation, want it kept") {
			assert.Zero(t, after.Escalation.SnoozedUntil, "got snoozed until %v, want the snooze over", after.Escalation.SnoozedUntil)
		}
	}
	escalates := func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
		escalatesCheck(t, e, after)
	}
	runDecisions(t, []decision{
		{name: "while requested", steps: hRequested, do: escalate, check: escalates},
		{name: "after a decline", steps: hDeclined, do: escalate, check: escalates},
		{name: "after an expiry", steps: then(hReoffered, expired(onc2)), do: escalate, check: escalates},
		{name: "while offered", steps: hOffered, do: escalate, want: consult.Conflict},
		{name: "while accepted", steps: hAccepted, do: escalate, want: consult.Conflict},
		{name: "while escalated", steps: hEscalated, do: escalate, want: consult.Conflict},
		{name: "after completion", steps: hCompleted, do: escalate, want: consult.Conflict},
		{name: "after cancellation", steps: hCancelled, do: escalate, want: consult.Conflict},
		{name: "after several offers expired", steps: then(hMulti, expiredAll(onc1, onc2, onc3)), do: escalate, check: escalates},
		{name: "while offered to several", steps: hMulti, do: escalate, want: consult.Conflict},
		{name: "while one of several still holds", steps: then(hMulti, declined(onc1), declined(onc3)), do: escalate,
			want: consult.Conflict},
		{name: "snoozed, when the snooze ends", steps: hSnoozed, do: escalateAt(snoozeEnd), check: resounds},
		{name: "snoozed, after the snooze", steps: hSnoozed, do: escalateAt(afterSnooze), check: resounds},
		{name: "snoozed, just before the snooze ends", steps: hSnoozed, do: escalateAt(inSnooze), want: consult.Conflict},
		{name: "snoozed, right after the snooze", steps: hSnoozed, do: escalate, want: consult.Conflict},
		{name: "sounded again already", steps: then(hSnoozed, stamped(escalated(), at(7).Add(10*time.Minute))),
			do: escalateAt(func(*consult.Consult) time.Time { return at(7).Add(time.Hour) }), want: consult.Conflict},
		{name: "snoozed, then assigned", steps: then(hSnoozed, assigned(onc3)), do: escalateAt(afterSnooze), want: consult.Conflict},
	})
}

// escalatesCheck checks that e escalated the consult.
func escalatesCheck(t *testing.T, e event.Event, after *consult.Consult) {
	t.Helper()
	assert.Equal(t, event.Escalated, e.Type, "got type %s, want escalated", e.Type)
	assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
	assert.Equal(t, "nobody on call", e.Reason, "got reason %q, want %q", e.Reason, "nobody on call")
	assert.Equal(t, consult.StatusEscalated, after.Status, "got status %s, want escalated", after.Status)
	assert.False(t, after.Routable(), "got routable after escalation, want not")
	assert.Empty(t, after.Offers, "got offers %+v after escalation, want none", after.Offers)
}

func TestRoutable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []event.Event
		want  bool
	}{
		{"requested", hRequested, true},
		{"declined", hDeclined, true},
		{"expired", hExpired, true},
		{"offered", hOffered, false},
		{"accepted", hAccepted, false},
		{"info requested", hInfo, false},
		{"escalated", hEscalated, false},
		{"completed", hCompleted, false},
		{"cancelled", hCancelled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := fold(t, tt.steps...).Routable()
			assert.Equal(t, tt.want, got, "got Routable() %v, want %v", got, tt.want)
		})
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want consult.Code
	}{
		{"domain error", consult.Errorf(consult.Conflict, "taken"), consult.Conflict},
		{"wrapped domain error", fmt.Errorf("accept: %w", consult.Errorf(consult.Forbidden, "no")), consult.Forbidden},
		{"any other error", errors.New("boom"), consult.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := consult.ErrorCode(tt.err)
			assert.Equal(t, tt.want, got, "got %s, want %s", got, tt.want)
		})
	}
	e := consult.Errorf(consult.Conflict, "offer %d is gone", 3)
	assert.Equal(t, "conflict: offer 3 is gone", e.Error(), "got %q, want %q", e.Error(), "conflict: offer 3 is gone")
}
