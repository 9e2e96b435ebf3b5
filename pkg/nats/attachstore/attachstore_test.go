package attachstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/attachstore"
	"github.com/regionalconsult/broker/pkg/nats/bus"
)

func upload(t *testing.T, b *attachstore.Store, data []byte, uploadedAt time.Time) attachstore.File {
	t.Helper()
	a, err := b.Put(context.Background(), attachstore.File{
		Attachment: event.Attachment{ID: ulid.Make().String(), Name: "تقرير الدم.pdf", Type: "application/pdf"},
		OwnerID:    "u-referrer1", ClinicID: "hebron", UploadedAt: uploadedAt,
	}, data)
	require.NoError(t, err)
	return a
}

func open(t *testing.T, b *bus.Bus) *attachstore.Store {
	t.Helper()
	s, err := attachstore.Open(context.Background(), b)
	require.NoError(t, err)
	return s
}

func TestAttachmentPutInfoOpen(t *testing.T) {
	t.Parallel()
	tb, _ := testenv.Bus(t)
	b := open(t, tb)
	ctx := context.Background()
	data := make([]byte, 300<<10) // several chunks
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)

	put := upload(t, b, data, time.Time{})
	assert.Equal(t, hex.EncodeToString(sum[:]), put.SHA256)
	assert.Equal(t, int64(len(data)), put.Size)
	assert.WithinDuration(t, time.Now(), put.UploadedAt, time.Minute)
	assert.True(t, put.AttachedAt.IsZero())

	got, err := b.Get(ctx, put.ID)
	require.NoError(t, err)
	assert.Equal(t, put.Attachment, got.Attachment, "got %+v, want %+v", got.Attachment, put.Attachment)
	assert.Equal(t, "u-referrer1", got.OwnerID)
	assert.Equal(t, "hebron", got.ClinicID)
	assert.True(t, put.UploadedAt.Equal(got.UploadedAt), "got uploaded at %s, want %s", got.UploadedAt, put.UploadedAt)

	opened, r, err := b.Read(ctx, put.ID)
	require.NoError(t, err)
	read, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.True(t, bytes.Equal(data, read), "got %d bytes back, want the %d stored", len(read), len(data))
	assert.Equal(t, put.Attachment, opened.Attachment)

	require.NoError(t, b.MarkAttached(ctx, put.ID, time.Now()))
	first, err := b.Get(ctx, put.ID)
	require.NoError(t, err)
	assert.False(t, first.AttachedAt.IsZero(), "attached_at not recorded")
	require.NoError(t, b.MarkAttached(ctx, put.ID, time.Now().Add(time.Hour)), "attaching again")
	again, err := b.Get(ctx, put.ID)
	require.NoError(t, err)
	assert.True(t, first.AttachedAt.Equal(again.AttachedAt), "got attached at %s, want the first %s", again.AttachedAt, first.AttachedAt)
	assert.Equal(t, put.Attachment, again.Attachment, "attaching changed the record")
}

func TestAttachmentUnknownAndExpired(t *testing.T) {
	t.Parallel()
	tb, _ := testenv.Bus(t)
	b := open(t, tb)
	ctx := context.Background()
	missing := ulid.Make().String()
	_, err := b.Get(ctx, missing)
	assert.ErrorIs(t, err, attachstore.ErrNotFound)
	_, _, err = b.Read(ctx, missing)
	assert.ErrorIs(t, err, attachstore.ErrNotFound)
	assert.ErrorIs(t, b.MarkAttached(ctx, missing, time.Now()), attachstore.ErrNotFound)

	old := upload(t, b, []byte("%PDF-1.4 old %%EOF"), time.Now().Add(-attachstore.UnattachedTTL+30*time.Minute))
	assert.True(t, old.Expired(time.Now()), "an upload 23.5 h old must no longer be attachable")
	assert.ErrorIs(t, b.MarkAttached(ctx, old.ID, time.Now()), attachstore.ErrExpired)
	fresh := upload(t, b, []byte("%PDF-1.4 new %%EOF"), time.Time{})
	assert.False(t, fresh.Expired(time.Now()))
}

func TestSweepRemovesOnlyAbandonedUploads(t *testing.T) {
	t.Parallel()
	tb, _ := testenv.Bus(t)
	b := open(t, tb)
	ctx := context.Background()
	attached := upload(t, b, []byte("attached"), time.Time{})
	require.NoError(t, b.MarkAttached(ctx, attached.ID, time.Now()))
	abandoned := upload(t, b, []byte("abandoned"), time.Time{})
	cutoff := time.Now() // as if a day had passed since both uploads, and not since the next
	recent := upload(t, b, []byte("recent"), time.Time{})

	n, err := b.Sweep(ctx, time.Time{}, cutoff)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "got %d removed, want 1", n)
	_, err = b.Get(ctx, abandoned.ID)
	assert.ErrorIs(t, err, attachstore.ErrNotFound, "the abandoned upload is still there")
	for _, kept := range []attachstore.File{attached, recent} {
		_, r, err := b.Read(ctx, kept.ID)
		require.NoError(t, err, "%s was removed", kept.ID)
		_, err = io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}

	// A later pass reads only records changed since the previous one, and finds the recent upload.
	n, err = b.Sweep(ctx, cutoff.Add(-time.Second), time.Now())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "got %d removed, want 1", n)
	_, err = b.Get(ctx, recent.ID)
	assert.ErrorIs(t, err, attachstore.ErrNotFound)
	_, err = b.Get(ctx, attached.ID)
	require.NoError(t, err, "an attached file must never be swept")

	// Declaring the streams again (another instance starting) keeps the files.
	_, err = attachstore.Open(ctx, tb)
	require.NoError(t, err)
	_, err = b.Get(ctx, attached.ID)
	require.NoError(t, err)
}
