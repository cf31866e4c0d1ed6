package interpret

// evaluate fires the due time rules up to upto, smallest due instant first
// (interpretation.md §8). One call is one evaluation for the loop limit.
func (r *Run) evaluate(upto int64) {
	for n := 0; r.State != nil && r.Err == nil; n++ {
		st := r.State
		si := r.m.states[st.State]
		if si == nil {
			return
		}
		i, d, ref := si.next(st)
		if i < 0 || d > upto {
			return
		}
		if n == loopLimit {
			r.Failures = append(r.Failures, Failure{
				Location: si.path + ".after",
				Message:  "time rule loop limit exceeded in state " + st.State,
				TimeRule: true,
			})
			return
		}
		r.fire(si, i, d, ref)
	}
}

// fire applies rule i of si at its due instant d for reference ref. The rule
// stays marked fired even when its effects fail and are rolled back.
func (r *Run) fire(si *stateInfo, i int, d, ref int64) {
	tr := si.def.After[i]
	st := r.State
	if st.Fired == nil {
		st.Fired = map[string]int64{}
	}
	st.Fired[si.keys[i]] = ref

	r.save()
	r.evScope.ev = nil
	r.env.Now = d
	var f *failure
	for _, eff := range tr.Effects {
		if f = r.runEffect(eff, d); f != nil {
			break
		}
	}
	if f == nil {
		f = r.compute()
	}
	if f == nil {
		f = r.checkConstraints(true)
	}
	if f != nil {
		r.restore()
		r.Failures = append(r.Failures, Failure{Field: f.field, Location: f.loc, Message: f.msg, TimeRule: true})
	} else {
		r.RulesFired++
		if r.State.State != r.sv.st.State {
			r.Transitions++
		}
		if r.differs() {
			var seq int64
			if r.hasSeq && r.seqTime == d {
				seq = r.seq // an event changed the entity at this instant too
			}
			r.emit(d, seq)
		}
	}
	// Every firing, even one that changed nothing or failed, consumed a fired
	// mark: an event older than it is late.
	r.State.LastFiredTime = d
}
