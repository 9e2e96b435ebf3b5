package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 128

// writeTimeout bounds an append once it has started. It runs detached from the request: a
// referrer whose link drops mid-request must not leave the outcome undecided.
const writeTimeout = 10 * time.Second

func (s *Server) createConsult(w http.ResponseWriter, r *http.Request, u roster.User) {
	var d consult.Draft
	attachments, err := decodeDraft(w, r, &d)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if err := checkIdempotencyKey(key); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	digest := bodyDigest(d, attachments)
	id := ulid.Make().String()
	ros := s.dir.Roster()
	e, err := consult.Submit(actor(u), d, id, key, s.submitPolicy(ros), s.now())
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if key != "" {
		e.Request.BodyDigest = digest
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	var opts []consultstore.AppendOption
	if key != "" {
		c, err := s.claim(ctx, u.ID, key, id)
		if err != nil {
			apierror.Write(w, s.log, err)
			return
		}
		if c != nil {
			s.replay(ctx, w, u, c, digest)
			return
		}
		// The stream also recognises a retry of this key for a while, should Redis have lost it.
		sum := sha256.Sum256([]byte(u.ID + "\x00" + key))
		opts = append(opts, consultstore.WithDedupeID("req-"+hex.EncodeToString(sum[:])))
	}
	// Charged only now: a retry of a stored submission (its key claimed already) is answered
	// above, free. A submission that is certainly not stored gets its charge back.
	cost := s.quotas.forSubmission(e.Request.Urgency)
	if !s.spend(w, r, u, cost...) {
		s.release(ctx, u.ID, key, id)
		return
	}
	if e.Request.Attachments, err = s.attach(ctx, u, attachments); err != nil {
		s.release(ctx, u.ID, key, id)
		s.refund(ctx, u, cost...)
		apierror.Write(w, s.log, err)
		return
	}
	e.ID = ulid.Make().String()
	c, err := s.consults.Append(ctx, nil, e, opts...)
	var dup *consultstore.DuplicateError
	switch {
	case errors.As(err, &dup):
		if first, lerr := s.consults.Load(ctx, dup.ConsultID); lerr == nil {
			s.release(ctx, u.ID, key, id)
			s.refund(ctx, u, cost...) // the first one was charged
			s.replay(ctx, w, u, first, digest)
			return
		}
	case err != nil:
		// The append may have been stored although its acknowledgement was lost: look.
		stored, lerr := s.consults.Load(ctx, id)
		if lerr == nil && stored.Has(e.ID) {
			c, err = stored, nil
			break
		}
		if errors.Is(lerr, consultstore.ErrNotFound) {
			s.release(ctx, u.ID, key, id) // certainly not stored: a retry may go ahead
			s.refund(ctx, u, cost...)
		} // otherwise the claim lapses by itself, and a retry finds the outcome
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	if key != "" {
		if err := s.store.Confirm(ctx, u.ID, key, id, c.CreatedAt); err != nil {
			// The projector restores the key from the stored event; the consult is stored either way.
			s.log.Warn("idempotency key not confirmed yet", "consult_id", id, "err", err)
		}
	}
	s.submitted.Add(ctx, 1, metric.WithAttributes(attribute.String("urgency", c.Urgency)))
	w.Header().Set("Location", "/api/v1/consults/"+c.ID)
	apierror.WriteJSON(w, http.StatusCreated, c.At(s.now()))
}

// replay answers a retried submission with the consult the first one created, or with 422 when
// the key named another request (a consult stored before keys had digests is taken as it is).
func (s *Server) replay(ctx context.Context, w http.ResponseWriter, u roster.User, c *consult.Consult, digest string) {
	if c.BodyDigest != "" && c.BodyDigest != digest {
		apierror.Write(w, s.log, consult.Errorf(consult.KeyReused,
			"this Idempotency-Key was already used for a different request; send a new request with a new key"))
		return
	}
	s.audit.Record(ctx, u.ID, "read", c.ID)
	apierror.WriteJSON(w, http.StatusOK, c.At(s.now()))
}

func (s *Server) release(ctx context.Context, user, key, id string) {
	if key == "" {
		return
	}
	if err := s.store.Release(ctx, user, key, id); err != nil {
		s.log.Warn("idempotency claim not released; it lapses by itself", "consult_id", id, "err", err)
	}
}

// bodyDigest fingerprints a submission as the API decoded it (the draft and the attachment ids),
// so that a retry with the same Idempotency-Key can be told from another request: the same JSON
// with other spacing, key order or escapes has the same digest.
func bodyDigest(d consult.Draft, attachments []string) string {
	data, _ := json.Marshal(struct {
		consult.Draft
		Attachments []string `json:"attachments"`
	}{d, attachments}) // a decoded draft always encodes
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func checkIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKey {
		return errInvalid("Idempotency-Key", problem.TooLong(maxIdempotencyKey))
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return errInvalid("Idempotency-Key", problem.Malformed("must be printable ASCII without spaces"))
		}
	}
	return nil
}

// claim takes user's idempotency key for consult id. It returns the consult the key already
// names (nil when the key is the caller's now), waiting briefly for a first request with the
// same key that is still being stored.
func (s *Server) claim(ctx context.Context, user, key, id string) (*consult.Consult, error) {
	if whole, err := s.store.Complete(ctx); err != nil {
		return nil, apierror.Unavailable(err)
	} else if !whole {
		return nil, consult.Errorf(consult.Unavailable, "submissions with an Idempotency-Key wait until the read model is rebuilt; retry in a moment")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cl, err := s.store.Claim(ctx, user, key, id)
		if err != nil {
			return nil, apierror.Unavailable(err)
		}
		if cl.Claimed {
			return nil, nil
		}
		c, err := s.consults.Load(ctx, cl.ExistingID)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, consultstore.ErrNotFound) {
			return nil, apierror.Unavailable(err)
		}
		if !cl.Pending || time.Now().After(deadline) {
			return nil, consult.Errorf(consult.Conflict, "a request with this Idempotency-Key is still being processed; retry shortly")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// load returns the consult u may see, or a NotFound or Forbidden error.
func (s *Server) load(ctx context.Context, id string, u roster.User) (*consult.Consult, error) {
	if _, err := ulid.ParseStrict(id); err != nil {
		return nil, errNotFound("no such consult")
	}
	c, err := s.consults.Load(ctx, id)
	if errors.Is(err, consultstore.ErrNotFound) {
		return nil, errNotFound("no such consult")
	}
	if err != nil {
		return nil, apierror.Unavailable(err)
	}
	if !c.CanView(actor(u)) {
		return nil, errForbidden("this consult is not yours to see")
	}
	return c, nil
}

func (s *Server) getConsult(w http.ResponseWriter, r *http.Request, u roster.User) {
	c, err := s.load(r.Context(), r.PathValue("id"), u)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	s.audit.Record(r.Context(), u.ID, "read", c.ID)
	apierror.WriteJSON(w, http.StatusOK, c.At(s.now()))
}

func (s *Server) listConsults(w http.ResponseWriter, r *http.Request, u roster.User) {
	q := r.URL.Query()
	f := readmodel.Filter{Status: consult.Status(q.Get("status")), Specialty: q.Get("specialty"), Urgency: q.Get("urgency")}
	fields := map[string]problem.Problem{}
	if f.Status != "" && !slices.Contains(consult.Statuses, f.Status) {
		fields["status"] = problem.Unknown("unknown status")
	}
	if f.Urgency != "" && !slices.Contains(consult.Urgencies, f.Urgency) {
		fields["urgency"] = problem.OneOf(consult.Urgencies...)
	}
	if f.Specialty != "" && !s.dir.Roster().HasSpecialty(f.Specialty) {
		fields["specialty"] = problem.Unknown("unknown specialty")
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			fields["limit"] = problem.WholeNumberFrom(1, 200)
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if cursor != "" {
		if _, err := ulid.ParseStrict(cursor); err != nil {
			fields["cursor"] = problem.Malformed("not a cursor this endpoint returned")
		}
	}
	if len(fields) > 0 {
		apierror.Write(w, s.log, consult.InvalidFields("the list query has invalid parameters", fields))
		return
	}
	if whole, err := s.store.Complete(r.Context()); err != nil || !whole {
		apierror.Write(w, s.log, errors.Join(consult.Errorf(consult.Unavailable, "the list is being rebuilt; retry in a moment"), err))
		return
	}
	list, next, err := s.store.List(r.Context(), actor(u), f, cursor, limit)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	now := s.now()
	ids := make([]string, len(list))
	for i, c := range list {
		list[i], ids[i] = c.At(now), c.ID
	}
	s.audit.Record(r.Context(), u.ID, "list", ids...)
	apierror.WriteJSON(w, http.StatusOK, map[string]any{"consults": list, "next_cursor": next})
}

// change decides a change on the newest state of the consult and stores it through the consult
// store's Update, which decides again if another change got there first. It returns the state
// after the change and its event; a decision that returns a zero event changes nothing and gets
// the current state. The write runs detached from the request, under writeTimeout.
func (s *Server) change(ctx context.Context, id string, u roster.User,
	decide func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error)) (*consult.Consult, event.Event, error) {
	if _, err := ulid.ParseStrict(id); err != nil {
		return nil, event.Event{}, errNotFound("no such consult")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	c, e, err := s.consults.Update(ctx, id, func(c *consult.Consult) (event.Event, error) { return decide(c, actor(u), s.now()) })
	var decided *consult.Error
	switch {
	case err == nil:
		return c, e, nil
	case errors.As(err, &decided):
		return nil, event.Event{}, err
	case errors.Is(err, consultstore.ErrNotFound):
		return nil, event.Event{}, errNotFound("no such consult")
	case errors.Is(err, consultstore.ErrConflict):
		return nil, event.Event{}, consult.Errorf(consult.Conflict, "the consult keeps changing; reload it and try again")
	}
	return nil, event.Event{}, apierror.Unavailable(err)
}

// respond runs change and answers with the consult.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, u roster.User,
	decide func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error)) {
	c, _, err := s.change(r.Context(), r.PathValue("id"), u, decide)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	apierror.WriteJSON(w, http.StatusOK, c.At(s.now()))
}

// textBody decodes a body with one optional or required free-text field.
func textBody(w http.ResponseWriter, r *http.Request, field string, required bool) (string, error) {
	body := map[string]*string{}
	if err := decode(w, r, &body); err != nil && (required || !errors.Is(err, errEmptyBody)) {
		return "", err
	}
	for k := range body {
		if k != field {
			return "", errInvalid(k, problem.UnknownField())
		}
	}
	text := ""
	if v := body[field]; v != nil {
		text = strings.TrimSpace(*v)
	}
	least := 0
	if required {
		least = 1
	}
	if p, bad := consult.CheckText(text, least, consult.MaxText); bad {
		return "", errInvalid(field, p)
	}
	return text, nil
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request, u roster.User) {
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Accept(a, now)
	})
}

