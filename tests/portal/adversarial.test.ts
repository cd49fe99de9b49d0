/**
 * The HTTP service attacked class by class: look-alike booleans, path encodings, token variants, huge and deep
 * bodies, prototype keys, content types, methods, hostile backends. Each case checks the status, that nothing
 * changed (config values, engine runs), and that the service still answers afterwards.
 */
import * as assert from "assert";
import { createPortalServer, DEFAULT_MAX_BODY_BYTES, GitspaceOperations, MIN_TOKEN_LENGTH, resolvePortalToken } from "../../portal";
import { memoryPortal, rawJson, rawRequest, serve, Served, TOKEN } from "./helpers";

const G = "/teams/platform/envs/dev/gitspaces";

describe("portal: hostile requests", function () {
    this.timeout(60000);
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    beforeEach(async () => {
        mem = await memoryPortal();
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    /** The stack is exactly as before and no engine ran. */
    async function unchanged(fn: () => Promise<void>) {
        const values = structuredClone(mem.stack.values);
        const runs = mem.stack.runs.length;
        await fn();
        assert.deepStrictEqual(mem.stack.values, values, "config unchanged");
        assert.strictEqual(mem.stack.runs.length, runs, "no engine run");
        assert.strictEqual((await served.request("GET", "/healthz")).status, 200, "still serving");
    }

    const LOOK_ALIKES = ["False", "FALSE", "True", "TRUE", "no", "yes", "on", "off", "n", "y", "t", "f", "", "%20", "1%20", "%200", "%091", "1%0D",
        "01", "00", "2", "-1", "+1", "1.0", "0x1", "null", "undefined", "[]", "{}", "０", "１", "true%00", "%20true", "tru%C3%A9", "0%0A",
        "%E0%A4%A", "%", "%zz"];

    it("boolean query look-alikes are a 400 and never purge (DELETE ?purge=…)", async () => {
        for (const v of LOOK_ALIKES) {
            await unchanged(async () => {
                const r = await served.request("DELETE", `${G}/alice?purge=${v}`);
                assert.strictEqual(r.status, 400, `purge=${JSON.stringify(v)}: ${r.text}`);
                assert.strictEqual(r.body.error, "invalid_request");
                assert.deepStrictEqual(r.body.problems.map((p: any) => p.path), ["purge"], v);
            });
        }
    });

    it("showSecrets look-alikes are a 400 and never show the password", async () => {
        for (const v of [...LOOK_ALIKES, "no", "NO", "0%20"]) {
            const r = await served.request("GET", `${G}/alice?showSecrets=${v}`);
            assert.strictEqual(r.status, 400, `showSecrets=${JSON.stringify(v)}`);
            assert.ok(!r.text.includes("pw-alice"), v);
        }
        for (const v of ["0", "false"]) {
            const r = await served.request("GET", `${G}/alice?showSecrets=${v}`);
            assert.strictEqual(r.status, 200);
            assert.strictEqual(r.body.password, undefined, v);
        }
        for (const v of ["1", "true", "%31", "tru%65"]) {
            const r = await served.request("GET", `${G}/alice?showSecrets=${v}`);
            assert.strictEqual(r.body.password, "pw-alice", v);
        }
    });

    it("repeated, empty, bracketed and misspelt boolean keys are a 400 (a typo never means a real run)", async () => {
        for (const q of ["purge=1&purge=1", "purge=0&purge=1", "purge=1&purge=0", "purge", "purge[]=1", "purge[0]=1", "Purge=1", "PURGE=true",
            "dryrun=1", "dryRun=1&dryRun=1", "dry_run=1", "stream=1&stream=0", "targeting=Never", "targeting=", "targeting=auto&targeting=never",
            "__proto__=1", "constructor=1", "purge=1&__proto__[purge]=1", "purge=%E0%A4%A"]) {
            await unchanged(async () => {
                const r = await served.request("DELETE", `${G}/alice?${q}`);
                assert.strictEqual(r.status, 400, `${q}: ${r.status} ${r.text}`);
            });
        }
    });

    it("the exact spellings work: true/1 purge, false/0 remove and keep the home (dry runs)", async () => {
        for (const [v, operation] of [["true", "purge"], ["1", "purge"], ["false", "remove"], ["0", "remove"]]) {
            await unchanged(async () => {
                const r = await served.request("DELETE", `${G}/alice?purge=${v}&dryRun=true`);
                assert.strictEqual(r.status, 200, r.text);
                assert.strictEqual(r.body.operation, operation, v);
                assert.strictEqual(r.body.dryRun, true);
                mem.stack.runs.splice(-1 - (operation === "purge" ? 1 : 0));
            });
        }
        const real = await served.request("DELETE", `${G}/carol?purge=0`);
        assert.strictEqual(real.body.operation, "remove");
    });

    it("malformed percent-escapes in the path are a 400 (with or without a token), never a 500", async () => {
        const bad = ["%", "%E0%A4%A", "%zz", "%C0%AF", "%ED%A0%80", "%FF", "%E2%82", "a%", "%%", "%u0041", "%0"];
        for (const seg of bad) {
            for (const path of [`/teams/${seg}/envs/dev/gitspaces`, `/teams/platform/envs/${seg}/gitspaces`, `${G}/${seg}`, `${G}/${seg}/stop`, `/${seg}`]) {
                for (const authorization of [`Bearer ${TOKEN}`, ""]) {
                    const r = await rawRequest(served.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: ${authorization}\r\nconnection: close\r\n\r\n`);
                    assert.ok(r.status === 400 || r.status === 404 || r.status === 405, `${path} → ${r.status}`);
                    assert.notStrictEqual(r.status, 500);
                    if (path.startsWith("/teams")) assert.strictEqual(r.status, 400, `${path} → ${r.status}`);
                }
            }
        }
        assert.strictEqual(mem.stack.runs.length, 1);
    });

    it("path encodings: slashes, NULs, dots, case, look-alike letters and overlong names never reach a stack", async () => {
        const extra = await mem.addStack("my-team-dev", { ...mem.stack.values, team: "my-team" });
        for (const [path, status] of [
            ["/teams/my/envs/team-dev/gitspaces", 400], // would join to my-team-dev
            ["/teams/my-team/envs/dev/gitspaces", 200],
            ["/teams/my%2Dteam/envs/dev/gitspaces", 200], // %2D is '-': the same, valid name
            ["/teams/my%2Fteam/envs/dev/gitspaces", 400],
            ["/teams/my-team/envs/de%2Fv/gitspaces", 400],
            ["/teams/my-team/envs/dev%00/gitspaces", 400],
            ["/teams/my-team/envs/dev%0A/gitspaces", 400],
            ["/teams/%2E%2E/envs/dev/gitspaces", 400],
            ["/teams/../envs/dev/gitspaces", 400],
            ["/teams/my-team/envs/./gitspaces", 400],
            ["/teams/My-Team/envs/dev/gitspaces", 400],
            ["/teams/my-team/envs/Dev/gitspaces", 400],
            ["/teams/my-te%D0%B0m/envs/dev/gitspaces", 400], // Cyrillic а
            ["/teams/-my/envs/dev/gitspaces", 400],
            ["/teams/my-/envs/dev/gitspaces", 400],
            ["/teams/my-team/envs/dev-/gitspaces", 400],
            ["/teams/my-team/envs/d_v/gitspaces", 400],
            [`/teams/${"a".repeat(64)}/envs/dev/gitspaces`, 400],
            [`/teams/my-team/envs/${"e".repeat(37)}/gitspaces`, 400],
            ["/teams/my-team/envs/dev/gitspaces/", 200],
            ["//teams/my-team/envs/dev/gitspaces", 404],
            ["/teams/my-team/envs/dev/gitspaces/alice%2Fstop", 404],
            ["/teams/my-team/envs/dev/gitspaces/al%00ice", 404],
        ] as const) {
            // A raw request: fetch would normalise the path (dot segments) before sending it.
            const r = await rawRequest(served.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\nconnection: close\r\n\r\n`);
            assert.strictEqual(r.status, status, `${path}: ${r.text.slice(0, 300)}`);
            if (status === 400) assert.ok(r.text.length < 4000);
        }
        assert.strictEqual(extra.runs.length, 1);
    });

    it("bearer token variants: only `Bearer <token>` (scheme in any case) from exactly one header", async () => {
        const ok = [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN} `];
        const bad = ["", "Bearer", "Bearer ", TOKEN, `Bearer\t${TOKEN}`, `Bearer Bearer ${TOKEN}`, `Bearer ${TOKEN} ${TOKEN}`, `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`,
            `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN.toUpperCase()}`, `Bearer "${TOKEN}"`, `Bearer ${TOKEN},`, `Token ${TOKEN}`,
            `Bearer ${encodeURIComponent(" " + TOKEN)}`, `Bearer%20${TOKEN}`, `Bearer ${TOKEN};`, `Bearer x${TOKEN}`];
        for (const a of ok) {
            const r = await rawRequest(served.url, `GET ${G} HTTP/1.1\r\nhost: x\r\nauthorization: ${a}\r\nconnection: close\r\n\r\n`);
            assert.strictEqual(r.status, 200, JSON.stringify(a));
        }
        for (const a of bad) {
            const r = await rawRequest(served.url, `POST ${G}/alice/stop HTTP/1.1\r\nhost: x\r\nauthorization: ${a}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
            assert.strictEqual(r.status, 401, JSON.stringify(a));
            assert.match(r.text, /www-authenticate: Bearer/i);
        }
        // Two Authorization headers (Node would keep only the first): refused, even when one is right.
        for (const pair of [[`Bearer ${TOKEN}`, "Bearer nope"], ["Bearer nope", `Bearer ${TOKEN}`], [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]]) {
            const r = await rawRequest(served.url, `POST ${G}/alice/stop HTTP/1.1\r\nhost: x\r\nauthorization: ${pair[0]}\r\nAuthorization: ${pair[1]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
            assert.strictEqual(r.status, 401, pair.join(" + "));
        }
        assert.strictEqual(mem.stack.runs.length, 1, "nothing ran");
    });

    it("the service token: trimmed, at least 32 characters, token68 characters; the error never echoes it", () => {
        const long = "k".repeat(MIN_TOKEN_LENGTH);
        assert.strictEqual(resolvePortalToken(`  ${long}\n`), long);
        assert.strictEqual(resolvePortalToken(`${long}==`), `${long}==`);
        for (const [t, re] of [["", /refusing to serve without authentication/], ["   \n\t", /refusing/], [undefined, /refusing/],
            ["k".repeat(MIN_TOKEN_LENGTH - 1), /31 characters long; it needs at least 32/], [` ${"k".repeat(31)} `, /at least 32/],
            [`${long} x`, /may contain only/], [`${long}\u00e9`, /may contain only/], [`${long}"`, /may contain only/], [`=${long}`, /may contain only/],
            [`${long}\u0000`, /may contain only/]] as Array<[string | undefined, RegExp]>) {
            assert.throws(() => resolvePortalToken(t), re, JSON.stringify(t));
            try { resolvePortalToken(t); } catch (e) { if (t && t.trim().length > 3) assert.ok(!(e as Error).message.includes(t.trim()), "not echoed"); }
            assert.throws(() => createPortalServer({ ops: mem.portal, token: t as string }), re);
        }
    });

    it("a server started with a padded token accepts the trimmed token", async () => {
        const s = await serve(mem.portal, `\n  ${TOKEN}  \n`);
        try {
            const r = await fetch(`${s.url}${G}`, { headers: { authorization: `Bearer ${TOKEN}` } });
            assert.strictEqual(r.status, 200);
        } finally {
            await s.close();
        }
    });

    /** A server with a 4 MiB body limit, so that huge bodies reach the library's own limits. */
    async function withBigLimit(fn: (s: Served) => Promise<void>) {
        const s = await serve(mem.portal, TOKEN, { maxBodyBytes: 4 << 20 });
        try { await fn(s); } finally { await s.close(); }
    }

    it("deep nesting (arrays, objects, mixed) is a 400 naming where, never a 500", async () => {
        for (const depth of [18, 20, 100, 1000, 5000, 100000]) {
            for (const [label, body] of [
                ["array", "[".repeat(depth) + "]".repeat(depth)],
                ["object", '{"a":'.repeat(depth) + "1" + "}".repeat(depth)],
                ["in a field", '{"name":"zed","repos":' + "[".repeat(depth) + "]".repeat(depth) + "}"],
                ["in the patch", '{"resources":' + '{"requests":'.repeat(depth) + "1" + "}".repeat(depth + 1)],
            ]) {
                const [method, path] = label === "in the patch" ? ["PATCH", `${G}/alice`] : ["POST", G];
                await unchanged(async () => {
                    const r = await served.request(method, path, body);
                    if (body.length > DEFAULT_MAX_BODY_BYTES) return assert.strictEqual(r.status, 413, `${label} ${depth}`);
                    assert.strictEqual(r.status, 400, `${label} depth ${depth}: ${r.status} ${r.text.slice(0, 200)}`);
                    assert.match(r.body.problems[0].message, /nested deeper than 16 levels|too many values/);
                });
                await unchanged(() => withBigLimit(async (s) => {
                    const r = await s.request(method, path, body);
                    assert.strictEqual(r.status, 400, `${label} depth ${depth} (4 MiB limit): ${r.status} ${r.text.slice(0, 200)}`);
                    assert.match(r.body.problems[0].message, /nested deeper than 16 levels|too many values/);
                }));
            }
        }
    });

    it("huge bodies: 150,000 items, 60,000 keys, long strings, thousands of bad entries: a small 400 with capped problems", async () => {
        const cases: Array<[string, unknown]> = [
            ["150k keys in a list", { name: "zed", sshPublicKeys: Array(150000).fill("x") }],
            ["150k numbers", Array(150000).fill(0)],
            ["60k keys", Object.fromEntries(Array.from({ length: 60000 }, (_, i) => [`k${i}`, 1]))],
            ["long name", { name: "x".repeat(900000) }],
            ["long key", { ["k".repeat(20000)]: 1 }],
            ["600 bad repos", { name: "zed", repos: Array.from({ length: 600 }, (_, i) => ({ url: `ftp://h/${i}`, branch: `..${"b".repeat(100)}` })) }],
            ["1,900 bad keys", { name: "zed", sshPublicKeys: Array(1900).fill("not a key") }],
            ["30,000 bad keys", { name: "zed", sshPublicKeys: Array(30000).fill("not a key") }],
            ["bad entries with long strings", { name: "zed", repos: Array.from({ length: 60 }, () => ({ url: "https://h/r.git", branch: `..${"b".repeat(15000)}` })) }],
        ];
        for (const [label, body] of cases) {
            // The default limit refuses what is too big to be a developer entry before parsing it …
            if (JSON.stringify(body).length > DEFAULT_MAX_BODY_BYTES) {
                await unchanged(async () => assert.strictEqual((await served.request("POST", G, body)).status, 413, label));
            }
            // … and the library's own limits hold for whatever reaches it (here through a 4 MiB limit).
            await unchanged(() => withBigLimit(async (s) => {
                const r = await s.request("POST", G, body);
                assert.strictEqual(r.status, 400, `${label}: ${r.status}`);
                assert.ok(r.text.length < 20000, `${label}: reply of ${r.text.length} bytes`);
                assert.ok(r.body.problems.length <= 20, label);
                assert.ok(r.body.total >= r.body.problems.length, label);
                for (const p of r.body.problems) assert.ok(p.message.length <= 400 && p.path.length <= 300, label);
            }));
        }
        const many = await served.request("POST", G, { name: "zed", sshPublicKeys: Array(1900).fill("not a key") });
        assert.strictEqual(many.body.total, 1900);
        assert.match(many.body.message, /1900 problems, the first 20 shown/);
    });

    it("an oversized body gets its 413 delivered (fetch and raw sockets, content-length and chunked)", async () => {
        for (const size of [DEFAULT_MAX_BODY_BYTES + 1, 8 << 20, 64 << 20]) {
            const r = await served.request("POST", G, `{"name":"${"x".repeat(size)}"}`);
            assert.strictEqual(r.status, 413, `fetch ${size}`);
            assert.strictEqual(r.body.error, "body_too_large");
            assert.strictEqual(r.headers.get("x-content-type-options"), "nosniff");
        }
        const big = Buffer.alloc(16 << 20, "a");
        for (const framing of ["content-length", "chunked"]) {
            const head = `POST ${G} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\n` +
                (framing === "chunked" ? `transfer-encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n` : `content-length: ${big.length}\r\n\r\n`);
            const r = await rawRequest(served.url, head, big);
            assert.strictEqual(r.status, 413, `${framing}: ${r.text.slice(0, 100)} ${r.error ?? ""}`);
            assert.strictEqual(rawJson(r.text).error, "body_too_large");
        }
        // Unauthenticated: refused before the body is read.
        const anon = await rawRequest(served.url, `POST ${G} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${big.length}\r\n\r\n`, big);
        assert.strictEqual(anon.status, 401);
        assert.strictEqual(mem.stack.runs.length, 1);
    });

    it("prototype keys anywhere in a POST or PATCH body are refused whole; nothing is half-applied", async () => {
        const pollutions = [
            '{"__proto__": {"running": false}}',
            '{"storage": "20Gi", "__proto__": {"retainHome": false}}',
            '{"git": {"__proto__": {"token": "x"}}}',
            '{"resources": {"requests": {"__proto__": {"cpu": "1"}}, "limits": {"cpu": "2", "memory": "4Gi"}}}',
            '{"repos": [{"url": "https://h/r.git", "__proto__": {"name": "x"}}]}',
            '{"constructor": {"prototype": {"running": false}}}',
            '{"constructor": "x"}',
            '{"prototype": {"running": false}}',
            '{"user": {"constructor": {"name": "x"}}}',
            '{"__pro\\u0074o__": {"running": false}}',
            '{"storage": "20Gi", "storage": "30Gi", "__proto__": null}',
        ];
        for (const body of pollutions) {
            for (const [method, path, b] of [["PATCH", `${G}/alice`, body], ["POST", G, body.replace(/^\{/, '{"name": "zed", ')]]) {
                await unchanged(async () => {
                    const r = await served.request(method, path, b);
                    assert.strictEqual(r.status, 400, `${method} ${b}: ${r.status} ${r.text.slice(0, 200)}`);
                    assert.match(r.body.problems[0].message, /is not allowed/);
                });
            }
        }
        assert.strictEqual(({} as Record<string, unknown>).running, undefined, "Object.prototype untouched");
        assert.strictEqual(({} as Record<string, unknown>).retainHome, undefined);
    });

    it("content types: only JSON (and merge-patch+json) bodies; others 415, nothing changed", async () => {
        for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/xml",
            "text/json", "application/json-seq", "application/*", "*/*"]) {
            await unchanged(async () => {
                const r = await served.request("PATCH", `${G}/alice`, '{"running": false}', { "content-type": type });
                assert.strictEqual(r.status, 415, `${type}: ${r.status}`);
                assert.strictEqual(r.body.error, "unsupported_media_type");
            });
        }
        const noType = await rawRequest(served.url, `PATCH ${G}/alice HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 18\r\nconnection: close\r\n\r\n{"running": false}`);
        assert.strictEqual(noType.status, 415);
        for (const type of ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"]) {
            const r = await served.request("PATCH", `${G}/alice?dryRun=1`, '{"running": false}', { "content-type": type });
            assert.strictEqual(r.status, 200, `${type}: ${r.text.slice(0, 200)}`);
        }
        for (const body of ["", "   ", "null", "1", '"x"', "[]", "{", '{"a":1}x', "\u0000", "{'a':1}"]) {
            await unchanged(async () => {
                const r = await served.request("POST", G, body, { "content-type": "application/json" });
                assert.strictEqual(r.status, 400, JSON.stringify(body));
            });
        }
    });

    it("methods: 405 with Allow for every path's other methods, OPTIONS 204 with Allow, HEAD like GET without a body", async () => {
        const paths: Record<string, string> = {
            [G]: "GET, HEAD, POST, OPTIONS", [`${G}/alice`]: "GET, HEAD, PATCH, DELETE, OPTIONS", [`${G}/alice/stop`]: "POST, OPTIONS",
            [`${G}/alice/start`]: "POST, OPTIONS", "/openapi.json": "GET, HEAD, OPTIONS", "/": "GET, HEAD, OPTIONS", "/healthz": "GET, HEAD, OPTIONS",
        };
        for (const [path, allow] of Object.entries(paths)) {
            const allowed = allow.split(", ");
            for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND", "SEARCH", "LOCK"]) {
                if (allowed.includes(method)) continue;
                const r = await rawRequest(served.url, `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
                assert.strictEqual(r.status, 405, `${method} ${path}: ${r.text.slice(0, 80)}`);
                assert.match(r.text, new RegExp(`\\r\\nallow: ${allow}\\r\\n`, "i"), `${method} ${path}`);
                assert.match(r.text, /x-content-type-options: nosniff/i);
            }
            const options = await served.request("OPTIONS", path, undefined, { authorization: "" });
            assert.strictEqual(options.status, 204, path);
            assert.strictEqual(options.headers.get("allow"), allow, path);
        }
        for (const path of [G, `${G}/alice`, "/openapi.json", "/", "/healthz"]) {
            const get = await served.request("GET", path);
            const head = await served.request("HEAD", path);
            assert.strictEqual(head.status, 200, path);
            assert.strictEqual(head.text, "");
            assert.strictEqual(head.headers.get("content-type"), get.headers.get("content-type"), path);
        }
        assert.strictEqual((await served.request("HEAD", G, undefined, { authorization: "" })).status, 401);
        assert.strictEqual((await served.request("PUT", "/nothing")).status, 404);
        assert.strictEqual(mem.stack.runs.length, 1);
    });

    it("headers: oversized (431), many, control-character and duplicated content-length requests never reach the backend", async () => {
        const huge = await rawRequest(served.url, `GET ${G} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\nx-big: ${"a".repeat(20000)}\r\n\r\n`);
        assert.strictEqual(huge.status, 431);
        assert.strictEqual(rawJson(huge.text).error, "headers_too_large");
        const many = await rawRequest(served.url, `GET ${G} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n${Array.from({ length: 3000 }, (_, i) => `x-${i}: y\r\n`).join("")}\r\n`);
        assert.ok(many.status === 431 || many.status === 400, String(many.status));
        for (const head of [
            `POST ${G}/alice/stop HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 0\r\ncontent-length: 5\r\n\r\n`,
            `POST ${G}/alice/stop HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\ncontent-length: 0\r\n\r\n0\r\n\r\n`,
            `GET ${G} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\u0001\r\n\r\n`,
            `GET ${G}\u0000 HTTP/1.1\r\nhost: x\r\n\r\n`,
            `GET ${G} HTTP/9.9\r\nhost: x\r\n\r\n`,
        ]) {
            const r = await rawRequest(served.url, head);
            assert.ok(r.status === 400 || r.status === 401 || r.status === 505 || r.status === 0, `${JSON.stringify(head.slice(0, 60))} → ${r.status}`);
        }
        assert.strictEqual(mem.stack.runs.length, 1);
        assert.strictEqual((await served.request("GET", "/healthz")).status, 200);
    });
});

describe("portal: a hostile backend never crashes the service", function () {
    this.timeout(30000);
    const weird: Array<[string, () => unknown]> = [
        ["a string", () => "boom /etc/shadow USER=ops"],
        ["undefined", () => undefined],
        ["null", () => null],
        ["a number", () => 42],
        ["a bigint", () => BigInt(7)],
        ["a symbol", () => Symbol("s")],
        ["a null-prototype object", () => Object.create(null)],
        ["an object whose toString throws", () => ({ toString() { throw new Error("no"); } })],
        ["a Proxy that throws on every trap", () => new Proxy({}, { get() { throw new Error("get"); }, getPrototypeOf() { throw new Error("proto"); }, has() { throw new Error("has"); }, ownKeys() { throw new Error("keys"); } })],
        ["an Error whose message getter throws", () => { const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("m"); } }); Object.defineProperty(e, "stack", { get() { throw new Error("s"); } }); return e; }],
        ["an Error with paths and environment values in its message", () => new Error("ENOENT: open '/home/ops/.pulumi/stacks/x.json' (HOME=/home/ops)")],
        ["an array", () => [1, 2]],
        ["a rejected promise", () => Promise.reject(new Error("inner"))],
    ];

    function hostile(value: () => unknown, events = false): GitspaceOperations {
        const fail = async (_r: unknown, _d?: unknown, _b?: unknown, opts?: { onEvent?: (e: never) => void }) => {
            if (events) opts?.onEvent?.({ type: "started" } as never);
            throw value();
        };
        return {
            list: async () => { throw value(); }, get: async () => { throw value(); },
            add: (r, b, o) => fail(r, undefined, b, o as never), update: (r, d, b, o) => fail(r, d, b, o as never),
            stop: (r, d, o) => fail(r, d, undefined, o as never), start: (r, d, o) => fail(r, d, undefined, o as never), remove: (r, d, o) => fail(r, d, undefined, o as never),
        };
    }

    it("every kind of thrown value is a generic 500 with a request id; the detail goes to the log only", async () => {
        for (const events of [false, true]) {
            for (const [label, value] of weird) {
                const s = await serve(hostile(value, events));
                try {
                    for (const [method, path] of [["GET", G], ["GET", `${G}/a`], ["POST", `${G}/a/stop`], ["POST", `${G}/a/stop?stream=1`], ["DELETE", `${G}/a?purge=1`]]) {
                        const r = await s.request(method, path);
                        if (path.includes("stream") && events) {
                            assert.strictEqual(r.status, 200, label);
                            const last = r.text.trim().split("\n\n").at(-1)!;
                            assert.match(last, /^event: error\ndata: /, label);
                            const data = JSON.parse(last.split("data: ")[1]);
                            assert.strictEqual(data.status, 500);
                            assert.strictEqual(data.error, "internal");
                            assert.ok(!r.text.includes("/etc/") && !r.text.includes("/home/ops"), label);
                            continue;
                        }
                        assert.strictEqual(r.status, 500, `${label}: ${method} ${path}`);
                        assert.strictEqual(r.body.error, "internal");
                        assert.match(r.body.message, /^internal error; the service log has the detail under request id [0-9a-f-]{36}$/);
                        assert.strictEqual(r.headers.get("x-request-id"), r.body.requestId);
                        assert.ok(!r.text.includes("USER=ops") && !r.text.includes("/etc/") && !r.text.includes("/home/ops"), label);
                        assert.ok(s.logs.some((l) => l.startsWith("error ") && l.includes(r.body.requestId)), `${label}: logged under its id`);
                    }
                    assert.strictEqual((await s.request("GET", "/healthz")).status, 200, `${label}: still serving`);
                } finally {
                    await s.close();
                }
            }
        }
        const detail = (await (async () => {
            const s = await serve(hostile(weird[10][1]));
            try { await s.request("GET", G); return s.logs.join("\n"); } finally { await s.close(); }
        })());
        assert.match(detail, /ENOENT: open '\/home\/ops\/\.pulumi\/stacks\/x\.json'/, "the detail is in the log");
    });
});

describe("portal: the real orchestration over an engine that rejects with non-Errors", () => {
    it("each operation fails with a 500, the queue and the service go on, the config change is kept as for any failed run", async () => {
        const mem = await memoryPortal();
        const s = await serve(mem.portal);
        try {
            const up = mem.stack.up.bind(mem.stack);
            for (const value of [undefined, null, "string", 0, Object.create(null), new Proxy({}, { getPrototypeOf() { throw new Error("x"); } })]) {
                mem.stack.up = async () => { throw value; };
                const r = await s.request("POST", `${G}/alice/stop`);
                assert.strictEqual(r.status, 500, String(r.text));
                assert.strictEqual(r.body.error, "internal");
                const streamed = await s.request("POST", `${G}/alice/start?stream=1`);
                assert.match(streamed.text.trim().split("\n\n").at(-1)!, /^event: error\ndata: \{"status":500,"error":"internal"/);
            }
            mem.stack.up = up;
            const ok = await s.request("POST", `${G}/alice/stop`);
            assert.strictEqual(ok.status, 200, "the stack's queue is not stuck");
            assert.strictEqual(ok.body.gitspace.status, "stopped");
        } finally {
            await s.close();
        }
    });
});

describe("portal: racing requests on one stack", () => {
    it("concurrent stop/start/patch/purge/add of the same developer run one at a time: no 500, one audit line each, a valid config", async () => {
        const mem = await memoryPortal();
        mem.stack.options.delayMs = 5;
        const s = await serve(mem.portal);
        let running = 0, most = 0;
        for (const kind of ["up", "preview"] as const) {
            const original = mem.stack[kind].bind(mem.stack) as (o: never) => Promise<never>;
            (mem.stack as unknown as Record<string, unknown>)[kind] = async (o: never) => {
                most = Math.max(most, ++running);
                try { return await original(o); } finally { running--; }
            };
        }
        try {
            const requests: Array<[string, string, unknown?]> = [];
            for (let i = 0; i < 4; i++) {
                requests.push(["POST", `${G}/alice/stop`], ["PATCH", `${G}/alice`, { storage: `${20 + i}Gi` }], ["POST", `${G}/alice/start?stream=1`],
                    ["DELETE", `${G}/alice?purge=1`], ["POST", G, { name: "alice" }], ["DELETE", `${G}/bob?dryRun=1`]);
            }
            const results = await Promise.all(requests.map(([m, u, b]) => s.request(m, u, b)));
            results.forEach((r, i) => assert.ok([200, 201, 404, 409].includes(r.status), `${requests[i][0]} ${requests[i][1]} → ${r.status} ${r.text.slice(0, 200)}`));
            assert.ok(!results.some((r) => r.text.includes("\"status\":500")), "no 500 inside a stream either");
            assert.strictEqual(s.logs.filter((l) => l.startsWith("audit ")).length, requests.length);
            // Whatever the order, the stack's config is valid and the engine ran one update at a time.
            const { validate } = await import("../../portal");
            validate(await mem.stack.readConfig());
            assert.strictEqual(most, 1, "one engine run at a time");
            assert.strictEqual((await s.request("GET", G)).status, 200);
        } finally {
            await s.close();
        }
    });
});
