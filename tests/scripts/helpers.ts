/**
 * Shared helpers of the script tests: run the real scripts in temp dirs with paths overridden by environment,
 * manifests (SHA-256 of every file, symlink targets, modes), a real git server (git http-backend behind basic auth),
 * and tool checks that FAIL (never skip) when something the tests need is missing.
 */
import { spawn, spawnSync, SpawnOptions } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { clonedRepositories, gitCredentialsData, gitspaceEnv } from "../../components/builders";
import { DeveloperConfig, parseTeamConfig } from "../../components/config";
import { devcontainerBinary } from "./devcontainer-binary";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** True when every directory above `dir` lets other users through (mode o+x), as a run "as the developer" needs. */
function traversableByOthers(dir: string): boolean {
    for (let d = dir; ; d = path.dirname(d)) {
        if ((fs.statSync(d).mode & 0o001) === 0) return false;
        if (d === path.dirname(d)) return true;
    }
}

/**
 * Where the scripts run from: the checkout itself, or, when the checkout sits in a
 * directory other users cannot enter (e.g. a `mktemp -d` clone), a world-readable copy, because many tests run the
 * scripts as an unprivileged uid.
 */
function scriptsRoot(): string {
    if (traversableByOthers(REPO_ROOT)) return REPO_ROOT;
    const staged = fs.mkdtempSync(path.join(os.tmpdir(), "gs-scripts-"));
    fs.chmodSync(staged, 0o755);
    fs.cpSync(path.join(REPO_ROOT, "scripts"), path.join(staged, "scripts"), { recursive: true });
    process.on("exit", () => fs.rmSync(staged, { recursive: true, force: true }));
    return staged;
}

const SCRIPTS_ROOT = scriptsRoot();
export const SCRIPTS = path.join(SCRIPTS_ROOT, "scripts");
export const COMMON = path.join(SCRIPTS, "common");
/** The gitspace-devcontainer binary the scripts run (built from images/devcontainer at load: devcontainer-binary.ts). */
export const DEVCONTAINER = devcontainerBinary();
/** An unprivileged uid/gid with no passwd entry on the test machine, for runs "as the developer". */
export const DEV_UID = 4242;

export function script(rel: string): string {
    return path.join(SCRIPTS, rel);
}

/** Throws a clear error when a tool the tests need is missing (tests/setup/apt-packages.txt installs them). */
export function requireTool(...tools: string[]): void {
    for (const tool of tools) {
        const r = spawnSync("bash", ["-c", `command -v -- "$1"`, "_", tool]);
        if (r.status !== 0) {
            throw new Error(`required tool '${tool}' is not installed: run 'bash tests/setup/install.sh' (tests/setup/apt-packages.txt)`);
        }
    }
}

export function requireRoot(why: string): void {
    if (process.getuid && process.getuid() !== 0) throw new Error(`this test must run as root: ${why}`);
}

export function tmpDir(prefix = "gs-test-"): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(d, 0o755);
    return d;
}

export function rmrf(p: string): void {
    // Restore write permission first: the tests create read-only dirs.
    spawnSync("chmod", ["-R", "u+w", p]);
    fs.rmSync(p, { recursive: true, force: true });
}

export interface RunResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/** A clean environment: nothing of the test runner's environment leaks into the scripts unless given. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        LANG: "C.UTF-8",
        GITSPACE_DEVCONTAINER: DEVCONTAINER,
    };
    for (const [k, v] of Object.entries(extra)) {
        if (v === undefined) delete env[k];
        else env[k] = v;
    }
    return env;
}

/**
 * A developer resolved by the program itself (parseTeamConfig): `raw` is one `gitspace:developers[]` entry (name
 * defaults to "dev"). Throws the program's ConfigError for a config the program would refuse.
 */
export function resolveDeveloper(raw: Record<string, unknown>): DeveloperConfig {
    const config = parseTeamConfig({
        team: "test",
        domain: "gitspace.test",
        images: { registry: "registry.test/gitspace-runtime" },
        developers: [{ name: "dev", ...raw }],
    });
    return config.developers[0];
}

/**
 * The pod environment the program gives both containers (builders.ts gitspaceEnv, the same function the pod spec
 * uses) for the developer `raw`, on top of baseEnv, with `overrides` (HOME and the mount paths of a run outside a
 * container; undefined removes a variable).
 */
export function podEnv(raw: Record<string, unknown>, overrides: Record<string, string | undefined> = {},
    opts: { ideAuth?: "password" | "proxy" } = {}): Record<string, string> {
    const developer = resolveDeveloper(raw);
    const env = gitspaceEnv({ team: "test", developer, ideAuth: opts.ideAuth ?? "password", hasGitCredentials: developer.git !== undefined });
    return baseEnv({ ...Object.fromEntries(env.map((e) => [e.name, String(e.value)])), ...overrides });
}