func (s *Server) decline(w http.ResponseWriter, r *http.Request, u roster.User) {
	reason, err := textBody(w, r, "reason", false)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Decline(a, reason, now)
	})
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, u roster.User) {
	rec, err := textBody(w, r, "recommendation", true)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Complete(a, rec, now)
	})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request, u roster.User) {
	reason, err := textBody(w, r, "reason", false)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Cancel(a, reason, now)
	})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request, u roster.User) {
	var req struct {
		SpecialistID string `json:"specialist_id"`
	}
	if err := decode(w, r, &req); err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	if req.SpecialistID == "" {
		apierror.Write(w, s.log, errInvalid("specialist_id", problem.Required()))
		return
	}
	if sp, ok := s.dir.Roster().User(req.SpecialistID); !ok || sp.Role != consult.RoleSpecialist || sp.Disabled {
		apierror.Write(w, s.log, errInvalid("specialist_id", problem.Unknown("no active specialist has this id")))
		return
	}
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return c.Assign(a, req.SpecialistID, now)
	})
}

// seen records a read receipt. Opening a consult again records nothing new and still answers 200.
func (s *Server) seen(w http.ResponseWriter, r *http.Request, u roster.User) {
	s.respond(w, r, u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		e, _, err := c.MarkSeen(a, now) // nothing new: a zero event, which change does not append
		return e, err
	})
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, u roster.User) {
	s.thread(w, r, u, (*consult.Consult).PostMessage)
}

