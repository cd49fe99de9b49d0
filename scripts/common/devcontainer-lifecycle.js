#!/usr/bin/env node
// The lifecycle part of a repository's devcontainer.json (JSONC), read as untrusted input: the developer's own code,
// run as the user, never as root.
//
//   node devcontainer-lifecycle.js env --repo DIR [--repo DIR...]
//       Prints {"env": {NAME: VALUE}, "problems": [string]}: containerEnv then remoteEnv of each repository (remoteEnv
//       wins within a repository; the first repository wins across them), after substitution, keeping only what is
//       safe to put into the IDE session (rules below). Exit 0 even when a file is bad (reported in "problems").
//   node devcontainer-lifecycle.js run --repo DIR --phase create|start --log FILE
//       Runs the phase's commands in DIR and prints a summary {"repo", "file", "phase", "commands": [{"hook",
//       "name", "exit", "signal", "error"}], "ok", "problems"}. Phase `create` runs onCreateCommand,
//       updateContentCommand, postCreateCommand in that order (the caller runs it once per home); `start` runs
//       postStartCommand. postAttachCommand is not supported and reported as such. Output goes to FILE (created
//       0600, never through a symlink), at most GITSPACE_LIFECYCLE_LOG_MAX bytes (1 MiB); the rest is counted and
//       dropped. Each hook gets GITSPACE_LIFECYCLE_TIMEOUT seconds (3600), then its process group is killed.
//
// Command forms (as the spec allows): a string runs with /bin/sh -c; an array runs as argv (no shell); an object
// runs its named commands (each a string or an array) in parallel and fails when any fails.
// Environment rules (containerEnv, remoteEnv): names /^[A-Za-z_][A-Za-z0-9_]*$/ (at most 128 characters), string
// values (null in remoteEnv means "leave unset"), no control character but tab, at most 8 KiB each, at most 100
// variables. Refused names: HOME, USER, LOGNAME, SHELL, PWD, the ones that change how the IDE server itself starts
// or authenticates (PASSWORD, HASHED_PASSWORD, NODE_OPTIONS, LD_*, GITSPACE_*, CODE_SERVER_*, VSCODE_*, SSH_*,
// BASH_ENV, ENV), GIT_* (git's own settings and credential plumbing); PATH only when it extends the container's
// (`${containerEnv:PATH}` in the value). Substitution: ${containerEnv:NAME[:default]} (the IDE container's variable),
// ${containerWorkspaceFolder}, ${localWorkspaceFolder} (the repository's directory) and their *Basename forms;
// ${localEnv:...} and ${devcontainerId} are not supported here (there is no local machine): such a variable is
// refused and reported.
// Files: .devcontainer/devcontainer.json, else .devcontainer.json; UTF-8, a leading BOM ignored, at most 1 MiB.
// jsonc-parser is looked up through NODE_PATH (the image has it under /usr/local/gitspace/lib/node_modules).
"use strict";
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");

