package cli

import (
	"context"
	"fmt"
	"reflect"

	"github.com/defacto-dev/defacto"
)

// callEngine calls the engine method name(ctx, args...) and returns its
// result. It bridges library calls that the contract promises
// (docs/api-contract.md) but that may not exist yet while the engine is
// being finished: the command still parses and fails with a clear message,
// and starts working as soon as the library gains the method. Replace a call
// by a direct method call once the method has landed.
func callEngine(ctx context.Context, eng *defacto.Engine, cmd, name string, args ...string) (any, error) {
	m := reflect.ValueOf(eng).MethodByName(name)
	if !m.IsValid() {
		return nil, &Error{Code: ExitFailure, Msg: fmt.Sprintf("%s is not available in this build: the defacto library has no Engine.%s yet", cmd, name)}
	}
	t := m.Type()
	errType := reflect.TypeFor[error]()
	ok := t.NumIn() == len(args)+1 && t.In(0) == reflect.TypeFor[context.Context]() &&
		t.NumOut() == 2 && t.Out(1) == errType
	for i := 0; ok && i < len(args); i++ {
		ok = t.In(i+1).Kind() == reflect.String
	}
	if !ok {
		return nil, &Error{Code: ExitFailure, Msg: fmt.Sprintf("%s is not available in this build: Engine.%s has the unexpected signature %s", cmd, name, t)}
	}
	in := []reflect.Value{reflect.ValueOf(ctx)}
	for i, a := range args {
		in = append(in, reflect.ValueOf(a).Convert(t.In(i+1)))
	}
	out := m.Call(in)
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}
	return out[0].Interface(), nil
}
