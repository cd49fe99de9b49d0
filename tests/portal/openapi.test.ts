/**
 * The OpenAPI document agrees with the server: real requests, and each real response (status, media type, headers,
 * body) checked against the document's own schemas with a JSON Schema 2020-12 validator (ajv). Request bodies the
 * server accepts validate against the document's request schemas, and bodies it refuses for a schema reason do not.
 */
import * as assert from "assert";
import Ajv2020 from "ajv/dist/2020";
import { GitspaceOperations, SECRET_FIELDS, TEAM_SECRET_FIELDS } from "../../portal";
import { memoryPortal, parseSse, rawJson, rawRequest, serve, Served, TOKEN } from "./helpers";

const G = "/teams/platform/envs/dev/gitspaces";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> } };

class Conformance {
    private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
    readonly checked: string[] = [];
    constructor(readonly doc: Doc) {}

    private validator(schema: Record<string, unknown>) {
        return this.ajv.compile({ ...schema, components: this.doc.components });
    }

    valid(schema: Record<string, unknown>, value: unknown): string | undefined {
        const v = this.validator(schema);
        return v(value) ? undefined : this.ajv.errorsText(v.errors);
    }

    template(pathname: string): string {
        const found = Object.keys(this.doc.paths).find((t) =>
            new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}/?$`).test(pathname));
        assert.ok(found, `no documented path for ${pathname}`);
        return found;
    }

    operation(method: string, pathname: string) {
        const path = this.doc.paths[this.template(pathname)];
        return path[method.toLowerCase()] ?? Object.values(path)[0];
    }

    requestSchema(method: string, pathname: string): Record<string, unknown> {
        return this.operation(method, pathname).requestBody.content["application/json"].schema;
    }

    /** Checks one real response against the operation's documented responses. */
    response(method: string, url: string, res: { status: number; headers: { get(name: string): string | null }; text: string }) {
        const pathname = url.split("?")[0];
        const op = this.operation(method, pathname);
        const documented = op.responses[String(res.status)];
        const where = `${method} ${url} → ${res.status}`;
        assert.ok(documented, `${where}: status not documented (documented: ${Object.keys(op.responses).join(", ")})`);
        for (const h of Object.keys(documented.headers ?? {})) assert.ok(res.headers.get(h), `${where}: documented header ${h} missing`);
        if (res.status === 204 || method === "HEAD") return;
        const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
        const media = documented.content?.[type];
        assert.ok(media, `${where}: media type ${type} not documented (${Object.keys(documented.content ?? {}).join(", ")})`);
        if (type === "application/json") {
            const problem = this.valid(media.schema, JSON.parse(res.text));
            assert.strictEqual(problem, undefined, `${where}: body does not match the document: ${problem}\n${res.text.slice(0, 300)}`);
        } else if (type === "text/event-stream") {
            const events = parseSse(res.text);
            const last = events.at(-1)!;
            assert.ok(["result", "error"].includes(last.event), where);
            if (last.event === "result") {
                const problem = this.valid({ $ref: "#/components/schemas/OperationResult" }, last.data.body);
                assert.strictEqual(problem, undefined, `${where}: result event body: ${problem}`);
            } else {
                const { status, ...body } = last.data;
                assert.strictEqual(typeof status, "number", where);
                assert.strictEqual(this.valid({ $ref: "#/components/schemas/Error" }, body), undefined, where);
            }
        }
        this.checked.push(`${method} ${this.template(pathname)} ${res.status} ${type}`);
    }
}

describe("portal: the OpenAPI document agrees with the server", function () {
    this.timeout(60000);
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    let c: Conformance;
    beforeEach(async () => {
        mem = await memoryPortal();
        served = await serve(mem.portal);
        c = new Conformance((await served.request("GET", "/openapi.json")).body);
    });
    afterEach(() => served.close());

    async function call(method: string, url: string, body?: unknown, headers?: Record<string, string>) {
        const res = await served.request(method, url, body, headers);
        c.response(method, url, res);
        return res;
    }

    it("the team-stack routes: list, create (201, 409, 400, 413), delete (200, 404)", async () => {
        const config = { domain: "d.example", images: { registry: "r.example/x", build: false, password: "p", username: "u" }, developers: [{ name: "zed", git: { username: "z", token: "t" } }] };
        assert.strictEqual((await call("GET", "/stacks")).status, 200);
        assert.strictEqual((await call("GET", "/teams/platform/envs/dev/live")).status, 404, "no cluster: live_unavailable, as documented");
        assert.strictEqual((await call("POST", "/teams/web/envs/dev", config)).status, 201);
        assert.strictEqual((await call("POST", "/teams/web/envs/dev", config)).status, 409);
        assert.strictEqual((await call("POST", "/teams/web/envs/qa", { ...config, developers: "none" })).status, 400);
        assert.strictEqual((await call("POST", "/teams/web/envs/qa", { ...config, domain: "x".repeat(3 << 20) })).status, 413);
        assert.strictEqual((await call("GET", "/stacks")).body.stacks.length, 2);
        assert.strictEqual((await call("DELETE", "/teams/web/envs/dev?purge=1")).status, 200);
        assert.strictEqual((await call("DELETE", "/teams/web/envs/dev")).status, 404);
        const doc = c.doc.paths["/teams/{team}/envs/{env}"].post.requestBody.content["application/json"].schema;
        assert.strictEqual(c.valid(doc, config), undefined, "a valid team config matches the documented body");
        assert.ok(c.valid(doc, { ...config, colour: "blue" }), "an unknown key does not");
        // What the program requires is documented as required, and each developer as a Developer.
        for (const [body, what] of [[{ ...config, developers: undefined }, "no developers"], [{ ...config, domain: undefined }, "no domain"],
            [{ ...config, developers: [{ name: "zed", colour: "blue" }] }, "an unknown developer field"], [{ ...config, developers: [] }, "no developer"]] as const) {
            assert.ok(c.valid(doc, JSON.parse(JSON.stringify(body))), `${what}: refused by the document`);
            assert.strictEqual((await call("POST", "/teams/web/envs/qa", body)).status, 400, `${what}: refused by the server`);
        }
    });

    it("marks exactly the fields stored as secrets writeOnly (from SECRET_FIELDS and TEAM_SECRET_FIELDS)", () => {
        const writeOnly = (schema: any, path: string, out: string[] = []): string[] => {
            if (schema?.$ref) return path.split(".").length > 6 ? out : writeOnly(c.doc.components.schemas[schema.$ref.split("/").pop()], path, out);
            if (!schema || typeof schema !== "object") return out;
            if (schema.writeOnly && !out.includes(path)) out.push(path);
            for (const v of schema.anyOf ?? []) writeOnly(v, path, out);
            for (const [k, v] of Object.entries(schema.properties ?? {})) writeOnly(v, path ? `${path}.${k}` : k, out);
            if (schema.items) writeOnly(schema.items, `${path}[]`, out);
            return out;
        };
        const schemas = c.doc.components.schemas;
        const expected = (prefix: string, fields: ReadonlyArray<ReadonlyArray<string>>) => fields.map((f) => prefix + f.join("."));
        assert.deepStrictEqual(writeOnly(schemas.Developer, ""), expected("", SECRET_FIELDS));
        assert.deepStrictEqual(writeOnly(schemas.DeveloperPatch, ""), expected("", SECRET_FIELDS));
        assert.deepStrictEqual(writeOnly(schemas.TeamConfig, "").sort(), [...expected("", TEAM_SECRET_FIELDS), ...expected("developers[].", SECRET_FIELDS)].sort());
        assert.deepStrictEqual(writeOnly(schemas.TeamConfig, "").sort(), ["developers[].git.token", "images.password"]);
    });

    it("the queue routes: list, cancel (200), cancel too late (409), unknown (404), and the cancelled caller's 409", async () => {
        const O = "/teams/platform/envs/dev/operations";
        mem.stack.options.delayMs = 400;
        const ops = () => mem.portal.operations({ team: "platform", env: "dev" });
        const running = served.request("POST", `${G}/carol/start`);
        while (!(await ops()).some((o) => o.state === "running")) await new Promise((r) => setTimeout(r, 2));
        const queued = served.request("POST", `${G}/alice/stop`);
        while ((await ops()).length < 2) await new Promise((r) => setTimeout(r, 2));
        const list = await call("GET", O);
        assert.deepStrictEqual(list.body.operations.map((o: any) => [o.operation, o.developer, o.state]), [["start", "carol", "running"], ["stop", "alice", "queued"]]);
        const [first, second] = list.body.operations;
        assert.strictEqual((await call("DELETE", `${O}/${first.id}`)).status, 409);
        const cancelled = await call("DELETE", `${O}/${second.id}`);
        assert.strictEqual(cancelled.status, 200);
        assert.strictEqual(cancelled.body.id, second.id);
        assert.strictEqual((await call("DELETE", `${O}/${second.id}`)).status, 404);
        assert.strictEqual((await call("DELETE", `${O}/${"x".repeat(101)}`)).status, 414);
        const victim = await queued;
        c.response("POST", `${G}/alice/stop`, victim);
        assert.strictEqual(victim.status, 409);
        assert.strictEqual(victim.body.error, "cancelled");
        assert.strictEqual(victim.headers.get("x-request-id"), second.id);
        assert.strictEqual((await running).status, 200);
        assert.deepStrictEqual((await call("GET", O)).body.operations, []);
    });

    it("every real response of every route: status, media type, headers and body match the document", async () => {
        await call("GET", G);
        await call("GET", `${G}/alice?showSecrets=1`);
        await call("GET", `${G}/zoe`);
        await call("GET", "/teams/nope/envs/dev/gitspaces");
        await call("GET", "/teams/Nope/envs/dev/gitspaces");
        await call("GET", `${G}/alice?showSecrets=no`);
        await call("GET", G, undefined, { authorization: "" });
        await call("GET", "/", undefined, { authorization: "" });
        await call("GET", "/healthz", undefined, { authorization: "" });
        await call("GET", "/openapi.json", undefined, { authorization: "" });
        const add = await call("POST", G, { name: "erin", ide: "vs_code_web", git: { username: "erin", token: "t" } });
        assert.strictEqual(add.status, 201);
        await call("POST", `${G}?dryRun=1`, { name: "fay" });
        await call("POST", `${G}?stream=1`, { name: "gus" });
        await call("POST", G, { name: "erin" });
        await call("POST", G, { name: "Bad", ide: "vscod" });
        await call("POST", G, "{broken");
        await call("POST", G, "{}", { "content-type": "text/plain" });
        await call("POST", G, { name: "x".repeat(2 << 20) });
        await call("PATCH", `${G}/erin`, { storage: "20Gi" });
        await call("PATCH", `${G}/erin?stream=1`, { storage: "21Gi" });
        await call("POST", `${G}/erin/stop`);
        await call("POST", `${G}/erin/start?stream=1`);
        await call("POST", `${G}/zoe/start?stream=1`);
        await call("DELETE", `${G}/erin?dryRun=1&purge=1`);
        await call("DELETE", `${G}/erin?purge=maybe`);
        await call("DELETE", `${G}/erin`);
        await call("PUT", G);
        await call("DELETE", "/healthz");
        await call("POST", `${G}/alice`);
        mem.stack.options.busyRuns = 10;
        await call("POST", `${G}/alice/stop`);
        await call("POST", `${G}/alice/stop?stream=1`);
        mem.stack.options.busyRuns = 0;
        mem.stack.options.failDeveloper = { name: "alice", message: "ImagePullBackOff" };
        await call("POST", `${G}/alice/stop`);
        mem.stack.options.failDeveloper = undefined;
        // Purge meeting a busy stack in its second step: 409 with the partial result, as documented.
        mem.stack.options.busyAfterUps = mem.stack.ups + 1;
        const partial = await call("DELETE", `${G}/bob?purge=1`);
        assert.strictEqual(partial.status, 409);
        assert.deepStrictEqual(partial.body.partial.completed, ["set retainHome: false and update"]);
        mem.stack.options.busyAfterUps = undefined;
        // 431 and a bad escape, on raw sockets.
        for (const head of [`GET ${G} HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20000)}\r\n\r\n`, `GET /teams/%E0%A4%A/envs/dev/gitspaces HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`]) {
            const r = await rawRequest(served.url, head);
            const headers = new Map(r.text.split("\r\n\r\n")[0].split("\r\n").slice(1).map((l) => [l.split(":")[0].toLowerCase(), l.substring(l.indexOf(":") + 1).trim()]));
            c.response("GET", G, { status: r.status, headers: { get: (n) => headers.get(n) ?? null }, text: JSON.stringify(rawJson(r.text)) });
        }
        const statuses = new Set(c.checked.map((x) => x.split(" ")[2]));
        for (const s of ["200", "201", "400", "401", "404", "405", "409", "413", "415", "431", "502"]) assert.ok(statuses.has(s), `status ${s} exercised`);
    });

    it("a 500 from any backend failure is documented, with its request id", async () => {
        const broken: GitspaceOperations = {
            list: async () => { throw "not an Error"; }, get: async () => { throw new Error("boom"); },
            add: async () => { throw null; }, update: async () => { throw 1; }, stop: async () => { throw {}; },
            start: async () => { throw new Error("x"); }, remove: async () => { throw undefined; },
        };
        const s = await serve(broken, TOKEN);
        try {
            for (const [m, u, b] of [["GET", G], ["GET", `${G}/a`], ["POST", G, { name: "a" }], ["PATCH", `${G}/a`, {}], ["POST", `${G}/a/stop`], ["POST", `${G}/a/start`], ["DELETE", `${G}/a`]] as const) {
                const r = await s.request(m, u, b);
                assert.strictEqual(r.status, 500);
                c.response(m, u, r);
            }
        } finally {
            await s.close();
        }
    });

    it("the six points: homeVolumeName, null in merge patches, numeric CPU, 200 vs 201 with stream, Location, 405/413/431/500", async () => {
        const developer = c.doc.components.schemas.Developer as any;
        assert.ok(developer.properties.homeVolumeName, "homeVolumeName documented");
        const add = c.requestSchema("POST", G);
        const patch = c.requestSchema("PATCH", `${G}/alice`);
        // Bodies the server accepts validate against the document …
        const accepted: Array<[string, string, Record<string, unknown>, Record<string, unknown>]> = [
            ["POST", G, add, { name: "hana", homeVolumeName: "pv-legacy-hana" }],
            ["POST", G, add, { name: "ivan", resources: { requests: { cpu: 0.5, memory: "1Gi" }, limits: { cpu: 2, memory: "2Gi" } } }],
            ["PATCH", `${G}/alice`, patch, { resources: { requests: { cpu: 1, memory: "1Gi" }, limits: { cpu: "1500m", memory: "2Gi" } } }],
            ["PATCH", `${G}/alice`, patch, { storage: null, repos: null, resources: null, homeVolumeName: null }],
            ["PATCH", `${G}/bob`, patch, { git: { token: "rotated" } }],
            ["PATCH", `${G}/alice`, patch, { migrateLegacyWorkspaces: null, retainHome: null, running: true }],
        ];
        for (const [method, url, schema, body] of accepted) {
            assert.strictEqual(c.valid(schema, body), undefined, `${method} ${JSON.stringify(body)} should validate`);
            const r = await call(method, `${url}?dryRun=1`, body);
            assert.strictEqual(r.status, 200, `${method} ${JSON.stringify(body)}: ${r.text.slice(0, 300)}`);
        }
        // … and bodies it refuses for a schema reason do not.
        for (const [method, url, schema, body] of [
            ["POST", G, add, { name: "jo", colour: "blue" }], ["POST", G, add, { name: "jo", ide: "vscod" }], ["POST", G, add, { ide: "vs_code_web" }],
            ["POST", G, add, { name: "jo", storage: 5 }], ["PATCH", `${G}/alice`, patch, { running: "yes" }], ["PATCH", `${G}/alice`, patch, { unknown: 1 }],
            ["PATCH", `${G}/alice`, patch, { user: { uid: "1000" } }], ["PATCH", `${G}/alice`, patch, { name: null }],
        ] as Array<[string, string, Record<string, unknown>, Record<string, unknown>]>) {
            assert.ok(c.valid(schema, body), `${JSON.stringify(body)} should not validate`);
            assert.strictEqual((await call(method, url, body)).status, 400, JSON.stringify(body));
        }
        // 201 with Location for an add; 200 for its dry run and for its stream (status and location in the result event).
        const op = c.doc.paths["/teams/{team}/envs/{env}/gitspaces"].post;
        assert.ok(op.responses["201"].headers.location);
        assert.ok(op.responses["200"].content["text/event-stream"]);
        assert.ok(!op.responses["201"].content["text/event-stream"]);
        const added = await call("POST", G, { name: "kim" });
        assert.strictEqual(added.headers.get("location"), `${G}/kim`);
        const streamed = await call("POST", `${G}?stream=1`, { name: "lea" });
        assert.strictEqual(streamed.status, 200);
        const result = parseSse(streamed.text).at(-1)!;
        assert.deepStrictEqual([result.event, result.data.status, result.data.location], ["result", 201, `${G}/lea`]);
        for (const [path, methods] of Object.entries(c.doc.paths)) {
            for (const [method, o] of Object.entries(methods)) {
                for (const code of ["400", "405", "431", "500"]) assert.ok(o.responses[code], `${method} ${path} documents ${code}`);
                assert.ok(o.responses["405"].headers.allow, `${method} ${path}: 405 documents Allow`);
                if (method !== "get") for (const code of ["413", "415"]) assert.ok(o.responses[code], `${method} ${path} documents ${code}`);
            }
        }
    });
});
