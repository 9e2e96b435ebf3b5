package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/regionalconsult/broker/pkg/attachment"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/attachstore"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// maxAttachments bounds the files of one consult.
const maxAttachments = 10

// uploadWithin bounds the reading of one upload's body. The server's read timeout suits JSON
// requests; a clinic's slow link needs minutes for 10 MiB.
const uploadWithin = 10 * time.Minute

// unsupportedFile is the answer to content that is not a PDF, JPEG or PNG file.
var unsupportedFile = consult.InvalidFields("the file is not a PDF, JPEG or PNG file",
	map[string]problem.Problem{"file": problem.NotAllowed("must be a PDF, JPEG or PNG file")})

// uploadAttachment stores a referrer's file, before the consult that refers to it. Its type is
// decided by its content; the declared Content-Type and the name's extension decide nothing.
func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request, u roster.User) {
	if u.Role != consult.RoleReferrer || u.ClinicID == "" {
		apierror.Write(w, s.log, errForbidden("only a referring physician of a clinic may upload attachments"))
		return
	}
	declared, err := url.PathUnescape(r.Header.Get("X-Filename"))
	if err != nil || !utf8.ValidString(declared) {
		apierror.Write(w, s.log, errInvalid("X-Filename", problem.Malformed("must be the file name in percent-encoded UTF-8")))
		return
	}
	tooLarge := consult.Errorf(consult.TooLarge, "the file is larger than %d MiB", attachment.MaxSize>>20)
	if r.ContentLength > attachment.MaxSize {
		apierror.Write(w, s.log, tooLarge)
		return
	}
	if !s.spend(w, r, u, s.quotas.uploads) {
		return
	}
	if !s.uploads.take(u.ID) {
		s.refund(context.WithoutCancel(r.Context()), u, s.quotas.uploads)
		apierror.Write(w, s.log, apierror.RetryAfter{Err: consult.Errorf(consult.RateLimited,
			"too many uploads in progress; let one finish and try again"), After: time.Second})
		return
	}
	defer s.uploads.release(u.ID)
	// The body is read as it arrives, never reserved from what Content-Length claims, and a
	// client that stops sending is cut off after idle, within uploadWithin overall.
	idle := s.cfg.UploadIdle
	if idle <= 0 {
		idle = uploadIdle
	}
	var body bytes.Buffer
	in := &idleReader{r: http.MaxBytesReader(w, r.Body, attachment.MaxSize), rc: http.NewResponseController(w), idle: idle,
		end: time.Now().Add(uploadWithin)}
	if _, err := body.ReadFrom(in); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			apierror.Write(w, s.log, tooLarge)
			return
		}
		apierror.Write(w, s.log, errInvalid("file", problem.InvalidValue("could not be read completely; please upload it again")))
		return
	}
	data := body.Bytes()
	if len(data) == 0 {
		apierror.Write(w, s.log, errInvalid("file", problem.Required()))
		return
	}
	typ, err := attachment.Sniff(data)
	if err != nil {
		s.log.Info("upload refused", "user_id", u.ID, "size", len(data), "declared_type", r.Header.Get("Content-Type"), "reason", err)
		apierror.Write(w, s.log, unsupportedFile)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	a, err := s.files.Put(ctx, attachstore.File{
		Attachment: event.Attachment{ID: ulid.Make().String(), Name: attachment.Name(declared, typ), Type: typ},
		OwnerID:    u.ID, ClinicID: u.ClinicID,
	}, data)
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	s.audit.Detail(ctx, u.ID, "attachment.upload", map[string]string{"attachment_id": a.ID})
	apierror.WriteJSON(w, http.StatusCreated, map[string]any{"attachment": a.Attachment})
}

