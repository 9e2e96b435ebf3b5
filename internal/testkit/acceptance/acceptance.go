// Package acceptance is the broker's end-to-end contract suite: it drives a running broker only
// through its public HTTP API and live stream, as browsers and scripts do, and checks the
// behaviour the API promises (docs/api.md). The same suite runs against consultd in one process and against
// the separate service binaries.
package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
)

// Target is a running broker seeded with the demo roster, whose escalation steps wait 5s for
// emergent, 1s for urgent and 1s for routine consults (STEP_WAIT_*).
type Target struct {
	// Base is the API's origin; StreamBase where the stream is served if elsewhere.
	Base, StreamBase string
	// FlushRedis empties Redis, as an operator's FLUSHALL or a failover to an empty replica would.
	FlushRedis func(t *testing.T)
	// RestartRouting kills the routing process without warning and starts it again; nil when
	// routing cannot be restarted alone.
	RestartRouting func(t *testing.T)
	// KillRouting kills one of two routing processes running side by side without warning and
	// returns a function that starts it again; nil when the target runs one router in process.
	KillRouting func(t *testing.T) (restart func())
}

const wait = 10 * time.Second

// Consult is the part of a consult the suite reads.
type Consult struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Urgency    string  `json:"urgency"`
	ClinicID   string  `json:"clinic_id"`
	AssigneeID *string `json:"assignee_id"`
	Question   string  `json:"question"`
	Specialty  string  `json:"specialty"`
	Offer      *struct {
		SpecialistID string `json:"specialist_id"`
	} `json:"offer"`
	Offers []struct {
		SpecialistID string `json:"specialist_id"`
	} `json:"offers"`
	RequestedUrgency string              `json:"requested_urgency"`
	RedFlags         []string            `json:"red_flags"`
	RedFlagReasons   []map[string]string `json:"red_flag_reasons"`
	SLA              struct {
		AcceptBy time.Time `json:"accept_by"`
	} `json:"sla"`
	Escalation *struct {
		SnoozedUntil time.Time `json:"snoozed_until"`
	} `json:"escalation"`
	Events []struct {
		Seq          int    `json:"seq"`
		Type         string `json:"type"`
		SpecialistID string `json:"specialist_id"`
		Reason       string `json:"reason"`
	} `json:"events"`
}

type suite struct {
	t      *testing.T
	target Target
	ctx    context.Context
}

// Run runs the whole suite against target. Subtests run one after another: they read each
// other's side effects on shared streams.
func Run(t *testing.T, target Target) {
	s := &suite{t: t, target: target, ctx: context.Background()}
	t.Run("SubmitOfferAcceptResume", s.submitOfferAcceptResume)
	t.Run("BadInputChangesNothing", s.badInput)
	t.Run("DeclinesThenEscalationThenAssignment", s.declineEscalateAssign)
	t.Run("UnansweredOffersExpireOnce", s.expiry)
	t.Run("SessionsAndOrigins", s.sessionsAndOrigins)
	t.Run("ReadModelRebuildsAfterRedisFlush", s.redisFlush)
	t.Run("DeadlineSurvivesRoutingRestart", s.routingRestart)
	t.Run("CoordinatorControls", s.coordinatorControls)
	t.Run("RedFlagsRaiseUrgency", s.redFlags)
	t.Run("TwoRoutersOneKilledMidEscalation", s.twoRouters)
	t.Run("AwaySpecialistsAreNotOffered", s.awaySpecialist)
	t.Run("AttachmentsCheckedStoredAndShownToWhoMaySee", s.attachments)
}

func (s *suite) client(t *testing.T, user string) *apiclient.Client {
	t.Helper()
	c := apiclient.New(s.target.Base)
	c.StreamBase = s.target.StreamBase
	require.NoError(t, c.Login(s.ctx, user, "demo"), "login %s", user)
	return c
}

// problemCodes sends a request (body nil for none) that must be refused as invalid and returns
// each field's code in the answer's `problems`, having checked that `problems` names the same
// fields as `fields`.
func (s *suite) problemCodes(t *testing.T, c *apiclient.Client, method, path string, body any) map[string]string {
	t.Helper()
	status, err := c.Do(s.ctx, method, path, body, nil, nil)
	require.Equal(t, http.StatusBadRequest, status, "%s %s: got %d, want 400", method, path, status)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	codes := map[string]string{}
	for field, p := range apiErr.Body.Error.Problems {
		codes[field] = p.Code
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(apiErr.Body.Error.Fields)), slices.Collect(maps.Keys(codes)),
		"got problems for %v, want one per field of %v", codes, apiErr.Body.Error.Fields)
	return codes
}

func (s *suite) submit(t *testing.T, c *apiclient.Client, urgency, question, key string) (Consult, int) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var out Consult
	status, err := c.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": urgency, "specialty": "pediatric-oncology",
		"patient":  map[string]any{"age_years": 7, "sex": "female", "reference": "HEB-2231"},
		"question": question, "summary": "ALL, induction day 12. ANC 0.2, T 39.1.", "language": "ar",
	}, h, &out)
	require.NoError(t, err)
	return out, status
}

