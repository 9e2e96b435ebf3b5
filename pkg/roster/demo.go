package roster

import _ "embed"

// demoJSON is the demo directory: the demo accounts (password "demo"), realistic rotation
// layers for several pediatric specialties (a weekday reading-room layer over a weekly one, an
// override), each specialty's form in English, Arabic and Hebrew, an escalation policy for
// emergent oncology and the red-flag rules of febrile neutropenia, bleeding with very low
// platelets, severe hypoxemia and a low Glasgow Coma Scale.
//
//go:embed demo.json
var demoJSON []byte

// DemoJSON returns the demo roster document.
func DemoJSON() []byte { return demoJSON }
