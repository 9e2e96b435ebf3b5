package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/services/intake/api"
)

// An upload that declares 10 MiB and sends 5 bytes holds no 10 MiB buffer and no slot for long:
// it is cut off once it stops sending, and a user has at most two uploads in progress at once.
func TestStalledUploadsAreBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	deps, _ := openDeps(t, ctx)
	const idle = 3 * time.Second
	srv := httptest.NewServer(api.New(api.Config{UploadIdle: idle}, deps, testenv.Logger(t)).Handler())
	t.Cleanup(srv.Close)
	ref := apiclient.New(srv.URL)
	require.NoError(t, ref.Login(ctx, "referrer1", "demo"))
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	var cookie string
	for _, c := range ref.HTTP.Jar.Cookies(u) {
		cookie += c.Name + "=" + c.Value + "; "
	}

	// stall opens an upload that claims 10 MiB, sends 5 bytes and waits; the returned channel
	// gets the status line the server answers with, or an error when it just closes.
	stall := func() <-chan string {
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "POST /api/v1/attachments HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nX-Filename: scan.pdf\r\n"+
			"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n%%PDF-", u.Host, cookie, 10<<20)
		require.NoError(t, err)
		got := make(chan string, 1)
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				got <- "closed: " + err.Error()
				return
			}
			got <- strings.TrimSpace(line)
		}()
		return got
	}
	// Three at once for one user: one is refused at once, the other two are cut off when idle.
	stalls := []<-chan string{stall(), stall(), stall()}
	var lines []string
	for i, c := range stalls {
		select {
		case line := <-c:
			lines = append(lines, line)
		case <-time.After(10 * idle):
			t.Fatalf("stalled upload %d still held after %s, want it cut off after %s idle", i+1, 10*idle, idle)
		}
	}
	refused, cut := 0, 0
	for _, line := range lines {
		switch {
		case strings.Contains(line, "429"):
			refused++
		case strings.Contains(line, "400") || strings.HasPrefix(line, "closed"):
			cut++
		}
	}
	assert.Equal(t, 1, refused, "got %q, want one of three uploads at once refused (429)", lines)
	assert.Equal(t, 2, cut, "got %q, want two cut off when they stopped sending", lines)

	status, _, bad := upload(t, ref, strings.NewReader(tinyPDF), "after.pdf", "application/pdf")
	assert.Equal(t, http.StatusCreated, status, "got %d (%+v) once the stalled uploads were cut off, want 201", status, bad)
}