func (s *suite) get(t *testing.T, c *apiclient.Client, id string) Consult {
	t.Helper()
	var out Consult
	_, err := c.Do(s.ctx, http.MethodGet, "/api/v1/consults/"+id, nil, nil, &out)
	require.NoError(t, err)
	return out
}

// await reads frames until one of consult id with type typ arrives, and returns it.
func await(t *testing.T, st *apiclient.Stream, id, typ string) apiclient.Frame {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f, err := st.Next(time.Until(deadline))
		require.NoError(t, err, "waiting for %s of %s", typ, id)
		if f.ConsultID == id && f.Type == typ {
			return f
		}
	}
}

// collect reads every frame of consult id until one of type last arrives.
func collect(t *testing.T, st *apiclient.Stream, id, last string) []apiclient.Frame {
	t.Helper()
	var out []apiclient.Frame
	deadline := time.Now().Add(wait)
	for {
		f, err := st.Next(time.Until(deadline))
		require.NoError(t, err, "waiting for %s of %s after %v", last, id, types(out))
		if f.ConsultID != id {
			continue
		}
		out = append(out, f)
		if f.Type == last {
			return out
		}
	}
}

// awaitAny reads frames until one of consult id with one of the types arrives, and returns it.
func awaitAny(t *testing.T, st *apiclient.Stream, id string, typs ...string) apiclient.Frame {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f, err := st.Next(time.Until(deadline))
		require.NoError(t, err, "waiting for %v of %s", typs, id)
		if f.ConsultID == id && slices.Contains(typs, f.Type) {
			return f
		}
	}
}

// offeredTo lists who the offered frames among fs offered the consult to, in order.
func offeredTo(t *testing.T, fs []apiclient.Frame) []string {
	t.Helper()
	var out []string
	for _, f := range fs {
		if f.Type == "consult.offered" {
			var c Consult
			require.NoError(t, json.Unmarshal(f.Consult, &c))
			for _, o := range c.Offers {
				out = append(out, o.SpecialistID)
			}
		}
	}
	return out
}

func types(fs []apiclient.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Type
	}
	return out
}

func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

func (s *suite) submitOfferAcceptResume(t *testing.T) {
	ref, ref2 := s.client(t, "referrer1"), s.client(t, "referrer2")
	onc1, onc2, coord := s.client(t, "onc1"), s.client(t, "onc2"), s.client(t, "coord1")

	onc1St, err := onc1.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer onc1St.Close()
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	refSt, err := ref.Stream(s.ctx, -1) // stays open throughout: the authoritative sequence
	require.NoError(t, err)
	defer refSt.Close()
	refDrop, err := ref.Stream(s.ctx, -1) // dropped and resumed with after
	require.NoError(t, err)

	key := unique("key")
	question := unique("Febrile neutropenia on induction: start cefepime or escalate?")
	c, status := s.submit(t, ref, "emergent", question, key)
	assert.Equal(t, http.StatusCreated, status, "got status %d, want 201", status)
	require.NotEmpty(t, c.ID)

	again, status := s.submit(t, ref, "emergent", question, key)
	assert.Equal(t, http.StatusOK, status, "retry with the same Idempotency-Key: got %d, want 200", status)
	assert.Equal(t, c.ID, again.ID, "retry returned another consult")

	// The same key with another request is refused, not answered with the first consult.
	status, err = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": "routine", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 7, "sex": "female"},
		"question": question + " (another request)",
	}, http.Header{"Idempotency-Key": {key}}, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "the key reused for another request: got %d, want 422", status)
	var reused *apiclient.Error
	if assert.ErrorAs(t, err, &reused) {
		assert.Equal(t, "idempotency_key_reused", reused.Body.Error.Code)
	}

	offered := await(t, onc1St, c.ID, "consult.offered")
	var oc Consult
	require.NoError(t, json.Unmarshal(offered.Consult, &oc))
	require.NotNil(t, oc.Offer)
	assert.Equal(t, "u-onc1", oc.Offer.SpecialistID)

	// The read model follows the stream a moment behind: count once it lists the consult offered.
	n := 0
	require.Eventually(t, func() bool {
		var list struct {
			Consults []Consult `json:"consults"`
		}
		if _, err := ref.Do(s.ctx, http.MethodGet, "/api/v1/consults?limit=200", nil, nil, &list); err != nil {
			return false
		}
		n = 0
		listed := false
		for _, x := range list.Consults {
			if x.Question == question {
				n++
			}
			listed = listed || (x.ID == c.ID && x.Offer != nil)
		}
		return listed
	}, 10*time.Second, 50*time.Millisecond, "the list never showed consult %s offered", c.ID)
	assert.Equal(t, 1, n, "got %d consults with the question, want 1 (the retry must create nothing)", n)

	// The specialist opens the offer: a read receipt, recorded once.
	for range 2 {
		_, err = onc1.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/seen", nil, nil, nil)
		require.NoError(t, err)
	}
	status, _ = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/seen", nil, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "a referrer's read receipt: got %d, want 403", status)
	await(t, coordSt, c.ID, "consult.seen")

	var accepted Consult
	_, err = onc1.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/accept", nil, nil, &accepted)
	require.NoError(t, err)
	assert.Equal(t, "accepted", accepted.Status)
	require.NotNil(t, accepted.AssigneeID)
	assert.Equal(t, "u-onc1", *accepted.AssigneeID)

	status, err = onc2.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/accept", nil, nil, nil)
	require.Error(t, err)
	assert.Contains(t, []int{http.StatusConflict, http.StatusForbidden}, status, "second accept: got %d, want 409 or 403", status)

	await(t, coordSt, c.ID, "consult.accepted")
	lastSeen := await(t, refDrop, c.ID, "consult.accepted").Seq
	require.NoError(t, refDrop.Close())

	status, err = ref2.Do(s.ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
	require.Error(t, err)
	assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, status, "another clinic: got %d, want 403 or 404", status)

	// While the second stream is down: a message, a question back, an answer, the recommendation.
	for _, step := range []struct {
		who  *apiclient.Client
		path string
		body map[string]string
	}{
		{onc1, "/messages", map[string]string{"body": "Start cefepime now; send the latest CBC."}},
		{onc1, "/request-info", map[string]string{"body": "Blood culture results?"}},
		{ref, "/messages", map[string]string{"body": "Cultures pending; lactate 1.1."}},
		{onc1, "/complete", map[string]string{"recommendation": "Cefepime 50 mg/kg q8h; add vancomycin if unstable."}},
	} {
		_, err := step.who.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+step.path, step.body, nil, nil)
		require.NoError(t, err, step.path)
	}
	full := collect(t, refSt, c.ID, "consult.completed")

	resumed, err := ref.Stream(s.ctx, int64(lastSeen))
	require.NoError(t, err)
	defer resumed.Close()
	got := collect(t, resumed, c.ID, "consult.completed")

	var want []uint64
	for _, f := range full {
		if f.Seq > lastSeen {
			want = append(want, f.Seq)
		}
	}
	var gotSeqs []uint64
	for _, f := range got {
		gotSeqs = append(gotSeqs, f.Seq)
	}
	assert.Equal(t, want, gotSeqs, "resumed stream: got seqs %v, want %v", gotSeqs, want)
	assert.Equal(t, []string{"consult.message", "consult.info_requested", "consult.message", "consult.completed"}, types(got))

	final := s.get(t, ref, c.ID)
	assert.Equal(t, "completed", final.Status)
	assert.Len(t, final.Events, 8, "requested, offered, seen, accepted, message, info_requested, message, completed")
}

