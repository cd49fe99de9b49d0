package main

// Reading a repository's devcontainer.json: JSONC (comments, trailing commas), parsed by hujson (JWCC), then
// decoded token by token with encoding/json into an ordered tree, so that object keys keep their order (the session
// environment is applied in file order) and a duplicate key takes the last value at its first place, as
// jsonc-parser (the devcontainers CLI's parser) does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/tailscale/hujson"
)

const (
	// maxFile is the most a devcontainer.json may weigh: a larger one (e.g. hundreds of MB of whitespace, tiny in
	// git) is reported and never loaded.
	maxFile = 1024 * 1024
	// maxDepth is the deepest nesting of objects and arrays read (a real devcontainer.json needs fewer than 10).
	maxDepth = 64
)

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// value is one JSON value; a number keeps its literal text (1e999 is not an error, only not a uid).
type value struct {
	kind kind
	str  string // kindString: the text; kindNumber: the literal
	b    bool
	arr  []*value
	obj  *object
}

// object is a JSON object in key order; a repeated key replaces the value and keeps its first place.
type object struct {
	keys []string
	vals map[string]*value
}

func newObject() *object { return &object{vals: map[string]*value{}} }

func (o *object) get(key string) *value {
	if o == nil {
		return nil
	}
	return o.vals[key]
}

func (o *object) set(key string, v *value) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// describe names a value's type for a message, as the helpers always have ("a string", "number", ...).
func describe(v *value) string {
	switch v.kind {
	case kindString:
		return quote(truncate(v.str, 40))
	case kindArray:
		return "an array"
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	default:
		return "object"
	}
}

// devcontainerError is a problem with a devcontainer.json; file is empty when it happened before one was found.
type devcontainerError struct {
	file string
	msg  string
}

func (e *devcontainerError) Error() string { return e.msg }

// findDevcontainer returns .devcontainer/devcontainer.json, else .devcontainer.json, of repo ("" when neither is a
// regular file).
func findDevcontainer(repo string) string {
	for _, f := range []string{filepath.Join(repo, ".devcontainer", "devcontainer.json"), filepath.Join(repo, ".devcontainer.json")} {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			return f
		}
	}
	return ""
}

// readDevcontainer returns the file and its top-level object ("" and nil when the repository has none); an error
// is a *devcontainerError.
func readDevcontainer(repo string) (string, *object, error) {
	file := findDevcontainer(repo)
	if file == "" {
		return "", nil, nil
	}
	content, err := readBounded(file)
	if err != nil {
		return file, nil, &devcontainerError{file: file, msg: err.Error()}
	}
	doc, err := parseJSONC(content)
	if err != nil {
		return file, nil, &devcontainerError{file: file, msg: err.Error()}
	}
	if doc.kind != kindObject {
		return file, nil, &devcontainerError{file: file, msg: "the top level is not an object"}
	}
	return file, doc.obj, nil
}

// readBounded reads at most maxFile bytes of file (a larger one is an error, and only maxFile+1 bytes are read),
// without the UTF-8 byte order mark the devcontainers CLI ignores too. Non-blocking open, then a check that it is
// still a regular file: a FIFO swapped in after the Stat cannot hang the reader.
func readBounded(file string) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	buf := make([]byte, maxFile+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if n > maxFile {
		return nil, fmt.Errorf("larger than %d bytes; not read", maxFile)
	}
	return bytes.TrimPrefix(buf[:n], []byte("\xef\xbb\xbf")), nil
}

// lineColumn is the 1-based line and column (in bytes) of offset n in b.
func lineColumn(b []byte, n int) (int, int) {
	return 1 + bytes.Count(b[:n], []byte("\n")), n - bytes.LastIndexByte(b[:n], '\n')
}

var hujsonPosition = regexp.MustCompile(`(?s)^hujson: line (\d+), column (\d+): (.*)$`)

// parseJSONC parses JSONC text: valid UTF-8 only, at most maxDepth levels deep, comments and trailing commas allowed.
// Errors say what and where: "<what> at line L, column C".
func parseJSONC(content []byte) (*value, error) {
	if !utf8.Valid(content) {
		n := 0
		for n < len(content) {
			r, size := utf8.DecodeRune(content[n:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			n += size
		}
		line, col := lineColumn(content, n)
		return nil, fmt.Errorf("invalid UTF-8 at line %d, column %d", line, col)
	}
	if n := tooDeepAt(content); n >= 0 {
		line, col := lineColumn(content, n)
		return nil, fmt.Errorf("nested too deeply (more than %d levels) at line %d, column %d", maxDepth, line, col)
	}
	ast, err := hujson.Parse(content)
	if err != nil {
		if m := hujsonPosition.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s at line %s, column %s", safeMessage(m[3]), m[1], m[2])
		}
		return nil, err
	}
	ast.Standardize() // comments and trailing commas become spaces: offsets and lines unchanged
	dec := json.NewDecoder(bytes.NewReader(ast.Pack()))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		line, col := lineColumn(content, int(min64(dec.InputOffset(), int64(len(content)))))
		return nil, fmt.Errorf("%v at line %d, column %d", err, line, col)
	}
	return v, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// safeMessage: hujson quotes a bad literal raw, which may hold control characters or a megabyte; shown quoted and
// shortened instead (the message reaches logs).
func safeMessage(msg string) string {
	const prefix = "invalid literal: "
	if !strings.HasPrefix(msg, prefix) {
		return msg
	}
	lit := strings.TrimPrefix(msg, prefix)
	if len(lit) >= 2 && lit[0] == '"' && lit[len(lit)-1] == '"' {
		return "invalid string " + quote(truncate(lit[1:len(lit)-1], 40)) + " (control characters must be escaped, escapes must be valid)"
	}
	return "invalid literal " + quote(truncate(lit, 40))
}

// tooDeepAt returns the offset of the first '{' or '[' that opens level maxDepth+1, or -1. It lexes as hujson does
// (strings with backslash escapes, // and /* */ comments), so hujson's recursive parser, which runs only when this
// returns -1, never nests deeper than maxDepth: a 1 MiB file of '[' cannot grow its stack.
func tooDeepAt(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i += 2; i < len(b) && b[i] != '\n'; i++ {
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return -1 // unterminated comment: hujson reports it
			}
			i += 2 + end + 1
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return i
			}
		case c == '}' || c == ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// decodeValue reads one value from dec (standard JSON that hujson has already checked and tooDeepAt bounded).
func decodeValue(dec *json.Decoder, depth int) (*value, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &value{kind: kindNull}, nil
	case bool:
		return &value{kind: kindBool, b: t}, nil
	case json.Number:
		return &value{kind: kindNumber, str: string(t)}, nil
	case string:
		return &value{kind: kindString, str: t}, nil
	case json.Delim:
		if t == '[' {
			v := &value{kind: kindArray}
			for dec.More() {
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token() // ']'
			return v, err
		}
		v := &value{kind: kindObject, obj: newObject()}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("unexpected %v where an object key belongs", k)
			}
			e, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			v.obj.set(key, e)
		}
		_, err := dec.Token() // '}'
		return v, err
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// quote is a JSON string: double quotes, JSON escapes, no HTML escaping, and DEL escaped too, so that no control
// character reaches a log line.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.Replace(string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), "\x7f", `\u007f`, -1)
}

// truncate keeps the first n characters of s, with "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