const MAX_FILE = 1024 * 1024;
const MAX_NAME = 128;
const MAX_VALUE = 8192;
const MAX_VARS = 100;
const MAX_COMMAND = 64 * 1024;
const MAX_ARGS = 1024;
const MAX_PARALLEL = 32;
const CREATE_HOOKS = ["onCreateCommand", "updateContentCommand", "postCreateCommand"];
const START_HOOKS = ["postStartCommand"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = /^(HOME|USER|LOGNAME|SHELL|PWD|OLDPWD|PASSWORD|HASHED_PASSWORD|NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|IFS|LD_.*|GITSPACE_.*|CODE_SERVER_.*|VSCODE_.*|SSH_.*|GIT_.*)$/;
// eslint-disable-next-line no-control-regex
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;

function parseArgs(argv) {
    const opts = { command: argv[0], repos: [], phase: null, log: null };
    for (let i = 1; i < argv.length; i += 2) {
        const a = argv[i];
        const v = argv[i + 1];
        if (v === undefined) throw new Error(`${a} needs a value`);
        if (a === "--repo") opts.repos.push(v);
        else if (a === "--phase") opts.phase = v;
        else if (a === "--log") opts.log = v;
        else throw new Error(`unknown argument ${a}`);
    }
    if (opts.command !== "env" && opts.command !== "run") throw new Error("usage: devcontainer-lifecycle.js env|run --repo DIR ...");
    if (opts.repos.length === 0) throw new Error("--repo DIR is required");
    if (opts.command === "run") {
        if (opts.repos.length !== 1) throw new Error("run takes exactly one --repo");
        if (opts.phase !== "create" && opts.phase !== "start") throw new Error("--phase must be create or start");
        if (!opts.log) throw new Error("--log FILE is required");
    }
    return opts;
}

const describe = (v) => (typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : Array.isArray(v) ? "an array" : v === null ? "null" : typeof v);

/** {file, doc} of the repository's devcontainer.json ({file: null} when it has none); throws on a bad file. */
function readDevcontainer(repo) {
    const candidates = [path.join(repo, ".devcontainer", "devcontainer.json"), path.join(repo, ".devcontainer.json")];
    const file = candidates.find((f) => {
        try {
            return fs.statSync(f).isFile();
        } catch {
            return false;
        }
    });
    if (!file) return { file: null, doc: {} };
    const fd = fs.openSync(file, "r");
    let content;
    try {
        const buf = Buffer.alloc(MAX_FILE + 1);
        let n = 0;
        for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
        if (n > MAX_FILE) throw Object.assign(new Error(`larger than ${MAX_FILE} bytes; not read`), { file });
        content = buf.subarray(0, n).toString("utf8").replace(/^\uFEFF/, "");
    } finally {
        fs.closeSync(fd);
    }
    const jsonc = require("jsonc-parser");
    const errors = [];
    let doc;
    try {
        doc = jsonc.parse(content, errors, { allowTrailingComma: true, disallowComments: false });
    } catch (err) {
        throw Object.assign(new Error(err instanceof RangeError ? "nested too deeply" : String(err && err.message)), { file });
    }
    if (errors.length > 0) {
        const e = errors[0];
        const text = content.slice(0, e.offset);
        throw Object.assign(new Error(`${jsonc.printParseErrorCode(e.error)} at line ${text.split("\n").length}, column ${e.offset - text.lastIndexOf("\n")}`), { file });
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw Object.assign(new Error("the top level is not an object"), { file });
    return { file, doc };
}

// ---------------------------------------------------------------------------------------------------------------
// Environment

/** Substitutes the supported variables; returns {value} or {problem}. */
function substitute(raw, repo, containerEnv) {
    let problem = null;
    const value = raw.replace(/\$\{([^}]*)\}/g, (whole, inner) => {
        const [kind, ...rest] = inner.split(":");
        if (kind === "containerEnv" && rest.length >= 1 && ENV_NAME.test(rest[0])) {
            const v = containerEnv[rest[0]];
            return v !== undefined ? v : rest.slice(1).join(":");
        }
        if (kind === "containerWorkspaceFolder" || kind === "localWorkspaceFolder") return repo;
        if (kind === "containerWorkspaceFolderBasename" || kind === "localWorkspaceFolderBasename") return path.basename(repo);
        if (kind === "localEnv" || kind === "devcontainerId") problem = `uses \${${kind}…}, which is not supported in a gitspace (there is no local machine)`;
        else problem = `uses the unknown variable ${JSON.stringify(whole.slice(0, 60))}`;
        return whole;
    });
    return problem ? { problem } : { value };
}

/** Adds the safe variables of one section to `out`; reports the others. */
function collectEnv(section, key, repo, file, containerEnv, out, problems) {
    if (section === undefined || section === null) return;
    const where = `${file}: ${key}`;
    if (typeof section !== "object" || Array.isArray(section)) {
        problems.push(`${where} must be an object of NAME: "value"; ignored`);
        return;
    }
    for (const [name, raw] of Object.entries(section)) {
        const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
        const refuse = (why) => problems.push(`${where}.${shown} ${why}; not applied`);
        if (name.length > MAX_NAME || !ENV_NAME.test(name)) { refuse("is not a valid environment variable name"); continue; }
        if (raw === null && key === "remoteEnv") { delete out[name]; continue; }
        if (typeof raw !== "string") { refuse(`must be a string (got ${describe(raw)})`); continue; }
        if (RESERVED.test(name) && name !== "PATH") { refuse("is reserved (it would change the user, the shell, git or how the IDE starts)"); continue; }
        if (name === "PATH" && !raw.includes("${containerEnv:PATH}")) { refuse("may only extend the container's PATH (include ${containerEnv:PATH})"); continue; }
        const s = substitute(raw, repo, containerEnv);
        if (s.problem) { refuse(s.problem); continue; }
        if (Buffer.byteLength(s.value) > MAX_VALUE) { refuse(`is longer than ${MAX_VALUE} bytes`); continue; }
        if (BAD_VALUE_CHAR.test(s.value)) { refuse("has a control character (newline, NUL, …) in its value"); continue; }
        out[name] = s.value;
    }
}

function envCommand(opts) {
    const env = {};
    const owner = {};
    const problems = [];
    const containerEnv = { ...process.env };
    for (const repo of opts.repos) {
        let read;
        try {
            read = readDevcontainer(repo);
        } catch (err) {
            problems.push(`cannot use ${err.file || repo}: ${err.message}`);
            continue;
        }
        if (!read.file) continue;
        // remoteEnv wins over containerEnv of the same repository; the first repository wins across them.
        const own = {};
        collectEnv(read.doc.containerEnv, "containerEnv", repo, read.file, containerEnv, own, problems);
        collectEnv(read.doc.remoteEnv, "remoteEnv", repo, read.file, containerEnv, own, problems);
        for (const [name, value] of Object.entries(own)) {
            if (owner[name] !== undefined) {
                if (env[name] !== value) problems.push(`${read.file}: ${name} is already set by ${owner[name]}; not applied`);
                continue;
            }
            if (Object.keys(env).length >= MAX_VARS) {
                problems.push(`${read.file}: ${name} is over the limit of ${MAX_VARS} variables; not applied`);
                continue;
            }
            env[name] = value;
            owner[name] = repo;
        }
    }
    return { env, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

/** One command as the spec allows it, normalised to [{name, argv}] (argv run without a shell); throws on a bad one. */
function normalise(hook, value) {
    const single = (name, v) => {
        if (typeof v === "string") {
            if (v.trim() === "") return null;
            if (Buffer.byteLength(v) > MAX_COMMAND) throw new Error(`${hook}${name ? `.${name}` : ""} is longer than ${MAX_COMMAND} bytes`);
            if (v.includes("\0")) throw new Error(`${hook}${name ? `.${name}` : ""} contains a NUL character`);
            return { name, argv: ["/bin/sh", "-c", v] };
        }
        if (Array.isArray(v)) {
            if (v.length === 0) return null;
            if (v.length > MAX_ARGS) throw new Error(`${hook}${name ? `.${name}` : ""} has more than ${MAX_ARGS} arguments`);
            if (!v.every((a) => typeof a === "string" && !a.includes("\0") && Buffer.byteLength(a) <= MAX_COMMAND)) {
                throw new Error(`${hook}${name ? `.${name}` : ""} must be an array of strings (no NUL, at most ${MAX_COMMAND} bytes each)`);
            }
            if (v[0] === "") throw new Error(`${hook}${name ? `.${name}` : ""} has an empty program name`);
            return { name, argv: v };
        }
        throw new Error(`${hook}${name ? `.${name}` : ""} must be a string or an array of strings (got ${describe(v)})`);
    };
    if (value === undefined || value === null) return [];
    if (typeof value === "object" && !Array.isArray(value)) {
        const entries = Object.entries(value);
        if (entries.length > MAX_PARALLEL) throw new Error(`${hook} has more than ${MAX_PARALLEL} parallel commands`);
        return entries.map(([name, v]) => {
            // eslint-disable-next-line no-control-regex
            if (name.length > MAX_NAME || /[\x00-\x1f\x7f]/.test(name)) throw new Error(`${hook} has a command name that is too long or has control characters`);
            return single(name, v);
        }).filter(Boolean);
    }
    const one = single(null, value);
    return one ? [one] : [];
}

/** A log file that keeps at most `max` bytes and counts the rest. */
function boundedLog(file, max) {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW, 0o600);
    let written = fs.fstatSync(fd).size;
    let dropped = 0;
    let closed = false;
    return {
        write(chunk) {
            // A background process a command left behind may still write after the phase is over: dropped.
            if (closed) return;
            const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            const room = Math.max(0, max - written);
            if (room > 0) {
                const part = buf.subarray(0, room);
                fs.writeSync(fd, part);
                written += part.length;
            }
            dropped += Math.max(0, buf.length - room);
        },
        close() {
            closed = true;
            if (dropped > 0) fs.writeSync(fd, `\n[gitspace] log truncated: ${dropped} more bytes dropped (limit ${max})\n`);
            fs.closeSync(fd);
        },
    };
}

/** Runs one command in `cwd`; resolves {exit, signal, error}. */
function runOne(cmd, cwd, log, label, timeoutMs) {
    return new Promise((resolve) => {
        log.write(`[gitspace] ${new Date().toISOString()} ${label}: ${JSON.stringify(cmd.argv).slice(0, 500)}\n`);
        let child;
        try {
            child = spawn(cmd.argv[0], cmd.argv.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
        } catch (err) {
            resolve({ exit: null, signal: null, error: String(err.message) });
            return;
        }
        const tag = (stream) => stream.on("data", (d) => log.write(d));
        tag(child.stdout);
        tag(child.stderr);
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
        }, timeoutMs);
        let settled = false;
        const finish = (result) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            log.write(`[gitspace] ${label}: ${result.error ? result.error : result.signal ? `killed by ${result.signal}` : `exit ${result.exit}`}\n`);
            resolve(result);
        };
        child.on("error", (err) => finish({ exit: null, signal: null, error: err.code === "ENOENT" ? `${cmd.argv[0]}: not found` : String(err.message) }));
        child.on("exit", (code, signal) => {
            // A background process the command left running may hold the pipes: give it a moment, then stop reading.
            const stop = setTimeout(() => { child.stdout.destroy(); child.stderr.destroy(); }, 1000);
            stop.unref();
            finish({ exit: code, signal, error: timedOut ? `timed out after ${timeoutMs / 1000}s` : null });
        });
    });
}

