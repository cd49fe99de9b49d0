import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { COMMON, GitServer, baseEnv, grepTree, makeBareRepo, manifest, manifestObject, podEnv, requireTool, rmrf, run, script, sleep, startGitServer, tmpDir, writeGitSecret } from "./helpers";

const TOKEN = "gs-test-token-7f3a9c1e5b2d";
const USERNAME = "alice";
const HELPER = path.join(COMMON, "git-credential-gitspace");

describe("scripts: git credentials and clone-code.sh against a real git server (http-backend, basic auth)", function () {
    this.timeout(60000);
    let dir: string;
    let server: GitServer;
    let creds: string;
    let home: string;
    let sysconfig: string;

    before(async () => {
        requireTool("git", "jq");
        dir = tmpDir();
        const root = path.join(dir, "srv");
        fs.mkdirSync(root);
        makeBareRepo(root, "api", "api content");
        makeBareRepo(root, "web", "web content");
        server = await startGitServer(root, USERNAME, TOKEN);
        creds = path.join(dir, "secret");
        // The Secret as the program writes it: its `hosts` scope is the server of the developer's repos.
        writeGitSecret(creds, { git: { username: USERNAME, token: TOKEN }, repos: [{ url: `${server.url}/api.git` }] });
        sysconfig = path.join(dir, "gitconfig-system");
    });
    after(async () => {
        await server.close();
        rmrf(dir);
    });
    beforeEach(() => {
        home = fs.mkdtempSync(path.join(dir, "home-"));
    });

    /** The pod env the program builds for a developer with `repos` (gitspaceEnv), paths overridden for this machine. */
    const env = (extra: Record<string, string> = {}, repos: unknown[] = []) =>
        podEnv({ repos, git: { username: USERNAME, token: TOKEN } },
            { HOME: home, GITSPACE_GIT_CREDENTIALS_DIR: creds, GIT_CONFIG_SYSTEM: sysconfig, GITSPACE_CLONE_RETRY_DELAY: "0.1", ...extra });
    const status = () => JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "clone-status.json"), "utf8"));

    it("setup-git-credentials.sh --system registers the helper in the system gitconfig only (not HOME, not .git/config)", async () => {
        const r = await run(script("common/setup-git-credentials.sh"), ["--system"], { env: env() });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readFileSync(sysconfig, "utf8"), `[credential]\n\thelper = ${HELPER}\n`);
        // Twice: still exactly one entry.
        await run(script("common/setup-git-credentials.sh"), ["--system"], { env: env() });
        assert.equal(fs.readFileSync(sysconfig, "utf8"), `[credential]\n\thelper = ${HELPER}\n`);
        assert.deepEqual(fs.readdirSync(home), []);
    });

    it("runtime check logs whether credentials are mounted, never the token", async () => {
        let r = await run(script("common/setup-git-credentials.sh"), [], { env: env() });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /git credential helper: registered in/);
        assert.match(r.stderr, /git credentials: mounted in .* \(username and token present/);
        assert.match(r.stderr, /git credentials: given only to 1 scope\(s\) listed in .*\/hosts/);
        assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN));
        r = await run(script("common/setup-git-credentials.sh"), [], { env: env({ GITSPACE_GIT_CREDENTIALS_DIR: path.join(dir, "none"), GIT_CONFIG_SYSTEM: path.join(dir, "empty") }) });
        assert.equal(r.code, 0);
        assert.match(r.stderr, /WARNING: git credential helper .* is not registered/);
        assert.match(r.stderr, /git credentials: none mounted/);
    });

    it("clones several repositories (one on a branch) through the helper; the token is nowhere: HOME, .git/config, logs, /proc of every process", async () => {
        server.delayMs = 800;
        const authBefore = server.authUsers.length;
        const seen: string[] = [];
        let scanning = true;
        // Scan every process's argv and environment while the clone is in flight.
        const scanner = (async () => {
            let scans = 0;
            while (scanning) {
                for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
                    for (const f of ["cmdline", "environ"]) {
                        try {
                            const content = fs.readFileSync(`/proc/${pid}/${f}`);
                            if (content.includes(TOKEN)) seen.push(`${pid}/${f}: ${content.toString().replace(/\0/g, " ").slice(0, 200)}`);
                        } catch {
                            /* process gone */
                        }
                    }
                }
                scans++;
                await sleep(25);
            }
            return scans;
        })();
        let gitSeen = false;
        const watcher = setInterval(() => {
            for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
                try {
                    if (fs.readFileSync(`/proc/${pid}/cmdline`).toString().includes("clone")) gitSeen = true;
                } catch {
                    /* gone */
                }
            }
        }, 50);
        const r = await run(script("common/clone-code.sh"), [], {
            env: env({}, [{ url: `${server.url}/api.git`, name: "api" }, { url: `${server.url}/web.git`, branch: "dev" }]),
        });
        scanning = false;
        clearInterval(watcher);
        server.delayMs = 0;
        const scans = await scanner;
        assert.equal(r.code, 0, r.stderr);
        assert.ok(gitSeen && scans > 10, `the scan saw the clone in flight (scans: ${scans})`);
        assert.deepEqual(seen, [], "token in a process's argv or environ");
        assert.ok(server.authUsers.length > authBefore && server.authUsers.slice(authBefore).every((u) => u === USERNAME), "credentials were sent");
        assert.equal(fs.readFileSync(path.join(home, "api", "README"), "utf8"), "api content\n");
        assert.equal(fs.readFileSync(path.join(home, "web", "DEV"), "utf8"), "dev\n");
        const branch = await run("git", ["-C", path.join(home, "web"), "rev-parse", "--abbrev-ref", "HEAD"], { env: env() });
        assert.equal(branch.stdout.trim(), "dev");
        assert.deepEqual(grepTree(home, TOKEN), [], "token in a file under HOME");
        for (const name of ["api", "web"]) {
            const cfg = fs.readFileSync(path.join(home, name, ".git", "config"), "utf8");
            assert.ok(!cfg.includes(TOKEN) && !cfg.includes(USERNAME + "@") && !cfg.includes("helper"), cfg);
        }
        assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN));
        assert.deepEqual(fs.readdirSync(home).sort(), [".gitspace", "api", "web"], "no temp dir left");
        assert.deepEqual(status().map((s: { name: string; state: string }) => [s.name, s.state]), [["api", "ok"], ["web", "ok"]]);
        assert.match(r.stderr, /^\[gitspace\] clone api: cloned into .*\/api \(main at [0-9a-f]+\)$/m);
    });

    it("the system-registered helper also serves plain git in the IDE (no clone-code.sh): git ls-remote works, nothing stored", async () => {
        const r = await run("git", ["ls-remote", `${server.url}/api.git`], { env: env({ GIT_TERMINAL_PROMPT: "0" }) });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /refs\/heads\/main/);
        assert.deepEqual(grepTree(home, TOKEN), []);
    });

    it("never touches an existing checkout (SHA-256 manifest before/after), even an empty dir or a symlink", async () => {
        fs.mkdirSync(path.join(home, "api", "src"), { recursive: true });
        fs.writeFileSync(path.join(home, "api", "src", "main.go"), "package main // my work\n");
        fs.mkdirSync(path.join(home, "web"));
        fs.symlinkSync("/etc", path.join(home, "docs"));
        const before = manifestObject(manifest(home));
        const r = await run(script("common/clone-code.sh"), [], {
            env: env({}, [{ url: `${server.url}/api.git` }, { url: `${server.url}/web.git` }, { url: `${server.url}/api.git`, name: "docs" }]),
        });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(manifestObject(manifest(home, (p) => p.startsWith(".gitspace"))), before);
        for (const n of ["api", "web", "docs"]) assert.match(r.stderr, new RegExp(`clone ${n}: .*/${n} already exists, left untouched`));
        assert.deepEqual(status().map((s: { state: string; detail: string }) => `${s.state}:${s.detail}`), ["ok:ready", "ok:ready", "ok:ready"]);
    });

    it("bad URL, bad credentials, unreachable host: no half repo, a clear ERROR line, attempts counted, init not failed", async () => {
        const closed = await (async () => {
            const s = await startGitServer(dir, "x", "y");
            const port = s.port;
            await s.close();
            return port;
        })();
        const badCreds = path.join(dir, "bad-creds");
        writeGitSecret(badCreds, { git: { username: USERNAME, token: "wrong-token" }, repos: [{ url: `${server.url}/web.git` }] });
        const list = [
            { url: `${server.url}/missing.git`, name: "missing" },
            { url: `http://127.0.0.1:${closed}/api.git`, name: "unreachable" },
            { url: `${server.url}/api.git`, name: "good" },
        ];
        const r = await run(script("common/clone-code.sh"), [], { env: env({ GITSPACE_CLONE_ATTEMPTS: "3" }, list) });
        assert.equal(r.code, 0, "a failed clone does not fail the init by default");
        assert.deepEqual(fs.readdirSync(home).sort(), [".gitspace", "good"], "no half repo, no temp dir");
        for (const n of ["missing", "unreachable"]) {
            assert.equal((r.stderr.match(new RegExp(`clone ${n}: attempt \\d/3 from`, "g")) ?? []).length, 3, `3 attempts for ${n}`);
            assert.match(r.stderr, new RegExp(`^\\[gitspace\\] ERROR: clone ${n}: failed after 3 attempt\\(s\\): .+\\(nothing left in .*/${n}\\)$`, "m"));
        }
        assert.match(r.stderr, /clone unreachable: failed after 3 attempt\(s\): .*(Failed to connect|Connection refused|Could not connect)/);
        assert.match(r.stderr, /clone missing: failed after 3 attempt\(s\): .*(not found|404|repository .* not found)/i);
        assert.match(r.stderr, /ERROR: clone: 2 repositories failed/);
        const st = status();
        assert.deepEqual(st.map((s: { name: string; state: string }) => [s.name, s.state]), [["missing", "failed"], ["unreachable", "failed"], ["good", "ok"]]);

        const r2 = await run(script("common/clone-code.sh"), [], { env: env({ GITSPACE_GIT_CREDENTIALS_DIR: badCreds, GITSPACE_CLONE_ATTEMPTS: "2", GITSPACE_CLONE_STRICT: "true" }, [{ url: `${server.url}/web.git`, name: "web" }]) });
        assert.equal(r2.code, 1, "GITSPACE_CLONE_STRICT=true fails on a failed clone");
        assert.match(r2.stderr, /ERROR: clone web: failed after 2 attempt\(s\): .*(Authentication failed|could not read Username)/);
        assert.ok(!fs.existsSync(path.join(home, "web")));
        assert.ok(!r2.stderr.includes("wrong-token"));
        assert.deepEqual(fs.readdirSync(home).filter((n) => n.startsWith(".gitspace-clone")), []);
    });

    it("what the program accepts clones for real: a percent-encoded path, an IPv6 host, the credential scope of each", async () => {
        makeBareRepo(server.root, "my repo", "spaced content");
        const v6 = await startGitServer(server.root, USERNAME, TOKEN, "::1");
        try {
            const v6url = `http://[::1]:${v6.port}/api.git`;
            const list = [{ url: `${server.url}/my%20repo.git`, name: "my-repo" }, { url: v6url, name: "v6" }];
            const secret = path.join(dir, "secret-v6");
            writeGitSecret(secret, { git: { username: USERNAME, token: TOKEN }, repos: list });
            assert.equal(fs.readFileSync(path.join(secret, "hosts"), "utf8"), [`http://127.0.0.1:${server.port}`, `http://[::1]:${v6.port}`].sort().join("\n") + "\n");
            const r = await run(script("common/clone-code.sh"), [], { env: env({ GITSPACE_GIT_CREDENTIALS_DIR: secret }, list) });
            assert.equal(r.code, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(home, "my-repo", "README"), "utf8"), "spaced content\n");
            assert.equal(fs.readFileSync(path.join(home, "v6", "README"), "utf8"), "api content\n");
            assert.ok(v6.authUsers.includes(USERNAME), "the IPv6 host got the credentials through its literal scope");
        } finally {
            await v6.close();
        }
    });

    it("uses the program's list as given, field by field: separators inside a value split nothing; an interrupted clone's temp dir is cleaned", async () => {
        fs.mkdirSync(path.join(home, ".gitspace-clone-api.AbC123"));
        fs.writeFileSync(path.join(home, ".gitspace-clone-api.AbC123", "partial"), "x");
        // Not a list the program would produce (it refuses such names); the script still reads each field whole.
        const names = ["a\u001fb", "c\nd", "e\tf"];
        const r = await run(script("common/clone-code.sh"), [], {
            env: env({ GITSPACE_REPOS: JSON.stringify(names.map((name) => ({ name, url: `${server.url}/api.git` }))) }),
        });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(fs.readdirSync(home).sort(), [".gitspace", ...names].sort());
        for (const n of names) assert.equal(fs.readFileSync(path.join(home, n, "README"), "utf8"), "api content\n");
        assert.match(r.stderr, /removing the temp dir of an interrupted clone/);
        const malformed = await run(script("common/clone-code.sh"), [], { env: env({ GITSPACE_REPOS: JSON.stringify([{ name: 42, url: `${server.url}/api.git` }, { url: `${server.url}/api.git` }]) }) });
        assert.match(malformed.stderr, /GITSPACE_REPOS\[0\] lacks a string name or url/);
        assert.match(malformed.stderr, /GITSPACE_REPOS\[1\] lacks a string name or url/);
        const notArray = await run(script("common/clone-code.sh"), [], { env: env({ GITSPACE_REPOS: "{\"name\":\"x\"}" }) });
        assert.match(notArray.stderr, /GITSPACE_REPOS is not a JSON array/);
    });
});
