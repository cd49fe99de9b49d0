import * as assert from "assert";
import { parseStackName, PortalEvent, StackExistsError, StackNotFoundError, teamConfigOps } from "../../portal";
import { memoryPortal, serve, SSH_KEY } from "./helpers";

const ref = { team: "platform", env: "dev" };
const webConfig = () => ({
    domain: "gitspace.localtest.me",
    images: { registry: "127.0.0.1:5000/gitspace-runtime", tag: "dev", build: false, username: "ci", password: "registry-s3cret" },
    developers: [
        { name: "wendy", git: { username: "wendy", token: "tok-wendy" } },
        { name: "walt", ide: "goland", sshPublicKeys: [SSH_KEY], retainHome: false },
    ],
});

describe("portal: team stacks (library)", () => {
    it("lists the team stacks of the backend, sorted; a stack that is not <team>-<env> is not listed", async () => {
        const mem = await memoryPortal();
        await mem.addStack("web-prod", { ...mem.stack.values, team: "web" });
        await mem.addStack("Scratch_Stack", {}, { deploy: false });
        await mem.addStack("my-team-dev2", { ...mem.stack.values, team: "my-team" }, { deploy: false });
        const list = await mem.portal.listStacks();
        assert.deepStrictEqual(list.map((s) => [s.name, s.team, s.env, s.resourceCount]),
            [["my-team-dev2", "my-team", "dev2", 0], ["platform-dev", "platform", "dev", 3], ["web-prod", "web", "prod", 3]]);
        assert.deepStrictEqual(parseStackName("org/proj/my-team-dev"), { team: "my-team", env: "dev" });
        for (const bad of ["dev", "-dev", "team-", "Team-dev", "team-de-v!", "team-DEV", `${"a".repeat(64)}-dev`]) assert.strictEqual(parseStackName(bad), undefined, bad);
    });

    it("creates a stack from a validated team config: team defaulted from the path, secrets stored as secrets", async () => {
        const mem = await memoryPortal();
        const created = await mem.portal.createStack({ team: "web", env: "dev" }, webConfig());
        assert.deepStrictEqual(created, { name: "web-dev", team: "web", env: "dev" });
        const stack = mem.stacks.get("web-dev")!;
        assert.strictEqual(stack.values.team, "web");
        assert.deepStrictEqual([...stack.secretPaths].sort(), ["gitspace:developers[0].git.token", "gitspace:images.password"]);
        assert.strictEqual((stack.values.images as Record<string, unknown>).password, "registry-s3cret");
        // Not deployed: pending, and the first change deploys the whole stack.
        const web = { team: "web", env: "dev" };
        assert.deepStrictEqual((await mem.portal.list(web)).map((g) => [g.name, g.status]), [["wendy", "pending"], ["walt", "pending"]]);
        const events: PortalEvent[] = [];
        await mem.portal.stop(web, "wendy", { onEvent: (e) => events.push(e) });
        assert.match((events.find((e) => e.type === "started") as { reason?: string }).reason!, /not been deployed/);
        assert.deepStrictEqual((await mem.portal.list(web)).map((g) => [g.name, g.status]), [["wendy", "stopped"], ["walt", "running"]]);
    });

    it("refuses a bad team config with every problem by config path, and an existing stack with 409; nothing is created", async () => {
        const mem = await memoryPortal();
        const web = { team: "web", env: "dev" };
        const cases: Array<[unknown, RegExp]> = [
            [{ ...webConfig(), team: "other" }, /gitspace:team: must be "web"/],
            [{ ...webConfig(), environment: "prod" }, /gitspace:environment: must be "dev"/],
            [{ ...webConfig(), developers: [{ name: "x y", ide: "vscod" }] }, /gitspace:developers\[0\]\.name[\s\S]*gitspace:developers\[0\]\.ide/],
            [{ ...webConfig(), developers: [] }, /gitspace:developers/],
            [{ ...webConfig(), colour: "blue" }, /colour/],
            [{ ...webConfig(), images: { registry: "r", username: "u" } }, /password/],
            [JSON.parse(`{"domain":"d.example","__proto__":{"polluted":1}}`), /__proto__/],
            [[webConfig()], /must be an object/],
            ["team: web", /must be an object/],
            [null, /must be an object/],
            [{ ...webConfig(), developers: Array.from({ length: 120_000 }, (_, i) => ({ name: `dev${i}` })) }, /too many values/],
            [{ ...webConfig(), defaults: JSON.parse("[".repeat(40) + "]".repeat(40)) }, /nested deeper/],
            [{ ...webConfig(), domain: "evil\u0000.example" }, /gitspace:domain/],
        ];
        for (const [body, message] of cases) {
            const err = await mem.portal.createStack(web, body).catch((e) => e);
            assert.strictEqual(err.status, 400, `${String(JSON.stringify(body)).slice(0, 80)}: ${err}`);
            assert.match(err.message, message);
            assert.ok(!mem.stacks.has("web-dev"), "nothing created");
        }
        await assert.rejects(mem.portal.createStack({ team: "my", env: "team-dev" }, webConfig()), (e: any) => e.status === 400);
        await assert.rejects(mem.portal.createStack(ref, { ...webConfig(), team: "platform" }), StackExistsError);
        assert.strictEqual(mem.stack.values.domain, "gitspace.localtest.me", "the existing stack is untouched");
    });

    it("team config ops: every leaf by path, only the registry password and git tokens secret", () => {
        const ops = teamConfigOps({ team: "web", images: { registry: "r", password: "p", tag: "10" }, developers: [{ name: "a", git: { username: "a", token: "t" } }] });
        assert.deepStrictEqual(ops.map((o) => o.op === "set" ? `${o.path}=${o.value}${o.secret ? " (secret)" : ""}` : o.path), [
            "gitspace:team=web", "gitspace:images.registry=r", "gitspace:images.password=p (secret)", "gitspace:images.tag=10",
            "gitspace:developers[0].name=a", "gitspace:developers[0].git.username=a", "gitspace:developers[0].git.token=t (secret)",
        ]);
    });

    it("delete: after the requests queued before it; homes kept unless purged; the stack is gone", async () => {
        const mem = await memoryPortal();
        mem.stack.options.delayMs = 20;
        const order: string[] = [];
        const stop = mem.portal.stop(ref, "alice").then(() => order.push("stop"));
        const del = mem.portal.deleteStack(ref).then((r) => { order.push("delete"); return r; });
        const [, deleted] = await Promise.all([stop, del]);
        assert.deepStrictEqual(order, ["stop", "delete"]);
        assert.deepStrictEqual(deleted.changes, { delete: 3 });
        assert.strictEqual(deleted.purged, false);
        assert.deepStrictEqual(mem.stack.retainedHomes, ["alice", "bob", "carol"], "every home kept (retainHome defaults to true)");
        await assert.rejects(mem.portal.list(ref), StackNotFoundError);
        assert.deepStrictEqual((await mem.portal.listStacks()).map((s) => s.name), []);
    });

    it("a request queued behind the deletion finds no stack (404); nothing runs on the deleted stack", async () => {
        const mem = await memoryPortal();
        mem.stack.options.delayMs = 20;
        const runs = mem.stack.runs.length;
        const del = mem.portal.deleteStack(ref);
        const late = mem.portal.start(ref, "carol").catch((e) => e);
        await del;
        assert.ok((await late) instanceof StackNotFoundError, String(await late));
        assert.deepStrictEqual(mem.stack.runs.slice(runs).map((r) => r.kind), ["destroy"]);
    });

    it("delete with purge: retainHome false for everyone, deployed, then destroyed: no home kept", async () => {
        const mem = await memoryPortal();
        const stack = mem.stack;
        const r = await mem.portal.deleteStack(ref, { purge: true });
        assert.strictEqual(r.purged, true);
        assert.deepStrictEqual(stack.runs.slice(1).map((x) => x.kind), ["up", "destroy"]);
        assert.deepStrictEqual(stack.retainedHomes, []);
        // A created stack whose developer already had retainHome: false keeps nothing either way.
        await mem.portal.createStack({ team: "web", env: "dev" }, webConfig());
        await mem.portal.start({ team: "web", env: "dev" }, "wendy");
        const web = mem.stacks.get("web-dev")!;
        await mem.portal.deleteStack({ team: "web", env: "dev" });
        assert.deepStrictEqual(web.retainedHomes, ["wendy"]);
    });
});

