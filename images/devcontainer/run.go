package main

// `run`: the lifecycle commands of one phase, run in the repository as the user (never as root). Phase `create`
// runs onCreateCommand, updateContentCommand, postCreateCommand in that order (the caller runs it once per home);
// `start` runs postStartCommand; postAttachCommand is not supported and reported. A string runs with /bin/sh -c,
// an array as argv (no shell), an object runs its named commands (each a string or an array) in parallel and fails
// when any fails; the first failing hook ends the phase. Output goes to the log file (created 0600, never through a
// symlink), at most GITSPACE_LIFECYCLE_LOG_MAX bytes (1 MiB): the rest is counted and dropped. Each hook gets
// GITSPACE_LIFECYCLE_TIMEOUT seconds (3600), then its process group is killed.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	maxCommand  = 64 * 1024
	maxArgs     = 1024
	maxParallel = 32
	// pipeGrace is how long the output of a command that exited is still read: a background process it left
	// behind may hold the pipe open for ever.
	pipeGrace = time.Second
)

var phaseHooks = map[string][]string{
	"create": {"onCreateCommand", "updateContentCommand", "postCreateCommand"},
	"start":  {"postStartCommand"},
}

type runOptions struct {
	repo, phase, log string
}

type command struct {
	name *string
	argv []string
}

type commandResult struct {
	Hook   string  `json:"hook"`
	Name   *string `json:"name"`
	Exit   *int    `json:"exit"`
	Signal *string `json:"signal"`
	Error  *string `json:"error"`
}

type runSummary struct {
	Repo     string          `json:"repo"`
	File     *string         `json:"file"`
	Phase    string          `json:"phase"`
	Commands []commandResult `json:"commands"`
	OK       bool            `json:"ok"`
	Problems []string        `json:"problems"`
}

// single normalises one command (a string or an array of strings); nil for an empty one.
func single(label string, v *value) (*command, error) {
	switch v.kind {
	case kindString:
		if strings.TrimSpace(v.str) == "" {
			return nil, nil
		}
		if len(v.str) > maxCommand {
			return nil, fmt.Errorf("%s is longer than %d bytes", label, maxCommand)
		}
		if strings.ContainsRune(v.str, 0) {
			return nil, fmt.Errorf("%s contains a NUL character", label)
		}
		return &command{argv: []string{"/bin/sh", "-c", v.str}}, nil
	case kindArray:
		if len(v.arr) == 0 {
			return nil, nil
		}
		if len(v.arr) > maxArgs {
			return nil, fmt.Errorf("%s has more than %d arguments", label, maxArgs)
		}
		argv := make([]string, 0, len(v.arr))
		for _, a := range v.arr {
			if a.kind != kindString || strings.ContainsRune(a.str, 0) || len(a.str) > maxCommand {
				return nil, fmt.Errorf("%s must be an array of strings (no NUL, at most %d bytes each)", label, maxCommand)
			}
			argv = append(argv, a.str)
		}
		if argv[0] == "" {
			return nil, fmt.Errorf("%s has an empty program name", label)
		}
		return &command{argv: argv}, nil
	}
	return nil, fmt.Errorf("%s must be a string or an array of strings (got %s)", label, describe(v))
}

// normalise turns a hook's value into the commands to run (argv, no shell but the one a string asks for).
func normalise(hook string, v *value) ([]command, error) {
	if v == nil || v.kind == kindNull {
		return nil, nil
	}
	if v.kind != kindObject {
		c, err := single(hook, v)
		if c == nil || err != nil {
			return nil, err
		}
		return []command{*c}, nil
	}
	if len(v.obj.keys) > maxParallel {
		return nil, fmt.Errorf("%s has more than %d parallel commands", hook, maxParallel)
	}
	var out []command
	for _, name := range v.obj.keys {
		if utf8.RuneCountInString(name) > maxName || strings.IndexFunc(name, isControl) >= 0 {
			return nil, fmt.Errorf("%s has a command name that is too long or has control characters", hook)
		}
		c, err := single(hook+"."+name, v.obj.vals[name])
		if err != nil {
			return nil, err
		}
		if c != nil {
			n := name
			c.name = &n
			out = append(out, *c)
		}
	}
	return out, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// boundedLog keeps at most max bytes in the log file and counts the rest; safe for parallel commands.
type boundedLog struct {
	mu      sync.Mutex
	f       *os.File
	max     int64
	written int64
	dropped int64
	closed  bool
}

func openLog(file string, max int64) (*boundedLog, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", file)
		}
		return nil, err
	}
	return &boundedLog{f: f, max: max, written: st.Size()}, nil
}

func (l *boundedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed { // a background process a command left behind may still write after the phase: dropped
		return len(p), nil
	}
	room := l.max - l.written
	if room < 0 {
		room = 0
	}
	part := int64(len(p))
	if part > room {
		part = room
	}
	if part > 0 {
		n, err := l.f.Write(p[:part])
		l.written += int64(n)
		if err != nil {
			return len(p), nil // a full disk loses log lines, not commands
		}
	}
	l.dropped += int64(len(p)) - part
	return len(p), nil
}

func (l *boundedLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.dropped > 0 {
		fmt.Fprintf(l.f, "\n[gitspace] log truncated: %d more bytes dropped (limit %d)\n", l.dropped, l.max)
	}
	return l.f.Close()
}

