package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/auditlog"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/intake/api"
)

// intake is the API served over real NATS and Redis with the demo roster.
type intake struct {
	t   *testing.T
	ctx context.Context
	in  api.Deps
	b   *bus.Bus
	url string
}

// openDeps opens the API's stores over a fresh embedded NATS server and Redis, with the demo
// roster seeded.
func openDeps(t *testing.T, ctx context.Context) (api.Deps, *bus.Bus) {
	t.Helper()
	log := testenv.Logger(t)
	conns, err := service.Open(ctx, service.Config{ServiceName: "intake", NATSURL: testenv.NATS(t), RedisURL: testenv.RedisURL(t)}, log)
	require.NoError(t, err)
	t.Cleanup(conns.Close)
	in, err := api.OpenDeps(ctx, conns.Bus, conns.Redis, session.Limits{}, log)
	require.NoError(t, err)
	_, err = in.Directory.Seed(ctx, roster.DemoJSON())
	require.NoError(t, err)
	return in, conns.Bus
}

func startIntake(t *testing.T) *intake {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := testenv.Logger(t)
	in, b := openDeps(t, ctx)
	sla := config.SLA{AcceptWithin: map[string]time.Duration{"emergent": 10 * time.Minute, "urgent": time.Hour, "routine": 24 * time.Hour}}
	srv := api.New(api.Config{SLA: sla}, in, log)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &intake{t: t, ctx: ctx, in: in, b: b, url: ts.URL}
}

func (s *intake) login(username string) *apiclient.Client {
	s.t.Helper()
	c := apiclient.New(s.url)
	require.NoError(s.t, c.Login(s.ctx, username, "demo"), "login %s", username)
	return c
}

type uploaded struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type apiErrorBody struct {
	Error struct {
		Code     string                     `json:"code"`
		Message  string                     `json:"message"`
		Fields   map[string]string          `json:"fields"`
		Problems map[string]problem.Problem `json:"problems"`
	} `json:"error"`
}

// upload posts body as a file named name with the declared content type; it returns the status,
// the attachment on success and the error body otherwise.
func upload(t *testing.T, c *apiclient.Client, body io.Reader, name, contentType string) (int, uploaded, apiErrorBody) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+"/api/v1/attachments", body)
	require.NoError(t, err)
	req.Header.Set("X-Filename", name)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var ok struct {
		Attachment uploaded `json:"attachment"`
	}
	var bad apiErrorBody
	if resp.StatusCode == http.StatusCreated {
		require.NoError(t, json.Unmarshal(data, &ok), "%s", data)
	} else {
		require.NoError(t, json.Unmarshal(data, &bad), "%s", data)
	}
	return resp.StatusCode, ok.Attachment, bad
}

func download(t *testing.T, c *apiclient.Client, consultID, attachmentID string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.HTTP.Get(c.Base + "/api/v1/consults/" + consultID + "/attachments/" + attachmentID)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

type created struct {
	ID          string     `json:"id"`
	Attachments []uploaded `json:"attachments"`
}

// request submits a consult with the attachment ids; it returns the status and the consult or error.
func request(t *testing.T, c *apiclient.Client, attachments ...string) (int, created, *apiError) {
	t.Helper()
	body := map[string]any{"urgency": "routine", "specialty": "pediatric-oncology",
		"patient": map[string]any{"age_years": 7, "sex": "female"}, "question": "Relapse? Imaging attached."}
	if attachments != nil {
		body["attachments"] = attachments
	}
	var out created
	status, apiErr := send(t, c, http.MethodPost, "/api/v1/consults", body, &out)
	return status, out, apiErr
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

const tinyPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
	"trailer << /Root 1 0 R >>\n%%EOF\n"

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// awaitAudit waits for an audit record of action and returns it.
func awaitAudit(t *testing.T, b *bus.Bus, action string) map[string]any {
	t.Helper()
	stream, err := b.JetStream().Stream(context.Background(), auditlog.Stream)
	require.NoError(t, err)
	var rec map[string]any
	require.Eventually(t, func() bool {
		m, err := stream.GetLastMsgForSubject(context.Background(), "audit."+action)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false
		}
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(m.Data, &rec))
		return true
	}, 10*time.Second, 10*time.Millisecond, "no audit record of %s", action)
	return rec
}

