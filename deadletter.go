package defacto

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/defacto-dev/defacto/internal/value"
)

// deadLetterWriter appends failures to a JSON Lines file. Sink errors are
// logged and never fail the operation (scale.md §6).
type deadLetterWriter struct {
	mu        sync.Mutex
	path      string
	namespace string
	log       *slog.Logger
	f         *os.File
}

func newDeadLetterWriter(path, namespace string, log *slog.Logger) *deadLetterWriter {
	return &deadLetterWriter{path: path, namespace: namespace, log: log}
}

type deadLetterRecord struct {
	EventFailure
	Namespace  string `json:"namespace"`
	Version    string `json:"version"`
	RecordedAt string `json:"recorded_at"`
}

func (e *Engine) deadLetters(fs []EventFailure) {
	if e.dead == nil || len(fs) == 0 {
		return
	}
	e.dead.write(fs, e.act().version, value.Time(e.cfg.Clock()).Micros())
}

func (d *deadLetterWriter) write(fs []EventFailure, version string, now int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
			d.log.Error("dead letter sink", "path", d.path, "error", err)
			return
		}
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			d.log.Error("dead letter sink", "path", d.path, "error", err)
			return
		}
		d.f = f
	}
	at := value.FormatTime(now)
	var buf []byte
	for _, f := range fs {
		b, err := json.Marshal(deadLetterRecord{EventFailure: f, Namespace: d.namespace, Version: version, RecordedAt: at})
		if err != nil {
			d.log.Error("dead letter encode", "error", err)
			continue
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := d.f.Write(buf); err != nil {
		d.log.Error("dead letter write", "path", d.path, "error", err)
		return
	}
	if err := d.f.Sync(); err != nil {
		d.log.Error("dead letter sync", "path", d.path, "error", err)
	}
}

// Close flushes and closes the file.
func (d *deadLetterWriter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
