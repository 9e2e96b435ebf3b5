package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/intake/api"
)

// tight are budgets small enough to spend in a test.
var tight = config.Budgets{
	Submissions:         config.Budget{Limit: 3, Window: 10 * time.Minute},
	EmergentSubmissions: config.Budget{Limit: 2, Window: 10 * time.Minute},
	Messages:            config.Budget{Limit: 2, Window: time.Minute},
	Uploads:             config.Budget{Limit: 2, Window: 10 * time.Minute},
}

// budgeted is one or more API servers with budgets over one NATS and one Redis, the read model
// projected (idempotency keys need it).
type budgeted struct {
	*intake
	urls []string
	// metrics serves the last instance's /metrics (each sets up the process's telemetry).
	metrics http.Handler
}

// startBudgeted starts n API instances with budgets b, each over its own connections to one
// NATS server and one Redis, as separate processes would be.
func startBudgeted(t *testing.T, b config.Budgets, n int) *budgeted {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := testenv.Logger(t)
	natsURL, redisURL := testenv.NATS(t), testenv.RedisURL(t)
	sla := config.SLA{AcceptWithin: map[string]time.Duration{"emergent": 10 * time.Minute, "urgent": time.Hour, "routine": 24 * time.Hour}}
	out := &budgeted{}
	for i := range n {
		conns, err := service.Open(ctx, service.Config{ServiceName: "intake", NATSURL: natsURL, RedisURL: redisURL}, log)
		require.NoError(t, err)
		t.Cleanup(conns.Close)
		deps, err := api.OpenDeps(ctx, conns.Bus, conns.Redis, session.Limits{}, log)
		require.NoError(t, err)
		if i == 0 {
			_, err = deps.Directory.Seed(ctx, roster.DemoJSON())
			require.NoError(t, err)
			pctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- readmodel.NewProjector(deps.ReadModel, deps.Consults, 50*time.Millisecond, log).Run(pctx)
			}()
			t.Cleanup(func() { stop(); <-done })
			require.Eventually(t, func() bool { whole, err := deps.ReadModel.Complete(ctx); return err == nil && whole }, 10*time.Second, 20*time.Millisecond)
			out.intake = &intake{t: t, ctx: ctx, in: deps, b: conns.Bus}
		} else {
			require.Eventually(t, func() bool { _, ok := deps.Directory.Roster().ByUsername("referrer1"); return ok }, 10*time.Second, 20*time.Millisecond)
		}
		out.metrics = conns.Telemetry.Metrics
		ts := httptest.NewServer(api.New(api.Config{SLA: sla, Budgets: b}, deps, log).Handler())
		t.Cleanup(ts.Close)
		out.urls = append(out.urls, ts.URL)
	}
	out.url = out.urls[0]
	return out
}

// submitted is the answer to a submission: its status, Retry-After, budget and consult id.
type submitted struct {
	status int
	after  int
	budget string
	code   string
	id     string
}

