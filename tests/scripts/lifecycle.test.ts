/**
 * Dotfiles and devcontainer.json lifecycle commands, for real: a git server on loopback (basic auth), the pod
 * environment the program builds (podEnv: GITSPACE_REPOS, GITSPACE_DOTFILES), the Secret's `hosts` scopes as the
 * program writes them, runs as an unprivileged uid (setpriv), real files in a temp HOME.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    DEVCONTAINER, DEV_UID, GitServer, baseEnv, chownR, grepTree, podEnv, requireRoot, requireTool, rmrf, run, script, shSync, startGitServer,
    tmpDir, writeGitSecret,
} from "./helpers";

const TOKEN = "gs-lifecycle-token-51c0ffee";
const USERNAME = "alice";
const AS_DEV = { asUid: DEV_UID, groups: [DEV_UID] };

/** A bare repository `name.git` under root whose `main` holds `files` (path → content; mode 755 when it ends in ".sh" or is named by `exec`). */
function makeRepo(root: string, name: string, files: Record<string, string>, exec: string[] = []): string {
    const work = fs.mkdtempSync(path.join(root, `.work-${name}-`));
    const env = baseEnv({ GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e", HOME: work, GIT_CONFIG_NOSYSTEM: "1" });
    for (const [rel, content] of Object.entries(files)) {
        const file = path.join(work, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode: rel.endsWith(".sh") || exec.includes(rel) ? 0o755 : 0o644 });
    }
    const bare = path.join(root, `${name}.git`);
    shSync(`cd ${JSON.stringify(work)} && git init -q -b main . && git add -A && git commit -q -m init && git clone -q --bare . ${JSON.stringify(bare)}`, env);
    fs.rmSync(work, { recursive: true, force: true });
    return bare;
}

describe("scripts: dotfiles (clone-code.sh, then install-dotfiles.sh as the user)", function () {
    this.timeout(120000);
    let dir: string;
    let server: GitServer;
    let home: string;
    let creds: string;

    before(async () => {
        requireRoot("runs the scripts as an unprivileged uid (setpriv) in a HOME it owns");
        requireTool("git", "jq", "setpriv", "timeout", "flock");
        dir = tmpDir();
        const root = path.join(dir, "srv");
        fs.mkdirSync(root);
        makeRepo(root, "dots-script", {
            "install.sh": "#!/bin/sh\nset -e\necho \"install ran as $(id -u) in $PWD\"\necho run >> \"$HOME/.dots-install-count\"\nprintf 'alias ll=ls\\n' > \"$HOME/.bash_aliases\"\n",
            "setup.sh": "#!/bin/sh\necho setup must not run >> \"$HOME/.wrong\"\n",
        });
        makeRepo(root, "dots-links", {
            ".bashrc": "# dotfiles bashrc\n", ".vimrc": "set nu\n", ".config/app/conf": "x=1\n", "README.md": "not linked\n",
            // Names HOME itself uses: never linked over the state dir or the checkout.
            ".gitspace/dotfiles.json": "{\"url\": \"forged\"}\n", ".dotfiles": "not a directory\n",
        });
        makeRepo(root, "dots-fail", { "bootstrap": "#!/bin/sh\necho about to fail\nexit 3\n" }, ["bootstrap"]);
        makeRepo(root, "dots-custom", { "bin/apply": "#!/bin/sh\necho custom > \"$HOME/.custom\"\n", "install.sh": "#!/bin/sh\necho default > \"$HOME/.custom\"\n" }, ["bin/apply"]);
        makeRepo(root, "dots-escape", { "README": "x" });
        makeRepo(root, "dots-noexec", { "install": "echo plain sh > \"$HOME/.noexec\"\n" });
        server = await startGitServer(root, USERNAME, TOKEN);
    });
    after(async () => {
        await server.close();
        rmrf(dir);
    });
    beforeEach(() => {
        home = fs.mkdtempSync(path.join(dir, "home-"));
        chownR(home, DEV_UID);
        creds = fs.mkdtempSync(path.join(dir, "secret-"));
        fs.chmodSync(creds, 0o755);
    });

    /** The developer's pod env and git-credentials Secret, as the program builds them for `dotfiles`. */
    function developer(dotfiles: Record<string, unknown>) {
        const raw = { git: { username: USERNAME, token: TOKEN }, dotfiles };
        writeGitSecret(creds, raw);
        for (const f of fs.readdirSync(creds)) fs.chmodSync(path.join(creds, f), 0o444);
        return podEnv(raw, { HOME: home, GITSPACE_GIT_CREDENTIALS_DIR: creds, GIT_CONFIG_SYSTEM: path.join(dir, "nosystem"), GITSPACE_CLONE_RETRY_DELAY: "0.1" });
    }
    const clone = (env: Record<string, string>) => run(script("common/clone-code.sh"), [], { env, ...AS_DEV });
    const install = (env: Record<string, string>) => run(script("common/install-dotfiles.sh"), [], { env, ...AS_DEV });
    const marker = () => JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "dotfiles.json"), "utf8"));

    it("clones into ~/.dotfiles with the scoped credentials (the dotfiles host is in the Secret's hosts), runs install.sh once per home as the user", async () => {
        const env = developer({ url: `${server.url}/dots-script.git` });
        assert.equal(fs.readFileSync(path.join(creds, "hosts"), "utf8"), `${server.url}\n`, "the program scopes the token to the dotfiles host");
        const c = await clone(env);
        assert.equal(c.code, 0, c.stderr);
        assert.ok(fs.existsSync(path.join(home, ".dotfiles", "install.sh")), c.stderr);
        const status = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "clone-status.json"), "utf8"));
        assert.deepEqual(status, [{ name: ".dotfiles", url: `${server.url}/dots-script.git`, state: "ok", detail: "ready" }]);
        assert.deepEqual(grepTree(home, TOKEN), [], "the token is nowhere in HOME");

        let r = await install(env);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(home, ".dots-install-count"), "utf8"), "run\n");
        assert.equal(fs.readFileSync(path.join(home, ".bash_aliases"), "utf8"), "alias ll=ls\n");
        assert.ok(!fs.existsSync(path.join(home, ".wrong")), "only the first script of the list runs");
        assert.match(fs.readFileSync(path.join(home, ".gitspace", "logs", "dotfiles.log"), "utf8"), new RegExp(`^install ran as ${DEV_UID} in ${home}/.dotfiles$`, "m"));
        assert.deepEqual({ ...marker(), at: undefined }, { url: `${server.url}/dots-script.git`, method: "script", state: "ok", detail: "install.sh finished", at: undefined });
        assert.equal(fs.statSync(path.join(home, ".gitspace", "logs", "dotfiles.log")).uid, DEV_UID);

        // Next start: the clone is kept as it is, the script does not run again.
        fs.writeFileSync(path.join(home, ".dotfiles", "local-edit"), "mine");
        assert.equal((await clone(env)).code, 0);
        assert.equal(fs.readFileSync(path.join(home, ".dotfiles", "local-edit"), "utf8"), "mine");
        r = await install(env);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /dotfiles: already applied for this URL \(script, ok\)/);
        assert.equal(fs.readFileSync(path.join(home, ".dots-install-count"), "utf8"), "run\n");
    });

    it("a new URL: the old checkout is moved aside (never deleted), the new one cloned and applied once", async () => {
        let env = developer({ url: `${server.url}/dots-script.git` });
        await clone(env);
        await install(env);
        fs.writeFileSync(path.join(home, ".dotfiles", "local-edit"), "keep me");
        env = developer({ url: `${server.url}/dots-custom.git`, installCommand: "bin/apply" });
        const c = await clone(env);
        assert.equal(c.code, 0, c.stderr);
        assert.match(c.stderr, /moved aside to .*\/\.dotfiles\.replaced-\d{8}T\d{6}Z \(nothing deleted\)/);
        const aside = fs.readdirSync(home).filter((n) => n.startsWith(".dotfiles.replaced-"));
        assert.equal(aside.length, 1);
        assert.equal(fs.readFileSync(path.join(home, aside[0], "local-edit"), "utf8"), "keep me");
        assert.ok(fs.existsSync(path.join(home, ".dotfiles", "bin", "apply")));
        const r = await install(env);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(home, ".custom"), "utf8"), "custom\n", "installCommand wins over install.sh");
        assert.equal(marker().url, `${server.url}/dots-custom.git`);
    });

    it("no script: links the top-level dotfiles (not .git), keeps an existing file aside, reports it, and is idempotent", async () => {
        fs.writeFileSync(path.join(home, ".bashrc"), "# the user's own bashrc\n");
        chownR(home, DEV_UID);
        const env = developer({ url: `${server.url}/dots-links.git` });
        await clone(env);
        const r = await install(env);
        assert.equal(r.code, 0, r.stderr);
        for (const name of [".bashrc", ".vimrc", ".config"]) {
            assert.equal(fs.readlinkSync(path.join(home, name)), path.join(home, ".dotfiles", name), name);
        }
        assert.ok(!fs.existsSync(path.join(home, "README.md")) && !fs.lstatSync(path.join(home, ".dotfiles", ".git")).isSymbolicLink());
        assert.throws(() => fs.readlinkSync(path.join(home, ".git")));
        assert.ok(fs.lstatSync(path.join(home, ".gitspace")).isDirectory(), "the state dir is not replaced");
        assert.ok(fs.lstatSync(path.join(home, ".dotfiles")).isDirectory(), "the checkout is not replaced");
        const backups = fs.readdirSync(home).filter((n) => n.startsWith(".dotfiles-backup-"));
        assert.equal(backups.length, 1);
        assert.equal(fs.readFileSync(path.join(home, backups[0], ".bashrc"), "utf8"), "# the user's own bashrc\n");
        const m = marker();
        assert.equal(m.method, "links");
        assert.equal(m.state, "ok");
        assert.match(m.detail, /linked 3 \(\.bashrc \.config \.vimrc\); existing \.bashrc moved aside to .*\.dotfiles-backup-/);
        // Forced again (marker removed): the links are recognised, nothing new moved aside.
        fs.rmSync(path.join(home, ".gitspace", "dotfiles.json"));
        assert.equal((await install(env)).code, 0);
        assert.equal(fs.readdirSync(home).filter((n) => n.startsWith(".dotfiles-backup-")).length, 1);
        assert.equal(marker().detail, "linked 3 (.bashrc .config .vimrc)");
    });

    it("a failing script is reported (log, marker) and never fails the start; it is not retried", async () => {
        const env = developer({ url: `${server.url}/dots-fail.git` });
        await clone(env);
        let r = await install(env);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /ERROR: dotfiles: bootstrap failed \(exit 3; see .*dotfiles\.log\)/);
        assert.equal(marker().state, "failed");
        assert.equal(fs.readFileSync(path.join(home, ".gitspace", "logs", "dotfiles.log"), "utf8"), "about to fail\n");
        r = await install(env);
        assert.match(r.stderr, /already applied for this URL \(script, failed\)/);
    });

    it("a script without the executable bit runs with /bin/sh", async () => {
        const env = developer({ url: `${server.url}/dots-noexec.git` });
        await clone(env);
        assert.equal((await install(env)).code, 0);
        assert.equal(fs.readFileSync(path.join(home, ".noexec"), "utf8"), "plain sh\n");
    });

    it("an installCommand that leads out of ~/.dotfiles (a symlink to /bin/sh, a missing file) is refused", async () => {
        const env = developer({ url: `${server.url}/dots-escape.git`, installCommand: "evil" });
        await clone(env);
        fs.symlinkSync("/bin/sh", path.join(home, ".dotfiles", "evil"));
        const r = await install(env);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /installCommand 'evil' is not a file inside/);
        assert.equal(marker().state, "failed");
    });

    it("a failed clone (bad credentials) leaves nothing, is retried on the next start, and install waits for it", async () => {
        const env = developer({ url: `${server.url}/dots-script.git` });
        fs.chmodSync(path.join(creds, "token"), 0o644);
        fs.writeFileSync(path.join(creds, "token"), "wrong-token");
        const c = await clone(env);
        assert.equal(c.code, 0, "a failed clone does not fail the init");
        assert.match(c.stderr, /ERROR: clone \.dotfiles: failed/);
        assert.ok(!fs.existsSync(path.join(home, ".dotfiles")));
        const r = await install(env);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /is not a checkout of uid .*retried on the next start/);
        assert.ok(!fs.existsSync(path.join(home, ".gitspace", "dotfiles.json")), "no marker: applied once it is cloned");
    });

    it("a symlink planted at ~/.dotfiles is left untouched (never followed, never replaced)", async () => {
        const elsewhere = fs.mkdtempSync(path.join(dir, "elsewhere-"));
        fs.symlinkSync(elsewhere, path.join(home, ".dotfiles"));
        const env = developer({ url: `${server.url}/dots-script.git` });
        const c = await clone(env);
        assert.equal(c.code, 0);
        assert.match(c.stderr, /left untouched, dotfiles not cloned/);
        assert.equal(fs.readlinkSync(path.join(home, ".dotfiles")), elsewhere);
        assert.deepEqual(fs.readdirSync(elsewhere), []);
    });

    it("never runs as root", async () => {
        const env = developer({ url: `${server.url}/dots-script.git` });
        await clone(env);
        const r = await run(script("common/install-dotfiles.sh"), [], { env });
        assert.equal(r.code, 0);
        assert.match(r.stderr, /refusing to run as root/);
        assert.ok(!fs.existsSync(path.join(home, ".dots-install-count")));
    });
});

