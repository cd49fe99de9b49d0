// gitspace-devcontainer reads the devcontainer.json of a cloned repository (untrusted input: the developer's own
// repository) for the gitspace init and session scripts (scripts/common/detect-devcontainer-user.sh, session-env.sh,
// run-lifecycle.sh). One static binary, so that the images need no Node.js for it.
//
//	gitspace-devcontainer user --repo DIR [--passwd FILE] [--group FILE] [--default-user NAME]
//	    {"file", "source": "remoteUser"|"containerUser"|"default", "spec", "error", "user", "uid", "group", "gid"}
//	gitspace-devcontainer env --repo DIR [--repo DIR...]
//	    {"env": {NAME: VALUE}, "problems": [string]}
//	gitspace-devcontainer run --repo DIR --phase create|start --log FILE
//	    {"repo", "file", "phase", "commands": [{"hook", "name", "exit", "signal", "error"}], "ok", "problems"}
//
// Files: .devcontainer/devcontainer.json, else .devcontainer.json; JSONC (comments, trailing commas), UTF-8, a
// leading byte order mark ignored, at most 1 MiB and 64 levels deep. A missing or bad file is not a failure: exit 0
// with the problem in the output. Exit 2: bad arguments, or what the caller must hear about (root, the log file).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

const usage = "usage: gitspace-devcontainer user --repo DIR [--passwd FILE] [--group FILE] [--default-user NAME]\n" +
	"       gitspace-devcontainer env --repo DIR [--repo DIR...]\n" +
	"       gitspace-devcontainer run --repo DIR --phase create|start --log FILE"

// writeJSON prints v as one JSON line, without HTML escaping.
func writeJSON(w io.Writer, v interface{}) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// lifecycleArgs parses the --repo/--phase/--log pairs of env and run.
func lifecycleArgs(args []string) ([]string, runOptions, error) {
	var repos []string
	var o runOptions
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return nil, o, fmt.Errorf("%s needs a value", args[i])
		}
		switch v := args[i+1]; args[i] {
		case "--repo":
			repos = append(repos, v)
		case "--phase":
			o.phase = v
		case "--log":
			o.log = v
		default:
			return nil, o, fmt.Errorf("unknown argument %s", args[i])
		}
	}
	if len(repos) == 0 {
		return nil, o, fmt.Errorf("--repo DIR is required")
	}
	return repos, o, nil
}

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "user":
		o, err := parseUserArgs(args[1:])
		if err != nil {
			return err
		}
		return userCommand(o, stdout)
	case "env":
		repos, o, err := lifecycleArgs(args[1:])
		if err != nil {
			return err
		}
		if o.phase != "" || o.log != "" {
			return fmt.Errorf("env takes only --repo")
		}
		return envCommand(repos, stdout)
	case "run":
		repos, o, err := lifecycleArgs(args[1:])
		if err != nil {
			return err
		}
		switch {
		case len(repos) != 1:
			return fmt.Errorf("run takes exactly one --repo")
		case o.phase != "create" && o.phase != "start":
			return fmt.Errorf("--phase must be create or start")
		case o.log == "":
			return fmt.Errorf("--log FILE is required")
		}
		o.repo = repos[0]
		return runCommand(o, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func main() {
	if err := dispatch(os.Args[1:], os.Stdout); err != nil {
		name := "gitspace-devcontainer"
		if len(os.Args) > 1 {
			name += " " + os.Args[1]
		}
		fmt.Fprintf(os.Stderr, "[gitspace] ERROR: %s: %v\n", name, err)
		os.Exit(2)
	}
}