// runOne runs one command in dir with its own process group, output into log; the group is killed on timeout.
func runOne(c command, dir string, log *boundedLog, label string, timeout time.Duration) commandResult {
	fmt.Fprintf(log, "[gitspace] %s %s: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), label, truncateBytes(jsonArray(c.argv), 500))
	res := commandResult{Name: c.name}
	if cmd, out, err := startCommand(c, dir); err != nil {
		res.Error = strPtr(err.Error())
	} else {
		waitCommand(cmd, out, log, timeout, &res)
	}
	switch {
	case res.Error != nil:
		fmt.Fprintf(log, "[gitspace] %s: %s\n", label, *res.Error)
	case res.Signal != nil:
		fmt.Fprintf(log, "[gitspace] %s: killed by %s\n", label, *res.Signal)
	default:
		fmt.Fprintf(log, "[gitspace] %s: exit %d\n", label, *res.Exit)
	}
	return res
}

// startCommand starts c in a new session (its own process group), stdin /dev/null, stdout and stderr into one pipe
// whose read end it returns.
func startCommand(c command, dir string) (*exec.Cmd, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer w.Close()
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, nil, errors.New(c.argv[0] + ": not found")
		}
		return nil, nil, err
	}
	return cmd, r, nil
}

// waitCommand copies the output into log until the command exits (its process group is killed after timeout), then
// for at most pipeGrace more: a background process it left behind may hold the pipe open for ever.
func waitCommand(cmd *exec.Cmd, out *os.File, log *boundedLog, timeout time.Duration, res *commandResult) {
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(log, out)
		close(copied)
	}()
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	_ = cmd.Wait()
	timer.Stop()
	select {
	case <-copied:
	case <-time.After(pipeGrace):
		out.Close() // the copy ends; what the background process writes later is lost
		<-copied
	}
	out.Close()
	if st := cmd.ProcessState.Sys().(syscall.WaitStatus); st.Signaled() {
		res.Signal = strPtr(signalName(st.Signal()))
	} else {
		code := st.ExitStatus()
		res.Exit = &code
	}
	if timedOut.Load() {
		res.Error = strPtr(fmt.Sprintf("timed out after %ss", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)))
	}
}

func strPtr(s string) *string { return &s }

// signalName is the signal's name as Node reports it ("SIGKILL").
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
		syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
		syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM", syscall.SIGXCPU: "SIGXCPU",
		syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGSYS: "SIGSYS",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

func jsonArray(a []string) string {
	parts := make([]string, len(a))
	for i, s := range a {
		parts[i] = quote(s)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// truncateBytes cuts s to at most n bytes, at a character boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// envNumber is a positive finite number from the environment, else def.
func envNumber(name string, def float64) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(os.Getenv(name)), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return def
	}
	return v
}

// runHook runs a hook's commands in parallel; the results in the commands' order.
func runHook(hook string, commands []command, dir string, log *boundedLog, timeout time.Duration) []commandResult {
	results := make([]commandResult, len(commands))
	var wg sync.WaitGroup
	for i := range commands {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			label := hook
			if commands[i].name != nil {
				label += " (" + *commands[i].name + ")"
			}
			results[i] = runOne(commands[i], dir, log, label, timeout)
			results[i].Hook = hook
		}(i)
	}
	wg.Wait()
	return results
}

func runCommand(o runOptions, stdout io.Writer) error {
	if os.Geteuid() == 0 || os.Getuid() == 0 {
		return errors.New("refusing to run devcontainer.json commands as root")
	}
	s := runSummary{Repo: o.repo, Phase: o.phase, Commands: []commandResult{}, OK: true, Problems: []string{}}
	file, doc, err := readDevcontainer(o.repo)
	if file != "" {
		s.File = &file
	}
	if err != nil {
		s.Problems = append(s.Problems, fmt.Sprintf("cannot use %s: %s", file, err.Error()))
		s.OK = false
		return writeJSON(stdout, s)
	}
	if file == "" {
		return writeJSON(stdout, s)
	}
	if doc.get("postAttachCommand") != nil && o.phase == "start" {
		s.Problems = append(s.Problems, file+": postAttachCommand is not supported in a gitspace (there is no attach event); ignored")
	}
	max := int64(envNumber("GITSPACE_LIFECYCLE_LOG_MAX", maxFile))
	// At most ~31 years: a larger value would overflow time.Duration.
	timeout := time.Duration(math.Min(envNumber("GITSPACE_LIFECYCLE_TIMEOUT", 3600), 1e9) * float64(time.Second))
	log, err := openLog(o.log, max)
	if err != nil {
		return fmt.Errorf("cannot open the log: %v", err)
	}
	for _, hook := range phaseHooks[o.phase] {
		commands, err := normalise(hook, doc.get(hook))
		if err != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("%s: %s; not run", file, err.Error()))
			s.Commands = append(s.Commands, commandResult{Hook: hook, Error: strPtr(err.Error())})
			s.OK = false
			break
		}
		failed := false
		for _, r := range runHook(hook, commands, o.repo, log, timeout) {
			s.Commands = append(s.Commands, r)
			failed = failed || r.Exit == nil || *r.Exit != 0
		}
		if failed { // the spec stops at the first failing hook
			s.OK = false
			break
		}
	}
	log.Close()
	return writeJSON(stdout, s)
}