/**
 * Writes the git-credentials Secret of the developer `raw` (must have `git`) into `dir` as the pod mounts it: the
 * files of builders.ts gitCredentialsData (`username`, `token`, `hosts`).
 */
export function writeGitSecret(dir: string, raw: Record<string, unknown>): void {
    const developer = resolveDeveloper(raw);
    if (!developer.git) throw new Error("writeGitSecret: the developer has no git credentials");
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, value] of Object.entries(gitCredentialsData(developer.git, clonedRepositories(developer), (t) => t))) {
        fs.writeFileSync(path.join(dir, file), value);
    }
}

export interface RunOptions {
    env?: Record<string, string>;
    input?: string;
    /** Run as this uid/gid (setpriv), with these supplementary groups. */
    asUid?: number;
    groups?: number[];
    timeoutMs?: number;
    cwd?: string;
    onSpawn?: (pid: number) => void;
}

/** Run a command asynchronously (the in-process git server must keep serving meanwhile). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    let file = cmd;
    let argv = args;
    if (opts.asUid !== undefined) {
        const groups = opts.groups && opts.groups.length ? [`--groups=${opts.groups.join(",")}`] : ["--clear-groups"];
        file = "setpriv";
        argv = [`--reuid=${opts.asUid}`, `--regid=${opts.asUid}`, ...groups, "--", cmd, ...args];
    }
    const start = Date.now();
    return new Promise((resolve, reject) => {
        const o: SpawnOptions = { env: opts.env ?? baseEnv(), cwd: opts.cwd ?? os.tmpdir(), stdio: ["pipe", "pipe", "pipe"] };
        const child = spawn(file, argv, o);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        child.on("error", reject);
        if (opts.onSpawn && child.pid) opts.onSpawn(child.pid);
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60000);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr, ms: Date.now() - start });
        });
        child.stdin!.on("error", () => undefined); // a child killed early closes its stdin: not an error here
        child.stdin!.end(opts.input ?? "");
    });
}

export function sh(command: string, opts: RunOptions = {}): Promise<RunResult> {
    return run("bash", ["-c", command], opts);
}

/** Synchronous shell for test fixtures (never while the in-process git server must answer). */
export function shSync(command: string, env: Record<string, string> = baseEnv()): string {
    const r = spawnSync("bash", ["-euo", "pipefail", "-c", command], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`fixture command failed (${r.status}): ${command}\n${r.stderr}`);
    return r.stdout;
}

export function chownR(p: string, uid: number, gid = uid): void {
    shSync(`chown -hR ${uid}:${gid} -- "$1"`.replace('"$1"', JSON.stringify(p)));
}

export interface Entry {
    type: "file" | "dir" | "symlink" | "other";
    mode: number;
    sha256?: string;
    target?: string;
}

/** Every entry under root (not following symlinks): type, permission bits, SHA-256 of files, symlink targets. */
export function manifest(root: string, exclude: (rel: string) => boolean = () => false): Map<string, Entry> {
    const out = new Map<string, Entry>();
    const walk = (dir: string, relDir: string) => {
        for (const name of fs.readdirSync(dir)) {
            const rel = relDir ? `${relDir}/${name}` : name;
            if (exclude(rel)) continue;
            const full = path.join(dir, name);
            const st = fs.lstatSync(full);
            const mode = st.mode & 0o7777;
            if (st.isSymbolicLink()) out.set(rel, { type: "symlink", mode: 0, target: fs.readlinkSync(full) });
            else if (st.isFile()) {
                const sha256 = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex");
                out.set(rel, { type: "file", mode, sha256 });
            } else if (st.isDirectory()) {
                out.set(rel, { type: "dir", mode });
                walk(full, rel);
            } else out.set(rel, { type: "other", mode });
        }
    };
    walk(root, "");
    return out;
}

export function manifestObject(m: Map<string, Entry>): Record<string, Entry> {
    return Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
        s.on("error", reject);
    });
}

export async function waitForPort(port: number, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const c = net.connect(port, "127.0.0.1");
            c.on("connect", () => {
                c.destroy();
                resolve(true);
            });
            c.on("error", () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
        await sleep(100);
    }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Step names and durations of "[gitspace] step: NAME done in 0.012s" lines. */
export function stepDurations(log: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const match of log.matchAll(/^\[gitspace\] step: (\S+) done in (\d+\.\d{3})s$/gm)) m.set(match[1], Number(match[2]));
    return m;
}

// ---------------------------------------------------------------------------------------------------------------
// A real git server: git http-backend (CGI) behind a small HTTP server requiring basic auth.

export interface GitServer {
    url: string;
    root: string;
    port: number;
    /** Authorization headers seen (decoded user names), to prove credentials were sent. */
    authUsers: string[];
    /** Every Authorization header received, decoded (`user:password`), to prove what reached this server. */
    authorizations: string[];
    /** Delay before answering git-upload-pack POSTs, to observe a clone in flight. */
    delayMs: number;
    /** Count of requests per repository path. */
    requests: string[];
    close(): Promise<void>;
}

