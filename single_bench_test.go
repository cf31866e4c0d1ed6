package defacto_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
)

// BenchmarkIngestOneEvent measures the latency of an Ingest call with one
// event, processed inline: what a server that ingests each request as it
// arrives pays per event. The postgres sub-benchmark runs against
// DEFACTO_TEST_DATABASE_URL (default the local server) in a namespace of its
// own.
func BenchmarkIngestOneEvent(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchOneEvent(b, be.config(b)) })
	}
}

func benchOneEvent(b *testing.B, cfg *defacto.Config) {
	ctx := context.Background()
	d := openQuickstart(b, cfg)
	// Some entities already, so the call is not the first of anything.
	for i := range 100 {
		if _, err := d.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": fmt.Sprintf("warm%d@x.io", i)}}, defacto.Process); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	at := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		i++
		res, err := d.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "email": fmt.Sprintf("u%d@x.io", i)}}, defacto.Process)
		if err != nil || res.EventsProcessed != 1 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
