// Package consult owns the consult lifecycle: the state that is the fold of a consult's events,
// the rules that decide which change may happen next and who may see or change a consult.
// It imports the standard library and the event schema only; adapters load events, call these
// decisions and append what they return.
package consult

import (
	"fmt"
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// Status is where a consult stands. The strings are part of the public API.
type Status string

// The consult statuses of the API.
const (
	StatusRequested     Status = "requested"
	StatusOffered       Status = "offered"
	StatusAccepted      Status = "accepted"
	StatusInfoRequested Status = "info-requested"
	StatusCompleted     Status = "completed"
	StatusEscalated     Status = "escalated"
	StatusCancelled     Status = "cancelled"
)

// Statuses lists every status, for validating filters.
var Statuses = []Status{StatusRequested, StatusOffered, StatusAccepted, StatusInfoRequested,
	StatusCompleted, StatusEscalated, StatusCancelled}

// Closed reports whether no further work happens on a consult in status s.
func (s Status) Closed() bool { return s == StatusCompleted || s == StatusCancelled }

// Urgencies lists the accepted urgencies, most urgent first.
var Urgencies = []string{"emergent", "urgent", "routine"}

// Offer is a live offer of the consult to one specialist, open until ExpiresAt. Offers made
// together (to several specialists of an emergent consult) share the Offered event's position.
type Offer struct {
	SpecialistID string    `json:"specialist_id"`
	OfferedAt    time.Time `json:"offered_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	// Position is the position of the Offered event, which identifies this offer.
	Position int `json:"position"`
	// Round and Step place the offer in the escalation policy.
	Round int `json:"round"`
	Step  int `json:"step"`
	// SeenAt is when the specialist first opened the offer; nil while unseen.
	SeenAt *time.Time `json:"seen_at"`
	// Reminders counts the re-alerts sent while the offers made with this one were live and
	// unseen by someone; each went to the holders who had not opened the consult yet.
	Reminders int `json:"reminders"`
}

// Receipt records that a specialist opened the consult.
type Receipt struct {
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

// Message is one entry of a consult's clarification thread.
type Message struct {
	ID       string    `json:"id"`
	AuthorID string    `json:"author_id"`
	Body     string    `json:"body"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
}

// Message kinds.
const (
	KindMessage     = "message"
	KindInfoRequest = "info_request"
)

// EventRef is the timeline entry of one event, as shown inside a Consult.
type EventRef struct {
	ID           string     `json:"id"`
	Seq          int        `json:"seq"`
	Type         event.Type `json:"type"`
	At           time.Time  `json:"at"`
	ActorID      string     `json:"actor_id"`
	SpecialistID string     `json:"specialist_id,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	ExpiresAt    time.Time  `json:"expires_at,omitzero"`
}

// SLA is the response-time targets of a consult: a specialist accepts by AcceptBy, and the
// recommendation is delivered by RecommendBy.
type SLA struct {
	AcceptBy          time.Time `json:"accept_by"`
	Breached          bool      `json:"breached"`
	RecommendBy       time.Time `json:"recommend_by,omitzero"`
	RecommendBreached bool      `json:"recommend_breached"`
	// Recorded lists the clocks ("accept", "recommend") whose breach is on the timeline.
	Recorded []string `json:"recorded,omitempty"`
}

// Escalation is where the consult stands in its escalation policy.
type Escalation struct {
	// Round counts passes through the policy's steps, from 1; Step is the step within it.
	Round int `json:"round"`
	Step  int `json:"step"`
	// Target is what the current step does: "offer" or "coordinators", or "escalated" once
	// the policy ran out. Position is the position of the event that last started or
	// continued the step.
	Target   string `json:"target"`
	Position int    `json:"position"`
	// Tried lists who this step has been offered to, RoundTried who this round has.
	Tried      []string `json:"tried,omitempty"`
	RoundTried []string `json:"round_tried,omitempty"`
	// StepEndsAt is when the current step's wait ends.
	StepEndsAt time.Time `json:"step_ends_at,omitzero"`
	// SnoozedUntil mutes an escalated consult's alarm until then.
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
}

// Consult is the state of one consult: the fold of its events. Its JSON form is the API's.
type Consult struct {
	ID          string             `json:"id"`
	Status      Status             `json:"status"`
	Urgency     string             `json:"urgency"`
	Specialty   string             `json:"specialty"`
	ClinicID    string             `json:"clinic_id"`
	ReferrerID  string             `json:"referrer_id"`
	AssigneeID  *string            `json:"assignee_id"`
	Patient     event.Patient      `json:"patient"`
	Question    string             `json:"question"`
	Summary     string             `json:"summary"`
	Language    string             `json:"language,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	SLA         SLA                `json:"sla"`
	Details     map[string]any     `json:"details,omitempty"`
	Attachments []event.Attachment `json:"attachments,omitempty"`
	// RequestedUrgency is what the referrer chose when red-flag rules raised the urgency, and
	// RedFlags says why.
	RequestedUrgency string              `json:"requested_urgency,omitempty"`
	RedFlags         []string            `json:"red_flags,omitempty"`
	RedFlagReasons   []map[string]string `json:"red_flag_reasons,omitempty"`
	// Offer is the first of Offers, or nil: the one live offer of every consult not offered to
	// several specialists at once.
	Offer  *Offer  `json:"offer"`
	Offers []Offer `json:"offers"`
	// Escalation is where routing stands in the escalation policy; nil before the first step.
	Escalation     *Escalation `json:"escalation"`
	Recommendation *string     `json:"recommendation"`
	Messages       []Message   `json:"messages"`
	Receipts       []Receipt   `json:"receipts"`
	Events         []EventRef  `json:"events"`

	// Offered lists, in order, every specialist this consult has been offered to.
	Offered []string `json:"offered_to,omitempty"`
	// Declined lists the specialists who declined it; nobody is offered it again after declining.
	Declined []string `json:"declined_by,omitempty"`
	// AcceptedAt is when a specialist first took the consult; cleared when a change of
	// specialty takes it from its owner.
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// ClosedAt is when the consult was completed or cancelled.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// IdempotencyKey is the key the referrer submitted it with, if any.
	IdempotencyKey string `json:"-"`
	// BodyDigest fingerprints the request that IdempotencyKey names (see event.Request).
	BodyDigest string `json:"-"`
	// LastStreamSeq is the stream sequence of the last event folded in: the expected last
	// subject sequence for the next append.
	LastStreamSeq uint64 `json:"-"`
}

// Assignee returns the assigned specialist's id, or "".
func (c *Consult) Assignee() string {
	if c.AssigneeID == nil {
		return ""
	}
	return *c.AssigneeID
}

// Has reports whether the event with id is part of c's history.
func (c *Consult) Has(id string) bool {
	return slices.ContainsFunc(c.Events, func(r EventRef) bool { return r.ID == id })
}

// Position is the number of events folded into c.
func (c *Consult) Position() int { return len(c.Events) }

// Fold builds a consult's state from its events, in order.
func Fold(events []event.Event) (*Consult, error) {
	var c *Consult
	for _, e := range events {
		next, err := Apply(c, e)
		if err != nil {
			return nil, err
		}
		c = next
	}
	if c == nil {
		return nil, fmt.Errorf("fold: no events")
	}
	return c, nil
}

// Apply returns the state after e. c is nil before the first event; Apply does not modify c,
// so callers may keep the state before an event beside the state after it.
func Apply(c *Consult, e event.Event) (*Consult, error) {
	if c == nil {
		if e.Type != event.Requested || e.Position != 1 {
			return nil, fmt.Errorf("apply %s to %s: history must start with a request at position 1", e.Type, e.ConsultID)
		}
		r := e.Request
		n := &Consult{
			ID: e.ConsultID, Status: StatusRequested, Urgency: r.Urgency, Specialty: r.Specialty,
			ClinicID: r.ClinicID, ReferrerID: e.ActorID, Patient: r.Patient, Question: r.Question,
			Summary: r.Summary, Language: r.Language, CreatedAt: e.At, SLA: SLA{AcceptBy: r.AcceptBy, RecommendBy: r.RecommendBy},
			Details: r.Details, Attachments: r.Attachments, RequestedUrgency: r.RequestedUrgency, RedFlags: r.RedFlags, RedFlagReasons: r.RedFlagReasons,
			Messages: []Message{}, Receipts: []Receipt{}, Offers: []Offer{}, IdempotencyKey: r.IdempotencyKey, BodyDigest: r.BodyDigest,
		}
		n.record(e)
		return n, nil
	}
	if e.ConsultID != c.ID {
		return nil, fmt.Errorf("apply %s: event of consult %s", c.ID, e.ConsultID)
	}
	if e.Position != c.Position()+1 {
		return nil, fmt.Errorf("apply %s: event at position %d after %d", c.ID, e.Position, c.Position())
	}
	n := c.clone()
	switch e.Type {
	case event.Requested:
		return nil, fmt.Errorf("apply %s: second request", c.ID)
	case event.Offered:
		ids := e.SpecialistIDs
		if len(ids) == 0 {
			ids = []string{e.SpecialistID}
		}
		n.Status = StatusOffered
		for _, id := range ids {
			n.Offers = append(n.Offers, Offer{SpecialistID: id, OfferedAt: e.At, ExpiresAt: e.ExpiresAt, Position: e.Position,
				Round: e.Round, Step: e.Step})
			n.Offered = append(n.Offered, id)
		}
		n.enterStep(e, "offer")
		n.Escalation.Tried = append(n.Escalation.Tried, ids...)
		n.Escalation.RoundTried = append(n.Escalation.RoundTried, ids...)
	case event.CoordinatorsAlerted:
		n.enterStep(e, "coordinators")
	case event.OfferExpired:
		n.endOffers()
	case event.Declined:
		n.Offers = slices.DeleteFunc(n.Offers, func(o Offer) bool { return o.SpecialistID == e.SpecialistID })
		if !slices.Contains(n.Declined, e.SpecialistID) {
			n.Declined = append(n.Declined, e.SpecialistID)
		}
		if len(n.Offers) == 0 && n.Status == StatusOffered {
			n.Status = StatusRequested
		}
	case event.Accepted, event.Assigned:
		who := e.ActorID
		if e.Type == event.Assigned {
			who = e.SpecialistID
		}
		n.AssigneeID = &who
		n.Offers = nil
		n.Status = StatusAccepted
		if n.AcceptedAt.IsZero() {
			n.AcceptedAt = e.At
		}
	case event.Message:
		n.Messages = append(n.Messages, Message{ID: e.MessageID, AuthorID: e.ActorID, Body: e.Body, At: e.At, Kind: KindMessage})
		// The referring clinic's answer ends the wait for more information; a coordinator's
		// note does not.
		if n.Status == StatusInfoRequested && e.ActorRole == RoleReferrer {
			n.Status = StatusAccepted
		}
	case event.InfoRequested:
		n.Messages = append(n.Messages, Message{ID: e.MessageID, AuthorID: e.ActorID, Body: e.Body, At: e.At, Kind: KindInfoRequest})
		n.Status = StatusInfoRequested
	case event.Completed:
		rec := e.Recommendation
		n.Recommendation = &rec
		n.Status = StatusCompleted
		n.ClosedAt = e.At
	case event.Seen:
		if i := n.offerIndex(e.ActorID); i >= 0 && n.Offers[i].SeenAt == nil {
			at := e.At
			n.Offers[i].SeenAt = &at
		}
		if !slices.ContainsFunc(n.Receipts, func(r Receipt) bool { return r.UserID == e.ActorID }) {
			n.Receipts = append(n.Receipts, Receipt{UserID: e.ActorID, At: e.At})
		}
	case event.OfferReminder:
		for i := range n.Offers {
			n.Offers[i].Reminders++
		}
	case event.Escalated:
		n.Offers = nil
		n.Status = StatusEscalated
		if n.Escalation == nil {
			n.Escalation = &Escalation{}
		}
		n.Escalation.Target, n.Escalation.SnoozedUntil = "escalated", time.Time{}
	case event.Snoozed:
		if n.Escalation != nil {
			n.Escalation.SnoozedUntil = e.Until
		}
	case event.UrgencyChanged, event.SpecialtyChanged:
		if e.Type == event.UrgencyChanged {
			n.Urgency = e.Urgency
			// A breach on the timeline stays recorded: the consult was late, whatever its
			// urgency became, and is not recorded late twice.
			n.SLA.AcceptBy, n.SLA.RecommendBy = e.AcceptBy, e.RecommendBy
		} else {
			n.Specialty = e.Specialty
		}
		// Routing starts over under the new policy; an owner keeps the consult unless the
		// specialty changed under them, and then it waits to be accepted again. Declines were
		// of the old specialty's consult.
		n.Offers, n.Escalation = nil, nil
		if e.Type == event.SpecialtyChanged {
			n.Declined = nil
			if n.AssigneeID != nil && !n.Status.Closed() {
				n.AssigneeID, n.AcceptedAt = nil, time.Time{}
				n.Status = StatusRequested
			}
		}
		if n.Status == StatusOffered || n.Status == StatusEscalated {
			n.Status = StatusRequested
		}
	case event.SLABreached:
		if !slices.Contains(n.SLA.Recorded, e.Clock) {
			n.SLA.Recorded = append(n.SLA.Recorded, e.Clock)
		}
	case event.Cancelled:
		n.Offers = nil
		n.Status = StatusCancelled
		n.ClosedAt = e.At
	}
	n.syncOffer()
	n.record(e)
	return n, nil
}

func (c *Consult) record(e event.Event) {
	c.Events = append(c.Events, EventRef{ID: e.ID, Seq: e.Position, Type: e.Type, At: e.At, ActorID: e.ActorID,
		SpecialistID: e.SpecialistID, Reason: e.Reason, ExpiresAt: e.ExpiresAt})
	c.UpdatedAt = e.At
	c.LastStreamSeq = e.StreamSeq
}

// enterStep records that routing started an escalation step with e.
func (c *Consult) enterStep(e event.Event, target string) {
	old := c.Escalation
	if old != nil && old.Round == e.Round && old.Step == e.Step && old.Target == target {
		old.StepEndsAt, old.Position = e.ExpiresAt, e.Position // the same step, offered to its next candidate
		return
	}
	c.Escalation = &Escalation{Round: e.Round, Step: e.Step, Target: target, StepEndsAt: e.ExpiresAt, Position: e.Position}
	if old != nil && old.Round == e.Round {
		c.Escalation.RoundTried = old.RoundTried
	}
}

// endOffers ends every live offer; nobody holds the consult any more.
func (c *Consult) endOffers() {
	c.Offers = nil
	if c.Status == StatusOffered {
		c.Status = StatusRequested
	}
}

// syncOffer keeps Offer the first of Offers.
func (c *Consult) syncOffer() {
	if c.Offers == nil {
		c.Offers = []Offer{}
	}
	c.Offer = nil
	if len(c.Offers) > 0 {
		o := c.Offers[0]
		c.Offer = &o
	}
}

// offerIndex returns the index of id's live offer in Offers, or -1.
func (c *Consult) offerIndex(id string) int {
	return slices.IndexFunc(c.Offers, func(o Offer) bool { return o.SpecialistID == id })
}

// OfferFor returns the live offer held by the specialist id, or nil.
func (c *Consult) OfferFor(id string) *Offer {
	if i := c.offerIndex(id); i >= 0 {
		return &c.Offers[i]
	}
	return nil
}

// Holders returns the specialists holding live offers.
func (c *Consult) Holders() []string {
	out := make([]string, len(c.Offers))
	for i, o := range c.Offers {
		out[i] = o.SpecialistID
	}
	return out
}

// clone copies c deeply enough that Apply never changes a state someone else holds. SeenAt
// pointers are replaced, never written through, so sharing them is safe.
func (c *Consult) clone() *Consult {
	n := *c
	n.Messages = slices.Clone(c.Messages)
	n.Receipts = slices.Clone(c.Receipts)
	n.Events = slices.Clone(c.Events)
	n.Offered = slices.Clone(c.Offered)
	n.Declined = slices.Clone(c.Declined)
	n.Offers = slices.Clone(c.Offers)
	n.SLA.Recorded = slices.Clone(c.SLA.Recorded)
	if c.Escalation != nil {
		esc := *c.Escalation
		esc.Tried = slices.Clone(c.Escalation.Tried)
		esc.RoundTried = slices.Clone(c.Escalation.RoundTried)
		n.Escalation = &esc
	}
	return &n
}

// At returns c as seen at now: the SLA's breached flag depends on the clock.
func (c *Consult) At(now time.Time) *Consult {
	n := *c
	until := now
	switch {
	case !c.AcceptedAt.IsZero():
		until = c.AcceptedAt
	case !c.ClosedAt.IsZero():
		until = c.ClosedAt
	}
	n.SLA.Breached = !c.SLA.AcceptBy.IsZero() && until.After(c.SLA.AcceptBy)
	until = now
	if !c.ClosedAt.IsZero() {
		until = c.ClosedAt
	}
	n.SLA.RecommendBreached = !c.SLA.RecommendBy.IsZero() && c.Status != StatusCancelled && until.After(c.SLA.RecommendBy)
	return &n
}