/** `host`: where to listen; the end-to-end suite listens beyond loopback so pods can clone. */
export async function startGitServer(root: string, username: string, token: string, host = "127.0.0.1"): Promise<GitServer> {
    const backend = spawnSync("git", ["--exec-path"], { encoding: "utf8" }).stdout.trim() + "/git-http-backend";
    if (!fs.existsSync(backend)) throw new Error(`git-http-backend not found at ${backend}`);
    const state = { authUsers: [] as string[], authorizations: [] as string[], delayMs: 0, requests: [] as string[] };
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        state.requests.push(`${req.method} ${url.pathname}`);
        const auth = req.headers.authorization ?? "";
        const decoded = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString() : "";
        const sep = decoded.indexOf(":");
        if (auth) state.authorizations.push(decoded || auth);
        if (decoded && sep > 0) state.authUsers.push(decoded.slice(0, sep));
        if (decoded !== `${username}:${token}`) {
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="gitspace-test"' });
            res.end("unauthorized\n");
            return;
        }
        const go = () => {
            const cgi = spawn(backend, [], {
                env: {
                    GIT_PROJECT_ROOT: root,
                    GIT_HTTP_EXPORT_ALL: "1",
                    PATH_INFO: decodeURIComponent(url.pathname),
                    QUERY_STRING: url.search.replace(/^\?/, ""),
                    REQUEST_METHOD: req.method ?? "GET",
                    CONTENT_TYPE: req.headers["content-type"] ?? "",
                    HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
                    GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
                    REMOTE_USER: username,
                    REMOTE_ADDR: "127.0.0.1",
                    PATH: process.env.PATH ?? "/usr/bin:/bin",
                },
            });
            req.pipe(cgi.stdin);
            let buf = Buffer.alloc(0);
            let headersDone = false;
            cgi.stdout.on("data", (chunk: Buffer) => {
                if (headersDone) {
                    res.write(chunk);
                    return;
                }
                buf = Buffer.concat([buf, chunk]);
                let idx = buf.indexOf("\r\n\r\n");
                let sepLen = 4;
                if (idx < 0) {
                    idx = buf.indexOf("\n\n");
                    sepLen = 2;
                }
                if (idx < 0) return;
                headersDone = true;
                let status = 200;
                const headers: Record<string, string> = {};
                for (const line of buf.subarray(0, idx).toString().split(/\r?\n/)) {
                    const c = line.indexOf(":");
                    if (c < 0) continue;
                    const k = line.slice(0, c).trim();
                    const v = line.slice(c + 1).trim();
                    if (k.toLowerCase() === "status") status = parseInt(v, 10);
                    else headers[k] = v;
                }
                res.writeHead(status, headers);
                res.write(buf.subarray(idx + sepLen));
            });
            cgi.stdout.on("end", () => {
                if (!headersDone) res.writeHead(500);
                res.end();
            });
            cgi.stderr.resume();
        };
        if (state.delayMs > 0 && req.method === "POST") setTimeout(go, state.delayMs);
        else go();
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const port = (server.address() as net.AddressInfo).port;
    const gs: GitServer = {
        url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
        root,
        port,
        get authUsers() {
            return state.authUsers;
        },
        get authorizations() {
            return state.authorizations;
        },
        get delayMs() {
            return state.delayMs;
        },
        set delayMs(v: number) {
            state.delayMs = v;
        },
        get requests() {
            return state.requests;
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections?.();
                server.close(() => resolve());
            }),
    };
    return gs;
}

/** Create bare repository NAME.git under root with commits on `main` (file README) and `dev` (file DEV). */
export function makeBareRepo(root: string, name: string, content = name): string {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "gs-work-"));
    const bare = path.join(root, `${name}.git`);
    const env = baseEnv({
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.com",
        HOME: work,
        GIT_CONFIG_NOSYSTEM: "1",
    });
    shSync(
        [
            `cd ${JSON.stringify(work)}`,
            "git init -q -b main .",
            `printf '%s\\n' ${JSON.stringify(content)} > README`,
            "git add README && git commit -q -m init",
            "git checkout -q -b dev && echo dev > DEV && git add DEV && git commit -q -m dev && git checkout -q main",
            `git clone -q --bare . ${JSON.stringify(bare)}`,
        ].join(" && "),
        env,
    );
    fs.rmSync(work, { recursive: true, force: true });
    return bare;
}

/** Every file under dir (recursively, no symlink followed) whose content contains needle. */
export function grepTree(dir: string, needle: string): string[] {
    const r = spawnSync("grep", ["-rlF", "--", needle, dir], { encoding: "utf8" });
    return r.stdout.split("\n").filter(Boolean);
}