func submitAs(t *testing.T, c *apiclient.Client, urgency, key string) submitted {
	t.Helper()
	body := fmt.Sprintf(`{"urgency":%q,"specialty":"pediatric-oncology","patient":{"age_years":7,"sex":"female"},"question":"Budget check"}`, urgency)
	req, err := http.NewRequest(http.MethodPost, c.Base+"/api/v1/consults", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return decodeAnswer(t, c, req)
}

func decodeAnswer(t *testing.T, c *apiclient.Client, req *http.Request) submitted {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		ID    string `json:"id"`
		Error struct {
			Code   string `json:"code"`
			Budget string `json:"budget"`
		} `json:"error"`
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	_ = json.Unmarshal(buf.Bytes(), &body) // an answer without a JSON body has no id and no error
	after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return submitted{status: resp.StatusCode, after: after, budget: body.Error.Budget, code: body.Error.Code, id: body.ID}
}

func (s *budgeted) lastSeq() uint64 {
	s.t.Helper()
	seq, err := s.in.Consults.LastSeq(s.ctx)
	require.NoError(s.t, err)
	return seq
}

// The N+1th submission is refused with 429, Retry-After and the budget's name, and stores
// nothing; emergent ones have a tighter budget of their own; a retry of a stored submission
// (same Idempotency-Key) is answered with it, costs nothing and is never refused.
func TestSubmissionBudgets(t *testing.T) {
	t.Parallel()
	s := startBudgeted(t, tight, 1)
	ref := s.login("referrer1")

	first := submitAs(t, ref, "emergent", "key-1")
	require.Equal(t, http.StatusCreated, first.status, "got %+v, want the first emergent stored", first)
	again := submitAs(t, ref, "emergent", "key-1")
	require.Equal(t, http.StatusOK, again.status, "got %+v for a retry, want 200 with the first consult", again)
	assert.Equal(t, first.id, again.id)
	second := submitAs(t, ref, "emergent", "")
	require.Equal(t, http.StatusCreated, second.status, "got %+v for the 2nd emergent (the retry must not have counted), want 201", second)

	before := s.lastSeq()
	over := submitAs(t, ref, "emergent", "key-3")
	assert.Equal(t, http.StatusTooManyRequests, over.status, "got %+v for the 3rd emergent, want 429", over)
	assert.Equal(t, "rate_limited", over.code)
	assert.Equal(t, "emergent_submissions", over.budget, "got budget %q, want emergent_submissions", over.budget)
	assert.Positive(t, over.after, "got no Retry-After")
	assert.LessOrEqual(t, over.after, 600, "got Retry-After %d, want at most the 10-minute window", over.after)
	assert.Equal(t, before, s.lastSeq(), "a refused submission stored an event")
	// The key of the refused submission is free: the same request may be sent again later.
	assert.Equal(t, http.StatusTooManyRequests, submitAs(t, ref, "emergent", "key-3").status)

	routine := submitAs(t, ref, "routine", "")
	require.Equal(t, http.StatusCreated, routine.status, "got %+v for a routine one within the overall budget, want 201", routine)
	before = s.lastSeq()
	over = submitAs(t, ref, "routine", "")
	assert.Equal(t, http.StatusTooManyRequests, over.status, "got %+v for the 4th submission, want 429", over)
	assert.Equal(t, "submissions", over.budget)
	assert.Equal(t, before, s.lastSeq(), "a refused submission stored an event")

	// Spent or not, a retry of a stored submission gets it back.
	again = submitAs(t, ref, "emergent", "key-1")
	assert.Equal(t, http.StatusOK, again.status, "got %+v for a retry with a spent budget, want 200", again)
	assert.Equal(t, first.id, again.id)

	// Budgets are per user.
	other := submitAs(t, s.login("referrer3"), "emergent", "")
	assert.Equal(t, http.StatusCreated, other.status, "got %+v for another referrer of the clinic, want 201", other)

	// Coordinators see who was held back, by which budget, how often; nobody else may look.
	rec := awaitAudit(t, s.b, "budget.refused")
	assert.Equal(t, "u-referrer1", rec["actor_id"])
	var list struct {
		Throttled []struct {
			UserID   string `json:"user_id"`
			Budget   string `json:"budget"`
			Refusals int    `json:"refusals"`
			First    string `json:"first_at"`
			Last     string `json:"last_at"`
		} `json:"throttled"`
	}
	status, apiErr := send(t, s.login("coord1"), http.MethodGet, "/api/v1/throttled", nil, &list)
	require.Equal(t, http.StatusOK, status, "got %d %v, want 200", status, apiErr)
	got := map[string]int{}
	for _, th := range list.Throttled {
		got[th.UserID+" "+th.Budget] = th.Refusals
		assert.NotEmpty(t, th.First)
		assert.NotEmpty(t, th.Last)
	}
	assert.Equal(t, map[string]int{"u-referrer1 emergent_submissions": 2, "u-referrer1 submissions": 1}, got)
	awaitAudit(t, s.b, "throttled.list")
	for _, who := range []string{"referrer1", "onc1", "admin1"} {
		status, _ := send(t, s.login(who), http.MethodGet, "/api/v1/throttled", nil, nil)
		assert.Equal(t, http.StatusForbidden, status, "%s: got %d for the throttled list, want 403", who, status)
	}
}

// Messages and information requests share one budget; a refused one adds nothing, and one
// the consult refuses (409) costs nothing.
func TestMessageBudget(t *testing.T) {
	t.Parallel()
	s := startBudgeted(t, tight, 1)
	ref := s.login("referrer1")
	c := submitAs(t, ref, "routine", "")
	require.Equal(t, http.StatusCreated, c.status)
	post := func(body string) submitted {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, ref.Base+"/api/v1/consults/"+c.id+"/messages", strings.NewReader(`{"body":`+body+`}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		return decodeAnswer(t, ref, req)
	}
	// A bad body is refused before the budget is charged.
	assert.Equal(t, http.StatusBadRequest, post(`""`).status)
	for i := range 2 {
		got := post(fmt.Sprintf("%q", fmt.Sprintf("Message %d", i+1)))
		require.Equal(t, http.StatusCreated, got.status, "message %d: got %+v, want 201", i+1, got)
	}
	before := s.lastSeq()
	over := post(`"One too many"`)
	assert.Equal(t, http.StatusTooManyRequests, over.status, "got %+v for the 3rd message in a minute, want 429", over)
	assert.Equal(t, "messages", over.budget)
	assert.Positive(t, over.after)
	assert.Equal(t, before, s.lastSeq(), "a refused message stored an event")
	var got struct {
		Messages []any `json:"messages"`
	}
	status, _ := send(t, ref, http.MethodGet, "/api/v1/consults/"+c.id, nil, &got)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, got.Messages, 2, "got %d messages on the consult, want the 2 within the budget", len(got.Messages))

	// A message the consult refuses (a specialist who does not hold it) is given back.
	onc := s.login("onc2")
	for i := range 3 {
		status, _ := send(t, onc, http.MethodPost, "/api/v1/consults/"+c.id+"/messages", map[string]string{"body": "not mine"}, nil)
		assert.Equal(t, http.StatusForbidden, status, "attempt %d: got %d, want 403, never 429", i+1, status)
	}
}

func TestUploadBudget(t *testing.T) {
	t.Parallel()
	s := startBudgeted(t, tight, 1)
	ref := s.login("referrer1")
	for i := range 2 {
		status, _, bad := upload(t, ref, strings.NewReader(tinyPDF), "report.pdf", "application/pdf")
		require.Equal(t, http.StatusCreated, status, "upload %d: got %d %+v, want 201", i+1, status, bad)
	}
	status, _, bad := upload(t, ref, strings.NewReader(tinyPDF), "report.pdf", "application/pdf")
	assert.Equal(t, http.StatusTooManyRequests, status, "got %d %+v for the 3rd upload, want 429", status, bad)
	assert.Equal(t, "rate_limited", bad.Error.Code)
}

// Two API instances on one Redis share each user's budget: what one spent, the other refuses.
func TestBudgetsAreSharedByInstances(t *testing.T) {
	t.Parallel()
	s := startBudgeted(t, tight, 2)
	a, b := apiclient.New(s.urls[0]), apiclient.New(s.urls[1])
	require.NoError(t, a.Login(s.ctx, "referrer1", "demo"))
	require.NoError(t, b.Login(s.ctx, "referrer1", "demo"))
	for i, c := range []*apiclient.Client{a, b, a} {
		got := submitAs(t, c, "routine", "")
		require.Equal(t, http.StatusCreated, got.status, "submission %d on instance %d: got %+v, want 201", i+1, i%2+1, got)
	}
	before := s.lastSeq()
	for i, c := range []*apiclient.Client{b, a} {
		got := submitAs(t, c, "routine", "")
		assert.Equal(t, http.StatusTooManyRequests, got.status, "instance %d: got %+v for the 4th submission, want 429", 2-i, got)
		assert.Equal(t, "submissions", got.budget)
	}
	assert.Equal(t, before, s.lastSeq(), "a refused submission stored an event")
}

// Refusals are counted in the metrics by budget, never by user. (Not parallel: the metrics are
// the process's.)
func TestBudgetRefusalsAreCounted(t *testing.T) {
	s := startBudgeted(t, tight, 1)
	ref := s.login("referrer1")
	for range 4 {
		submitAs(t, ref, "emergent", "")
	}
	rec := httptest.NewRecorder()
	s.metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var lines []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "budget_refusals_total") {
			lines = append(lines, line)
		}
	}
	require.Len(t, lines, 1, "got %v, want one series in\n%s", lines, rec.Body.String())
	assert.Contains(t, lines[0], `budget="emergent_submissions"`)
	assert.True(t, strings.HasSuffix(lines[0], " 2"), "got %q, want 2 refusals", lines[0])
	assert.NotContains(t, rec.Body.String(), "referrer1", "a metric names the user")
}