func (s *suite) count(t *testing.T, c *apiclient.Client) int {
	t.Helper()
	n, err := s.tryCount(c)
	require.NoError(t, err)
	return n
}

// tryCount counts every consult c may list, across pages.
func (s *suite) tryCount(c *apiclient.Client) (int, error) {
	var list struct {
		Consults   []Consult `json:"consults"`
		NextCursor string    `json:"next_cursor"`
	}
	n, cursor := 0, ""
	for {
		if _, err := c.Do(s.ctx, http.MethodGet, "/api/v1/consults?limit=200&cursor="+cursor, nil, nil, &list); err != nil {
			return 0, err
		}
		n += len(list.Consults)
		if list.NextCursor == "" {
			return n, nil
		}
		cursor = list.NextCursor
	}
}

func (s *suite) badInput(t *testing.T) {
	ref, coord := s.client(t, "referrer1"), s.client(t, "coord1")
	valid := func() map[string]any {
		return map[string]any{"urgency": "urgent", "specialty": "pediatric-oncology",
			"patient": map[string]any{"age_years": 7, "sex": "female"}, "question": "q"}
	}
	with := func(edit func(m map[string]any)) map[string]any { m := valid(); edit(m); return m }
	patient := func(k string, v any) func(map[string]any) {
		return func(m map[string]any) { m["patient"].(map[string]any)[k] = v }
	}
	before := s.count(t, coord)
	cases := []struct {
		name  string
		body  any
		field string
		code  string // the field's code in `problems`
	}{
		{"missing urgency", with(func(m map[string]any) { delete(m, "urgency") }), "urgency", "required"},
		{"unknown urgency", with(func(m map[string]any) { m["urgency"] = "whenever" }), "urgency", "not_allowed"},
		{"unknown specialty", with(func(m map[string]any) { m["specialty"] = "astrology" }), "specialty", "unknown"},
		{"missing patient", with(func(m map[string]any) { delete(m, "patient") }), "patient", "required"},
		{"negative age", with(patient("age_years", -1)), "patient.age_years", "out_of_range"},
		{"age over 130", with(patient("age_years", 131)), "patient.age_years", "out_of_range"},
		{"fractional age", with(patient("age_years", 7.5)), "patient.age_years", "not_a_whole_number"},
		{"unknown sex", with(patient("sex", "x")), "patient.sex", "not_allowed"},
		{"long reference", with(patient("reference", strings.Repeat("r", 65))), "patient.reference", "too_long"},
		{"empty question", with(func(m map[string]any) { m["question"] = "  " }), "question", "required"},
		{"long question", with(func(m map[string]any) { m["question"] = strings.Repeat("ب", 2001) }), "question", "too_long"},
		{"long summary", with(func(m map[string]any) { m["summary"] = strings.Repeat("s", 20001) }), "summary", "too_long"},
		{"bad language", with(func(m map[string]any) { m["language"] = "not a tag!" }), "language", "malformed"},
		{"question not text", with(func(m map[string]any) { m["question"] = 42 }), "question", "malformed"},
		{"unknown field", with(func(m map[string]any) { m["diagnosis_code"] = "C91.0" }), "diagnosis_code", "unknown_field"},
		// What a JSON decoder lets pass silently is refused, naming the field.
		{"bytes that are not UTF-8", []byte("{\"urgency\":\"urgent\",\"specialty\":\"pediatric-oncology\"," +
			"\"patient\":{\"age_years\":7,\"sex\":\"female\"},\"question\":\"ANC \xff\xfe 0.4\"}"), "question", "invalid_text"},
		{"a key twice", []byte(`{"urgency":"routine","specialty":"pediatric-oncology","patient":{"age_years":7,"sex":"female"},` +
			`"question":"q","urgency":"emergent"}`), "urgency", "duplicate"},
		{"a key in another case", []byte(`{"urgency":"routine","specialty":"pediatric-oncology","patient":{"age_years":7,"sex":"female","Sex":"male"},` +
			`"question":"q"}`), "patient.Sex", "duplicate"},
		{"a right-to-left override", with(func(m map[string]any) { m["question"] = "give 5\u202e01 mg" }), "question", "invalid_text"},
		{"a left-to-right isolate", with(func(m map[string]any) { m["summary"] = "WBC \u20661.2\u2069" }), "summary", "invalid_text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, err := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", tc.body, nil, nil)
			require.Error(t, err)
			assert.Equal(t, http.StatusBadRequest, status, "got %d, want 400", status)
			var apiErr *apiclient.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "invalid", apiErr.Body.Error.Code)
			assert.Contains(t, apiErr.Body.Error.Fields, tc.field, "got fields %v, want %s named", apiErr.Body.Error.Fields, tc.field)
			codes := s.problemCodes(t, ref, http.MethodPost, "/api/v1/consults", tc.body)
			assert.Equal(t, tc.code, codes[tc.field], "%s: got code %q, want %q", tc.field, codes[tc.field], tc.code)
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		status, _ := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", []byte(`{"urgency":`), nil, nil)
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("oversized body", func(t *testing.T) {
		big := []byte(`{"question":"` + strings.Repeat("x", 300<<10) + `"}`)
		status, err := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", big, nil, nil)
		require.Error(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, "got %d, want 413", status)
	})
	t.Run("long idempotency key", func(t *testing.T) {
		status, _ := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", valid(),
			http.Header{"Idempotency-Key": {strings.Repeat("k", 129)}}, nil)
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("bad list filter", func(t *testing.T) {
		for q, want := range map[string]map[string]string{"status=lost": {"status": "unknown"}, "urgency=soon": {"urgency": "not_allowed"},
			"limit=0": {"limit": "out_of_range"}, "limit=201": {"limit": "out_of_range"}, "limit=x": {"limit": "out_of_range"},
			"cursor=zzz": {"cursor": "malformed"}} {
			status, _ := coord.Do(s.ctx, http.MethodGet, "/api/v1/consults?"+q, nil, nil, nil)
			assert.Equal(t, http.StatusBadRequest, status, "GET ?%s: got %d, want 400", q, status)
			codes := s.problemCodes(t, coord, http.MethodGet, "/api/v1/consults?"+q, nil)
			assert.Equal(t, want, codes, "GET ?%s: got codes %v, want %v", q, codes, want)
		}
	})
	t.Run("specialist cannot submit", func(t *testing.T) {
		status, _ := s.client(t, "onc1").Do(s.ctx, http.MethodPost, "/api/v1/consults", valid(), nil, nil)
		assert.Equal(t, http.StatusForbidden, status)
	})
	assert.Equal(t, before, s.count(t, coord), "bad requests stored consults")
}

func (s *suite) declineEscalateAssign(t *testing.T) {
	ref, onc1, onc2, coord := s.client(t, "referrer1"), s.client(t, "onc1"), s.client(t, "onc2"), s.client(t, "coord1")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	c, _ := s.submit(t, ref, "emergent", unique("Declined twice"), "")
	await(t, coordSt, c.ID, "consult.offered")
	_, err = onc1.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/decline", map[string]string{"reason": "in theatre"}, nil, nil)
	require.NoError(t, err)
	second := await(t, coordSt, c.ID, "consult.offered")
	var sc Consult
	require.NoError(t, json.Unmarshal(second.Consult, &sc))
	assert.Equal(t, "u-onc2", sc.Offer.SpecialistID, "after onc1 declined")
	status, _ := onc1.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/accept", nil, nil, nil)
	assert.Equal(t, http.StatusConflict, status, "accepting a declined offer: got %d, want 409", status)
	_, err = onc2.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/decline", nil, nil, nil)
	require.NoError(t, err)
	// The policy moves on at once: to the rest of the specialty, or to the coordinators.
	next := awaitAny(t, coordSt, c.ID, "consult.offered", "consult.coordinators_alerted")
	var nc Consult
	require.NoError(t, json.Unmarshal(next.Consult, &nc))
	for _, o := range nc.Offers {
		assert.NotContains(t, []string{"u-onc1", "u-onc2"}, o.SpecialistID, "offered again after declining")
	}
	status, _ = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/assign", map[string]string{"specialist_id": "u-referrer1"}, nil, nil)
	assert.Equal(t, http.StatusBadRequest, status, "assigning to a referrer")
	var assigned Consult
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/assign", map[string]string{"specialist_id": "u-hem1"}, nil, &assigned)
	require.NoError(t, err)
	assert.Equal(t, "accepted", assigned.Status)
	require.NotNil(t, assigned.AssigneeID)
	assert.Equal(t, "u-hem1", *assigned.AssigneeID)
	await(t, coordSt, c.ID, "consult.assigned")
	// hem1 now sees it; onc1, who declined, no longer does.
	s.get(t, s.client(t, "hem1"), c.ID)
	status, _ = onc1.Do(s.ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
	assert.Equal(t, http.StatusForbidden, status)
	_, err = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/cancel", map[string]string{"reason": "transferred"}, nil, nil)
	require.NoError(t, err)
	status, _ = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/cancel", nil, nil, nil)
	assert.Equal(t, http.StatusConflict, status, "cancelling twice")
}

// routineChain is the built-in routine policy run out with nobody answering: the primary on
// call, the secondary, the coordinators, then escalation.
var routineChain = []string{"consult.requested", "consult.offered", "consult.offer_expired", "consult.offered",
	"consult.offer_expired", "consult.coordinators_alerted", "consult.escalated"}

// expectExpiryChain waits for the routine consult's offers to run out and checks that each step
// happened exactly once, in order, to the people the policy names.
func expectExpiryChain(t *testing.T, st *apiclient.Stream, id string) {
	t.Helper()
	got := collect(t, st, id, "consult.escalated")
	assert.Equal(t, routineChain, types(got))
	assert.Equal(t, []string{"u-onc1", "u-onc2"}, offeredTo(t, got), "who was offered the consult, in order")
	extra, err := st.Next(2 * time.Second)
	if err == nil {
		assert.NotEqual(t, id, extra.ConsultID, "got an extra %s after escalation", extra.Type)
	}
}

func (s *suite) expiry(t *testing.T) {
	ref, coord := s.client(t, "referrer1"), s.client(t, "coord1")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	c, _ := s.submit(t, ref, "routine", unique("Nobody answers"), "")
	expectExpiryChain(t, coordSt, c.ID)
}

func (s *suite) sessionsAndOrigins(t *testing.T) {
	anon := apiclient.New(s.target.Base)
	status, _ := anon.Do(s.ctx, http.MethodGet, "/api/v1/consults", nil, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = anon.Do(s.ctx, http.MethodPost, "/api/v1/session", map[string]string{"username": "onc1", "password": "wrong"}, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status)

	guesser := apiclient.New(s.target.Base)
	name := unique("nobody")
	// Six wrong passwords at once from one address: five are heard, the sixth must wait. (At once,
	// so that how long each password check takes does not decide it.)
	type answer struct {
		status int
		err    error
	}
	answers := make(chan answer, 6)
	for range 6 {
		go func() {
			status, err := guesser.Do(s.ctx, http.MethodPost, "/api/v1/session", map[string]string{"username": name, "password": "guess"}, nil, nil)
			answers <- answer{status, err}
		}()
	}
	heard, limited := 0, 0
	for range 6 {
		a := <-answers
		var apiErr *apiclient.Error
		switch {
		case a.status == http.StatusUnauthorized:
			heard++
		case a.status == http.StatusTooManyRequests && errors.As(a.err, &apiErr) && apiErr.Body.Error.Code == "rate_limited":
			limited++
		}
	}
	assert.Equal(t, 5, heard, "got %d wrong passwords heard of 6 at once, want 5", heard)
	assert.Equal(t, 1, limited, "got %d of 6 wrong passwords at once refused with 429 rate_limited, want 1", limited)

	ref := s.client(t, "referrer1")
	ref.Origin = "https://evil.example"
	status, _ = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{}, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "state change from a foreign origin")
	_, err := ref.Stream(s.ctx, -1)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr, "stream upgrade from a foreign origin")
	assert.Equal(t, http.StatusForbidden, apiErr.Status)
	ref.Origin = s.target.Base
	st, err := ref.Stream(s.ctx, -1)
	require.NoError(t, err, "stream upgrade from the serving origin")
	defer st.Close()

	_, err = ref.Do(s.ctx, http.MethodDelete, "/api/v1/session", nil, nil, nil)
	require.NoError(t, err)
	// The revocation reaches the gateway at once; its periodic session check (every 10 s) is
	// not what closes the stream here.
	closedBy := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-st.Frames():
		case <-closedBy:
			t.Fatal("the stream was still open 5s after logout")
		}
	}
	var closed *websocket.CloseError
	require.ErrorAs(t, st.Err(), &closed, "the stream must be closed by the server after logout")
	assert.Equal(t, 4001, closed.Code, "close code after logout")
	status, _ = ref.Do(s.ctx, http.MethodGet, "/api/v1/session", nil, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "after logout")
}