describe("portal: team stacks (HTTP)", () => {
    it("GET /stacks, POST /teams/{team}/envs/{env} (201, Location; 409 again; 400 with paths), DELETE (200), then 404", async () => {
        const mem = await memoryPortal();
        const s = await serve(mem.portal);
        try {
            const created = await s.request("POST", "/teams/web/envs/dev", webConfig());
            assert.strictEqual(created.status, 201, created.text);
            assert.strictEqual(created.headers.get("location"), "/teams/web/envs/dev/gitspaces");
            assert.ok(!created.text.includes("s3cret") && !created.text.includes("tok-wendy"));
            assert.strictEqual((await s.request("POST", "/teams/web/envs/dev", webConfig())).body.error, "stack_exists");
            const bad = await s.request("POST", "/teams/web/envs/qa", { ...webConfig(), developers: [{ name: "q", ide: "vscod" }] });
            assert.strictEqual(bad.status, 400);
            assert.deepStrictEqual(bad.body.problems.map((p: any) => p.path), ["gitspace:developers[0].ide"]);
            assert.strictEqual((await s.request("POST", "/teams/web/envs/qa?purge=1", webConfig())).status, 400, "unknown query parameter");
            assert.strictEqual((await s.request("POST", "/teams/web/envs/q-a", webConfig())).status, 400);
            assert.deepStrictEqual((await s.request("GET", "/stacks")).body.stacks.map((x: any) => x.name), ["platform-dev", "web-dev"]);
            assert.strictEqual((await s.request("GET", "/teams/web/envs/dev/gitspaces")).body.gitspaces.length, 2);
            const del = await s.request("DELETE", "/teams/web/envs/dev?purge=0");
            assert.strictEqual(del.status, 200, del.text);
            assert.strictEqual(del.body.purged, false);
            assert.strictEqual((await s.request("GET", "/teams/web/envs/dev/gitspaces")).status, 404);
            assert.strictEqual((await s.request("DELETE", "/teams/web/envs/dev?purge=yes")).status, 400);
            assert.strictEqual((await s.request("DELETE", "/teams/web/envs/dev")).status, 404);
            const audits = s.logs.filter((l) => l.startsWith("audit ")).map((l) => JSON.parse(l.slice(6)));
            assert.deepStrictEqual(audits.map((a) => [a.operation, a.stack, a.status]), [
                ["createStack", "web-dev", 201], ["createStack", "web-dev", 409], ["createStack", "web-qa", 400],
                ["deleteStack", "web-dev", 200], ["deleteStack", "web-dev", 404],
            ]);
            assert.ok(!s.logs.join("\n").includes("s3cret"));
        } finally {
            await s.close();
        }
    });
});

