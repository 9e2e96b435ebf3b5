// Package apiclient is a small Go client of the broker's public HTTP API and live stream, as a
// browser or a script uses them: a session cookie, JSON bodies, a WebSocket with `after`
// resume. The acceptance suite, the benchmark and the load tools drive the broker through it.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one user's session with the broker.
type Client struct {
	// Base is the API's origin, for example http://127.0.0.1:8080.
	Base string
	// StreamBase is where the stream is served, when not at Base (a notify instance).
	StreamBase string
	// Origin, when set, is sent as the Origin header, as a browser page would.
	Origin string
	HTTP   *http.Client
}

// New returns a client of the broker at base with an empty cookie jar.
func New(base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Error is a non-2xx answer.
type Error struct {
	Status int
	Body   struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
			// Problems names the same fields as Fields, each with its problem code and bounds.
			Problems map[string]Problem `json:"problems"`
			// Budget names the user's budget a rate_limited answer found spent.
			Budget string `json:"budget"`
		} `json:"error"`
	}
}

// Problem is what the API says is wrong with one field, for a program.
type Problem struct {
	Code    string   `json:"code"`
	Min     *float64 `json:"min"`
	Max     *float64 `json:"max"`
	Allowed []string `json:"allowed"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s %v", e.Status, e.Body.Error.Code, e.Body.Error.Message, e.Body.Error.Fields)
}

// Do sends a request with a JSON body (nil for none) and decodes a 2xx answer into out (if not
// nil). It returns the status; a non-2xx answer is also returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, body any, header http.Header, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		if raw, ok := body.([]byte); ok {
			rd = bytes.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				return 0, err
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(data, &e.Body)
		return resp.StatusCode, e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Login starts a session.
func (c *Client) Login(ctx context.Context, username, password string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/session", map[string]string{"username": username, "password": password}, nil, nil)
	return err
}

// Frame is one event from the stream. Consult is kept raw: callers decode what they need.
type Frame struct {
	Seq       uint64          `json:"seq"`
	Type      string          `json:"type"`
	ConsultID string          `json:"consult_id"`
	At        time.Time       `json:"at"`
	Consult   json.RawMessage `json:"consult"`
}

// Stream is an open live stream.
type Stream struct {
	conn    *websocket.Conn
	frames  chan Frame
	err     error
	done    chan struct{}
	closing chan struct{}
}

// Stream opens the live stream; after < 0 asks for live events only, otherwise the server
// first replays every event after that sequence.
func (c *Client) Stream(ctx context.Context, after int64) (*Stream, error) {
	base := c.StreamBase
	if base == "" {
		base = c.Base
	}
	u, err := url.Parse(base + "/api/v1/stream")
	if err != nil {
		return nil, err
	}
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	if after >= 0 {
		u.RawQuery = "after=" + strconv.FormatInt(after, 10)
	}
	h := http.Header{}
	if c.Origin != "" {
		h.Set("Origin", c.Origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Jar: c.HTTP.Jar}
	conn, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			return nil, &Error{Status: resp.StatusCode}
		}
		return nil, err
	}
	s := &Stream{conn: conn, frames: make(chan Frame, 1024), done: make(chan struct{}), closing: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *Stream) read() {
	defer close(s.done)
	defer close(s.frames)
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			s.err = err
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			s.err = fmt.Errorf("decode frame: %w", err)
			return
		}
		select {
		case s.frames <- f:
		case <-s.closing:
			return
		}
	}
}

// Next returns the next frame, or an error when none arrives within wait or the stream ended.
func (s *Stream) Next(wait time.Duration) (Frame, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case f, ok := <-s.frames:
		if !ok {
			return Frame{}, fmt.Errorf("stream closed: %w", s.err)
		}
		return f, nil
	case <-t.C:
		return Frame{}, fmt.Errorf("no frame within %s", wait)
	}
}

// Frames is the channel of received frames, closed when the stream ends.
func (s *Stream) Frames() <-chan Frame { return s.frames }

// Err is why the stream ended, once Frames is closed.
func (s *Stream) Err() error { return s.err }

// Close closes the connection.
func (s *Stream) Close() error {
	close(s.closing)
	err := s.conn.Close()
	<-s.done
	return err
}
