// Package attachstore keeps uploaded files in the JetStream object store "attachments": one
// object per attachment id, with who uploaded it for which clinic and whether a consult refers
// to it yet. Uploads that no consult took are swept after UnattachedTTL. What a file is (its
// type by content, a safe name) is package attachment's to decide.
package attachstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
)

// Bucket is the object store of uploaded files, one object per attachment id.
const Bucket = "attachments"

// The object store's stream and meta subjects, as the JetStream object store defines them.
const (
	attachmentStream = "OBJ_" + Bucket
	attachmentMeta   = "$O." + Bucket + ".M.>"
	attachmentChunks = "$O." + Bucket + ".C.>"
)

// Uploads that no consult refers to are removed: a referrer uploads while filling in the form
// and may abandon it. Attached files are kept as long as the consult stream keeps consults
// (forever: the object store has no TTL, because a TTL is bucket-wide and would also remove the
// files of consults).
const (
	// UnattachedTTL is how long an upload that no consult refers to is kept.
	UnattachedTTL = 24 * time.Hour
	// attachWithin is how long after its upload a file may still be attached. The hour between
	// it and UnattachedTTL keeps a sweep away from a file whose consult is being stored, and
	// absorbs clock differences between instances.
	attachWithin = UnattachedTTL - time.Hour
	// sweepEvery is how often Clean looks for abandoned uploads.
	sweepEvery = time.Hour
)

// ErrNotFound means no attachment with that id is stored.
var ErrNotFound = errors.New("no such attachment")

// ErrExpired means an upload is too old to be attached to a consult; the file must be
// uploaded again.
var ErrExpired = errors.New("attachment upload expired")

// File is an uploaded file's record: what a consult shows of it, who uploaded it
// for which clinic, and whether a consult refers to it yet.
type File struct {
	event.Attachment
	OwnerID    string
	ClinicID   string
	UploadedAt time.Time
	// AttachedAt is when a consult first referred to the file; zero while none does.
	AttachedAt time.Time
}

// Expired reports whether a is an upload no consult took and that may no longer be attached.
func (a File) Expired(now time.Time) bool {
	return a.AttachedAt.IsZero() && now.Sub(a.UploadedAt) > attachWithin
}

// Object metadata keys.
const (
	metaOwner    = "owner_id"
	metaClinic   = "clinic_id"
	metaName     = "name"
	metaType     = "type"
	metaSHA256   = "sha256"
	metaUploaded = "uploaded_at"
	metaAttached = "attached_at"
)

func (a File) metadata() map[string]string {
	m := map[string]string{metaOwner: a.OwnerID, metaClinic: a.ClinicID, metaName: a.Name, metaType: a.Type,
		metaSHA256: a.SHA256, metaUploaded: a.UploadedAt.UTC().Format(time.RFC3339Nano)}
	if !a.AttachedAt.IsZero() {
		m[metaAttached] = a.AttachedAt.UTC().Format(time.RFC3339Nano)
	}
	return m
}

func storedAttachment(info *jetstream.ObjectInfo) File {
	m := info.Metadata
	a := File{
		Attachment: event.Attachment{ID: info.Name, Name: m[metaName], Type: m[metaType], Size: int64(info.Size), SHA256: m[metaSHA256]},
		OwnerID:    m[metaOwner], ClinicID: m[metaClinic],
	}
	a.UploadedAt, _ = time.Parse(time.RFC3339Nano, m[metaUploaded])
	a.AttachedAt, _ = time.Parse(time.RFC3339Nano, m[metaAttached])
	return a
}

// Store is the attachment object store.
type Store struct {
	js      jetstream.JetStream
	objects jetstream.ObjectStore
	log     *slog.Logger
}

// Open declares the attachment object store on b and returns it. Its stream is declared the way the object store API
// would, except that reads go through the stream leader (as for consults): a file just uploaded
// must be found by the request that attaches it a moment later. Replicas apply on creation only.
func Open(ctx context.Context, b *bus.Bus) (*Store, error) {
	if _, err := b.Stream(ctx, jetstream.StreamConfig{
		Name:        attachmentStream,
		Description: "uploaded attachments",
		Subjects:    []string{attachmentChunks, attachmentMeta},
		Storage:     jetstream.FileStorage,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardNew,
		AllowRollup: true,
		AllowDirect: false,
	}); err != nil {
		return nil, err
	}
	obs, err := b.JetStream().ObjectStore(ctx, Bucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", Bucket, err)
	}
	return &Store{js: b.JetStream(), objects: obs, log: b.Log()}, nil
}

