package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *value {
	t.Helper()
	v, err := parseJSONC([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return v
}

func TestParseJSONCAcceptsCommentsAndTrailingCommas(t *testing.T) {
	v := mustParse(t, "// head\n{ /* a */ \"a\": [1, 2, ], \"b\": {\"c\": \"// not a comment\",}, }\n")
	if v.kind != kindObject || strings.Join(v.obj.keys, ",") != "a,b" {
		t.Fatalf("keys %v", v.obj.keys)
	}
	if got := v.obj.get("b").obj.get("c").str; got != "// not a comment" {
		t.Fatalf("c = %q", got)
	}
	if n := len(v.obj.get("a").arr); n != 2 {
		t.Fatalf("a has %d elements", n)
	}
}

func TestParseJSONCErrorsSayWhere(t *testing.T) {
	cases := []struct{ text, want string }{
		{"{\n  \"a\": 1\n  \"b\": 2\n}", `invalid character '"' after object value (expecting ',' or '}') at line 3, column 3`},
		{"", "at line 1, column 1"},
		{"{\"a\": tru}", `invalid literal "tru" at line 1, column 7`},
		{"{} {}", "after top-level value at line 1, column 4"},
		{"{\"a\": 1 /* open", "parsing comment: unexpected EOF at line 1, column 9"},
		{"{\"a\": \"x\ty\"}", `invalid string "x\ty" (control characters must be escaped, escapes must be valid) at line 1, column 7`},
		{"{\"a\": \"\x00\"}", `invalid string "\u0000"`},
		{"{\"a\": \"\\x41\"}", `invalid string "\\x41"`},
		{"{\"a\": \"" + strings.Repeat("\x01", 100000) + "\"}", `invalid string "\u0001\u0001`},
		{"{\"a\": NaN}", `invalid literal "NaN"`},
		{"{'a': 1}", "invalid character '\\'' at start of value"},
	}
	for _, c := range cases {
		_, err := parseJSONC([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
		if err != nil && (!regexp.MustCompile(`at line \d+, column \d+$`).MatchString(err.Error()) || len(err.Error()) > 400) {
			t.Errorf("%.40q: %v has no position or is too long", c.text, err)
		}
	}
}

func TestParseJSONCRejectsInvalidUTF8WithItsPosition(t *testing.T) {
	for _, text := range []string{"{\"a\": \"\xff\"}", "{\"a\": 1} // \xc3\x28", "{\"\xed\xa0\x80\": 1}"} {
		_, err := parseJSONC([]byte(text))
		if err == nil || !strings.HasPrefix(err.Error(), "invalid UTF-8 at line 1, column ") {
			t.Errorf("%q: %v", text, err)
		}
	}
	_, err := parseJSONC([]byte("{\n\"ok\": \"é\",\n  \"x\": \"\xfe\"}"))
	if err == nil || err.Error() != "invalid UTF-8 at line 3, column 9" {
		t.Errorf("position: %v", err)
	}
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "[]" + strings.Repeat("}", depth-1)
}

func TestDepthLimitExactlyAtAndOver(t *testing.T) {
	mustParse(t, nested(maxDepth))
	mustParse(t, "// [[[[ "+strings.Repeat("[", 100)+"\n"+nested(maxDepth)) // brackets in a comment do not count
	mustParse(t, `{"s": "`+strings.Repeat("[", 1000)+`", "t": "\"[{"}`)     // nor in strings, escaped quotes too
	for _, text := range []string{nested(maxDepth + 1), strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), strings.Repeat("[", 1000000)} {
		_, err := parseJSONC([]byte(text))
		if err == nil || !strings.HasPrefix(err.Error(), "nested too deeply (more than 64 levels) at line 1, column ") {
			t.Errorf("%.20q…: %v", text, err)
		}
	}
	// Brackets after a close do not accumulate.
	mustParse(t, "["+strings.Repeat(nested(maxDepth-1)+",", 500)+"1]")
}

func TestDuplicateKeysLastWinsAtTheFirstPlace(t *testing.T) {
	v := mustParse(t, `{"B": "1", "A": "2", "B": "3", "remoteUser": "x", "remoteUser": "node"}`)
	if strings.Join(v.obj.keys, ",") != "B,A,remoteUser" || v.obj.get("B").str != "3" || v.obj.get("remoteUser").str != "node" {
		t.Fatalf("keys %v B=%q", v.obj.keys, v.obj.get("B").str)
	}
}

func TestSpecialKeysAreOrdinary(t *testing.T) {
	v := mustParse(t, `{"__proto__": {"remoteUser": "root"}, "constructor": 1, "a\u0000b": "nul", "hasOwnProperty": null}`)
	if v.obj.get("remoteUser") != nil {
		t.Fatal("__proto__ leaked a key into the top level")
	}
	if v.obj.get("a\x00b").str != "nul" || len(v.obj.keys) != 4 {
		t.Fatalf("keys %q", v.obj.keys)
	}
}

func TestNumbersKeepTheirLiteral(t *testing.T) {
	v := mustParse(t, `{"a": 1e999, "b": -0.0, "c": 123456789012345678901234567890}`)
	for k, want := range map[string]string{"a": "1e999", "b": "-0.0", "c": "123456789012345678901234567890"} {
		if got := v.obj.get(k); got.kind != kindNumber || got.str != want {
			t.Errorf("%s = %+v", k, got)
		}
	}
}

func TestReadBounded(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f.json")
	write := func(b []byte) {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(append([]byte("\xef\xbb\xbf"), bytes.Repeat([]byte(" "), maxFile-3)...))
	if b, err := readBounded(f); err != nil || len(b) != maxFile-3 {
		t.Fatalf("exactly the cap with a BOM: %d %v", len(b), err)
	}
	write(bytes.Repeat([]byte(" "), maxFile+1))
	if _, err := readBounded(f); err == nil || err.Error() != "larger than 1048576 bytes; not read" {
		t.Fatalf("over the cap: %v", err)
	}
	if err := os.Truncate(f, 1<<40); err != nil { // sparse: 1 TiB, read no further than the cap
		t.Fatal(err)
	}
	if _, err := readBounded(f); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("sparse: %v", err)
	}
	if _, err := readBounded(dir); err == nil {
		t.Fatal("a directory was read")
	}
}

func TestReadDevcontainerFindsTheFileAndRefusesNonObjects(t *testing.T) {
	repo := t.TempDir()
	if file, doc, err := readDevcontainer(repo); file != "" || doc != nil || err != nil {
		t.Fatalf("no file: %q %v %v", file, doc, err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".devcontainer.json"), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readDevcontainer(repo); err == nil || err.Error() != "the top level is not an object" {
		t.Fatalf("array: %v", err)
	}
	if err := os.Mkdir(filepath.Join(repo, ".devcontainer"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(repo, ".devcontainer", "devcontainer.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory named devcontainer.json is not a file: the root one is used.
	if file, _, _ := readDevcontainer(repo); file != filepath.Join(repo, ".devcontainer.json") {
		t.Fatalf("file %q", file)
	}
}

func TestQuoteIsJSON(t *testing.T) {
	for _, s := range []string{"a<b>&", "\x00\x1b\n", "é", `"\`} {
		var back string
		if err := json.Unmarshal([]byte(quote(s)), &back); err != nil || back != s {
			t.Errorf("%q: %s", s, quote(s))
		}
	}
	if quote("<") != `"<"` {
		t.Errorf("HTML escaped: %s", quote("<"))
	}
}
