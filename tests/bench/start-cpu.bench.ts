/**
 * Benchmark: the CPU a warm start burns in the start scripts (HOME already set up, the common case each morning), per
 * script, for two trees of scripts/ in one run: a git revision (GITSPACE_BENCH_BASE, default `main`, copied with
 * `git archive`) and the working tree. What runs, for real, as an unprivileged uid (setpriv), with paths overridden by
 * environment as in tests/scripts/:
 *   - the init container: gitspace-init.sh and each of its steps alone;
 *   - the vscode IDE container: run-vscode-web.sh up to its exec of code-server (GITSPACE_CODE_SERVER=/bin/true: the
 *     end point of the measurement, not the thing measured) plus the background run-lifecycle.sh to its end;
 *   - the SSH IDE container: run-ssh-server.sh up to its exec of sshd (a stub that runs the real `sshd -t` and exits
 *     at `sshd -D`) plus the background run-lifecycle.sh to its end;
 *   - session-env.sh, run-lifecycle.sh, install-dotfiles.sh and setup-ssh-server.sh alone.
 * IDE-container scripts run with the identity written by write-user-identity.sh bind-mounted over /etc/passwd and
 * /etc/group (a private mount namespace), as in the pod.
 * Two configurations, each warm (one cold start has prepared its HOME first): `no repo` (no repository, no dotfiles),
 * and `1 repo + dotfiles` (one repository with a .devcontainer/devcontainer.json, cloned from a git server on
 * loopback, and a dotfiles repository, both already in HOME).
 *
 * Figures:
 *   - cpu: user+sys seconds of the whole process tree, median of GITSPACE_BENCH_RUNS runs (7). The tree runs under a
 *     child subreaper (prctl PR_SET_CHILD_SUBREAPER, a few lines of python3) that reaps every descendant, the
 *     background lifecycle runner included, and reads getrusage(RUSAGE_CHILDREN) once all have ended;
 *   - procs / execs: processes created (fork/clone/vfork without CLONE_THREAD) and successful execve calls of one run
 *     under `strace -f` (a separate run: tracing costs CPU). They vary by a few at most between runs.
 * Prints the figures; asserts nothing about timings. Needs root (setpriv, mount namespace), python3, strace, git, jq,
 * ssh-keygen, sshd, unshare; and Go to build images/devcontainer (tests/scripts/devcontainer-binary.ts).
 *
 *   npm run bench:start-cpu     GITSPACE_BENCH_BASE=<rev> compares another revision ('' for none); GITSPACE_BENCH_RUNS=N;
 *                               GITSPACE_BENCH_TRACE_DIR=<dir> keeps the strace log of each script (which commands ran)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    DEV_UID, REPO_ROOT, chownR, podEnv, requireRoot, requireTool, rmrf, run, shSync, startGitServer,
    writeGitSecret,
} from "../scripts/helpers";

const RUNS = Number(process.env.GITSPACE_BENCH_RUNS ?? "7");
const BASE = process.env.GITSPACE_BENCH_BASE ?? "main";
/** Where to keep the strace log of each counted run (to see which commands a start runs); unset: not kept. */
const TRACE_DIR = process.env.GITSPACE_BENCH_TRACE_DIR;
const USERNAME = "bench";
const TOKEN = "bench-token-not-a-secret";

/** Runs argv[2:] as a child subreaper: waits for every descendant, then writes "<exit code> <utime> <stime>" (of the
 * descendants only) to argv[1]. */
const REAPER = `
import ctypes, os, resource, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
before = resource.getrusage(resource.RUSAGE_CHILDREN)  # whatever ran before this process (a pyenv shim)
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
code = None
while True:
    try:
        p, status = os.wait()
    except ChildProcessError:
        break
    if p == pid:
        code = os.waitstatus_to_exitcode(status)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write(f"{code} {r.ru_utime - before.ru_utime} {r.ru_stime - before.ru_stime}\\n")
`;

/** The sshd the SSH preamble gets: `-t` (config check, part of the preamble) is the real sshd; `-D` ends the run. */
const SSHD_STUB = `#!/bin/sh
case "$1" in -t) exec /usr/sbin/sshd "$@" ;; esac
exit 0
`;

interface Tree {
    label: string;
    scripts: string;
}

interface Target {
    name: string;
    /** Path under scripts/. */
    rel: string;
    /** IDE container: the generated identity over /etc/passwd and /etc/group. */
    ide: boolean;
}