func (s *suite) redisFlush(t *testing.T) {
	if s.target.FlushRedis == nil {
		t.Fatal("the target must let the suite flush Redis")
	}
	coord, ref := s.client(t, "coord1"), s.client(t, "referrer1")
	key, question := unique("before-the-flush"), unique("Keyed before the flush")
	first, status := s.submit(t, ref, "routine", question, key)
	require.Equal(t, http.StatusCreated, status)
	// The read model follows the stream a moment behind: count once it has the new consult.
	var before int
	require.Eventually(t, func() bool {
		var list struct{ Consults []Consult }
		_, err := coord.Do(s.ctx, http.MethodGet, "/api/v1/consults?limit=1", nil, nil, &list)
		if err != nil || len(list.Consults) == 0 || list.Consults[0].ID != first.ID {
			return false
		}
		before = s.count(t, coord)
		return true
	}, 10*time.Second, 20*time.Millisecond)
	s.target.FlushRedis(t)
	// Until the rebuild is done the list says so (503) rather than answer with part of it.
	require.Eventually(t, func() bool {
		n, err := s.tryCount(coord)
		var apiErr *apiclient.Error
		if err != nil {
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, http.StatusServiceUnavailable, apiErr.Status, "while rebuilding: %v", err)
			return false
		}
		require.Equal(t, before, n, "got a partial list after the flush")
		return true
	}, 20*time.Second, 20*time.Millisecond, "the list did not come back after Redis was flushed")
	// The idempotency key came back with the rebuild: a retry creates nothing.
	again, status := s.submit(t, ref, "routine", question, key)
	assert.Equal(t, http.StatusOK, status, "retry after the flush: got %d, want 200", status)
	assert.Equal(t, first.ID, again.ID)
	// And the service keeps taking consults.
	c, status := s.submit(t, ref, "routine", unique("After the flush"), "")
	assert.Equal(t, http.StatusCreated, status)
	require.Eventually(t, func() bool { return s.count(t, coord) == before+1 }, 10*time.Second, 100*time.Millisecond)
	s.get(t, coord, c.ID)
}

