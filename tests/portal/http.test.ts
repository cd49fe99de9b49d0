import * as assert from "assert";
import {
    createPortalServer, DeveloperNotFoundError, GitspaceOperations, MemoryLiveBackend, openApiDocument, ROUTES, StackBusyError,
} from "../../portal";
import { memoryPortal, parseSse, serve, Served, TOKEN } from "./helpers";

const G = "/teams/platform/envs/dev/gitspaces";

describe("portal: HTTP service (in-memory implementation)", () => {
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    beforeEach(async () => {
        mem = await memoryPortal({ live: new MemoryLiveBackend() });
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    it("refuses to be created without a token", () => {
        assert.throws(() => createPortalServer({ ops: mem.portal, token: "" }), /refusing to serve without authentication/);
    });

    it("401 without or with a wrong bearer token, on every data route", async () => {
        for (const r of ROUTES.filter((x) => x.auth)) {
            const path = r.path.replace("{team}", "platform").replace("{env}", "dev").replace("{developer}", "alice");
            const none = await served.request(r.method, path, undefined, { authorization: "" });
            assert.strictEqual(none.status, 401, `${r.method} ${path}`);
            assert.strictEqual(none.headers.get("www-authenticate"), "Bearer");
            const wrong = await served.request(r.method, path, undefined, { authorization: "Bearer nope" });
            assert.strictEqual(wrong.status, 401);
        }
        assert.strictEqual(mem.stack.runs.length, 1, "nothing ran (only the initial deploy)");
    });

    it("GET list and one developer; 404 for unknown developer, stack and route", async () => {
        const list = await served.request("GET", G);
        assert.strictEqual(list.status, 200);
        assert.deepStrictEqual(list.body.gitspaces.map((g: any) => [g.name, g.status]), [["alice", "running"], ["bob", "running"], ["carol", "stopped"]]);
        const bob = await served.request("GET", `${G}/bob`);
        assert.strictEqual(bob.status, 200);
        assert.strictEqual(bob.body.config.git.token, "[secret]");
        assert.strictEqual((await served.request("GET", `${G}/zoe`)).body.error, "developer_not_found");
        assert.strictEqual((await served.request("GET", `${G}/zoe`)).status, 404);
        assert.strictEqual((await served.request("GET", "/teams/nope/envs/dev/gitspaces")).status, 404);
        assert.strictEqual((await served.request("POST", `${G}/zoe/stop`)).status, 404);
        assert.strictEqual((await served.request("GET", "/nothing")).status, 404);
        assert.strictEqual((await served.request("PUT", G)).status, 405);
    });

    it("POST adds (201 + Location), PATCH updates, stop/start, DELETE removes", async () => {
        const add = await served.request("POST", G, { name: "erin", ide: "vs_code_web", git: { username: "erin", token: "tok-erin" } });
        assert.strictEqual(add.status, 201, add.text);
        assert.strictEqual(add.headers.get("location"), `${G}/erin`);
        assert.strictEqual(add.body.gitspace.status, "running");
        assert.strictEqual(add.body.targeted, true);
        assert.ok(!add.text.includes("tok-erin"), "the token is never echoed");
        assert.ok(mem.stack.secretPaths.has("gitspace:developers[3].git.token"));
        assert.strictEqual((await served.request("POST", G, { name: "erin" })).status, 409);
        const patch = await served.request("PATCH", `${G}/erin`, { storage: "20Gi" });
        assert.strictEqual(patch.status, 200);
        assert.strictEqual(patch.body.gitspace.config.storage, "20Gi");
        assert.strictEqual((await served.request("POST", `${G}/erin/stop`)).body.gitspace.status, "stopped");
        assert.strictEqual((await served.request("POST", `${G}/erin/start`)).body.gitspace.status, "running");
        const del = await served.request("DELETE", `${G}/erin`);
        assert.strictEqual(del.status, 200);
        assert.strictEqual(del.body.operation, "remove");
        assert.strictEqual((await served.request("GET", `${G}/erin`)).status, 404);
        const dry = await served.request("DELETE", `${G}/alice?dryRun=1`);
        assert.strictEqual(dry.status, 200);
        assert.deepStrictEqual(dry.body.steps.map((s: any) => s.op), ["delete"]);
        assert.strictEqual((await served.request("GET", `${G}/alice`)).status, 200);
    });

    it("400 with field paths for bad bodies, bad JSON, bad names", async () => {
        const bad = await served.request("POST", G, { name: "Erin", ide: "vscod", storage: 5 });
        assert.strictEqual(bad.status, 400);
        assert.strictEqual(bad.body.error, "invalid_config");
        assert.deepStrictEqual(bad.body.problems.map((p: any) => p.path).sort(),
            ["gitspace:developers[3].ide", "gitspace:developers[3].name", "gitspace:developers[3].storage"]);
        const patch = await served.request("PATCH", `${G}/bob`, { sshPublicKeys: ["not a key"] });
        assert.strictEqual(patch.status, 400);
        assert.deepStrictEqual(patch.body.problems.map((p: any) => p.path), ["gitspace:developers[1].sshPublicKeys[0]"]);
        const json = await served.request("POST", G, "{not json");
        assert.strictEqual(json.status, 400);
        assert.deepStrictEqual(json.body.problems.map((p: any) => p.path), ["body"]);
        assert.strictEqual((await served.request("POST", G)).status, 400);
        const array = await served.request("POST", G, [1, 2]);
        assert.deepStrictEqual(array.body.problems.map((p: any) => p.path), ["gitspace:developers[3]"]);
        const name = await served.request("GET", "/teams/Platform/envs/dev/gitspaces");
        assert.strictEqual(name.status, 400);
        assert.deepStrictEqual(name.body.problems.map((p: any) => p.path), ["team"]);
    });

    it("409 when the stack stays busy; 502 with the failed resource when the update fails", async () => {
        mem.stack.options.busyRuns = 10;
        const busy = await served.request("POST", `${G}/alice/stop`);
        assert.strictEqual(busy.status, 409);
        assert.strictEqual(busy.body.error, "stack_busy");
        mem.stack.options.busyRuns = 0;
        mem.stack.options.failDeveloper = { name: "alice", message: "ImagePullBackOff" };
        const failed = await served.request("POST", `${G}/alice/stop`);
        assert.strictEqual(failed.status, 502);
        assert.strictEqual(failed.body.failures[0].name, "alice-deployment");
        assert.strictEqual(failed.body.failures[0].message, "ImagePullBackOff");
    });

    it("?stream=1: progress as server-sent events, then the result", async () => {
        const res = await served.request("POST", `${G}/bob/stop?stream=1`);
        assert.strictEqual(res.status, 200);
        assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
        const events = parseSse(res.text);
        assert.deepStrictEqual(events.map((e) => e.event), ["progress", "progress", "progress", "progress", "progress", "result"]);
        assert.deepStrictEqual(events.slice(0, 5).map((e) => e.data.type), ["started", "config", "resource", "resource", "summary"]);
        assert.strictEqual(events[0].data.targeted, true);
        const result = events.at(-1)!.data;
        assert.strictEqual(result.status, 200);
        assert.strictEqual(result.body.gitspace.status, "stopped");
        // Errors before the first event keep their status code; errors after it are an `error` event.
        assert.strictEqual((await served.request("POST", `${G}/bob/stop?stream=1`, undefined)).status, 200);
        const notFound = await served.request("POST", `${G}/zoe/stop?stream=1`);
        assert.strictEqual(notFound.status, 404);
        mem.stack.options.busyRuns = 10;
        const busy = parseSse((await served.request("POST", `${G}/bob/start`, undefined, { accept: "text/event-stream" })).text);
        assert.deepStrictEqual(busy.map((e) => e.data.type ?? e.event), ["started", "config", "retry", "retry", "error"]);
        assert.strictEqual(busy.at(-1)!.data.status, 409);
    });

    it("the OpenAPI document lists every route the server serves, with its methods", async () => {
        const res = await served.request("GET", "/openapi.json", undefined, { authorization: "" });
        assert.strictEqual(res.status, 200);
        assert.strictEqual(res.body.openapi, "3.1.0");
        const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
            .flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`)).sort();
        assert.deepStrictEqual(documented, ROUTES.map((r) => `${r.method} ${r.path}`).sort());
        for (const expected of [
            "GET /teams/{team}/envs/{env}/gitspaces", "POST /teams/{team}/envs/{env}/gitspaces",
            "GET /teams/{team}/envs/{env}/gitspaces/{developer}", "PATCH /teams/{team}/envs/{env}/gitspaces/{developer}",
            "DELETE /teams/{team}/envs/{env}/gitspaces/{developer}", "POST /teams/{team}/envs/{env}/gitspaces/{developer}/stop",
            "POST /teams/{team}/envs/{env}/gitspaces/{developer}/start", "GET /openapi.json", "GET /",
        ]) assert.ok(documented.includes(expected), expected);
        // Every documented route is served (no 404/405 for its path and method).
        for (const r of ROUTES) {
            let path = r.path.replace("{team}", "platform").replace("{env}", "dev").replace("{developer}", "alice");
            if (r.id === "watchGitspaces") {
                // An event stream that never ends: the status and the first event, then hang up.
                const ac = new AbortController();
                const res = await fetch(served.url + path, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal });
                assert.strictEqual(res.status, 200, `${r.method} ${r.path}`);
                const first = new TextDecoder().decode((await res.body!.getReader().read()).value);
                assert.match(first, /^event: status\ndata: \{"developer":"alice"/);
                ac.abort();
                continue;
            }
            if (r.id === "createStack" || r.id === "deleteStack") {
                // A stack of its own: created, then deleted (ROUTES lists create before delete).
                const scratch = path.replace("/envs/dev", "/envs/scratch");
                const body = r.id === "createStack" ? { domain: "gitspace.localtest.me", images: { registry: "r.example/x", build: false }, developers: [{ name: "zed" }] } : undefined;
                const res = await served.request(r.method, scratch, body);
                assert.ok(res.status < 300, `${r.method} ${r.path} → ${res.status} ${res.text}`);
                continue;
            }
            if (path.includes("{operationId}")) {
                // Cancel needs a queued request: one running, one waiting behind it.
                mem.stack.options.delayMs = 50;
                const running = mem.portal.stop({ team: "platform", env: "dev" }, "carol");
                while (!(await mem.portal.operations({ team: "platform", env: "dev" })).some((o) => o.state === "running")) await new Promise((res) => setTimeout(res, 2));
                const queued = mem.portal.start({ team: "platform", env: "dev" }, "carol", { operationId: "op-queued" }).catch((e) => e);
                path = path.replace("{operationId}", "op-queued");
                assert.strictEqual((await served.request(r.method, path)).status, 200, `${r.method} ${r.path}`);
                assert.strictEqual((await queued).code, "cancelled");
                await running;
                mem.stack.options.delayMs = 0;
                continue;
            }
            const status = (await served.request(r.method, path + (r.operation ? "?dryRun=1" : ""), r.body ? { storage: "11Gi", ...(r.method === "POST" ? { name: "zed" } : {}) } : undefined)).status;
            assert.ok(status < 300, `${r.method} ${r.path} → ${status}`);
        }
        assert.strictEqual(res.body.paths[G.replace("platform", "{team}").replace("dev", "{env}")].post.responses["400"].content["application/json"].schema.$ref, "#/components/schemas/ValidationError");
        assert.deepStrictEqual(JSON.parse(res.text), await openApiDocument());
    });

    it("the HTTP layer is written against the interface: any implementation serves", async () => {
        const stub: GitspaceOperations = {
            list: async () => [{ name: "x", status: "running", running: true, deployed: true }],
            get: async (ref, d) => { throw new DeveloperNotFoundError(`${ref.team}-${ref.env}`, d); },
            add: async () => { throw new StackBusyError("platform-dev", 6); },
            update: async () => { throw new Error("unexpected"); },
            stop: async () => { throw new Error("unexpected"); },
            start: async () => { throw new Error("unexpected"); },
            remove: async () => { throw new Error("unexpected"); },
        };
        const s = await serve(stub, TOKEN);
        try {
            assert.deepStrictEqual((await s.request("GET", G)).body.gitspaces.map((g: any) => g.name), ["x"]);
            assert.strictEqual((await s.request("GET", `${G}/y`)).status, 404);
            assert.strictEqual((await s.request("POST", G, { name: "y" })).status, 409);
            const internal = await s.request("POST", `${G}/y/stop`);
            assert.strictEqual(internal.status, 500);
            assert.strictEqual(internal.body.error, "internal");
        } finally {
            await s.close();
        }
    });
});
