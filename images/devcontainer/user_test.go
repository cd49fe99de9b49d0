package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckUserSpec(t *testing.T) {
	cases := []struct{ doc, want, err string }{
		{`{"remoteUser": "node"}`, "node", ""},
		{`{"remoteUser": " node:staff "}`, "node:staff", ""},
		{`{"remoteUser": 1000}`, "1000", ""},
		{`{"remoteUser": ""}`, "", ""},
		{`{"remoteUser": null}`, "", ""},
		{`{"remoteUser": 1e3}`, "", "remoteUser 1e3 is not a uid"},
		{`{"remoteUser": 1e999}`, "", "remoteUser 1e999 is not a uid"},
		{`{"remoteUser": -1}`, "", "remoteUser -1 is not a uid"},
		{`{"remoteUser": 1000.0}`, "", "remoteUser 1000.0 is not a uid"},
		{`{"remoteUser": true}`, "", "remoteUser must be a string"},
		{`{"remoteUser": ["node"]}`, "", "remoteUser must be a string"},
		{`{"remoteUser": "4294967295"}`, "", "id 4294967295 is out of range"},
		{`{"remoteUser": "1:99999999999999999999999"}`, "", "id 99999999999999999999999 is out of range"},
		{`{"remoteUser": "root; rm -rf /"}`, "", "remoteUser 'root; rm -rf /' is not one of name, uid, name:group, uid:gid"},
		{`{"remoteUser": "a\u0000b"}`, "", `remoteUser 'a\u0000b' is not one of`},
		{`{"remoteUser": "a\nb"}`, "", `remoteUser 'a\nb' is not one of`},
		{`{"remoteUser": "-rf"}`, "", "is not one of"},
		{`{"remoteUser": "a:b:c"}`, "", "is not one of"},
		{`{"remoteUser": "ùser"}`, "", "is not one of"},
	}
	for _, c := range cases {
		got, err := checkUserSpec(mustParse(t, c.doc).obj, "remoteUser")
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %q %v, want %q %q", c.doc, got, err, c.want, c.err)
		}
	}
}

func TestResolveUser(t *testing.T) {
	passwd := [][]string{{"root", "x", "0", "0"}, {"node", "x", "1001", "1001"}, {"odd", "x", "abc", "x"}}
	groups := [][]string{{"node", "x", "1001"}, {"staff", "x", "50"}, {"zero", "x", "0050"}}
	cases := []struct {
		spec string
		want string
	}{
		{"node", `{"user":"node","uid":1001,"group":"node","gid":1001}`},
		{"1001", `{"user":"node","uid":1001,"group":"node","gid":1001}`},
		{"node:staff", `{"user":"node","uid":1001,"group":"staff","gid":50}`},
		{"1001:50", `{"user":"node","uid":1001,"group":"staff","gid":50}`},
		{"4000:4001", `{"user":null,"uid":4000,"group":null,"gid":4001}`},
		{"ghost:nogroup", `{"user":"ghost","uid":null,"group":"nogroup","gid":null}`},
		{"odd", `{"user":"odd","uid":null,"group":null,"gid":null}`},
		{"0001", `{"user":null,"uid":1,"group":null,"gid":null}`},
	}
	for _, c := range cases {
		var r userResult
		resolveUser(&r, c.spec, passwd, groups)
		b, _ := json.Marshal(struct {
			User  *string `json:"user"`
			UID   *uint64 `json:"uid"`
			Group *string `json:"group"`
			GID   *uint64 `json:"gid"`
		}{r.User, r.UID, r.Group, r.GID})
		if string(b) != c.want {
			t.Errorf("%s: %s, want %s", c.spec, b, c.want)
		}
	}
}

func TestUserCommandOutputContract(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(filepath.Join(repo, ".devcontainer"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("# comment\nvscode:x:1000:1000::/home/vscode:/bin/bash\n\nnode:x:1001:1001::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(text string) string {
		if err := os.WriteFile(filepath.Join(repo, ".devcontainer", "devcontainer.json"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := userCommand(userOptions{repo: repo, passwd: passwd, group: filepath.Join(dir, "none"), defaultUser: "vscode"}, &out); err != nil {
			t.Fatal(err)
		}
		return strings.Replace(out.String(), filepath.Join(repo, ".devcontainer", "devcontainer.json"), "F", -1)
	}
	if got := run(`{"containerUser": "node", "remoteUser": null}`); got != `{"file":"F","source":"containerUser","spec":"node","error":null,"user":"node","uid":1001,"group":null,"gid":1001}`+"\n" {
		t.Errorf("containerUser: %s", got)
	}
	if got := run(`{"remoteUser": "<root>"}`); got != `{"file":"F","source":"default","spec":null,"error":"cannot use F: remoteUser '<root>' is not one of name, uid, name:group, uid:gid","user":"vscode","uid":1000,"group":null,"gid":1000}`+"\n" {
		t.Errorf("bad spec: %s", got)
	}
	if got := run(`{"remoteUser": "node",`); !strings.Contains(got, `"error":"cannot use F: parsing value: unexpected EOF at line 1, column 23"`) {
		t.Errorf("truncated: %s", got)
	}
}

func TestArgumentErrors(t *testing.T) {
	for _, args := range [][]string{
		nil, {"nope"}, {"user"}, {"user", "--repo"}, {"user", "--repo", "x", "--bad", "y"},
		{"env"}, {"env", "--repo", "a", "--phase", "start"}, {"run", "--repo", "a", "--phase", "attach", "--log", "l"},
		{"run", "--repo", "a", "--repo", "b", "--phase", "start", "--log", "l"}, {"run", "--repo", "a", "--phase", "start"},
	} {
		var out bytes.Buffer
		if err := dispatch(args, &out); err == nil || out.Len() != 0 {
			t.Errorf("%q: accepted (%v, %q)", args, err, out.String())
		}
	}
}
