/**
 * `npm run portal` as an operator starts it: the token rules at startup (clear error, exit code 2, token never
 * echoed), the token file trimmed, and the demo service answering over real HTTP.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { portalTokenFromEnv } from "../../portal";

const MAIN = path.join(__dirname, "..", "..", "portal", "main.ts");

function start(env: Record<string, string>, port: number) {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", MAIN, "--demo"], {
        env: { PATH: process.env.PATH ?? "", PORTAL_PORT: String(port), PORTAL_HOST: "127.0.0.1", ...env },
        cwd: path.join(__dirname, "..", ".."),
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, exited, output: () => out };
}

describe("portal: where the service token comes from", () => {
    const read = (files: Record<string, string>) => (f: string) => {
        if (!(f in files)) throw new Error(`ENOENT: ${f}`);
        return files[f];
    };
    const t = "t".repeat(40);
    it("PORTAL_TOKEN first, else PORTAL_TOKEN_FILE (trimmed); each checked by the same rule", () => {
        assert.strictEqual(portalTokenFromEnv({ PORTAL_TOKEN: ` ${t} ` }, read({})), t);
        assert.strictEqual(portalTokenFromEnv({ PORTAL_TOKEN_FILE: "/f" }, read({ "/f": `${t}\r\n` })), t);
        assert.strictEqual(portalTokenFromEnv({ PORTAL_TOKEN: "", PORTAL_TOKEN_FILE: "/f" }, read({ "/f": t })), t);
        assert.strictEqual(portalTokenFromEnv({ PORTAL_TOKEN: `${t}x`, PORTAL_TOKEN_FILE: "/f" }, read({ "/f": t })), `${t}x`);
        assert.throws(() => portalTokenFromEnv({}, read({})), /refusing to serve without authentication/);
        assert.throws(() => portalTokenFromEnv({ PORTAL_TOKEN_FILE: "/f" }, read({ "/f": "\n" })), /refusing/);
        assert.throws(() => portalTokenFromEnv({ PORTAL_TOKEN_FILE: "/f" }, read({ "/f": "short" })), /at least 32/);
        assert.throws(() => portalTokenFromEnv({ PORTAL_TOKEN_FILE: "/missing" }, read({})), /ENOENT/);
        assert.throws(() => portalTokenFromEnv({ PORTAL_TOKEN: `${t}\t${t}` }, read({})), /may contain only/);
    });
});

describe("portal: npm run portal (the service process)", function () {
    this.timeout(60000);

    it("refuses to start without a usable token, says why, never echoes it", async () => {
        // (Each start compiles the service: two processes here, the other rules through portalTokenFromEnv below.)
        for (const [env, re] of [
            [{ PORTAL_TOKEN: "   " }, /PORTAL_TOKEN or PORTAL_TOKEN_FILE\): refusing to serve without authentication/],
            [{ PORTAL_TOKEN: "short-secret-value" }, /18 characters long; it needs at least 32/],
        ] as Array<[Record<string, string>, RegExp]>) {
            const p = start(env, 0);
            assert.strictEqual(await p.exited, 2, p.output());
            assert.match(p.output(), re);
            if (env.PORTAL_TOKEN?.trim()) assert.ok(!p.output().includes(env.PORTAL_TOKEN.trim()), "token not echoed");
        }
    });

    it("reads and trims PORTAL_TOKEN_FILE, then serves the demo team", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-main-"));
        const token = "f".repeat(48);
        fs.writeFileSync(path.join(dir, "token"), `${token}\n`);
        const port = 20000 + Math.floor(Math.random() * 20000);
        const p = start({ PORTAL_TOKEN_FILE: path.join(dir, "token") }, port);
        try {
            const deadline = Date.now() + 45000;
            while (!p.output().includes("listening on")) {
                if (Date.now() > deadline || p.child.exitCode !== null) assert.fail(p.output());
                await new Promise((r) => setTimeout(r, 100));
            }
            const ok = await fetch(`http://127.0.0.1:${port}/teams/demo/envs/dev/gitspaces`, { headers: { authorization: `Bearer ${token}` } });
            assert.strictEqual(ok.status, 200);
            assert.deepStrictEqual(((await ok.json()) as { gitspaces: Array<{ name: string }> }).gitspaces.map((g) => g.name), ["alice", "bob"]);
            const wrong = await fetch(`http://127.0.0.1:${port}/teams/demo/envs/dev/gitspaces`, { headers: { authorization: `Bearer ${token}x` } });
            assert.strictEqual(wrong.status, 401);
            assert.ok(!p.output().includes(token), "the token is not logged");
        } finally {
            p.child.kill("SIGTERM");
            await p.exited;
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
