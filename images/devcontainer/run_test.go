package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNormalise(t *testing.T) {
	doc := mustParse(t, `{
		"s": "echo hi", "blank": "  ", "arr": ["printf", "%s", "$HOME"], "empty": [], "obj": {"a": "true", "b": ["true"], "c": ""},
		"num": 1, "bad": ["echo", 1], "nul": "a\u0000b", "noprog": ["", "x"], "ctl": {"a\u0007": "true"}
	}`).obj
	cases := []struct{ hook, want, err string }{
		{"s", `[/bin/sh -c echo hi]`, ""},
		{"blank", ``, ""},
		{"missing", ``, ""},
		{"arr", `[printf %s $HOME]`, ""},
		{"empty", ``, ""},
		{"obj", `a:[/bin/sh -c true] b:[true]`, ""},
		{"num", "", "num must be a string or an array of strings (got number)"},
		{"bad", "", "bad must be an array of strings"},
		{"nul", "", "nul contains a NUL character"},
		{"noprog", "", "noprog has an empty program name"},
		{"ctl", "", "ctl has a command name that is too long or has control characters"},
	}
	for _, c := range cases {
		cmds, err := normalise(c.hook, doc.get(c.hook))
		var parts []string
		for _, cmd := range cmds {
			p := "[" + strings.Join(cmd.argv, " ") + "]"
			if cmd.name != nil {
				p = *cmd.name + ":" + p
			}
			parts = append(parts, p)
		}
		if got := strings.Join(parts, " "); got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), c.err)) {
			t.Errorf("%s: %q %v", c.hook, got, err)
		}
	}
	big := &value{kind: kindString, str: strings.Repeat("x", maxCommand+1)}
	if _, err := normalise("h", big); err == nil || err.Error() != "h is longer than 65536 bytes" {
		t.Errorf("big: %v", err)
	}
	many := &value{kind: kindArray}
	for i := 0; i <= maxArgs; i++ {
		many.arr = append(many.arr, &value{kind: kindString, str: "x"})
	}
	if _, err := normalise("h", many); err == nil || err.Error() != "h has more than 1024 arguments" {
		t.Errorf("many: %v", err)
	}
	par := &value{kind: kindObject, obj: newObject()}
	for i := 0; i <= maxParallel; i++ {
		par.obj.set("c"+strconv.Itoa(i), &value{kind: kindString, str: "true"})
	}
	if _, err := normalise("h", par); err == nil || err.Error() != "h has more than 32 parallel commands" {
		t.Errorf("parallel: %v", err)
	}
}

func testLog(t *testing.T, max int64) (*boundedLog, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "log")
	l, err := openLog(file, max)
	if err != nil {
		t.Fatal(err)
	}
	return l, file
}

// alive: the process exists and is not a zombie (an orphan waits for a reaper that may be slow or absent).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestRunOneTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	l, file := testLog(t, 1<<20)
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	r := runOne(command{argv: []string{"/bin/sh", "-c", "sleep 30 & echo $! > " + pidFile + "; echo waiting; sleep 30"}}, dir, l, "h", 300*time.Millisecond)
	l.Close()
	if r.Signal == nil || *r.Signal != "SIGKILL" || r.Error == nil || *r.Error != "timed out after 0.3s" || r.Exit != nil {
		t.Fatalf("result %+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q", b)
	}
	for i := 0; i < 50 && alive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("the background process of the timed-out command survived")
	}
	log, _ := os.ReadFile(file)
	if !bytes.Contains(log, []byte("waiting\n")) || !bytes.Contains(log, []byte("[gitspace] h: timed out after 0.3s\n")) {
		t.Fatalf("log:\n%s", log)
	}
}

func TestRunOneDoesNotWaitForABackgroundProcessHoldingThePipe(t *testing.T) {
	dir := t.TempDir()
	l, file := testLog(t, 1<<20)
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	r := runOne(command{argv: []string{"/bin/sh", "-c", "sleep 20 & echo $! > " + pidFile + "; echo started"}}, dir, l, "h", time.Minute)
	took := time.Since(start)
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	l.Close()
	if r.Exit == nil || *r.Exit != 0 || r.Error != nil {
		t.Fatalf("result %+v", r)
	}
	if took < pipeGrace || took > pipeGrace+2*time.Second {
		t.Fatalf("took %v (grace %v)", took, pipeGrace)
	}
	if log, _ := os.ReadFile(file); !bytes.Contains(log, []byte("started\n")) {
		t.Fatalf("log:\n%s", log)
	}
}

func TestRunOneExitCodesAndMissingPrograms(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, 1<<20)
	defer l.Close()
	if r := runOne(command{argv: []string{"/bin/sh", "-c", "exit 7"}}, dir, l, "h", time.Minute); r.Exit == nil || *r.Exit != 7 {
		t.Errorf("exit 7: %+v", r)
	}
	for _, prog := range []string{"/no/such/program", "no-such-program-gitspace"} {
		if r := runOne(command{argv: []string{prog}}, dir, l, "h", time.Minute); r.Error == nil || *r.Error != prog+": not found" || r.Exit != nil {
			t.Errorf("%s: %+v", prog, r)
		}
	}
	if r := runOne(command{argv: []string{"/bin/sh", "-c", "kill -TERM $$"}}, dir, l, "h", time.Minute); r.Signal == nil || *r.Signal != "SIGTERM" {
		t.Errorf("signal: %+v", r)
	}
}

func TestBoundedLogKeepsTheLimitAndCountsTheRest(t *testing.T) {
	l, file := testLog(t, 10)
	for _, s := range []string{"0123456", "789abcdef", "xyz"} {
		if n, err := l.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatal(n, err)
		}
	}
	l.Close()
	if _, err := l.Write([]byte("after close")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if string(b) != "0123456789\n[gitspace] log truncated: 9 more bytes dropped (limit 10)\n" {
		t.Fatalf("%q", b)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestOpenLogNeverFollowsASymlinkNorOpensAFIFO(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := openLog(link, 100); err == nil {
		t.Fatal("opened through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("target changed: %q", b)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := openLog(fifo, 100); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("opened a FIFO")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("openLog hung on a FIFO")
	}
}

func TestRunCommandRefusesRoot(t *testing.T) {
	repo := t.TempDir()
	var out bytes.Buffer
	err := runCommand(runOptions{repo: repo, phase: "start", log: filepath.Join(repo, "log")}, &out)
	if os.Geteuid() == 0 {
		if err == nil || err.Error() != "refusing to run devcontainer.json commands as root" || out.Len() != 0 {
			t.Fatalf("as root: %v %q", err, out.String())
		}
		return
	}
	if err != nil || !strings.Contains(out.String(), `"ok":true`) {
		t.Fatalf("as uid %d: %v %q", os.Geteuid(), err, out.String())
	}
}

func TestEnvNumber(t *testing.T) {
	for v, want := range map[string]float64{"": 7, "abc": 7, "0": 7, "-1": 7, "NaN": 7, "Inf": 7, "1e3": 1000, " 2.5 ": 2.5} {
		t.Setenv("GS_TEST_NUMBER", v)
		if got := envNumber("GS_TEST_NUMBER", 7); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}