func (s *suite) routingRestart(t *testing.T) {
	if s.target.RestartRouting == nil {
		t.Skip("routing runs inside this target's process; the multi-process target restarts it")
	}
	ref, coord := s.client(t, "referrer1"), s.client(t, "coord1")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	c, _ := s.submit(t, ref, "routine", unique("Routing dies mid-offer"), "")
	await(t, coordSt, c.ID, "consult.offered")
	s.target.RestartRouting(t)
	got := collect(t, coordSt, c.ID, "consult.escalated")
	assert.Equal(t, routineChain[2:], types(got))
	extra, err := coordSt.Next(2 * time.Second)
	if err == nil {
		assert.NotEqual(t, c.ID, extra.ConsultID, "got an extra %s", extra.Type)
	}
}

// coordinatorControls corrects a consult's urgency and specialty and snoozes an escalation, each
// an event on the timeline that routing follows.
func (s *suite) coordinatorControls(t *testing.T) {
	ref, coord, hem1 := s.client(t, "referrer1"), s.client(t, "coord1"), s.client(t, "hem1")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	c, _ := s.submit(t, ref, "routine", unique("Corrected by the coordinator"), "")
	await(t, coordSt, c.ID, "consult.offered")

	t.Run("only coordinators, with valid values", func(t *testing.T) {
		status, _ := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/urgency", map[string]string{"urgency": "emergent"}, nil, nil)
		assert.Equal(t, http.StatusForbidden, status, "a referrer changing the urgency")
		for _, tc := range []struct {
			body        map[string]any
			field, code string
		}{
			{map[string]any{"urgency": "soon"}, "urgency", "not_allowed"},
			{map[string]any{}, "urgency", "required"},
			{map[string]any{"urgency": "urgent", "minutes": 3}, "minutes", "unknown_field"},
		} {
			status, _ = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/urgency", tc.body, nil, nil)
			assert.Equal(t, http.StatusBadRequest, status, "urgency body %v", tc.body)
			codes := s.problemCodes(t, coord, http.MethodPost, "/api/v1/consults/"+c.ID+"/urgency", tc.body)
			assert.Equal(t, map[string]string{tc.field: tc.code}, codes, "urgency body %v: got codes %v, want %s %s", tc.body, codes, tc.field, tc.code)
		}
		status, _ = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/specialty", map[string]string{"specialty": "astrology"}, nil, nil)
		assert.Equal(t, http.StatusBadRequest, status, "an unknown specialty")
		status, _ = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/snooze", map[string]int{"minutes": 10}, nil, nil)
		assert.Equal(t, http.StatusConflict, status, "snoozing a consult that is not escalated")
	})

	var raised Consult
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/urgency",
		map[string]string{"urgency": "urgent", "reason": "deteriorating"}, nil, &raised)
	require.NoError(t, err)
	assert.Equal(t, "urgent", raised.Urgency)
	assert.True(t, raised.SLA.AcceptBy.Before(c.SLA.AcceptBy), "got accept-by %s, want earlier than routine's %s", raised.SLA.AcceptBy, c.SLA.AcceptBy)
	await(t, coordSt, c.ID, "consult.urgency_changed")
	await(t, coordSt, c.ID, "consult.offered") // routing starts over under the urgent policy

	var moved Consult
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/specialty",
		map[string]string{"specialty": "pediatric-hematology", "reason": "a bleeding disorder, not a tumour"}, nil, &moved)
	require.NoError(t, err)
	assert.Equal(t, "pediatric-hematology", moved.Specialty)
	await(t, coordSt, c.ID, "consult.specialty_changed")
	offered := await(t, coordSt, c.ID, "consult.offered")
	assert.Equal(t, []string{"u-hem1"}, offeredTo(t, []apiclient.Frame{offered}), "the hematology primary on call")
	// Assigned by hand, then reassigned: the first assignee loses the consult.
	var assigned Consult
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/assign", map[string]string{"specialist_id": "u-hem1"}, nil, &assigned)
	require.NoError(t, err)
	assert.Equal(t, "accepted", assigned.Status)
	s.get(t, hem1, c.ID)
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/assign", map[string]string{"specialist_id": "u-hem2"}, nil, &assigned)
	require.NoError(t, err)
	require.NotNil(t, assigned.AssigneeID)
	assert.Equal(t, "u-hem2", *assigned.AssigneeID)
	status, _ := hem1.Do(s.ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "the first assignee after reassignment")

	e, _ := s.submit(t, ref, "routine", unique("Snoozed escalation"), "")
	await(t, coordSt, e.ID, "consult.escalated")
	var snoozed Consult
	_, err = coord.Do(s.ctx, http.MethodPost, "/api/v1/consults/"+e.ID+"/snooze", map[string]any{"minutes": 30, "reason": "calling the ward"}, nil, &snoozed)
	require.NoError(t, err)
	require.NotNil(t, snoozed.Escalation)
	assert.WithinDuration(t, time.Now().Add(30*time.Minute), snoozed.Escalation.SnoozedUntil, time.Minute)
	await(t, coordSt, e.ID, "consult.snoozed")
}

