package main

// `env`: containerEnv then remoteEnv of each repository (remoteEnv wins within a repository; the first repository
// wins across them), after substitution, keeping only what is safe to put into the IDE session:
//   - names [A-Za-z_][A-Za-z0-9_]*, at most maxName characters; string values (null in remoteEnv: leave unset);
//   - no control character but tab, at most maxValue bytes each, at most maxVars variables;
//   - refused names: HOME, USER, LOGNAME, SHELL, PWD, OLDPWD, IFS, the ones that change how the IDE server starts or
//     authenticates (PASSWORD, HASHED_PASSWORD, NODE_OPTIONS, NODE_PATH, LD_*, GITSPACE_*, CODE_SERVER_*, VSCODE_*,
//     SSH_*, BASH_ENV, ENV), GIT_*; PATH only when it extends the container's (`${containerEnv:PATH}` in it);
//   - substitution: ${containerEnv:NAME[:default]}, ${containerWorkspaceFolder}, ${localWorkspaceFolder} (the
//     repository's directory) and their *Basename forms; ${localEnv:...} and ${devcontainerId} are refused (there
//     is no local machine), as is any other ${...}.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

const (
	maxName  = 128
	maxValue = 8192
	maxVars  = 100
)

var (
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reserved    = regexp.MustCompile(`^(HOME|USER|LOGNAME|SHELL|PWD|OLDPWD|PASSWORD|HASHED_PASSWORD|NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|IFS|LD_.*|GITSPACE_.*|CODE_SERVER_.*|VSCODE_.*|SSH_.*|GIT_.*)$`)
	badValue    = regexp.MustCompile(`[\x00-\x08\x0a-\x1f\x7f]`)
	placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// envMap is an ordered NAME → value map (JSON object order is the order variables were first set).
type envMap struct {
	keys []string
	vals map[string]string
}

func newEnvMap() *envMap { return &envMap{vals: map[string]string{}} }

func (m *envMap) set(k, v string) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *envMap) del(k string) {
	if _, ok := m.vals[k]; !ok {
		return
	}
	delete(m.vals, k)
	for i, key := range m.keys {
		if key == k {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
}

func (m *envMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(k))
		b.WriteByte(':')
		b.WriteString(quote(m.vals[k]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type envResult struct {
	Env      *envMap  `json:"env"`
	Problems []string `json:"problems"`
}

// substitute replaces the supported ${...} variables of raw; the problem is set when one is refused.
func substitute(raw, repo string) (string, string) {
	problem := ""
	out := placeholder.ReplaceAllStringFunc(raw, func(whole string) string {
		parts := strings.Split(whole[2:len(whole)-1], ":")
		switch kind := parts[0]; {
		case kind == "containerEnv" && len(parts) >= 2 && envName.MatchString(parts[1]):
			if v, ok := os.LookupEnv(parts[1]); ok {
				return v
			}
			return strings.Join(parts[2:], ":")
		case kind == "containerWorkspaceFolder" || kind == "localWorkspaceFolder":
			return repo
		case kind == "containerWorkspaceFolderBasename" || kind == "localWorkspaceFolderBasename":
			return filepath.Base(repo)
		case problem != "":
		case kind == "localEnv" || kind == "devcontainerId":
			problem = fmt.Sprintf("uses ${%s…}, which is not supported in a gitspace (there is no local machine)", kind)
		default:
			problem = fmt.Sprintf("uses the unknown variable %s", quote(truncate(whole, 60)))
		}
		return whole
	})
	return out, problem
}

// collectEnv adds the safe variables of one section (containerEnv or remoteEnv) to out and reports the others.
func collectEnv(section *value, key, repo, file string, out *envMap, problems *[]string) {
	if section == nil || section.kind == kindNull {
		return
	}
	where := file + ": " + key
	if section.kind != kindObject {
		*problems = append(*problems, where+" must be an object of NAME: \"value\"; ignored")
		return
	}
	for _, name := range section.obj.keys {
		raw := section.obj.vals[name]
		refuse := func(why string) {
			*problems = append(*problems, fmt.Sprintf("%s.%s %s; not applied", where, quote(truncate(name, 40)), why))
		}
		switch {
		case len(name) > maxName || !envName.MatchString(name):
			refuse("is not a valid environment variable name")
			continue
		case raw.kind == kindNull && key == "remoteEnv":
			out.del(name)
			continue
		case raw.kind != kindString:
			refuse(fmt.Sprintf("must be a string (got %s)", describe(raw)))
			continue
		case reserved.MatchString(name) && name != "PATH":
			refuse("is reserved (it would change the user, the shell, git or how the IDE starts)")
			continue
		case name == "PATH" && !strings.Contains(raw.str, "${containerEnv:PATH}"):
			refuse("may only extend the container's PATH (include ${containerEnv:PATH})")
			continue
		}
		v, problem := substitute(raw.str, repo)
		switch {
		case problem != "":
			refuse(problem)
		case len(v) > maxValue:
			refuse(fmt.Sprintf("is longer than %d bytes", maxValue))
		case badValue.MatchString(v):
			refuse("has a control character (newline, NUL, …) in its value")
		default:
			out.set(name, v)
		}
	}
}

func envCommand(repos []string, stdout io.Writer) error {
	env, owner := newEnvMap(), map[string]string{}
	problems := []string{}
	for _, repo := range repos {
		file, doc, err := readDevcontainer(repo)
		if err != nil {
			problems = append(problems, fmt.Sprintf("cannot use %s: %s", file, err.Error()))
			continue
		}
		if file == "" {
			continue
		}
		own := newEnvMap()
		collectEnv(doc.get("containerEnv"), "containerEnv", repo, file, own, &problems)
		collectEnv(doc.get("remoteEnv"), "remoteEnv", repo, file, own, &problems)
		for _, name := range own.keys {
			value := own.vals[name]
			if by, taken := owner[name]; taken {
				if env.vals[name] != value {
					problems = append(problems, fmt.Sprintf("%s: %s is already set by %s; not applied", file, name, by))
				}
				continue
			}
			if len(env.keys) >= maxVars {
				problems = append(problems, fmt.Sprintf("%s: %s is over the limit of %d variables; not applied", file, name, maxVars))
				continue
			}
			env.set(name, value)
			owner[name] = repo
		}
	}
	return writeJSON(stdout, envResult{Env: env, Problems: problems})
}