// Upload, attach to a consult, download: the bytes come back as stored, typed by their content,
// to everyone who may see the consult and to no one else.
func TestAttachmentRoundTrip(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	ref, sameClinic, otherClinic := s.login("referrer1"), s.login("referrer3"), s.login("referrer2")
	coord, onc := s.login("coord1"), s.login("onc1")
	pngData := pngBytes(t)

	// The declared type lies both times: the content decides.
	status, pdf, bad := upload(t, ref, strings.NewReader(tinyPDF), url.PathEscape("تقرير الدم.pdf"), "image/png")
	require.Equal(t, http.StatusCreated, status, "got %d %+v, want 201", status, bad)
	assert.Equal(t, uploaded{ID: pdf.ID, Name: "تقرير الدم.pdf", Type: "application/pdf", Size: int64(len(tinyPDF)),
		SHA256: hexSHA256([]byte(tinyPDF))}, pdf)
	status, img, bad := upload(t, ref, bytes.NewReader(pngData), "scans%2F..%2Fscan.pdf", "application/pdf")
	require.Equal(t, http.StatusCreated, status, "got %d %+v, want 201", status, bad)
	assert.Equal(t, "image/png", img.Type, "a PNG named .pdf: got %q, want image/png", img.Type)
	assert.Equal(t, "scan.png", img.Name)
	uploadAudit := awaitAudit(t, s.b, "attachment.upload")
	assert.Equal(t, "u-referrer1", uploadAudit["actor_id"])

	status, c, apiErr := request(t, ref, pdf.ID, img.ID)
	require.Equal(t, http.StatusCreated, status, "got %d %v, want 201", status, apiErr)
	require.Len(t, c.Attachments, 2, "the consult's attachments")
	assert.Equal(t, pdf.ID, c.Attachments[0].ID)
	assert.Equal(t, img.ID, c.Attachments[1].ID)

	for _, viewer := range []*apiclient.Client{ref, sameClinic, coord} {
		resp, data := download(t, viewer, c.ID, pdf.ID)
		require.Equal(t, http.StatusOK, resp.StatusCode, "got %d: %s", resp.StatusCode, data)
		assert.Equal(t, tinyPDF, string(data))
		assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		assert.Equal(t, "attachment; filename*=UTF-8''%D8%AA%D9%82%D8%B1%D9%8A%D8%B1%20%D8%A7%D9%84%D8%AF%D9%85.pdf",
			resp.Header.Get("Content-Disposition"))
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"))
	}
	resp, data := download(t, ref, c.ID, img.ID)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(pngData, data), "got %d bytes, want the %d uploaded", len(data), len(pngData))
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.Equal(t, "inline; filename*=UTF-8''scan.png", resp.Header.Get("Content-Disposition"))
	read := awaitAudit(t, s.b, "attachment.read")
	assert.Equal(t, "u-referrer1", read["actor_id"])
	assert.Equal(t, []any{c.ID}, read["consult_ids"])
	assert.Equal(t, map[string]any{"attachment_id": img.ID}, read["detail"])

	// Those who may not see the consult get nothing, not even whether the file exists.
	for name, tc := range map[string]struct {
		client *apiclient.Client
		want   int
	}{"another clinic's referrer": {otherClinic, http.StatusForbidden}, "a specialist it was not offered to": {onc, http.StatusForbidden}} {
		resp, data := download(t, tc.client, c.ID, pdf.ID)
		assert.Equal(t, tc.want, resp.StatusCode, "%s: got %d %s, want %d", name, resp.StatusCode, data, tc.want)
		assert.NotContains(t, string(data), "PDF", name)
	}

	// A file of another consult, or none, is not found through this one.
	status, other, _ := upload(t, ref, strings.NewReader(tinyPDF), "other.pdf", "")
	require.Equal(t, http.StatusCreated, status)
	status, c2, apiErr := request(t, ref, other.ID)
	require.Equal(t, http.StatusCreated, status, "%v", apiErr)
	for _, id := range []string{other.ID, ulid.Make().String(), "not-an-id"} {
		resp, _ := download(t, ref, c.ID, id)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "attachment %s of consult %s: got %d, want 404", id, c.ID, resp.StatusCode)
	}
	resp, _ = download(t, ref, c2.ID, other.ID)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = download(t, ref, ulid.Make().String(), other.ID)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a consult that does not exist")

	// An attached file is kept, and may be attached again by its uploader.
	status, _, apiErr = request(t, ref, pdf.ID)
	assert.Equal(t, http.StatusCreated, status, "attaching a file again: %v", apiErr)
}