describe("portal: the environment of the portal's CLI runs", () => {
    it("transpile-only unless asked to type-check; the caller's envVars win; the backend URL passed on", async () => {
        const { automationEnv } = await import("../../portal/driver");
        assert.deepStrictEqual(automationEnv({ backendUrl: "file:///s" }), { PULUMI_BACKEND_URL: "file:///s", PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
        assert.deepStrictEqual(automationEnv({ backendUrl: "file:///s", typeCheck: true }), { PULUMI_BACKEND_URL: "file:///s" });
        assert.strictEqual(automationEnv({ envVars: { PULUMI_NODEJS_TRANSPILE_ONLY: "false" } }).PULUMI_NODEJS_TRANSPILE_ONLY, "false");
    });

    it("the inline program by default; the language host when type-checking or when envVars hold what the program could read", async () => {
        const { usesInlineProgram, inlineLock } = await import("../../portal/driver");
        assert.strictEqual(usesInlineProgram({}), true);
        assert.strictEqual(usesInlineProgram({ envVars: { PULUMI_CONFIG_PASSPHRASE_FILE: "/p", PULUMI_SKIP_CHECKPOINTS: "true" } }), true);
        assert.strictEqual(usesInlineProgram({ typeCheck: true }), false);
        for (const k of ["KUBECONFIG", "HTTPS_PROXY", "pulumi_lowercase", "GITSPACE_X"]) assert.strictEqual(usesInlineProgram({ envVars: { [k]: "x" } }), false, k);
        assert.strictEqual(usesInlineProgram({ typeCheck: true, inline: true }), true, "explicit wins");
        assert.strictEqual(usesInlineProgram({ inline: false }), false);
        // Inline only for this repository's program (a copy of the directory by symlinks counts): its export is main().
        const { isThisProgram, REPO_DIR } = await import("../../portal/driver");
        const fs = await import("fs");
        const os = await import("os");
        const path = await import("path");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-inline-"));
        try {
            assert.strictEqual(isThisProgram(REPO_DIR, "index.ts"), true);
            fs.symlinkSync(path.join(REPO_DIR, "index.ts"), path.join(dir, "index.ts"));
            assert.strictEqual(isThisProgram(dir, "index.ts"), true, "symlinked");
            fs.writeFileSync(path.join(dir, "program.js"), "module.exports = {};\n");
            assert.strictEqual(isThisProgram(dir, "program.js"), false, "another program");
            assert.strictEqual(isThisProgram(dir, "missing.ts"), false);
            fs.rmSync(path.join(dir, "index.ts"));
            fs.copyFileSync(path.join(REPO_DIR, "index.ts"), path.join(dir, "index.ts"));
            assert.strictEqual(isThisProgram(dir, "index.ts"), false, "a copy is another checkout's code");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        // Inline runs of one process one at a time, in order, a failure not blocking the next.
        const order: string[] = [];
        const run = (id: string, ms: number, fail = false) => inlineLock(async () => {
            order.push(`${id}>`);
            await new Promise((r) => setTimeout(r, ms));
            order.push(`<${id}`);
            if (fail) throw new Error(id);
            return id;
        });
        const results = await Promise.allSettled([run("a", 30, true), run("b", 5), run("c", 1)]);
        assert.deepStrictEqual(order, ["a>", "<a", "b>", "<b", "c>", "<c"]);
        assert.deepStrictEqual(results.map((r) => r.status), ["rejected", "fulfilled", "fulfilled"]);
    });
});