async function runCommand(opts) {
    if (typeof process.getuid === "function" && process.getuid() === 0) throw new Error("refusing to run devcontainer.json commands as root");
    const repo = opts.repos[0];
    const summary = { repo, file: null, phase: opts.phase, commands: [], ok: true, problems: [] };
    let read;
    try {
        read = readDevcontainer(repo);
    } catch (err) {
        summary.file = err.file || null;
        summary.problems.push(`cannot use ${err.file || repo}: ${err.message}`);
        summary.ok = false;
        return summary;
    }
    summary.file = read.file;
    if (!read.file) return summary;
    if (read.doc.postAttachCommand !== undefined && opts.phase === "start") {
        summary.problems.push(`${read.file}: postAttachCommand is not supported in a gitspace (there is no attach event); ignored`);
    }
    const max = Number(process.env.GITSPACE_LIFECYCLE_LOG_MAX || MAX_FILE);
    const timeoutMs = 1000 * Number(process.env.GITSPACE_LIFECYCLE_TIMEOUT || 3600);
    const log = boundedLog(opts.log, Number.isFinite(max) && max > 0 ? max : MAX_FILE);
    try {
        for (const hook of opts.phase === "create" ? CREATE_HOOKS : START_HOOKS) {
            let commands;
            try {
                commands = normalise(hook, read.doc[hook]);
            } catch (err) {
                summary.problems.push(`${read.file}: ${err.message}; not run`);
                summary.commands.push({ hook, name: null, exit: null, signal: null, error: err.message });
                summary.ok = false;
                break;
            }
            const results = await Promise.all(commands.map((c) => runOne(c, repo, log, `${hook}${c.name ? ` (${c.name})` : ""}`, timeoutMs)));
            results.forEach((r, i) => summary.commands.push({ hook, name: commands[i].name, ...r }));
            // The spec stops at the first failing hook.
            if (results.some((r) => r.exit !== 0)) {
                summary.ok = false;
                break;
            }
        }
    } finally {
        log.close();
    }
    return summary;
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const out = opts.command === "env" ? envCommand(opts) : await runCommand(opts);
    process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(() => process.exit(0), (err) => {
    process.stderr.write(`[gitspace] ERROR: devcontainer-lifecycle: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(2);
});
