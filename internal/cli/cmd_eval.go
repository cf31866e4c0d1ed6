package cli

import (
	"context"
	"encoding/json"
	"flag"
	"strings"

	"github.com/defacto-dev/defacto"
)

// evalCmd evaluates an expression; it needs no project or database.
type evalCmd struct {
	expr          string
	event, entity optString
	value         optString
}

func (c *evalCmd) Flags(fs *flag.FlagSet) {
	fs.Var(&c.event, "event", "bind `JSON` (an object) to event.*")
	fs.Var(&c.entity, "entity", "bind `JSON` (an object) to entity.*")
	fs.Var(&c.value, "value", "bind `TEXT` to value (the root of identity normalize expressions)")
}

func (c *evalCmd) Args(args []string) error {
	if err := wantArgs(args, "EXPR"); err != nil {
		return err
	}
	c.expr = args[0]
	return nil
}

// evalResult is what eval prints.
type evalResult struct {
	Value any `json:"value"`
}

func (c *evalCmd) Run(ctx context.Context, o *Options) error {
	in := defacto.EvalInput{Now: o.now()}
	var err error
	if in.Event, err = jsonObject("--event", c.event); err != nil {
		return err
	}
	if in.Entity, err = jsonObject("--entity", c.entity); err != nil {
		return err
	}
	if c.value.set {
		v := c.value.val
		in.Value = &v
	}
	v, err := defacto.Eval(c.expr, in)
	if err != nil {
		return err
	}
	if o.Output == "table" {
		// The JSON literal keeps types visible: "1" and 1 differ.
		data, err := marshal(v, false)
		if err != nil {
			return err
		}
		_, err = o.Stdout.Write(data)
		return err
	}
	return o.printResult(evalResult{Value: v})
}

// jsonObject decodes a flag's JSON object with exact numbers; an absent
// flag is a nil (absent) root.
func jsonObject(flagName string, s optString) (map[string]any, error) {
	if !s.set {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s.val))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, usageErrorf("%s: invalid JSON: %v", flagName, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, usageErrorf("%s must be a JSON object, like '{\"plan\": \"pro\"}'", flagName)
	}
	if dec.More() {
		return nil, usageErrorf("%s: trailing data after the JSON object", flagName)
	}
	return m, nil
}