func (s *Server) requestInfo(w http.ResponseWriter, r *http.Request, u roster.User) {
	s.thread(w, r, u, (*consult.Consult).RequestInfo)
}

// thread adds an entry to the consult's thread and answers 201 with it.
func (s *Server) thread(w http.ResponseWriter, r *http.Request, u roster.User,
	decide func(c *consult.Consult, a consult.Actor, messageID, body string, now time.Time) (event.Event, error)) {
	body, err := textBody(w, r, "body", true)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	// Charged before the change, so that a burst cannot slip past the budget; given back when
	// nothing was added (the consult is closed, not the user's, or the store failed).
	if !s.spend(w, r, u, s.quotas.messages) {
		return
	}
	messageID := ulid.Make().String()
	_, e, err := s.change(r.Context(), r.PathValue("id"), u, func(c *consult.Consult, a consult.Actor, now time.Time) (event.Event, error) {
		return decide(c, a, messageID, body, now)
	})
	if err != nil {
		s.refund(context.WithoutCancel(r.Context()), u, s.quotas.messages)
		apierror.Write(w, s.log, err)
		return
	}
	apierror.WriteJSON(w, http.StatusCreated, map[string]any{"message": consult.Message{
		ID: e.MessageID, AuthorID: e.ActorID, Body: e.Body, At: e.At,
		Kind: map[event.Type]string{event.Message: consult.KindMessage, event.InfoRequested: consult.KindInfoRequest}[e.Type]}})
}
