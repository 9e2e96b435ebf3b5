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

// The consult statuses of API.md.
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

// Offer is a live offer of the consult to one specialist, open until ExpiresAt.
type Offer struct {
	SpecialistID string    `json:"specialist_id"`
	OfferedAt    time.Time `json:"offered_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	// Position is the position of the Offered event, which identifies this offer.
	Position int `json:"position"`
	// SeenAt is when the specialist first opened the offer; nil while unseen.
	SeenAt *time.Time `json:"seen_at"`
	// Reminders counts the re-alerts sent while the offer was unseen.
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

// SLA is the response-time target of a consult.
type SLA struct {
	AcceptBy time.Time `json:"accept_by"`
	Breached bool      `json:"breached"`
}

// Consult is the state of one consult: the fold of its events. Its JSON form is the API's.
type Consult struct {
	ID             string        `json:"id"`
	Status         Status        `json:"status"`
	Urgency        string        `json:"urgency"`
	Specialty      string        `json:"specialty"`
	ClinicID       string        `json:"clinic_id"`
	ReferrerID     string        `json:"referrer_id"`
	AssigneeID     *string       `json:"assignee_id"`
	Patient        event.Patient `json:"patient"`
	Question       string        `json:"question"`
	Summary        string        `json:"summary"`
	Language       string        `json:"language,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	SLA            SLA           `json:"sla"`
	Offer          *Offer        `json:"offer"`
	Recommendation *string       `json:"recommendation"`
	Messages       []Message     `json:"messages"`
	Receipts       []Receipt     `json:"receipts"`
	Events         []EventRef    `json:"events"`

	// Offered lists, in order, every specialist this consult has been offered to.
	Offered []string `json:"offered_to,omitempty"`
	// AcceptedAt is when a specialist first took the consult.
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// ClosedAt is when the consult was completed or cancelled.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// IdempotencyKey is the key the referrer submitted it with, if any.
	IdempotencyKey string `json:"-"`
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
			Summary: r.Summary, Language: r.Language, CreatedAt: e.At, SLA: SLA{AcceptBy: r.AcceptBy},
			Messages: []Message{}, Receipts: []Receipt{}, IdempotencyKey: r.IdempotencyKey,
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
		n.Status = StatusOffered
		n.Offer = &Offer{SpecialistID: e.SpecialistID, OfferedAt: e.At, ExpiresAt: e.ExpiresAt, Position: e.Position}
		n.Offered = append(n.Offered, e.SpecialistID)
	case event.OfferExpired, event.Declined:
		n.Offer = nil
		if n.Status == StatusOffered {
			n.Status = StatusRequested
		}
	case event.Accepted, event.Assigned:
		who := e.ActorID
		if e.Type == event.Assigned {
			who = e.SpecialistID
		}
		n.AssigneeID = &who
		n.Offer = nil
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
		if n.Offer != nil && n.Offer.SpecialistID == e.ActorID && n.Offer.SeenAt == nil {
			at := e.At
			n.Offer.SeenAt = &at
		}
		if !slices.ContainsFunc(n.Receipts, func(r Receipt) bool { return r.UserID == e.ActorID }) {
			n.Receipts = append(n.Receipts, Receipt{UserID: e.ActorID, At: e.At})
		}
	case event.OfferReminder:
		if n.Offer != nil {
			n.Offer.Reminders++
		}
	case event.Escalated:
		n.Offer = nil
		n.Status = StatusEscalated
	case event.Cancelled:
		n.Offer = nil
		n.Status = StatusCancelled
		n.ClosedAt = e.At
	}
	n.record(e)
	return n, nil
}

func (c *Consult) record(e event.Event) {
	c.Events = append(c.Events, EventRef{ID: e.ID, Seq: e.Position, Type: e.Type, At: e.At, ActorID: e.ActorID,
		SpecialistID: e.SpecialistID, Reason: e.Reason, ExpiresAt: e.ExpiresAt})
	c.UpdatedAt = e.At
	c.LastStreamSeq = e.StreamSeq
}

// clone copies c deeply enough that Apply never changes a state someone else holds.
func (c *Consult) clone() *Consult {
	n := *c
	n.Messages = slices.Clone(c.Messages)
	n.Receipts = slices.Clone(c.Receipts)
	n.Events = slices.Clone(c.Events)
	n.Offered = slices.Clone(c.Offered)
	if c.Offer != nil {
		o := *c.Offer // SeenAt is replaced, never written through, so sharing it is safe
		n.Offer = &o
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
	return &n
}
