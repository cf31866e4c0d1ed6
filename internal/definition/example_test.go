package definition

import "fmt"

func ExampleLoadBytes() {
	_, res, err := LoadBytes([]byte(`entities:
  customer:
    starts: lead
    identity: {email: {}}
    states:
      lead:
        when:
          signup: {effects: [create, {transition: {to: actve}}]}
      active: {}
`), "defs.yaml")
	fmt.Println(err)
	for _, w := range res.Warnings {
		fmt.Println(w.Kind)
	}
	// Output:
	// invalid definitions (1 problem):
	// defs.yaml:8:56: entities.customer.states.lead.when.signup.effects[1].transition.to: transition to "actve": no such state; did you mean "active"?
	// unproduced_event
}