// redFlags submits a febrile neutropenic child as routine: the rules make it emergent and say why.
func (s *suite) redFlags(t *testing.T) {
	ref := s.client(t, "referrer1")
	var c Consult
	status, err := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": "routine", "specialty": "pediatric-oncology",
		"patient":  map[string]any{"age_years": 5, "sex": "male"},
		"question": unique("Fever after chemotherapy"),
		"details":  map[string]any{"diagnosis": "ALL", "fever": true, "anc": 0.3, "temperature_c": 39.2},
	}, nil, &c)
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "emergent", c.Urgency)
	assert.Equal(t, "routine", c.RequestedUrgency)
	assert.NotEmpty(t, c.RedFlags)
	require.Len(t, c.RedFlagReasons, len(c.RedFlags), "the reasons by language")
	for _, r := range c.RedFlagReasons {
		for _, lang := range []string{"en", "ar", "he"} {
			assert.NotEmpty(t, r[lang], "a red-flag reason without its %s text: %v", lang, r)
		}
	}
	require.NotEmpty(t, c.Events)
	assert.Contains(t, c.Events[0].Reason, "raised from routine to emergent")

	status, _ = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": "routine", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 5, "sex": "male"},
		"question": "q", "details": map[string]any{"anc": "low"},
	}, nil, nil)
	assert.Equal(t, http.StatusBadRequest, status, "a number field given text")
}

