package roster

import _ "embed"

// demoJSON is the demo directory: the accounts of API.md (password "demo") and realistic
// rotations for several pediatric specialties.
//
//go:embed demo.json
var demoJSON []byte

// DemoJSON returns the demo roster document.
func DemoJSON() []byte { return demoJSON }
