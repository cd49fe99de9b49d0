import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { memoryPortal, serve, Served, TOKEN } from "./helpers";

const G = "/teams/platform/envs/dev/gitspaces";
const audits = (s: Served) => s.logs.filter((l) => l.startsWith("audit ")).map((l) => JSON.parse(l.substring(6)));

async function until(cond: () => boolean, ms = 5000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) throw new Error("timed out waiting");
        await new Promise((r) => setTimeout(r, 20));
    }
}

describe("portal: audit log and response headers", () => {
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    beforeEach(async () => {
        mem = await memoryPortal();
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    it("one audit line per mutation with its outcome: ok, failed, dry run", async () => {
        await served.request("POST", `${G}/alice/stop`);
        await served.request("POST", `${G}/zoe/stop`);
        await served.request("DELETE", `${G}/bob?dryRun=1&purge=1`);
        await served.request("POST", G, { name: "Bad" });
        await served.request("GET", G);
        const a = audits(served);
        assert.strictEqual(a.length, 4, "GETs are not audited; every mutation is, once");
        assert.deepStrictEqual(a.map((x) => [x.operation, x.developer, x.outcome, x.status, x.error, x.dryRun, x.client]), [
            ["stopGitspace", "alice", "ok", 200, undefined, false, "connected"],
            ["stopGitspace", "zoe", "failed", 404, "developer_not_found", false, "connected"],
            ["removeGitspace", "bob", "ok", 200, undefined, true, "connected"],
            ["addGitspace", "Bad", "failed", 400, "invalid_config", false, "connected"],
        ]);
        assert.strictEqual(a[2].purge, true);
        for (const x of a) assert.match(x.id, /^[0-9a-f-]{36}$/);
    });

    it("a mutation whose client disconnects is still carried out and logged with its outcome", async () => {
        mem.stack.options.delayMs = 300;
        for (const q of ["", "?stream=1"]) {
            const before = audits(served).length;
            const abort = new AbortController();
            const pending = fetch(`${served.url}${G}/alice/${q ? "start" : "stop"}${q}`, {
                method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal,
            }).then((r) => r.text()).catch((e) => e);
            await new Promise((r) => setTimeout(r, 80));
            abort.abort();
            await pending;
            await until(() => audits(served).length > before);
            const line = audits(served).at(-1)!;
            assert.strictEqual(line.outcome, "ok", q);
            assert.strictEqual(line.client, "disconnected", q);
            assert.strictEqual(line.operation, q ? "startGitspace" : "stopGitspace");
        }
        assert.strictEqual((await served.request("GET", `${G}/alice`)).body.running, true, "both operations ran");
    });

    it("the page has a CSP (its own inline script and style by hash, no framing) and nosniff; so has every API reply", async () => {
        const page = await served.request("GET", "/", undefined, { authorization: "" });
        const csp = page.headers.get("content-security-policy")!;
        const html = fs.readFileSync(path.join(__dirname, "..", "..", "portal", "static", "index.html"), "utf8");
        const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
        assert.ok(csp.includes(`script-src 'sha256-${createHash("sha256").update(script).digest("base64")}'`), csp);
        for (const d of ["default-src 'none'", "frame-ancestors 'none'", "connect-src 'self'", "base-uri 'none'"]) assert.ok(csp.includes(d), d);
        assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"));
        assert.strictEqual(page.headers.get("x-frame-options"), "DENY");
        for (const [method, p, auth] of [["GET", "/", ""], ["GET", G, "y"], ["GET", G, ""], ["GET", `${G}/zoe`, "y"], ["PUT", G, "y"], ["GET", "/nothing", ""],
            ["GET", `${G}?x=1`, "y"], ["GET", "/openapi.json", ""], ["POST", `${G}/bob/stop?stream=1`, "y"], ["OPTIONS", G, ""], ["HEAD", G, "y"]]) {
            const r = await served.request(method, p, undefined, auth ? {} : { authorization: "" });
            assert.strictEqual(r.headers.get("x-content-type-options"), "nosniff", `${method} ${p} ${r.status}`);
            assert.match(r.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, `${method} ${p}`);
            assert.strictEqual(r.headers.get("cache-control"), "no-store", `${method} ${p}`);
        }
    });

    it("a request must arrive within 30 s (slow clients do not hold connections); headers within Node's limit", () => {
        assert.strictEqual(served.app.server.requestTimeout, 30000);
        assert.ok(served.app.server.headersTimeout > 0 && served.app.server.headersTimeout <= 60000);
    });

    it("a client-sent request id is not trusted (ids are the service's own)", async () => {
        const r = await served.request("GET", G, undefined, { "x-request-id": "evil\" injected" });
        assert.notStrictEqual(r.headers.get("x-request-id"), "evil\" injected");
        assert.ok(!served.logs.join("\n").includes("injected"));
    });
});