const INIT_STEPS = [
    "supported-os-distribution", "write-user-identity", "set-env", "setup-git-credentials", "clone-code",
    "detect-devcontainer-user",
];
const TARGETS: Target[] = [
    { name: "init: gitspace-init.sh (all steps)", rel: "common/gitspace-init.sh", ide: false },
    ...INIT_STEPS.map((s) => ({ name: `  init step ${s}.sh`, rel: `common/${s}.sh`, ide: false })),
    { name: "ide vscode: run-vscode-web.sh + lifecycle", rel: "vscode/run-vscode-web.sh", ide: true },
    { name: "ide ssh: run-ssh-server.sh + lifecycle", rel: "common/run-ssh-server.sh", ide: true },
    { name: "  session-env.sh", rel: "common/session-env.sh", ide: true },
    { name: "  setup-ssh-server.sh", rel: "common/setup-ssh-server.sh", ide: true },
    { name: "  run-lifecycle.sh (+ install-dotfiles.sh)", rel: "common/run-lifecycle.sh", ide: true },
    { name: "  install-dotfiles.sh", rel: "common/install-dotfiles.sh", ide: true },
];

interface Figures {
    cpu: number[];
    procs: number;
    execs: number;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A bare repository `name`.git under root whose main branch holds `files` (path -> content). */
function bareRepo(root: string, name: string, files: Record<string, string>): void {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "gs-bench-work-"));
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
        fs.writeFileSync(path.join(work, rel), content);
    }
    shSync(
        `cd "$W" && git init -q -b main . && git add -A && git -c user.name=b -c user.email=b@example.com commit -q -m init && git clone -q --bare . "$B"`,
        { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, GIT_CONFIG_NOSYSTEM: "1", W: work, B: path.join(root, `${name}.git`) },
    );
    fs.rmSync(work, { recursive: true, force: true });
}

/** The scripts/ of `rev` (git archive) or of the working tree (rev undefined), in a directory every uid can read. */
function stageTree(dir: string, rev: string | undefined): Tree | undefined {
    const dest = fs.mkdtempSync(path.join(dir, "tree-"));
    fs.chmodSync(dest, 0o755);
    if (rev === undefined) {
        fs.cpSync(path.join(REPO_ROOT, "scripts"), path.join(dest, "scripts"), { recursive: true });
        const head = spawnSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
        const dirty = spawnSync("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "scripts"], { encoding: "utf8" }).stdout.trim();
        return { label: `working tree (${head}${dirty ? "+changes" : ""})`, scripts: path.join(dest, "scripts") };
    }
    const sha = spawnSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "--verify", "--quiet", `${rev}^{commit}`], { encoding: "utf8" });
    if (sha.status !== 0) {
        console.warn(`[bench] GITSPACE_BENCH_BASE: no revision '${rev}' in this clone; only the working tree is measured`);
        return undefined;
    }
    shSync(`git -C "$R" archive "$REV" scripts | tar -x -C "$D"`, { PATH: process.env.PATH ?? "/usr/bin:/bin", R: REPO_ROOT, REV: rev, D: dest });
    return { label: `${rev} (${sha.stdout.trim()})`, scripts: path.join(dest, "scripts") };
}

interface Config {
    name: string;
    raw: Record<string, unknown>;
}

/** One warm HOME per tree and configuration, with everything the pod mounts. */
class Pod {
    readonly dir: string;
    readonly home: string;
    readonly identity: string;
    readonly env: Record<string, string>;

