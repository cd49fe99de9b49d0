package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubstitute(t *testing.T) {
	t.Setenv("GS_TEST_VAR", "v:1")
	cases := []struct{ raw, want, problem string }{
		{"${containerEnv:GS_TEST_VAR}", "v:1", ""},
		{"${containerEnv:GS_TEST_NOPE:a:b}", "a:b", ""},
		{"${containerEnv:GS_TEST_NOPE}", "", ""},
		{"x${containerWorkspaceFolder}y", "x/home/u/api yy", ""},
		{"${localWorkspaceFolderBasename}", "api y", ""},
		{"${localEnv:HOME}", "", "uses ${localEnv…}, which is not supported"},
		{"${devcontainerId}", "", "uses ${devcontainerId…}"},
		{"${containerEnv:bad-name}", "", `uses the unknown variable "${containerEnv:bad-name}"`},
		{"${nope} ${localEnv:X}", "", `uses the unknown variable "${nope}"`},
		{"${ unclosed", "${ unclosed", ""},
		{"$HOME", "$HOME", ""},
	}
	for _, c := range cases {
		got, problem := substitute(c.raw, "/home/u/api y")
		if (c.problem == "" && (got != c.want || problem != "")) || (c.problem != "" && !strings.HasPrefix(problem, c.problem)) {
			t.Errorf("%q: %q %q", c.raw, got, problem)
		}
	}
}

func envOf(t *testing.T, docs ...string) (string, []string) {
	t.Helper()
	var repos []string
	for i, d := range docs {
		repo := filepath.Join(t.TempDir(), "r"+string(rune('a'+i)))
		if err := os.MkdirAll(repo, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, ".devcontainer.json"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
		repos = append(repos, repo)
	}
	var out bytes.Buffer
	if err := envCommand(repos, &out); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Env      json.RawMessage `json:"env"`
		Problems []string        `json:"problems"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%s: %v", out.String(), err)
	}
	return string(r.Env), r.Problems
}

func TestEnvOrderDuplicatesAndRemoteEnvNull(t *testing.T) {
	env, problems := envOf(t, `{
		"containerEnv": {"Z": "1", "A": "2", "Z": "3", "GONE": "x", "__proto__": "p"},
		"remoteEnv": {"GONE": null, "A": "remote", "NEW": "n", "GONE2": null},
	}`)
	if env != `{"Z":"3","A":"remote","__proto__":"p","NEW":"n"}` || len(problems) != 0 {
		t.Fatalf("env %s problems %q", env, problems)
	}
}

func TestEnvRefusals(t *testing.T) {
	env, problems := envOf(t, `{"containerEnv": {
		"a\u0000b": "nul in the name", "BAD-NAME": "x", "`+strings.Repeat("N", 129)+`": "long name",
		"NUM": 1e999, "OBJ": {}, "ARR": [], "BOOL": true, "NL": "a\nb", "DEL": "a\u007fb", "TAB": "a\tb",
		"PATH": "/evil", "LD_PRELOAD": "/x.so", "GIT_DIR": "/x", "IFS": " ", "U": "\u00e9"
	}, "remoteEnv": ["not", "an object"]}`)
	if env != `{"TAB":"a\tb","U":"é"}` {
		t.Errorf("env %s", env)
	}
	want := []string{
		`"a\u0000b" is not a valid environment variable name`, `"BAD-NAME" is not a valid`, `"NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN…" is not a valid`,
		`"NUM" must be a string (got number)`, `"OBJ" must be a string (got object)`, `"ARR" must be a string (got an array)`,
		`"BOOL" must be a string (got boolean)`, `"NL" has a control character`, `"DEL" has a control character`,
		`"PATH" may only extend the container's PATH`, `"LD_PRELOAD" is reserved`, `"GIT_DIR" is reserved`, `"IFS" is reserved`,
		`remoteEnv must be an object of NAME: "value"; ignored`,
	}
	all := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem %q in:\n%s", w, all)
		}
	}
}

func TestEnvFirstRepositoryWinsAndTheLimit(t *testing.T) {
	var vars []string
	for i := 0; i < 120; i++ {
		vars = append(vars, `"V`+strings.Repeat("x", i%3)+string(rune('A'+i%26))+`_`+itoa(i)+`": "v"`)
	}
	env, problems := envOf(t, `{"containerEnv": {"SAME": "1", "DIFF": "a"}}`, `{"containerEnv": {"SAME": "1", "DIFF": "b", `+strings.Join(vars, ",")+`}}`)
	var m map[string]string
	if err := json.Unmarshal([]byte(env), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != maxVars || m["DIFF"] != "a" {
		t.Errorf("%d variables, DIFF=%q", len(m), m["DIFF"])
	}
	all := strings.Join(problems, "\n")
	if strings.Count(all, "is already set by") != 1 || strings.Count(all, "over the limit of 100 variables") != 22 {
		t.Errorf("problems:\n%s", all)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