// decodeDraft decodes a consult request: the draft, strictly, and beside it the ids of the
// attachments it refers to.
func decodeDraft(w http.ResponseWriter, r *http.Request, d *consult.Draft) ([]string, error) {
	var body struct {
		consult.Draft
		Attachments []string `json:"attachments"`
	}
	err := decode(w, r, &body)
	var e *consult.Error
	if errors.As(err, &e) {
		// A type error's field path names the embedded struct: the client knows no "Draft".
		fields := make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			fields[strings.TrimPrefix(k, "Draft.")] = v
		}
		problems := make(map[string]problem.Problem, len(e.Problems))
		for k, p := range e.Problems {
			problems[strings.TrimPrefix(k, "Draft.")] = p
		}
		err = &consult.Error{Code: e.Code, Message: strings.TrimPrefix(e.Message, "Draft."), Fields: fields, Problems: problems}
	}
	*d = body.Draft
	return body.Attachments, err
}

// attach resolves the attachment ids of a new consult: each one uploaded by u for u's clinic
// and still attachable. It marks them attached, so that they are kept, before the consult is
// stored; should storing fail, they are kept anyway and a retry may use them.
func (s *Server) attach(ctx context.Context, u roster.User, ids []string) ([]event.Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > maxAttachments {
		return nil, errInvalid("attachments", problem.TooMany(maxAttachments, "attachments"))
	}
	unknown := consult.InvalidFields("an attachment is unknown or no longer available; please upload it again",
		map[string]problem.Problem{"attachments": problem.Unknown("unknown attachment")})
	out := make([]event.Attachment, 0, len(ids))
	for i, id := range ids {
		if _, err := ulid.ParseStrict(id); err != nil {
			return nil, unknown
		}
		if slices.Contains(ids[:i], id) {
			return nil, errInvalid("attachments", problem.NotAllowed("lists an attachment more than once"))
		}
		a, err := s.files.Get(ctx, id)
		if errors.Is(err, attachstore.ErrNotFound) {
			return nil, unknown
		}
		if err != nil {
			return nil, apierror.Unavailable(err)
		}
		if a.OwnerID != u.ID || a.ClinicID != u.ClinicID || a.Expired(time.Now()) {
			return nil, unknown
		}
		out = append(out, a.Attachment)
	}
	for _, a := range out {
		switch err := s.files.MarkAttached(ctx, a.ID, time.Now().UTC()); {
		case errors.Is(err, attachstore.ErrNotFound), errors.Is(err, attachstore.ErrExpired):
			return nil, unknown
		case err != nil:
			return nil, apierror.Unavailable(err)
		}
	}
	return out, nil
}

// getAttachment sends a file of a consult to someone who may see the consult.
func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request, u roster.User) {
	c, err := s.load(r.Context(), r.PathValue("id"), u)
	if err != nil {
		apierror.Write(w, s.log, err)
		return
	}
	id := r.PathValue("attachment_id")
	if !slices.ContainsFunc(c.Attachments, func(a event.Attachment) bool { return a.ID == id }) {
		apierror.Write(w, s.log, errNotFound("this consult has no such attachment"))
		return
	}
	a, content, err := s.files.Read(r.Context(), id)
	if errors.Is(err, attachstore.ErrNotFound) {
		apierror.Write(w, s.log, errNotFound("this attachment is no longer stored"))
		return
	}
	if err != nil {
		apierror.Write(w, s.log, apierror.Unavailable(err))
		return
	}
	defer content.Close()
	s.audit.Detail(r.Context(), u.ID, "attachment.read", map[string]string{"attachment_id": id}, c.ID)

	typ, disposition := a.Type, "attachment"
	switch {
	case attachment.Extension(typ) == "":
		typ = "application/octet-stream" // never a type the store did not decide itself
	case attachment.Inline(typ):
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Content-Disposition", disposition+"; filename*=UTF-8''"+extValue(a.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	// Opened on its own, a file runs nothing and loads nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, content); err != nil {
		// The length promised is not met, so the client sees a broken download, not a short file.
		s.log.Warn("attachment not sent completely", "attachment_id", id, "consult_id", c.ID, "err", err)
	}
}

// extValue encodes s as the value of an RFC 8187 extended parameter such as filename*:
// every byte but the few that may stand for themselves is percent-encoded.
func extValue(s string) string {
	const attrChar = "!#$&+-.^_`|~"
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)*3)
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(attrChar, c) >= 0 {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}
