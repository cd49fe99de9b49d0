package main

// `user`: the user a repository's devcontainer.json asks for (remoteUser, else containerUser, else the default
// user), as `name`, `uid`, `name:group` or `uid:gid`, resolved against a passwd and a group file.

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

type userOptions struct {
	repo, passwd, group, defaultUser string
}

// userResult is the JSON line printed; the field order is the output's.
type userResult struct {
	File   *string `json:"file"`
	Source string  `json:"source"`
	Spec   *string `json:"spec"`
	Error  *string `json:"error"`
	User   *string `json:"user"`
	UID    *uint64 `json:"uid"`
	Group  *string `json:"group"`
	GID    *uint64 `json:"gid"`
}

var (
	userSpec = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*(:[A-Za-z0-9_.][A-Za-z0-9_.-]*)?$`)
	digits   = regexp.MustCompile(`^[0-9]+$`)
)

// maxID is the largest uid/gid: ids are 32 bits and (uid_t)-1 means "no change".
const maxID = 1<<32 - 2

func parseUserArgs(args []string) (userOptions, error) {
	o := userOptions{passwd: "/etc/passwd", group: "/etc/group", defaultUser: "vscode"}
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return o, fmt.Errorf("%s needs a value", args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "--repo":
			o.repo = v
		case "--passwd":
			o.passwd = v
		case "--group":
			o.group = v
		case "--default-user":
			o.defaultUser = v
		default:
			return o, fmt.Errorf("unknown argument %s", args[i])
		}
	}
	if o.repo == "" {
		return o, fmt.Errorf("--repo DIR is required")
	}
	return o, nil
}

// readDB returns the entries of a colon-separated database (passwd, group); a missing file has none.
func readDB(file string) [][]string {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out [][]string
	for _, l := range strings.Split(string(text), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Split(l, ":"))
		}
	}
	return out
}

// parseID is a uid/gid given as decimal digits (nil when it is not one or out of range).
func parseID(s string) *uint64 {
	if !digits.MatchString(s) {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return nil
	}
	return &n
}

// find is the first entry whose field i is s.
func find(db [][]string, i int, s string) []string {
	for _, e := range db {
		if len(e) > i && e[i] == s {
			return e
		}
	}
	return nil
}

// resolveUser fills user/uid/group/gid of spec (already checked by checkUserSpec).
func resolveUser(r *userResult, spec string, passwd, groups [][]string) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	var pw []string
	if digits.MatchString(userPart) {
		r.UID = parseID(userPart)
		pw = find(passwd, 2, userPart)
	} else {
		u := userPart
		r.User = &u
		pw = find(passwd, 0, userPart)
	}
	if pw != nil {
		u := pw[0]
		r.User = &u
		r.UID = parseID(field(pw, 2))
		r.GID = parseID(field(pw, 3))
	}
	if hasGroup && groupPart != "" {
		var gr []string
		if digits.MatchString(groupPart) {
			r.GID = parseID(groupPart)
			gr = find(groups, 2, groupPart)
		} else {
			g := groupPart
			r.Group, r.GID = &g, nil
			gr = find(groups, 0, groupPart)
		}
		if gr != nil {
			g := gr[0]
			r.Group = &g
			r.GID = parseID(field(gr, 2))
		}
	} else if r.GID != nil {
		for _, e := range groups {
			if id := parseID(field(e, 2)); id != nil && *id == *r.GID {
				g := e[0]
				r.Group = &g
				break
			}
		}
	}
}

func field(e []string, i int) string {
	if i < len(e) {
		return e[i]
	}
	return ""
}

// checkUserSpec returns the spec of key in doc ("" when it is absent, null or empty), or why it cannot be used.
func checkUserSpec(doc *object, key string) (string, error) {
	v := doc.get(key)
	if v == nil || v.kind == kindNull || (v.kind == kindString && v.str == "") {
		return "", nil
	}
	var s string
	switch v.kind {
	case kindString:
		s = strings.TrimSpace(v.str)
	case kindNumber:
		if !digits.MatchString(v.str) {
			return "", fmt.Errorf("%s %s is not a uid", key, v.str)
		}
		s = v.str
	default:
		return "", fmt.Errorf("%s must be a string", key)
	}
	if !userSpec.MatchString(s) {
		return "", fmt.Errorf("%s %s is not one of name, uid, name:group, uid:gid", key, quoteSpec(s))
	}
	for _, part := range strings.SplitN(s, ":", 2) {
		if digits.MatchString(part) && parseID(part) == nil {
			return "", fmt.Errorf("%s '%s': id %s is out of range (at most %d)", key, s, part, uint64(maxID))
		}
	}
	return s, nil
}

// quoteSpec shows a refused spec: in single quotes, shortened, control characters escaped.
func quoteSpec(s string) string {
	q := quote(truncate(s, 80))
	return "'" + q[1:len(q)-1] + "'"
}

func userCommand(o userOptions, stdout io.Writer) error {
	passwd, groups := readDB(o.passwd), readDB(o.group)
	r := userResult{Source: "default"}
	spec := o.defaultUser
	if file, doc, err := readDevcontainer(o.repo); file != "" {
		r.File = &file
		if err == nil {
			for _, key := range []string{"remoteUser", "containerUser"} {
				s, e := checkUserSpec(doc, key)
				if e != nil {
					err = e
					break
				}
				if s != "" {
					r.Spec, r.Source, spec = &s, key, s
					break
				}
			}
		}
		if err != nil {
			msg := fmt.Sprintf("cannot use %s: %s", file, err.Error())
			r.Error, r.Source, r.Spec, spec = &msg, "default", nil, o.defaultUser
		}
	}
	resolveUser(&r, spec, passwd, groups)
	return writeJSON(stdout, r)
}
