package consultstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/event"
)

// A consult's trace continues from the writer into every consumer through the message headers.
func TestTraceContextTravelsWithEvents(t *testing.T) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	b, _ := testenv.Consults(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	parent, span := otel.Tracer("test").Start(ctx, "submit")
	want := span.SpanContext().TraceID()
	_, err := b.Append(parent, nil, request(ulid.Make().String()))
	require.NoError(t, err)
	span.End()

	got := make(chan trace.TraceID, 2)
	go func() {
		_ = b.ConsumeEvents(ctx, "trace-test", func(ctx context.Context, _ event.Event) error {
			got <- trace.SpanContextFromContext(ctx).TraceID()
			return nil
		})
	}()
	go func() {
		_ = b.Follow(ctx, 0, func(ctx context.Context, _ event.Event) error {
			got <- trace.SpanContextFromContext(ctx).TraceID()
			return nil
		})
	}()
	for _, who := range []string{"first consumer", "second consumer"} {
		select {
		case id := <-got:
			assert.Equal(t, want, id, "%s: got trace %s, want %s", who, id, want)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s received nothing", who)
		}
	}
}
