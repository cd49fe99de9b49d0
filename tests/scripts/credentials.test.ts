/**
 * The credential helper's scope, proven with real git against real servers on loopback: the token goes to the
 * scheme, host and port of the developer's own configured repositories and nowhere else (another host, another port,
 * plain http when https is configured, a cross-host redirect, a submodule on another host), and the `hosts` entries
 * are literal strings, never patterns. Each "other" server records every Authorization header it receives.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { COMMON, GitServer, baseEnv, makeBareRepo, requireTool, rmrf, run, shSync, startGitServer, tmpDir, writeGitSecret } from "./helpers";

const TOKEN = "gs-scope-token-3b9d0c7a1e";
const USERNAME = "alice";
const HELPER = path.join(COMMON, "git-credential-gitspace");
const ANSWER = `username=${USERNAME}\npassword=${TOKEN}\n`;

/** A server that redirects every request to `target` (same path); optionally asks for the token first. */
async function startRedirector(target: string, requireAuth: boolean): Promise<{ port: number; url: string; authorizations: string[]; close(): Promise<void> }> {
    const authorizations: string[] = [];
    const server = http.createServer((req, res) => {
        const auth = req.headers.authorization ?? "";
        if (auth) authorizations.push(Buffer.from(auth.replace(/^Basic /, ""), "base64").toString());
        if (requireAuth && auth === "") {
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="redirector"' });
            res.end();
            return;
        }
        res.writeHead(302, { Location: `${target}${req.url}` });
        res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        port,
        url: `http://127.0.0.1:${port}`,
        authorizations,
        close: () => new Promise<void>((resolve) => {
            server.closeAllConnections?.();
            server.close(() => resolve());
        }),
    };
}

describe("scripts: the git credential helper answers only for the developer's own repository hosts (real git, two loopback hosts)", function () {
    this.timeout(60000);
    let dir: string;
    /** The developer's configured server (127.0.0.1). */
    let own: GitServer;
    /** Another host (127.0.0.2) that would accept the same credentials: it must never receive them. */
    let other: GitServer;
    let sysconfig: string;

    before(async () => {
        requireTool("git");
        dir = tmpDir();
        for (const root of ["own", "other"]) {
            fs.mkdirSync(path.join(dir, root));
            makeBareRepo(path.join(dir, root), "api", `${root} api`);
        }
        own = await startGitServer(path.join(dir, "own"), USERNAME, TOKEN, "127.0.0.1");
        other = await startGitServer(path.join(dir, "other"), USERNAME, TOKEN, "127.0.0.2");
        sysconfig = path.join(dir, "gitconfig-system");
        fs.writeFileSync(sysconfig, `[credential]\n\thelper = ${HELPER}\n`);
    });
    after(async () => {
        await own.close();
        await other.close();
        rmrf(dir);
    });

    /** A Secret written by the program for a developer whose repos are `urls`. */
    let n = 0;
    const secretFor = (...urls: string[]) => {
        const d = path.join(dir, `secret-${n++}`);
        writeGitSecret(d, { git: { username: USERNAME, token: TOKEN }, repos: urls.map((url, i) => ({ url, name: `r${i}` })) });
        return d;
    };
    /** git as the IDE runs it: the system-registered helper, no prompt. */
    const git = (secret: string, ...args: string[]) => {
        const home = fs.mkdtempSync(path.join(dir, "home-"));
        return run("git", args, { env: baseEnv({ HOME: home, GIT_CONFIG_SYSTEM: sysconfig, GIT_TERMINAL_PROMPT: "0", GITSPACE_GIT_CREDENTIALS_DIR: secret }) });
    };
    const tokenSeen = (s: { authorizations: string[] }, from = 0) => s.authorizations.slice(from).some((a) => a.includes(TOKEN));

    it("the program writes one literal scheme://host[:port] per configured repository into the Secret's hosts", () => {
        const secret = secretFor(`${own.url}/api.git`, `${own.url}/web.git`, "https://git.example.com/a/b.git", "https://[2001:db8::1]:8443/x.git");
        assert.equal(fs.readFileSync(path.join(secret, "hosts"), "utf8"),
            `http://127.0.0.1:${own.port}\nhttps://[2001:db8::1]:8443\nhttps://git.example.com\n`);
    });

    it("sends the token to the configured host, and never to another host that asks for it", async () => {
        const secret = secretFor(`${own.url}/api.git`);
        const o = other.authorizations.length;
        const ok = await git(secret, "ls-remote", `${own.url}/api.git`);
        assert.equal(ok.code, 0, ok.stderr);
        assert.ok(tokenSeen(own), "the configured host got the token");
        const denied = await git(secret, "ls-remote", `${other.url}/api.git`);
        assert.notEqual(denied.code, 0, "the other host refused git without credentials");
        assert.match(denied.stderr, /could not read Username|Authentication failed/);
        assert.ok(other.requests.length > 0, "git did ask the other host");
        assert.ok(!tokenSeen(other, o), `the other host received the token: ${other.authorizations.slice(o)}`);
    });

    it("never sends it to another port of the configured host", async () => {
        // A second server on the configured host (127.0.0.1), another port, same accepted credentials.
        const second = await startGitServer(path.join(dir, "other"), USERNAME, TOKEN, "127.0.0.1");
        try {
            const r = await git(secretFor(`${own.url}/api.git`), "ls-remote", `${second.url}/api.git`);
            assert.notEqual(r.code, 0);
            assert.ok(second.requests.length > 0 && !tokenSeen(second), "another port got nothing");
        } finally {
            await second.close();
        }
    });

    it("never over plain http when the configured URL is https (same host and port)", async () => {
        const secret = secretFor(`https://127.0.0.1:${own.port}/api.git`);
        const o = own.authorizations.length;
        const r = await git(secret, "ls-remote", `${own.url}/api.git`);
        assert.notEqual(r.code, 0);
        assert.ok(!tokenSeen(own, o), "the token went over http although the configured URL is https");
    });

    for (const requireAuth of [false, true]) {
        it(`a redirect to another host gets nothing (redirector ${requireAuth ? "authenticated first" : "open"})`, async () => {
            const redirector = await startRedirector(other.url, requireAuth);
            try {
                const o = other.authorizations.length;
                const r = await git(secretFor(`${redirector.url}/api.git`), "ls-remote", `${redirector.url}/api.git`);
                assert.notEqual(r.code, 0, "the other host's repository was not listed");
                assert.ok(other.requests.length > 0, "git followed the redirect to the other host");
                assert.ok(!tokenSeen(other, o), `the redirect target received the token: ${other.authorizations.slice(o)}`);
                if (requireAuth) assert.ok(redirector.authorizations.some((a) => a.includes(TOKEN)), "the configured host itself got it");
            } finally {
                await redirector.close();
            }
        });
    }

    it("a submodule on another host gets nothing, the superproject on the configured host is cloned", async () => {
        // A repository on the developer's host whose submodule points to the other host.
        const work = fs.mkdtempSync(path.join(dir, "super-"));
        const sha = shSync(`git --git-dir=${JSON.stringify(path.join(dir, "other", "api.git"))} rev-parse main`).trim();
        const env = baseEnv({ HOME: work, GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" });
        shSync([
            `cd ${JSON.stringify(work)}`, "git init -q -b main src", "cd src",
            `printf '[submodule "lib"]\\n\\tpath = lib\\n\\turl = ${other.url}/api.git\\n' > .gitmodules`,
            "git add .gitmodules", `git update-index --add --cacheinfo 160000,${sha},lib`, "git commit -q -m super",
            `git clone -q --bare . ${JSON.stringify(path.join(dir, "own", "super.git"))}`,
        ].join(" && "), env);
        const o = other.authorizations.length;
        const target = path.join(fs.mkdtempSync(path.join(dir, "clone-")), "super");
        const r = await git(secretFor(`${own.url}/super.git`), "clone", "--recurse-submodules", `${own.url}/super.git`, target);
        assert.ok(fs.existsSync(path.join(target, ".gitmodules")), `the superproject was cloned: ${r.stderr}`);
        assert.match(r.stderr, /clone of '.*127\.0\.0\.2.*' into submodule path .* failed|could not read Username/);
        assert.ok(other.requests.length > 0, "git asked the submodule's host");
        assert.ok(!tokenSeen(other, o), "the submodule's host received the token");
    });

    it("compares hosts entries literally: glob characters match nothing but themselves", async () => {
        const globs = path.join(dir, "globs");
        writeGitSecret(globs, { git: { username: USERNAME, token: TOKEN }, repos: [] });
        fs.writeFileSync(path.join(globs, "hosts"), ["*", "http://*", "http://127.0.0.*:*", "http://127.0.0.[0-9]:[0-9]*", "http://127.0.0.?:*", "http://127.0.0.1:+([0-9])", ""].join("\n"));
        const o = own.authorizations.length;
        const r = await git(globs, "ls-remote", `${own.url}/api.git`);
        assert.notEqual(r.code, 0);
        assert.ok(own.requests.length > 0 && !tokenSeen(own, o), "a glob entry let the token out");
        // A host that IS the literal entry gets the answer: the comparison works, it just does not expand.
        const helper = (input: string) => run(HELPER, ["get"], { env: baseEnv({ GITSPACE_GIT_CREDENTIALS_DIR: globs }), input });
        assert.equal((await helper("protocol=http\nhost=127.0.0.*:*\n\n")).stdout, ANSWER);
    });

    describe("the helper's decision, case by case (git's credential protocol on stdin)", () => {
        let secret: string;
        before(() => {
            secret = secretFor("https://git.example.com/a/b.git", "http://10.0.0.5:8080/c.git", "https://[2001:db8::1]:8443/d.git");
        });
        const get = (input: string, d = secret) => run(HELPER, ["get"], { env: baseEnv({ GITSPACE_GIT_CREDENTIALS_DIR: d }), input });
        const cases: Array<[string, string, boolean]> = [
            ["configured https host", "protocol=https\nhost=git.example.com\n", true],
            ["configured http host:port", "protocol=http\nhost=10.0.0.5:8080\n", true],
            ["configured IPv6 host:port", "protocol=https\nhost=[2001:db8::1]:8443\n", true],
            ["with a path line too", "protocol=https\nhost=git.example.com\npath=a/b.git\n", true],
            ["http to an https-configured host", "protocol=http\nhost=git.example.com\n", false],
            ["https to an http-configured host", "protocol=https\nhost=10.0.0.5:8080\n", false],
            ["explicit default port", "protocol=https\nhost=git.example.com:443\n", false],
            ["another port", "protocol=http\nhost=10.0.0.5:80\n", false],
            ["port prefix", "protocol=http\nhost=10.0.0.5:808\n", false],
            ["port suffix", "protocol=http\nhost=10.0.0.5:80800\n", false],
            ["no port where one is configured", "protocol=http\nhost=10.0.0.5\n", false],
            ["subdomain", "protocol=https\nhost=evil.git.example.com\n", false],
            ["suffix domain", "protocol=https\nhost=git.example.com.evil.net\n", false],
            ["trailing dot", "protocol=https\nhost=git.example.com.\n", false],
            ["upper case", "protocol=https\nhost=GIT.EXAMPLE.COM\n", false],
            ["userinfo smuggled in host", "protocol=https\nhost=x@git.example.com\n", false],
            ["ssh", "protocol=ssh\nhost=git.example.com\n", false],
            ["no protocol", "host=git.example.com\n", false],
            ["no host", "protocol=https\n", false],
            ["empty input", "", false],
            ["host given before protocol, then a blank line ends the request", "host=evil.example\n\nprotocol=https\nhost=git.example.com\n", false],
        ];
        for (const [title, input, answers] of cases) {
            it(`${answers ? "answers" : "says nothing"}: ${title}`, async () => {
                const r = await get(input + "\n");
                assert.equal(r.code, 0);
                assert.equal(r.stdout, answers ? ANSWER : "");
            });
        }
        it("says nothing without a hosts file, with an empty one, and for store/erase", async () => {
            const noHosts = secretFor("https://git.example.com/a/b.git");
            fs.rmSync(path.join(noHosts, "hosts"));
            assert.equal((await get("protocol=https\nhost=git.example.com\n\n", noHosts)).stdout, "");
            fs.writeFileSync(path.join(noHosts, "hosts"), "");
            assert.equal((await get("protocol=https\nhost=git.example.com\n\n", noHosts)).stdout, "");
            for (const op of ["store", "erase"]) {
                const r = await run(HELPER, [op], { env: baseEnv({ GITSPACE_GIT_CREDENTIALS_DIR: secret }), input: "protocol=https\nhost=git.example.com\nusername=u\npassword=p\n\n" });
                assert.equal(r.stdout, "");
            }
        });
    });
});
