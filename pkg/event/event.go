// Package event is the schema of the consult event stream: the one model every service shares.
// A consult's state is the fold of its events (see package consult); this package only says what
// an event is and how it is encoded. It imports nothing else of ours.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Type names what happened to a consult. The strings are part of the public stream contract.
type Type string

// The event types of the consult lifecycle.
const (
	Requested     Type = "consult.requested"
	Offered       Type = "consult.offered"
	OfferExpired  Type = "consult.offer_expired"
	Declined      Type = "consult.declined"
	Accepted      Type = "consult.accepted"
	Message       Type = "consult.message"
	InfoRequested Type = "consult.info_requested"
	Completed     Type = "consult.completed"
	Escalated     Type = "consult.escalated"
	Cancelled     Type = "consult.cancelled"
	Assigned      Type = "consult.assigned"
	// Seen is a read receipt: the specialist holding the offer, or the assignee, opened it.
	Seen Type = "consult.seen"
	// OfferReminder re-alerts a specialist whose live offer has not been seen yet.
	OfferReminder Type = "consult.offer_reminder"
	// CoordinatorsAlerted is an escalation step that asks the coordinators to act, and waits.
	CoordinatorsAlerted Type = "consult.coordinators_alerted"
	// UrgencyChanged and SpecialtyChanged are a coordinator's corrections; routing starts over.
	UrgencyChanged   Type = "consult.urgency_changed"
	SpecialtyChanged Type = "consult.specialty_changed"
	// Snoozed mutes an escalation's alarm until a moment, when it sounds again.
	Snoozed Type = "consult.snoozed"
	// SLABreached records, once per clock, that a response-time target passed unmet.
	SLABreached Type = "consult.sla_breached"
)

// Patient is the minimum identity a consult needs: no names, no national ids.
type Patient struct {
	AgeYears  int    `json:"age_years"`
	Sex       string `json:"sex"`
	Reference string `json:"reference,omitempty"`
}

// Request is the referrer's case as submitted; carried by Requested.
type Request struct {
	Urgency        string  `json:"urgency"`
	Specialty      string  `json:"specialty"`
	ClinicID       string  `json:"clinic_id"`
	Patient        Patient `json:"patient"`
	Question       string  `json:"question"`
	Summary        string  `json:"summary,omitempty"`
	Language       string  `json:"language,omitempty"`
	IdempotencyKey string  `json:"idempotency_key,omitempty"`
	// BodyDigest is the SHA-256 (hex) of the request as the API decoded it, when it came with an
	// IdempotencyKey: a retry with the same key must be the same request.
	BodyDigest string `json:"body_digest,omitempty"`
	// Details are the specialty's structured facts, keyed by the fields of its form.
	Details map[string]any `json:"details,omitempty"`
	// Attachments are files stored before the request, referenced by id.
	Attachments []Attachment `json:"attachments,omitempty"`
	// RequestedUrgency is the urgency the referrer chose when red-flag rules raised it.
	RequestedUrgency string `json:"requested_urgency,omitempty"`
	// RedFlags are the reasons red-flag rules gave for raising the urgency, in English;
	// RedFlagReasons the same reasons by language (en, ar, he).
	RedFlags       []string            `json:"red_flags,omitempty"`
	RedFlagReasons []map[string]string `json:"red_flag_reasons,omitempty"`
	// AcceptBy is the SLA deadline for a specialist to accept, fixed at submission.
	AcceptBy time.Time `json:"accept_by"`
	// RecommendBy is the SLA deadline for the recommendation.
	RecommendBy time.Time `json:"recommend_by,omitzero"`
}

// Attachment is a file attached to a consult: a lab report or an image, checked by content.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Event is one change to one consult. Position is its 1-based place in that consult's history,
// set by the writer from the state it decided on; the stream's optimistic concurrency guarantees
// that only one event is ever stored at each position.
type Event struct {
	ID        string    `json:"id"`
	Type      Type      `json:"type"`
	ConsultID string    `json:"consult_id"`
	Position  int       `json:"position"`
	At        time.Time `json:"at"`
	ActorID   string    `json:"actor_id"`
	// ActorRole is the actor's role when it decides how the event folds (a thread message).
	ActorRole string `json:"actor_role,omitempty"`

	Request        *Request  `json:"request,omitempty"`
	SpecialistID   string    `json:"specialist_id,omitempty"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	Reason         string    `json:"reason,omitempty"`
	MessageID      string    `json:"message_id,omitempty"`
	Body           string    `json:"body,omitempty"`
	Recommendation string    `json:"recommendation,omitempty"`
	// Reminder numbers an OfferReminder within its offer, from 1.
	Reminder int `json:"reminder,omitempty"`

	// SpecialistIDs are everyone an Offered event offers the consult to at once (SpecialistID
	// is the first of them), or everyone an OfferReminder re-alerts.
	SpecialistIDs []string `json:"specialist_ids,omitempty"`
	// Round and Step place an Offered or CoordinatorsAlerted event in the escalation policy,
	// both from 1.
	Round int `json:"round,omitempty"`
	Step  int `json:"step,omitempty"`
	// Withdrawn lists the specialists whose live offers the event ended (another accepted, a
	// coordinator assigned, cancelled or re-routed).
	Withdrawn []string `json:"withdrawn,omitempty"`
	// Urgency and Specialty are the new values of UrgencyChanged and SpecialtyChanged.
	Urgency   string `json:"urgency,omitempty"`
	Specialty string `json:"specialty,omitempty"`
	// AcceptBy and RecommendBy are the SLA deadlines an UrgencyChanged event sets.
	AcceptBy    time.Time `json:"accept_by,omitzero"`
	RecommendBy time.Time `json:"recommend_by,omitzero"`
	// Until is when a snooze ends.
	Until time.Time `json:"until,omitzero"`
	// Clock names the SLA clock an SLABreached event records: "accept" or "recommend".
	Clock string `json:"clock,omitempty"`

	// StreamSeq is the event's sequence in the stream. It is not encoded: readers set it from
	// the stream's metadata.
	StreamSeq uint64 `json:"-"`
}

// Marshal encodes e for the stream.
func Marshal(e Event) ([]byte, error) {
	return json.Marshal(e)
}

// Unmarshal decodes an event read from the stream and checks the fields every event must have.
// A type this version does not know is accepted: a newer writer may have stored it during a
// rolling upgrade, and readers fold it as a timeline entry that changes nothing else.
func Unmarshal(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case e.Type == "":
		return Event{}, fmt.Errorf("decode event: no type")
	case e.ConsultID == "" || e.ID == "":
		return Event{}, fmt.Errorf("decode event: missing id or consult id")
	case e.Position < 1:
		return Event{}, fmt.Errorf("decode event %s: position %d", e.ID, e.Position)
	case e.Type == Requested && e.Request == nil:
		return Event{}, fmt.Errorf("decode event %s: requested without request", e.ID)
	}
	return e, nil
}