describe("scripts: devcontainer.json lifecycle commands and session environment (run-lifecycle.sh, session-env.sh)", function () {
    this.timeout(120000);
    let dir: string;
    let home: string;

    before(() => {
        requireRoot("runs the commands as an unprivileged uid (setpriv)");
        requireTool("jq", "setpriv", "flock");
    });
    beforeEach(() => {
        dir = tmpDir();
        home = path.join(dir, "home");
        fs.mkdirSync(home);
        chownR(home, DEV_UID);
    });
    afterEach(() => rmrf(dir));

    /** A cloned repository `name` in HOME with this devcontainer.json text. */
    function repo(name: string, devcontainer: string, where = ".devcontainer/devcontainer.json") {
        const file = path.join(home, name, where);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, devcontainer);
        chownR(home, DEV_UID);
    }
    const env = (repos: string[], extra: Record<string, string> = {}) =>
        podEnv({ repos: repos.map((name) => ({ url: `https://git.example.com/acme/${name}.git` })) }, { HOME: home, ...extra });
    const lifecycle = (repos: string[], extra: Record<string, string> = {}) => run(script("common/run-lifecycle.sh"), [], { env: env(repos, extra), ...AS_DEV });
    const state = (rel: string) => JSON.parse(fs.readFileSync(path.join(home, ".gitspace", rel), "utf8"));
    const read = (rel: string) => fs.readFileSync(path.join(home, rel), "utf8");

    it("postCreateCommand once per home, postStartCommand every start, in the repo, as the user; string, array and parallel object forms", async () => {
        repo("api", `// JSONC: comments and trailing commas
{
  "onCreateCommand": ["sh", "-c", "echo on-create >> order"],
  "postCreateCommand": "echo post-create $(id -u) >> order; pwd > created-in",
  "postStartCommand": {
    "a": ["sh", "-c", "sleep 1; date +%s%N > a"],
    "b": "sleep 1; date +%s%N > b",
    "literal": ["printf", "%s", "$HOME;id"],
  },
  "postAttachCommand": "echo never",
}`);
        const started = Date.now();
        let r = await lifecycle(["api"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(read("api/order"), `on-create\npost-create ${DEV_UID}\n`);
        assert.equal(read("api/created-in"), `${home}/api\n`);
        // The object's commands ran in parallel: both slept 1 s, and finished within half a second of each other.
        const [a, b] = [Number(read("api/a")) / 1e6, Number(read("api/b")) / 1e6];
        assert.ok(Math.abs(a - b) < 500, `a=${a} b=${b}`);
        assert.ok(Date.now() - started < 1900 + 2000, "the parallel commands did not run one after the other");
        // The array form is argv, no shell: "$HOME;id" reached printf literally.
        const startLog = read(".gitspace/logs/lifecycle-api-start.log");
        assert.match(startLog, /\$HOME;id/);
        assert.match(r.stderr, /postAttachCommand is not supported in a gitspace/);
        assert.match(r.stderr, /lifecycle api: create done: onCreateCommand: exit 0, postCreateCommand: exit 0/);
        const create = state("lifecycle/api.create.json");
        assert.equal(create.ok, true);
        assert.deepEqual(create.commands.map((c: { hook: string }) => c.hook), ["onCreateCommand", "postCreateCommand"]);
        assert.equal(state("lifecycle/api.start.json").commands.length, 3);

        r = await lifecycle(["api"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(read("api/order"), `on-create\npost-create ${DEV_UID}\n`, "create commands ran once per home");
        assert.match(r.stderr, /create commands already ran in this home/);
        assert.match(r.stderr, /lifecycle api: start done: postStartCommand \(a\): exit 0/);
        for (const f of ["order", "a", "b"]) assert.equal(fs.statSync(path.join(home, "api", f)).uid, DEV_UID, f);
    });

    it("a failing command is reported and stops its phase only; the start continues; the log is bounded", async () => {
        repo("api", JSON.stringify({
            postCreateCommand: "head -c 300000 /dev/zero | tr '\\0' x; echo; exit 7",
            postStartCommand: ["/no/such/program"],
        }));
        repo("web", JSON.stringify({ postStartCommand: "echo web started > started" }), ".devcontainer.json");
        const r = await lifecycle(["api", "web"], { GITSPACE_LIFECYCLE_LOG_MAX: "10000" });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /ERROR: lifecycle api: create failed: postCreateCommand: exit 7/);
        assert.match(r.stderr, /ERROR: lifecycle api: start failed: postStartCommand: \/no\/such\/program: not found/);
        assert.equal(read("web/started"), "web started\n", "the next repository still ran");
        const log = read(".gitspace/logs/lifecycle-api-create.log");
        assert.ok(log.length < 10000 + 200, `log of ${log.length} bytes`);
        assert.match(log, /log truncated: \d+ more bytes dropped \(limit 10000\)/);
        assert.equal(state("lifecycle/api.create.json").ok, false);
    });

    it("a command that outlives its timeout is killed; a background process left holding the output does not hang the run", async () => {
        repo("api", JSON.stringify({ postCreateCommand: "sleep 600", postStartCommand: "sleep 600 & echo started" }));
        const started = Date.now();
        const r = await lifecycle(["api"], { GITSPACE_LIFECYCLE_TIMEOUT: "1" });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /create failed: postCreateCommand: timed out after 1s/);
        assert.match(r.stderr, /start done: postStartCommand: exit 0/);
        assert.ok(Date.now() - started < 15000, `took ${Date.now() - started} ms`);
        await run("pkill", ["-u", String(DEV_UID), "-x", "sleep"]);
    });

    it("hostile devcontainer.json files are reported, never run, never fail the start", async () => {
        const cases: Array<[string, string, RegExp]> = [
            ["not JSON", "{ postStartCommand: ", /cannot use .*: /],
            ["top level array", "[]", /the top level is not an object/],
            ["number command", '{"postStartCommand": 42}', /must be a string or an array of strings/],
            ["array with a number", '{"postStartCommand": ["echo", 1]}', /must be an array of strings/],
            ["NUL in the command", '{"postStartCommand": "echo \\u0000 x"}', /contains a NUL character/],
            ["too many parallel", JSON.stringify({ postStartCommand: Object.fromEntries([...Array(40).keys()].map((i) => [`c${i}`, "true"])) }), /more than 32 parallel commands/],
            ["deep nesting", `{"x": ${"[".repeat(100000)}${"]".repeat(100000)}, "postStartCommand": "touch ran"}`, /cannot use|nested too deeply/],
            ["empty program name", '{"postStartCommand": ["", "touch", "ran"]}', /has an empty program name/],
            ["a number in a parallel command", '{"postStartCommand": {"a": "touch ran", "b": 1}}', /postStartCommand\.b must be a string or an array of strings/],
            ["a control character in a parallel name", JSON.stringify({ postStartCommand: { "a\u0007b": "touch ran" } }), /command name that is too long or has control characters/],
            ["a huge command string", JSON.stringify({ postStartCommand: `touch ran; ${"x".repeat(70000)}` }), /longer than 65536 bytes/],
            ["too many arguments", JSON.stringify({ postStartCommand: ["touch", "ran", ...Array(2000).fill("x")] }), /more than 1024 arguments/],
            ["larger than 1 MiB", `{"postStartCommand": "touch ran", "pad": "${"x".repeat(1024 * 1024)}"}`, /larger than 1048576 bytes/],
        ];
        for (const [title, text, pattern] of cases) {
            rmrf(path.join(home, "api"));
            fs.rmSync(path.join(home, ".gitspace"), { recursive: true, force: true });
            repo("api", text);
            const r = await lifecycle(["api"]);
            assert.equal(r.code, 0, `${title}: ${r.stderr}`);
            assert.match(r.stderr, pattern, title);
            assert.ok(!fs.existsSync(path.join(home, "api", "ran")), `${title}: a command ran`);
        }
    });

    it("reads devcontainer.json as the devcontainers CLI does: a BOM, comments, trailing commas, .devcontainer.json at the root", async () => {
        repo("api", '\uFEFF/* c */ {"postStartCommand": ["touch", "ran"], /* trailing */ }', ".devcontainer.json");
        const r = await lifecycle(["api"]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(fs.existsSync(path.join(home, "api", "ran")), r.stderr);
    });

    it("a repository that is not there (failed clone) is skipped without a marker; never runs as root", async () => {
        let r = await lifecycle(["missing"]);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /lifecycle missing: .* is not there \(clone failed\?\); skipped/);
        assert.ok(!fs.existsSync(path.join(home, ".gitspace", "lifecycle", "missing.create.json")));
        repo("api", JSON.stringify({ postStartCommand: "touch ran" }));
        r = await run(script("common/run-lifecycle.sh"), [], { env: env(["api"]) });
        assert.match(r.stderr, /refusing to run the developer's commands as root/);
        assert.ok(!fs.existsSync(path.join(home, "api", "ran")));
    });

    it("session env: only safe containerEnv/remoteEnv reach the session; NUL-separated records; first repository wins", async () => {
        repo("api", JSON.stringify({
            containerEnv: {
                FOO: "from-container", KEEP: "k", PATH: "${containerEnv:PATH}:/opt/api/bin", WS: "${containerWorkspaceFolder}",
                SPACED: "a value with spaces", HOME: "/tmp", USER: "root", PASSWORD: "x", HASHED_PASSWORD: "x", NODE_OPTIONS: "--require /tmp/x.js",
                LD_PRELOAD: "/tmp/x.so", GIT_ASKPASS: "/tmp/x", GITSPACE_REPOS: "[]", CODE_SERVER_CONFIG: "/tmp/c", SSH_AUTH_SOCK: "/tmp/s",
                "BAD-NAME": "x", "1X": "x", NL: "a\nb", CR: "a\rb", ESC: "a\u001bb", NUMBER: 5, LOCAL: "${localEnv:HOME}", ID: "${devcontainerId}",
                LONG: "x".repeat(9000), PATHLESS: "${containerEnv:NOPE:fallback}",
            },
            remoteEnv: { FOO: "from-remote", KEEP: null, PATH2: "ok" },
        }));
        repo("web", JSON.stringify({ containerEnv: { FOO: "from-web", WEB: "w" } }));
        const r = await run(script("common/session-env.sh"), [], { env: env(["api", "web"]), ...AS_DEV });
        assert.equal(r.code, 0, r.stderr);
        const records = r.stdout.split("\0").filter(Boolean);
        const got = Object.fromEntries(records.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
        assert.deepEqual(got, {
            FOO: "from-remote", PATH: `${env([]).PATH}:/opt/api/bin`, WS: `${home}/api`, SPACED: "a value with spaces",
            PATHLESS: "fallback", PATH2: "ok", WEB: "w",
        });
        for (const name of ["HOME", "USER", "PASSWORD", "HASHED_PASSWORD", "NODE_OPTIONS", "LD_PRELOAD", "GIT_ASKPASS", "GITSPACE_REPOS", "CODE_SERVER_CONFIG", "SSH_AUTH_SOCK"]) {
            assert.match(r.stderr, new RegExp(`"${name}" is reserved`), name);
        }
        assert.match(r.stderr, /"NL" has a control character/);
        assert.match(r.stderr, /"LOCAL" uses \$\{localEnv…\}, which is not supported/);
        assert.match(r.stderr, /"LONG" is longer than 8192 bytes/);
        assert.match(r.stderr, /FOO is already set by .*\/api; not applied/);
        assert.deepEqual(state("session-env.json").applied, ["FOO", "PATH", "PATH2", "PATHLESS", "SPACED", "WEB", "WS"]);

        // PATH may only extend the container's, and at most 100 variables are taken.
        repo("many", JSON.stringify({ containerEnv: { PATH: "/evil", ...Object.fromEntries([...Array(150).keys()].map((i) => [`V${i}`, String(i)])) } }));
        const many = await run(script("common/session-env.sh"), [], { env: env(["many"]), ...AS_DEV });
        assert.equal(many.stdout.split("\0").filter(Boolean).length, 100);
        assert.match(many.stderr, /"PATH" may only extend the container's PATH/);
        assert.match(many.stderr, /over the limit of 100 variables/);
    });

    it("session env, hostile keys and values: duplicates (last wins, first place), __proto__, escaped NUL, 1e999, invalid UTF-8", async () => {
        repo("api", '{"containerEnv": {"B": "1", "A": "2", "B": "3", "__proto__": "p", "N\\u0000UL": "x", "BIG": 1e999, "OK": "\\u00e9"}}');
        let r = await run(script("common/session-env.sh"), [], { env: env(["api"]), ...AS_DEV });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\0").filter(Boolean), ["B=3", "A=2", "__proto__=p", "OK=é"], "file order, last value of a duplicate");
        assert.match(r.stderr, /containerEnv\."N\\u0000UL" is not a valid environment variable name/);
        assert.match(r.stderr, /containerEnv\."BIG" must be a string \(got number\)/);
        fs.writeFileSync(path.join(home, "api", ".devcontainer", "devcontainer.json"), Buffer.from('{"containerEnv": {"A": "\xff"}}', "latin1"));
        r = await run(script("common/session-env.sh"), [], { env: env(["api"]), ...AS_DEV });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /WARNING: session env: cannot use .*devcontainer\.json: invalid UTF-8 at line 1, column 25/);
    });

    it("the runner itself: refuses root, never writes through a symlinked log (0600 otherwise), exit 2 on bad arguments", async () => {
        repo("api", JSON.stringify({ postStartCommand: "touch ran" }));
        const dir2 = path.join(home, "api");
        let r = await run(DEVCONTAINER, ["run", "--repo", dir2, "--phase", "start", "--log", path.join(dir, "root.log")]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /^\[gitspace\] ERROR: gitspace-devcontainer run: refusing to run devcontainer.json commands as root$/m);
        assert.ok(!fs.existsSync(path.join(dir2, "ran")) && !fs.existsSync(path.join(dir, "root.log")));

        const target = path.join(home, "target");
        fs.writeFileSync(target, "keep");
        const link = path.join(home, "link.log");
        fs.symlinkSync(target, link);
        chownR(home, DEV_UID);
        r = await run(DEVCONTAINER, ["run", "--repo", dir2, "--phase", "start", "--log", link], AS_DEV);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /cannot open the log: .*too many levels of symbolic links/);
        assert.equal(fs.readFileSync(target, "utf8"), "keep");
        assert.ok(!fs.existsSync(path.join(dir2, "ran")), "nothing runs without its log");

        r = await run(DEVCONTAINER, ["run", "--repo", dir2, "--phase", "start", "--log", path.join(home, "ok.log")], AS_DEV);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).ok, true);
        assert.equal(fs.statSync(path.join(home, "ok.log")).mode & 0o777, 0o600);
        assert.ok(fs.existsSync(path.join(dir2, "ran")));

        for (const args of [[], ["run", "--repo", dir2], ["run", "--repo", dir2, "--phase", "attach", "--log", "x"], ["env"], ["user", "--repo"], ["nope"]]) {
            r = await run(DEVCONTAINER, args, AS_DEV);
            assert.equal(r.code, 2, args.join(" "));
            assert.equal(r.stdout, "");
            assert.match(r.stderr, /^\[gitspace\] ERROR: gitspace-devcontainer/, args.join(" "));
        }
    });

    it("without the helper binary: run-lifecycle.sh and session-env.sh say so and never fail the start", async () => {
        repo("api", JSON.stringify({ containerEnv: { A: "1" }, postStartCommand: "touch ran" }));
        const missing = { GITSPACE_DEVCONTAINER: path.join(dir, "no", "gitspace-devcontainer") };
        let r = await lifecycle(["api"], missing);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /ERROR: lifecycle: .*\/no\/gitspace-devcontainer not found: devcontainer.json commands not run/);
        r = await run(script("common/session-env.sh"), [], { env: env(["api"], missing), ...AS_DEV });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /ERROR: session env: .*\/no\/gitspace-devcontainer not found: containerEnv\/remoteEnv not applied/);
        assert.ok(!fs.existsSync(path.join(home, "api", "ran")));
    });

    it("code-server gets the session env (its terminals inherit it) and the lifecycle runs in the background", async () => {
        repo("api", JSON.stringify({ remoteEnv: { GREETING: "hello", PASSWORD: "repo-chosen" }, postStartCommand: "echo $GREETING > greeting" }));
        const fake = path.join(dir, "code-server");
        fs.writeFileSync(fake, "#!/bin/sh\nenv > \"$FAKE_RECORD\"\n", { mode: 0o755 });
        const secret = path.join(dir, "ide");
        fs.mkdirSync(secret);
        fs.writeFileSync(path.join(secret, "password"), "pw\n", { mode: 0o444 });
        const record = path.join(dir, "env.txt");
        fs.chmodSync(dir, 0o777);
        const r = await run(script("vscode/run-vscode-web.sh"), [], {
            env: env(["api"], { GITSPACE_CODE_SERVER: fake, FAKE_RECORD: record, GITSPACE_IDE_SECRET_DIR: secret, GITSPACE_VSCODE_RUNTIME_DIR: path.join(dir, "rt"), GITSPACE_VSCODE_EXTENSIONS_DIR: path.join(dir, "none") }),
            ...AS_DEV,
        });
        assert.equal(r.code, 0, r.stderr);
        const recorded = fs.readFileSync(record, "utf8");
        assert.match(recorded, /^GREETING=hello$/m);
        assert.doesNotMatch(recorded, /^PASSWORD=/m);
        // `run` returned once every holder of the output pipe (the background lifecycle) was done.
        assert.equal(read("api/greeting"), "hello\n");
    });

    it("SSH sessions get the session env through sshd SetEnv; values sshd_config cannot carry are left out and reported", async () => {
        requireTool("sshd");
        repo("api", JSON.stringify({ containerEnv: { GREETING: "hello", SPACED: "two words" } }));
        const rt = path.join(dir, "sshrt");
        fs.chmodSync(dir, 0o777);
        const names = await run(script("common/session-env.sh"), [], { env: env(["api"]), ...AS_DEV });
        const exported = Object.fromEntries(names.stdout.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
        // As the IDE container runs it: the developer's uid, with a passwd naming it mounted over /etc/passwd (a private
        // mount namespace), so that `sshd -t` really validates the generated config.
        requireTool("unshare");
        const id = path.join(dir, "identity");
        fs.mkdirSync(id);
        fs.writeFileSync(path.join(id, "passwd"), `root:x:0:0:root:/root:/bin/bash\ndev:x:${DEV_UID}:${DEV_UID}::${home}:/bin/bash\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n`);
        fs.writeFileSync(path.join(id, "group"), `root:x:0:\ndev:x:${DEV_UID}:\n`);
        const cmd = `mount --bind "$ID/passwd" /etc/passwd && mount --bind "$ID/group" /etc/group && exec setpriv --reuid=${DEV_UID} --regid=${DEV_UID} --groups=${DEV_UID} "$SCRIPT"`;
        const r = await run("unshare", ["-m", "--propagation", "private", "bash", "-c", cmd], {
            env: env(["api"], {
                ...exported, ID: id, SCRIPT: script("common/setup-ssh-server.sh"), GITSPACE_SESSION_ENV_NAMES: Object.keys(exported).join(" "),
                GITSPACE_SSH_RUNTIME_DIR: rt, GITSPACE_SSH_DIR: path.join(dir, "nossh"), GITSPACE_USER: "dev", GITSPACE_IDE_PORT: "2222",
            }),
        });
        assert.equal(r.code, 0, r.stderr);
        const config = fs.readFileSync(path.join(rt, "sshd_config"), "utf8");
        const setenv = config.split("\n").find((l) => l.startsWith("SetEnv"))!;
        assert.match(setenv, / GREETING=hello( |$)/);
        assert.doesNotMatch(setenv, /SPACED/);
        assert.match(r.stderr, /SPACED has characters sshd_config cannot carry safely/);
        assert.equal(setenv.split(" ").filter((w) => w.startsWith("PATH=")).length, 1, "no duplicate names");
    });
});