    constructor(root: string, readonly tree: Tree, readonly config: Config, shared: Shared) {
        this.dir = fs.mkdtempSync(path.join(root, "pod-"));
        fs.chmodSync(this.dir, 0o755);
        this.home = path.join(this.dir, "home");
        this.identity = path.join(this.dir, "identity");
        fs.mkdirSync(this.home);
        fs.mkdirSync(this.identity);
        for (const d of ["tmp"]) {
            fs.mkdirSync(path.join(this.dir, d));
            fs.chmodSync(path.join(this.dir, d), 0o1777);
        }
        chownR(this.home, DEV_UID);
        chownR(this.identity, DEV_UID);
        fs.chmodSync(this.home, 0o2770);
        // The image's system gitconfig: the credential helper of this tree registered at build time.
        const gitconfig = path.join(this.dir, "gitconfig");
        shSync(`"$S/common/setup-git-credentials.sh" --system 2>/dev/null`, { PATH: process.env.PATH ?? "/usr/bin:/bin", S: tree.scripts, GIT_CONFIG_SYSTEM: gitconfig });
        fs.chmodSync(gitconfig, 0o644);
        this.env = podEnv({ ide: "vs_code_web", ...config.raw }, {
            HOME: this.home,
            USER: "vscode",
            GITSPACE_USER: "vscode",
            GITSPACE_UID: String(DEV_UID),
            GITSPACE_GID: String(DEV_UID),
            GITSPACE_IDENTITY_DIR: this.identity,
            GITSPACE_GIT_CREDENTIALS_DIR: config.raw.git ? shared.creds : path.join(this.dir, "no-credentials"),
            GIT_CONFIG_SYSTEM: gitconfig,
            GITSPACE_IDE_SECRET_DIR: shared.ideSecret,
            GITSPACE_CODE_SERVER: "/bin/true",
            GITSPACE_VSCODE_RUNTIME_DIR: path.join(this.dir, "tmp", "gitspace-code-server"),
            GITSPACE_VSCODE_EXTENSIONS_DIR: shared.baked,
            GITSPACE_SSH_DIR: shared.sshSecret,
            GITSPACE_SSH_RUNTIME_DIR: path.join(this.dir, "tmp", "gitspace-sshd"),
            GITSPACE_SSH_LISTEN: "127.0.0.1",
            GITSPACE_SSHD: shared.sshdStub,
        });
    }

    /** argv that runs `rel` as the developer (IDE scripts: with the generated identity mounted over /etc). */
    argv(rel: string, ide: boolean, wrap: string[]): string[] {
        const asDev = ["setpriv", `--reuid=${DEV_UID}`, `--regid=${DEV_UID}`, `--groups=${DEV_UID}`, "--", path.join(this.tree.scripts, rel)];
        if (!ide) return [...wrap, ...asDev];
        return [
            "unshare", "-m", "--propagation", "private", "bash", "-c",
            `mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/group" /etc/group && exec "$@"`,
            this.identity, ...wrap, ...asDev,
        ];
    }

