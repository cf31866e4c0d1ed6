package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws ingest progress on one terminal line of stderr. It is
// only created when stderr is a terminal and the output is not JSON; all
// methods are no-ops on a nil bar.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int64 // bytes; -1 when unknown (stdin)
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string, total int64) *progressBar {
	return &progressBar{w: w, label: label, total: total}
}

const barWidth = 30

// update is a defacto.ReadOptions.Progress callback.
func (p *progressBar) update(records int, bytes int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.drawn = now, true
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		n := int(frac * barWidth)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d records", p.label,
			strings.Repeat("#", n), strings.Repeat("-", barWidth-n), frac*100, records)
		return
	}
	fmt.Fprintf(p.w, "\r%s: %d records, %s", p.label, records, humanBytes(bytes))
}

// finish clears the progress line.
func (p *progressBar) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
