package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/defacto-dev/defacto"
)

// Params sizes a workload. The zero value of a field means its default.
type Params struct {
	Events    int     // total raw events (default 100_000)
	Customers int     // customers that sign up (default 20_000; at most Events)
	Merges    int     // profile_update events that link two customers (default Events*3/1000)
	LateShare float64 // share of the other events that arrive late (default 0.01)
	Seed      uint64  // generator seed (default 1)
	Start     time.Time
	Span      time.Duration // event-time range (default 365 days)
	// Batch is the records per ingest chunk (Config.BatchSize) and per floor
	// transaction (default defacto.DefaultBatchSize).
	Batch int
}

// Defaults for Params.
const (
	DefaultEvents    = 100_000
	DefaultCustomers = 20_000
	DefaultLateShare = 0.01
	DefaultSeed      = 1
	DefaultSpan      = 365 * 24 * time.Hour
)

// DefaultStart is the first event instant of a workload (and the engine
// clock the harness uses, so no time rule fires through a tick horizon
// during ingest; rules still fire between events).
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (p Params) withDefaults() Params {
	if p.Events <= 0 {
		p.Events = DefaultEvents
	}
	if p.Customers <= 0 {
		p.Customers = DefaultCustomers
	}
	p.Customers = min(p.Customers, p.Events)
	if p.Merges == 0 {
		p.Merges = p.Events * 3 / 1000
	}
	if p.Merges < 0 {
		p.Merges = 0
	}
	if p.LateShare == 0 {
		p.LateShare = DefaultLateShare
	}
	if p.LateShare < 0 {
		p.LateShare = 0
	}
	if p.Seed == 0 {
		p.Seed = DefaultSeed
	}
	if p.Start.IsZero() {
		p.Start = DefaultStart
	}
	if p.Span <= 0 {
		p.Span = DefaultSpan
	}
	if p.Batch <= 0 {
		p.Batch = defacto.DefaultBatchSize
	}
	return p
}

// Workload is a generated event stream for source "app" of
// testdata/project.
type Workload struct {
	Params Params
	Events []defacto.Event
	// Counts by event type, and of the special events.
	ByType map[string]int
	Merges int // profile_update events that join two different customers
	Late   int // events older than their customer's previous event
	End    time.Time
}

// simulated customer, as the generator believes it to be.
type customer struct {
	email, phone string
	state        string // trial, active, churned
	plan         string
	entered      time.Time // state entry
	last         time.Time // last handled event (inactivity)
	signup       time.Time
}

var (
	plans = []string{"starter", "pro", "business", "enterprise"}
	mrrOf = map[string]float64{"starter": 19, "pro": 49, "business": 99, "enterprise": 199}
)

const (
	trialDays    = 14
	inactiveDays = 90
)

