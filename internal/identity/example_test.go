package identity_test

import (
	"fmt"

	"github.com/defacto-dev/defacto/internal/identity"
)

func Example() {
	salt := make([]byte, 32)
	for i := range salt {
		salt[i] = byte(i)
	}
	key := identity.KeyHash(salt, "customer", "email", identity.Fold("Alice@Example.COM"))
	id := identity.EntityID(salt, key)
	fmt.Println(key)
	fmt.Println(id, identity.ShardHash(id)%4)
	// Output:
	// 260d7f6173d1b6f617cb18699a4a3c0c670086ff2f748bdd72d0b5ae922995fb
	// e60ae35b-5100-809d-9511-49fec12da0d1 1
}