func TestAttachmentRefusals(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	ref := s.login("referrer1")
	pngData := pngBytes(t)

	t.Run("content", func(t *testing.T) {
		for _, tc := range []struct {
			name, body, contentType string
			field, code             string
		}{
			{"html", "<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", "application/pdf", "must be a PDF, JPEG or PNG file", "not_allowed"},
			{"svg", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "image/png", "must be a PDF, JPEG or PNG file", "not_allowed"},
			{"html hiding a pdf", "<html></html>" + tinyPDF, "application/pdf", "must be a PDF, JPEG or PNG file", "not_allowed"},
			{"truncated png", string(pngData[:len(pngData)-8]), "image/png", "must be a PDF, JPEG or PNG file", "not_allowed"},
			{"empty", "", "application/pdf", "required", "required"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, _, bad := upload(t, ref, strings.NewReader(tc.body), "file.pdf", tc.contentType)
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Equal(t, "invalid", bad.Error.Code)
				assert.Equal(t, map[string]string{"file": tc.field}, bad.Error.Fields)
				assert.Equal(t, map[string]problem.Problem{"file": {Code: tc.code}}, bad.Error.Problems,
					"got problems %v, want file %s", bad.Error.Problems, tc.code)
			})
		}
	})

	t.Run("too large", func(t *testing.T) {
		big := []byte(tinyPDF + strings.Repeat(" ", 10<<20))
		status, _, bad := upload(t, ref, bytes.NewReader(big), "big.pdf", "application/pdf")
		assert.Equal(t, http.StatusRequestEntityTooLarge, status)
		assert.Equal(t, "too_large", bad.Error.Code)
		// Without a length announced, the limit holds while reading.
		status, _, bad = upload(t, ref, io.MultiReader(bytes.NewReader(big)), "big.pdf", "application/pdf")
		assert.Equal(t, http.StatusRequestEntityTooLarge, status)
		assert.Equal(t, "too_large", bad.Error.Code)
	})

	t.Run("file name", func(t *testing.T) {
		status, _, bad := upload(t, ref, strings.NewReader(tinyPDF), "%zz.pdf", "application/pdf")
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, map[string]string{"X-Filename": "must be the file name in percent-encoded UTF-8"}, bad.Error.Fields)
		assert.Equal(t, map[string]problem.Problem{"X-Filename": {Code: "malformed"}}, bad.Error.Problems)
		status, a, _ := upload(t, ref, strings.NewReader(tinyPDF), "", "")
		require.Equal(t, http.StatusCreated, status)
		assert.Equal(t, "attachment.pdf", a.Name)
	})

	t.Run("only referrers upload", func(t *testing.T) {
		for _, user := range []string{"onc1", "coord1", "admin1"} {
			status, _, _ := upload(t, s.login(user), strings.NewReader(tinyPDF), "x.pdf", "")
			assert.Equal(t, http.StatusForbidden, status, "%s: got %d, want 403", user, status)
		}
		status, _, _ := upload(t, apiclient.New(s.url), strings.NewReader(tinyPDF), "x.pdf", "")
		assert.Equal(t, http.StatusUnauthorized, status)
	})

	t.Run("type errors name the fields as sent", func(t *testing.T) {
		for field, tc := range map[string]struct {
			body map[string]any
			code string
		}{
			"question": {map[string]any{"urgency": "routine", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 7, "sex": "female"}, "question": 3},
				"malformed"},
			"patient.age_years": {map[string]any{"urgency": "routine", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 7.5, "sex": "female"}, "question": "q"},
				"not_a_whole_number"},
			"attachments": {map[string]any{"urgency": "routine", "specialty": "pediatric-oncology", "patient": map[string]any{"age_years": 7, "sex": "female"}, "question": "q", "attachments": "x"},
				"malformed"},
		} {
			status, err := ref.Do(s.ctx, http.MethodPost, "/api/v1/consults", tc.body, nil, nil)
			require.Equal(t, http.StatusBadRequest, status, "%s", field)
			var apiErr *apiclient.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Contains(t, apiErr.Body.Error.Fields, field, "got fields %v, want %s named", apiErr.Body.Error.Fields, field)
			assert.NotContains(t, apiErr.Body.Error.Message, "Draft")
			_, bad := send(t, ref, http.MethodPost, "/api/v1/consults", tc.body, nil)
			require.NotNil(t, bad, "%s: got the request accepted", field)
			assert.Equal(t, tc.code, bad.codes()[field], "%s: got code %q, want %q", field, bad.codes()[field], tc.code)
		}
	})

	t.Run("consult refers to attachments it may not", func(t *testing.T) {
		status, mine, _ := upload(t, ref, strings.NewReader(tinyPDF), "mine.pdf", "")
		require.Equal(t, http.StatusCreated, status)
		colleague := s.login("referrer3") // same clinic, another uploader
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = mine.ID
		}
		for _, tc := range []struct {
			name    string
			client  *apiclient.Client
			ids     []string
			problem string
			want    problem.Problem
		}{
			{"someone else's upload", colleague, []string{mine.ID}, "unknown attachment", problem.Problem{Code: "unknown"}},
			{"an id never uploaded", ref, []string{ulid.Make().String()}, "unknown attachment", problem.Problem{Code: "unknown"}},
			{"not an id", ref, []string{"../etc/passwd"}, "unknown attachment", problem.Problem{Code: "unknown"}},
			{"the same file twice", ref, []string{mine.ID, mine.ID}, "lists an attachment more than once", problem.Problem{Code: "not_allowed"}},
			{"more than ten", ref, eleven, "at most 10 attachments", problem.Problem{Code: "too_many", Max: ptr(10.0)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, _, apiErr := request(t, tc.client, tc.ids...)
				require.Equal(t, http.StatusBadRequest, status)
				assert.Equal(t, map[string]string{"attachments": tc.problem}, apiErr.Body.Error.Fields)
				assert.Equal(t, map[string]problem.Problem{"attachments": tc.want}, apiErr.Body.Error.Problems)
			})
		}
	})
}