// Generate builds a workload deterministically from p: the same Params
// always yield the same events in the same order.
//
// Shape: every customer signs up once (its signup is placed at a random
// position in the first 80% of the stream); every other event belongs to a
// customer that already signed up and is chosen from the customer's
// simulated state (subscribe in trial, mostly login/upgrade/cancel when
// active, win-back subscribes when churned). Merges are profile_update
// events in the last 80% of the stream carrying one customer's email and
// another customer's phone, always linking two customers not yet joined.
// A share LateShare of the remaining events is a login whose timestamp lies
// before the customer's previous event (a late arrival). Stream order is
// event-time order otherwise.
func Generate(p Params) *Workload {
	p = p.withDefaults()
	r := rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	n, c := p.Events, p.Customers

	// Stream positions: signups in [0, 0.8n), position 0 always a signup.
	kind := make([]byte, n) // 0 other, 's' signup, 'm' merge
	window := max(c, n*8/10)
	pos := sample(r, window, c)
	pos[0] = 0 // sample returns sorted positions; the first becomes 0
	for _, i := range pos {
		kind[i] = 's'
	}
	if p.Merges > 0 && c >= 2 {
		var free []int
		for i := n / 5; i < n; i++ {
			if kind[i] == 0 {
				free = append(free, i)
			}
		}
		for _, k := range sample(r, len(free), min(p.Merges, len(free))) {
			kind[free[k]] = 'm'
		}
	}

	w := &Workload{Params: p, Events: make([]defacto.Event, 0, n), ByType: map[string]int{}}
	custs := make([]customer, 0, c)
	parent := make([]int, 0, c) // union-find over customers joined by merges
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	step := p.Span / time.Duration(n)
	emit := func(i int, typ string, t time.Time, fields ...any) {
		ev := defacto.Event{
			"id":        fmt.Sprintf("evt-%d-%08d", p.Seed, i),
			"type":      typ,
			"timestamp": t.Format(time.RFC3339Nano),
		}
		for j := 0; j+1 < len(fields); j += 2 {
			ev[fields[j].(string)] = fields[j+1]
		}
		w.Events = append(w.Events, ev)
		w.ByType[typ]++
	}
	// emailOf returns the customer's email, in mixed case one time in ten
	// (identity normalization lowercases it).
	emailOf := func(cu *customer) string {
		if r.IntN(10) == 0 {
			return "User" + cu.email[4:]
		}
		return cu.email
	}

	for i := 0; i < n; i++ {
		now := p.Start.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(max(step, 1)))))
		switch kind[i] {
		case 's':
			k := len(custs)
			custs = append(custs, customer{
				email: fmt.Sprintf("user%07d@example.com", k), phone: fmt.Sprintf("+1-555-%07d", k),
				state: "trial", plan: "free", entered: now, last: now, signup: now,
			})
			parent = append(parent, k)
			cu := &custs[k]
			emit(i, "signup", now, "email", emailOf(cu), "phone", cu.phone)
			continue
		case 'm':
			if len(custs) >= 2 {
				a, b, ok := 0, 0, false
				for try := 0; try < 64 && !ok; try++ {
					a, b = r.IntN(len(custs)), r.IntN(len(custs))
					ok = find(a) != find(b)
				}
				if ok {
					parent[find(a)] = find(b)
					w.Merges++
					emit(i, "profile_update", now, "email", emailOf(&custs[a]), "phone", custs[b].phone)
					continue
				}
			}
		}
		cu := &custs[r.IntN(len(custs))]
		// Late arrival: a login dated before the customer's previous event.
		if r.Float64() < p.LateShare && cu.last.Sub(cu.signup) > 2*time.Hour {
			back := time.Duration(r.Int64N(int64(min(cu.last.Sub(cu.signup)-time.Hour, 7*24*time.Hour)))) + time.Minute
			w.Late++
			emit(i, "login", cu.last.Add(-back), "email", emailOf(cu))
			continue
		}
		// Time rules the engine applies between events.
		if cu.state == "trial" && now.Sub(cu.entered) >= trialDays*24*time.Hour {
			cu.state, cu.entered = "churned", cu.entered.Add(trialDays*24*time.Hour)
		}
		if cu.state == "active" && now.Sub(cu.last) >= inactiveDays*24*time.Hour {
			cu.state, cu.entered = "churned", cu.last.Add(inactiveDays*24*time.Hour)
		}
		x := r.IntN(100)
		switch cu.state {
		case "trial":
			if x < 45 {
				cu.plan = plans[r.IntN(len(plans))]
				cu.state, cu.entered = "active", now
				emit(i, "subscribe", now, "email", emailOf(cu), "plan", cu.plan, "mrr", mrrOf[cu.plan])
			} else {
				emit(i, "login", now, "email", emailOf(cu))
			}
		case "active":
			switch {
			case x < 65:
				emit(i, "login", now, "email", emailOf(cu))
			case x < 90:
				// One upgrade in ten repeats the current plan: the guard
				// rejects it.
				plan := cu.plan
				if r.IntN(10) != 0 {
					plan = plans[r.IntN(len(plans))]
				}
				cu.plan = plan
				emit(i, "upgrade", now, "email", emailOf(cu), "plan", plan, "mrr", mrrOf[plan])
			default:
				cu.state, cu.entered = "churned", now
				emit(i, "cancel", now, "email", emailOf(cu))
			}
		default: // churned
			if x < 30 {
				cu.plan = plans[r.IntN(len(plans))]
				cu.state, cu.entered = "active", now
				emit(i, "subscribe", now, "email", emailOf(cu), "plan", cu.plan, "mrr", mrrOf[cu.plan])
			} else {
				emit(i, "login", now, "email", emailOf(cu)) // always handler: counts in any state
			}
		}
		cu.last = now
	}
	w.End = p.Start.Add(p.Span)
	return w
}

// sample returns k distinct integers of [0, n), ascending.
func sample(r *rand.Rand, n, k int) []int {
	if k <= 0 {
		return nil
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	out := make([]int, k)
	for i := 0; i < k; i++ {
		j := i + r.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
		out[i] = int(perm[i])
	}
	slices.Sort(out)
	return out
}