// Put stores data as attachment a (ID, Name, Type, OwnerID and ClinicID set) and
// returns the record with its size, SHA-256 and upload time. A failed put stores nothing.
func (s *Store) Put(ctx context.Context, a File, data []byte) (File, error) {
	sum := sha256.Sum256(data)
	a.SHA256, a.Size = hex.EncodeToString(sum[:]), int64(len(data))
	if a.UploadedAt.IsZero() {
		a.UploadedAt = time.Now().UTC()
	}
	a.AttachedAt = time.Time{}
	if _, err := s.objects.Put(ctx, jetstream.ObjectMeta{Name: a.ID, Metadata: a.metadata()}, bytes.NewReader(data)); err != nil {
		return File{}, fmt.Errorf("store attachment %s: %w", a.ID, err)
	}
	return a, nil
}

// Get returns the record of attachment id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (File, error) {
	info, err := s.objects.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("attachment %s: %w", id, err)
	}
	return storedAttachment(info), nil
}

// Read returns the record of attachment id and its content, or ErrNotFound. The
// reader streams from the store while ctx lives; it reports a content that does not match its
// digest as an error at its end. The caller closes it.
func (s *Store) Read(ctx context.Context, id string) (File, io.ReadCloser, error) {
	res, err := s.objects.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return File{}, nil, ErrNotFound
	}
	if err != nil {
		return File{}, nil, fmt.Errorf("open attachment %s: %w", id, err)
	}
	info, err := res.Info()
	if err != nil {
		_ = res.Close()
		return File{}, nil, fmt.Errorf("open attachment %s: %w", id, err)
	}
	return storedAttachment(info), res, nil
}

// MarkAttached records that a consult refers to attachment id, so that it is kept. It is called
// before the consult is stored: a file that a stored consult refers to is never swept. An upload
// past its time to be attached is ErrExpired; one already attached stays as it was.
func (s *Store) MarkAttached(ctx context.Context, id string, at time.Time) error {
	info, err := s.objects.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("attach %s: %w", id, err)
	}
	a := storedAttachment(info)
	if !a.AttachedAt.IsZero() {
		return nil
	}
	if a.Expired(time.Now()) {
		return ErrExpired
	}
	a.AttachedAt = at
	meta := info.ObjectMeta
	meta.Metadata = maps.Clone(meta.Metadata)
	maps.Copy(meta.Metadata, a.metadata())
	if err := s.objects.UpdateMeta(ctx, id, meta); err != nil {
		if errors.Is(err, jetstream.ErrUpdateMetaDeleted) {
			return ErrNotFound
		}
		return fmt.Errorf("attach %s: %w", id, err)
	}
	return nil
}

// Clean removes, every hour until ctx ends, the uploads that no consult took within
// UnattachedTTL. Every instance may run it: removals are idempotent. Its first pass reads every
// object's record; later passes read only those changed since the previous pass.
func (s *Store) Clean(ctx context.Context) error {
	var since time.Time
	t := time.NewTimer(time.Minute) // not during start-up
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cutoff := time.Now().Add(-UnattachedTTL)
		n, err := s.sweep(ctx, since, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("abandoned uploads not removed; retrying later", "err", err)
		case err == nil:
			since = cutoff.Add(-sweepEvery) // overlap: the stream's and this clock may differ a little
			if n > 0 {
				s.log.Info("abandoned uploads removed", "count", n)
			}
		}
		t.Reset(sweepEvery)
	}
}

// sweep removes the unattached uploads made before cutoff whose record last changed
// after since (every one when since is zero), and returns how many it removed. An attached
// file's record changed when it was attached, so only uploads still unattached are looked at
// once: the record of an object is its newest meta message (the object store rolls them up).
func (s *Store) sweep(ctx context.Context, since, cutoff time.Time) (int, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{attachmentMeta}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := s.js.OrderedConsumer(ctx, attachmentStream, cfg)
	if err != nil {
		return 0, fmt.Errorf("sweep attachments: %w", err)
	}
	removed := 0
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return removed, fmt.Errorf("sweep attachments: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil && md.Timestamp.After(cutoff) {
				return removed, nil // newer records follow: nothing more is old enough
			}
			var info jetstream.ObjectInfo
			if err := json.Unmarshal(m.Data(), &info); err != nil || info.Deleted {
				continue
			}
			a := storedAttachment(&info)
			if !a.AttachedAt.IsZero() || a.UploadedAt.IsZero() || a.UploadedAt.After(cutoff) {
				continue
			}
			if err := s.objects.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return removed, fmt.Errorf("sweep attachment %s: %w", info.Name, err)
			}
			removed++
		}
		if err := batch.Error(); err != nil {
			return removed, fmt.Errorf("sweep attachments: %w", err)
		}
		if n == 0 {
			return removed, nil
		}
	}
}
