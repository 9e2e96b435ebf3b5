package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/regionalconsult/broker/pkg/problem"
)

// maxDepth bounds how deeply a request body may nest objects and arrays: no endpoint takes more
// than a few levels.
const maxDepth = 16

// checkJSON reads body as JSON once, before it is decoded, for what encoding/json would let
// pass silently: bytes that are not UTF-8 and lone surrogate escapes (decoded as U+FFFD), a key
// given twice or in two
// cases (the last one would win), and bidirectional formatting controls in a string (U+202A to
// U+202E, U+2066 to U+2069), which can make clinical text read differently from what it says.
// It returns the path of the first field at fault ("patient.age_years", "attachments[1]", "" for
// the body itself) and its problem, or ok. Bodies that are not JSON are left to the decoder.
func checkJSON(body []byte) (path string, p problem.Problem, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		key    string              // the current key, in an object
		index  int                 // the next element's index, in an array
		seen   map[string]struct{} // the keys met, folded to lower case, in an object
		inKey  bool                // the next string token is a key
	}
	var stack []*frame
	here := func() string {
		var b strings.Builder
		for i, f := range stack {
			switch {
			case f.object && f.key != "":
				if i > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			case !f.object:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	var last int64
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", problem.Problem{}, true
		}
		if err != nil {
			return "", problem.Problem{}, true // not JSON: the decoder says so
		}
		raw := body[last:dec.InputOffset()]
		last = dec.InputOffset()
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) == maxDepth {
					return here(), problem.Malformed("nested too deeply"), false
				}
				stack = append(stack, &frame{object: t == '{', seen: map[string]struct{}{}, inKey: t == '{'})
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
				top = nil
				if len(stack) > 0 {
					top = stack[len(stack)-1]
				}
			}
		case string:
			if top != nil && top.object && top.inKey {
				if !utf8.Valid(raw) || strings.ContainsRune(t, utf8.RuneError) || strings.ContainsFunc(t, bidiControl) {
					return here(), problem.InvalidText("a key is not plain UTF-8 text"), false
				}
				top.key = t
				folded := strings.ToLower(t)
				if _, twice := top.seen[folded]; twice {
					return here(), problem.Duplicate("given twice (keys are matched without regard to case)"), false
				}
				top.seen[folded] = struct{}{}
				top.inKey = false
				continue
			}
			// A replacement character stands for bytes that were not UTF-8 or for a lone surrogate
			// escape ("\ud800"): nobody types one.
			if !utf8.Valid(raw) || strings.ContainsRune(t, utf8.RuneError) {
				return here(), problem.InvalidText("must be valid UTF-8 text"), false
			}
			if strings.ContainsFunc(t, bidiControl) {
				return here(), problem.InvalidText("must not contain bidirectional formatting characters (U+202A to U+202E, U+2066 to U+2069)"), false
			}
		}
		// A value ended: the next token of an object is a key, of an array the next element.
		if top != nil {
			if top.object {
				top.inKey = true
			} else {
				top.index++
			}
		}
	}
}

// bidiControl reports the embedding, override and isolate controls. The plain marks (U+200E,
// U+200F, U+061C) are allowed: they only nudge neutral characters, and keyboards type them.
func bidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