    async exec(argv: string[]): Promise<string> {
        const r = await run(argv[0], argv.slice(1), { env: this.env, timeoutMs: 120000, cwd: this.dir });
        if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code ?? r.signal}):\n${r.stderr}`);
        return r.stderr;
    }

    /** The cold start that prepares HOME: the init container, then each IDE container's start. */
    async prepare(): Promise<void> {
        await this.exec(this.argv("common/gitspace-init.sh", false, []));
        await this.cpu("vscode/run-vscode-web.sh", true);
        await this.cpu("common/run-ssh-server.sh", true);
    }

    async cpu(rel: string, ide: boolean): Promise<number> {
        const out = path.join(this.dir, "rusage");
        await this.exec(this.argv(rel, ide, ["python3", "-c", REAPER, out]));
        const [code, user, sys] = fs.readFileSync(out, "utf8").trim().split(" ");
        if (code !== "0") throw new Error(`${rel} exited ${code}`);
        return Number(user) + Number(sys);
    }

    async count(rel: string, ide: boolean): Promise<{ procs: number; execs: number }> {
        const out = path.join(this.dir, "strace");
        await this.exec(this.argv(rel, ide, ["strace", "-f", "-qq", "-e", "signal=none", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", out]));
        let procs = 1; // the process strace starts
        let execs = 0;
        for (const line of fs.readFileSync(out, "utf8").split("\n")) {
            if (/^\d+\s+(clone|clone3|fork|vfork)\(/.test(line) && !line.includes("CLONE_THREAD")) procs++;
            if (/^\d+\s+(execve\(|<\.\.\. execve resumed>).*= 0$/.test(line)) execs++;
        }
        if (TRACE_DIR) {
            const safe = (x: string) => x.replace(/[^A-Za-z0-9_.-]+/g, "_");
            fs.copyFileSync(out, path.join(TRACE_DIR, `${safe(this.config.name)}--${safe(this.tree.label)}--${safe(rel)}.strace`));
        }
        if (execs === 0) throw new Error(`${rel}: no execve in the strace output ${out}: not parsed`);
        return { procs, execs };
    }
}

interface Shared {
    creds: string;
    ideSecret: string;
    sshSecret: string;
    baked: string;
    sshdStub: string;
}

function sharedFixtures(dir: string, raw: Record<string, unknown>): Shared {
    const creds = path.join(dir, "git-credentials");
    writeGitSecret(creds, raw);
    const ideSecret = path.join(dir, "ide");
    fs.mkdirSync(ideSecret);
    fs.writeFileSync(path.join(ideSecret, "password"), "bench password\n", { mode: 0o444 });
    const sshSecret = path.join(dir, "ssh");
    fs.mkdirSync(sshSecret);
    shSync(`ssh-keygen -q -t ed25519 -N '' -C host -f "$D/ssh_host_ed25519_key" && ssh-keygen -q -t ed25519 -N '' -C client -f "$D/client" && mv "$D/client.pub" "$D/authorized_keys" && rm "$D/client" && chmod 0444 "$D"/*`,
        { PATH: process.env.PATH ?? "/usr/bin:/bin", D: sshSecret });
    // Two extensions baked into the image (already made available in HOME on the first start).
    const baked = path.join(dir, "baked");
    for (const ext of ["golang.go-0.41.0", "ms-python.python-2024.0.1"]) {
        fs.mkdirSync(path.join(baked, ext), { recursive: true });
        fs.writeFileSync(path.join(baked, ext, "package.json"), "{}\n");
    }
    const sshdStub = path.join(dir, "sshd");
    fs.writeFileSync(sshdStub, SSHD_STUB, { mode: 0o755 });
    return { creds, ideSecret, sshSecret, baked, sshdStub };
}

function fmt(f: Figures | undefined): string {
    if (!f) return "-".padStart(30);
    return `${median(f.cpu).toFixed(3)} s ${String(f.procs).padStart(4)} procs ${String(f.execs).padStart(4)} execs`.padStart(30);
}

async function main() {
    requireRoot("runs the scripts as an unprivileged uid (setpriv) and mounts the identity in a private mount namespace");
    requireTool("python3", "strace", "setpriv", "unshare", "git", "jq", "ssh-keygen", "/usr/sbin/sshd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gs-bench-cpu-"));
    fs.chmodSync(dir, 0o755);
    const gitRoot = path.join(dir, "git");
    fs.mkdirSync(gitRoot);
    const server = await startGitServer(gitRoot, USERNAME, TOKEN);
    try {
        bareRepo(gitRoot, "api", {
            "README": "api\n",
            ".devcontainer/devcontainer.json": '{\n  // JSONC, like most devcontainer.json files\n  "remoteUser": "vscode",\n  "containerEnv": { "GOFLAGS": "-mod=mod", "API_ENV": "dev" },\n  "remoteEnv": { "API_URL": "http://localhost:8080" },\n}\n',
        });
        bareRepo(gitRoot, "dotfiles", { ".vimrc": "set nocompatible\n", ".gitconfig-extra": "[core]\n" });
        const withRepo = { git: { username: USERNAME, token: TOKEN }, repos: [{ url: `${server.url}/api.git` }], dotfiles: { url: `${server.url}/dotfiles.git` } };
        const shared = sharedFixtures(dir, withRepo);
        const configs: Config[] = [{ name: "no repo", raw: {} }, { name: "1 repo + dotfiles", raw: withRepo }];
        const base = BASE ? stageTree(dir, BASE) : undefined;
        const trees = [...(base ? [base] : []), stageTree(dir, undefined)!];

        for (const config of configs) {
            const pods = trees.map((t) => new Pod(dir, t, config, shared));
            for (const pod of pods) await pod.prepare();
            const figures = new Map<string, Figures>();
            const key = (p: Pod, t: Target) => `${p.tree.label}\0${t.name}`;
            for (const pod of pods) {
                for (const t of TARGETS) figures.set(key(pod, t), { cpu: [], ...(await pod.count(t.rel, t.ide)) });
            }
            // Interleaved: each run measures every script of every tree once, so load on the machine hits all alike.
            for (let i = 0; i < RUNS; i++) {
                for (const t of TARGETS) for (const pod of pods) figures.get(key(pod, t))!.cpu.push(await pod.cpu(t.rel, t.ide));
            }
            console.log(`\n== warm start, ${config.name} (cpu: user+sys of the process tree, median of ${RUNS}; procs/execs: one run under strace -f)`);
            console.log(`${"script".padEnd(44)}${pods.map((p) => p.tree.label.padStart(32)).join("")}`);
            for (const t of TARGETS) console.log(`${t.name.padEnd(44)}${pods.map((p) => "  " + fmt(figures.get(key(p, t)))).join("")}`);
        }
    } finally {
        await server.close();
        rmrf(dir);
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