// twoRouters runs routine consults through their whole policy with two routing processes, and
// kills one while the consults are mid-escalation: each is still offered and escalated exactly
// as the policy says, no step twice.
func (s *suite) twoRouters(t *testing.T) {
	if s.target.KillRouting == nil {
		t.Skip("this target runs one router in process; the multi-process target runs two")
	}
	ref, coord := s.client(t, "referrer1"), s.client(t, "coord1")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		c, _ := s.submit(t, ref, "routine", unique(fmt.Sprintf("Two routers %d", i)), "")
		ids[i] = c.ID
	}
	// Every frame of these consults, in order, read until each has reached until.
	frames := map[string][]apiclient.Frame{}
	deadline := time.Now().Add(3 * wait)
	readUntil := func(until string) {
		t.Helper()
		reached := func() int {
			k := 0
			for _, id := range ids {
				if slices.Contains(types(frames[id]), until) {
					k++
				}
			}
			return k
		}
		for reached() < n {
			f, err := coordSt.Next(time.Until(deadline))
			require.NoError(t, err, "%d of %d consults reached %s", reached(), n, until)
			if slices.Contains(ids, f.ConsultID) {
				frames[f.ConsultID] = append(frames[f.ConsultID], f)
			}
		}
	}
	readUntil("consult.offered")
	restart := s.target.KillRouting(t)
	defer restart()
	readUntil("consult.escalated")
	for _, id := range ids {
		got := frames[id]
		assert.Equal(t, routineChain, types(got), "consult %s", id)
		assert.Equal(t, []string{"u-onc1", "u-onc2"}, offeredTo(t, got), "consult %s", id)
	}
	extra, err := coordSt.Next(2 * time.Second)
	if err == nil {
		assert.NotContains(t, ids, extra.ConsultID, "got an extra %s after escalation", extra.Type)
	}
}

