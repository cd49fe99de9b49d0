package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseJSONC: any input either parses or is an error that says where; no panic, no nesting past maxDepth,
// and standard JSON that is valid UTF-8 and shallow enough is always accepted, with the same object keys.
func FuzzParseJSONC(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a": [1, 2,], // c` + "\n}", "\xef\xbb\xbf{}", `{"a": "\u0000"}`, `[[[[[[]]]]]]`, `{"a":1e999}`,
		`{"__proto__": {"x": 1}, "a": 1, "a": 2}`, `{"s": "[[[", /* ]]] */ "t": "\"["}`, "{\"a\": \"\xff\"}", `{"a" 1}`,
		strings.Repeat("[", 70), nested(maxDepth), `{"a": /* open`, `"str"`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseJSONC(b)
		if err != nil {
			if !strings.Contains(err.Error(), " at line ") || len(err.Error()) > 400 || strings.IndexFunc(err.Error(), isControl) >= 0 {
				t.Fatalf("error without a position, too long, or with a control character: %q", err)
			}
		} else if d := depth(v); d > maxDepth {
			t.Fatalf("accepted depth %d", d)
		}
		if json.Valid(b) && utf8.Valid(b) && tooDeepAt(b) < 0 {
			if err != nil {
				t.Fatalf("standard JSON refused: %v", err)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) == nil && m != nil && len(m) != len(v.obj.keys) {
				t.Fatalf("keys: encoding/json %d, parsed %d", len(m), len(v.obj.keys))
			}
		}
	})
}

func depth(v *value) int {
	d := 0
	switch v.kind {
	case kindArray:
		for _, e := range v.arr {
			if x := depth(e); x > d {
				d = x
			}
		}
		return d + 1
	case kindObject:
		for _, k := range v.obj.keys {
			if x := depth(v.obj.vals[k]); x > d {
				d = x
			}
		}
		return d + 1
	}
	return 0
}