// awaySpecialist has the primary on call set themselves away: routing passes over them.
func (s *suite) awaySpecialist(t *testing.T) {
	ref, onc1, coord := s.client(t, "referrer1"), s.client(t, "onc1"), s.client(t, "coord1")
	set := func(state string) {
		t.Helper()
		var out struct {
			Profile struct {
				Availability string `json:"availability"`
			} `json:"profile"`
		}
		_, err := onc1.Do(s.ctx, http.MethodPut, "/api/v1/me/profile", map[string]string{"availability": state}, nil, &out)
		require.NoError(t, err)
		require.Equal(t, state, out.Profile.Availability)
	}
	status, _ := ref.Do(s.ctx, http.MethodPut, "/api/v1/me/profile", map[string]string{"availability": "away"}, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "a referrer setting availability")
	set("away")
	defer set("available")
	coordSt, err := coord.Stream(s.ctx, -1)
	require.NoError(t, err)
	defer coordSt.Close()
	// Availability reaches every router through its watch: try fresh consults until one shows
	// it (at once, in practice), then check the next one too.
	passedOver := false
	for try := 0; try < 20 && !passedOver; try++ {
		c, _ := s.submit(t, ref, "routine", unique("Primary away"), "")
		f := await(t, coordSt, c.ID, "consult.offered")
		passedOver = slices.Equal([]string{"u-onc2"}, offeredTo(t, []apiclient.Frame{f}))
	}
	require.True(t, passedOver, "the away primary was still offered consults")
	c, _ := s.submit(t, ref, "routine", unique("Primary still away"), "")
	f := await(t, coordSt, c.ID, "consult.offered")
	assert.Equal(t, []string{"u-onc2"}, offeredTo(t, []apiclient.Frame{f}), "with the primary away")
}

// attachments uploads a lab report image, attaches it to a consult and reads it back as the
// coordinator; a file that is not a PDF, JPEG or PNG is refused, and another clinic cannot read it.
func (s *suite) attachments(t *testing.T) {
	ref, coord, other := s.client(t, "referrer1"), s.client(t, "coord1"), s.client(t, "referrer2")
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	require.NoError(t, png.Encode(&buf, img))
	upload := func(c *apiclient.Client, name string, data []byte) (int, string) {
		t.Helper()
		var out struct {
			Attachment struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"attachment"`
		}
		status, _ := c.Do(s.ctx, http.MethodPost, "/api/v1/attachments", data,
			http.Header{"Content-Type": {"application/pdf"}, "X-Filename": {url.PathEscape(name)}}, &out)
		if status == http.StatusCreated {
			assert.Equal(t, "image/png", out.Attachment.Type, "the type comes from the content, not the header")
		}
		return status, out.Attachment.ID
	}
	status, _ := upload(ref, "report.pdf", []byte("<html><script>alert(1)</script></html>"))
	assert.Equal(t, http.StatusBadRequest, status, "an HTML page sent as a PDF")
	status, _ = upload(coord, "cbc.png", buf.Bytes())
	assert.Equal(t, http.StatusForbidden, status, "a coordinator uploading")
	status, id := upload(ref, "تحليل الدم.png", buf.Bytes())
	require.Equal(t, http.StatusCreated, status)

	var c Consult
	_, err := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": "routine", "specialty": "pediatric-hematology", "patient": map[string]any{"age_years": 3, "sex": "female"},
		"question": unique("Blood count attached"), "attachments": []string{id},
	}, nil, &c)
	require.NoError(t, err)
	get := func(cl *apiclient.Client) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.target.Base+"/api/v1/consults/"+c.ID+"/attachments/"+id, nil)
		require.NoError(t, err)
		resp, err := cl.HTTP.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, data
	}
	status, data := get(coord)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, buf.Bytes(), data, "the file read back")
	status, _ = get(other)
	assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, status, "another clinic reading the file")
	status, _ = ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", map[string]any{
		"urgency": "routine", "specialty": "pediatric-hematology", "patient": map[string]any{"age_years": 3, "sex": "female"},
		"question": "q", "attachments": []string{"01J00000000000000000000000"},
	}, nil, nil)
	assert.Equal(t, http.StatusBadRequest, status, "an attachment nobody uploaded")
}
