import * as assert from "assert";
import {
    BatchQueue, createInMemoryPortal, exampleTeamValues, OperationCancelledError, OperationNotFoundError,
    OperationRunningError, PortalEvent, StackBusyError, UpdateFailedError,
} from "../../portal";
import { memoryPortal, SSH_KEY } from "./helpers";

const ref = { team: "platform", env: "dev" };
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the stack's line has a running batch (so the next requests queue behind it), however loaded the machine. */
async function running(portal: { operations(r: typeof ref): Promise<Array<{ state: string }>> }) {
    for (let i = 0; i < 500; i++) {
        if ((await portal.operations(ref)).some((o) => o.state === "running")) return;
        await tick(2);
    }
    throw new Error("no batch started");
}
const devs = (n: number, running = false) => Array.from({ length: n }, (_, i) => ({ name: `dev${String(i).padStart(3, "0")}`, running }));

/** A team of `n` stopped developers over the in-memory engine; each engine run takes `delayMs`. */
async function team(n: number, delayMs: number, maxBatch?: number) {
    const mem = createInMemoryPortal(maxBatch ? { maxBatch } : {});
    const stack = await mem.addStack("platform-dev", exampleTeamValues("platform", devs(n)));
    stack.options.delayMs = delayMs;
    return { ...mem, stack };
}

describe("portal: group commit (batched updates)", () => {
    it("50 concurrent starts: a few engine runs instead of 50; prints runs and wall time against one run per request", async function () {
        this.timeout(60_000);
        const n = 50, delayMs = 100; // one engine run = 100 ms (12 s measured for a real 50-developer team)
        const measure = async (maxBatch?: number) => {
            const { portal, stack } = await team(n, delayMs, maxBatch);
            const runsBefore = stack.runs.length;
            const t0 = Date.now();
            const results = await Promise.all(devs(n).map((d) => portal.start(ref, d.name)));
            const wall = Date.now() - t0;
            assert.deepStrictEqual(results.map((r) => r.gitspace?.status), devs(n).map(() => "running"));
            assert.deepStrictEqual(results.map((r) => r.developer), devs(n).map((d) => d.name));
            const list = await portal.list(ref);
            assert.ok(list.every((g) => g.status === "running" && g.running), JSON.stringify(list.filter((g) => g.status !== "running")));
            return { runs: stack.runs.length - runsBefore, wall, runList: stack.runs.slice(runsBefore) };
        };
        const batched = await measure();
        const sequential = await measure(1);
        console.log(`      group commit: ${n} starts → ${batched.runs} engine run(s), ${batched.wall} ms; ` +
            `one run per request: ${sequential.runs} runs, ${sequential.wall} ms (an engine run = ${delayMs} ms; ratio ${(sequential.wall / batched.wall).toFixed(1)}x)`);
        assert.strictEqual(sequential.runs, n);
        assert.ok(batched.runs <= 3, `${batched.runs} runs`);
        assert.ok(batched.wall < sequential.wall / 5, `${batched.wall} ms vs ${sequential.wall} ms`);
        // One targeted update for all of them, with --continue-on-error.
        const big = batched.runList.find((r) => (r.target?.length ?? 0) > 2)!;
        assert.ok(big.continueOnError);
        assert.ok(big.target!.includes("urn:pulumi:platform-dev::gitspace::gitspace:gitspace:Gitspace::dev049"));
    });

    it("a batch of 100 changes in a 500-developer team does not block the event loop while it validates them", async function () {
        this.timeout(120_000);
        const { portal, stack } = await team(500, 50);
        const { monitorEventLoopDelay } = await import("perf_hooks");
        const h = monitorEventLoopDelay({ resolution: 10 });
        const first = portal.start(ref, "dev000");
        await running(portal);
        h.enable();
        const t0 = Date.now();
        const rs = await Promise.all(devs(101).slice(1).map((d) => portal.start(ref, d.name)));
        h.disable();
        await first;
        const maxMs = h.max / 1e6;
        console.log(`      100 batched starts in a 500-developer team: ${Date.now() - t0} ms, longest event-loop block ${maxMs.toFixed(0)} ms`);
        assert.strictEqual(rs.length, 100);
        assert.strictEqual(stack.runs.length, 3, "deploy + first + one batch");
        // One validation of a 500-developer config takes ~25 ms here; 100 in one go blocked for 2.5 s.
        assert.ok(maxMs < 1000, `blocked ${maxMs} ms`);
    });

    it("each caller gets its own result and only its own developer's events", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const events: Record<string, PortalEvent[]> = { alice: [], bob: [], carol: [], dave: [] };
        const first = portal.update(ref, "alice", { storage: "20Gi" }, { onEvent: (e) => events.alice.push(e) });
        await running(portal);
        const [a, b, c, d] = await Promise.all([
            first,
            portal.stop(ref, "bob", { onEvent: (e) => events.bob.push(e) }),
            portal.start(ref, "carol", { onEvent: (e) => events.carol.push(e) }),
            portal.add(ref, { name: "dave" }, { onEvent: (e) => events.dave.push(e) }),
        ]);
        assert.strictEqual(stack.runs.length, 1 + 2, "deploy + first + one batch");
        assert.deepStrictEqual([a, b, c, d].map((r) => [r.developer, r.operation, r.gitspace?.status]),
            [["alice", "update", "running"], ["bob", "stop", "stopped"], ["carol", "start", "running"], ["dave", "add", "running"]]);
        assert.deepStrictEqual([b.changes, c.changes, d.changes], [{ update: 1 }, { update: 1 }, { create: 1 }]);
        assert.deepStrictEqual(d.steps.map((s) => [s.op, s.name]), [["create", "dave"]]);
        for (const name of ["bob", "carol", "dave"]) {
            const types = events[name].map((e) => e.type);
            assert.deepStrictEqual(types, ["queued", "started", "config", "resource", "resource", "summary"], name);
            const started = events[name][1] as Extract<PortalEvent, { type: "started" }>;
            assert.strictEqual(started.batch, 3);
            assert.strictEqual(started.developer, name);
            const resources = events[name].filter((e) => e.type === "resource") as Array<Extract<PortalEvent, { type: "resource" }>>;
            assert.ok(resources.every((r) => r.name === name), `${name} sees only its own resources`);
            const config = events[name][2] as Extract<PortalEvent, { type: "config" }>;
            assert.ok(config.set.length > 0 && config.set.every((p) => p.startsWith(`gitspace:developers[${name === "bob" ? 1 : name === "carol" ? 2 : 3}]`)), JSON.stringify(config));
        }
        const queued = events.bob[0] as Extract<PortalEvent, { type: "queued" }>;
        assert.strictEqual(queued.position, 1);
        assert.match(queued.operationId, /^[0-9a-f-]{36}$/);
    });

    it("an invalid request in a batch is refused alone, with its own 4xx; the others are applied", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const first = portal.stop(ref, "alice");
        await running(portal);
        const settled = await Promise.allSettled([
            portal.update(ref, "bob", { ide: "vscod" }),                   // 400: unknown IDE
            portal.add(ref, { name: "carol" }),                             // 409: exists
            portal.stop(ref, "zed"),                                        // 404
            portal.add(ref, { name: "erin", ide: "goland" }),               // 400: an SSH IDE needs keys
            portal.add(ref, { name: "frank", ide: "goland", sshPublicKeys: [SSH_KEY] }),
            portal.start(ref, "carol"),
        ]);
        await first;
        const statuses = settled.map((s) => s.status === "fulfilled" ? 200 : (s.reason as { status?: number }).status);
        assert.deepStrictEqual(statuses, [400, 409, 404, 400, 200, 200]);
        const bad = (settled[0] as PromiseRejectedResult).reason;
        assert.match(bad.message, /gitspace:developers\[1\]\.ide/);
        assert.match((settled[3] as PromiseRejectedResult).reason.message, /gitspace:developers\[3\]/);
        assert.strictEqual(stack.runs.length, 3, "deploy + first + one batch for the two valid ones");
        const names = (await portal.list(ref)).map((g) => [g.name, g.status]);
        assert.deepStrictEqual(names, [["alice", "stopped"], ["bob", "running"], ["carol", "running"], ["frank", "running"]]);
        assert.strictEqual((stack.values.developers as Array<{ ide?: string }>)[1].ide, "vs_code", "bob unchanged");
    });

    it("order and last writer wins: stop, start, stop of one developer in one batch ends stopped; each caller is answered", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const first = portal.stop(ref, "bob");
        await running(portal);
        const rs = await Promise.all([
            portal.stop(ref, "alice"), portal.update(ref, "alice", { storage: "30Gi" }), portal.start(ref, "alice"),
            portal.update(ref, "alice", { storage: "40Gi" }), portal.stop(ref, "alice"),
        ]);
        await first;
        assert.strictEqual(stack.runs.length, 3);
        const alice = (stack.values.developers as Array<Record<string, unknown>>)[0];
        assert.strictEqual(alice.running, false);
        assert.strictEqual(alice.storage, "40Gi");
        // Every caller sees the state the batch deployed (the last writer's), never "updating" for its own request.
        assert.deepStrictEqual(rs.map((r) => r.gitspace?.status), ["stopped", "stopped", "stopped", "stopped", "stopped"]);
    });

    it("a batch while another developer's kept home waits for adoption is one full update: no targeted run breaks the state", async () => {
        const { portal, stack } = await memoryPortal();
        await portal.remove(ref, "carol");
        stack.values.developers = [...(stack.values.developers as unknown[]), { name: "carol", running: false }];
        const runs = stack.runs.length;
        const events: PortalEvent[] = [];
        // Requests of one turn share the first batch.
        const rs = await Promise.all([portal.stop(ref, "alice", { onEvent: (e) => events.push(e) }), portal.stop(ref, "bob")]);
        assert.deepStrictEqual(rs.map((r) => [r.developer, r.targeted, r.gitspace?.status]), [["alice", false, "stopped"], ["bob", false, "stopped"]]);
        assert.deepStrictEqual(stack.runs.slice(runs), [{ kind: "up", continueOnError: true }], "one full run");
        assert.match((events.find((e) => e.type === "started") as { reason?: string }).reason ?? "", /not deployed .*: carol$/);
        assert.deepStrictEqual(stack.adoptedHomes, ["carol"]);
    });

    it("one developer's failing resources fail only that developer's callers (--continue-on-error)", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const first = portal.stop(ref, "carol");
        await running(portal);
        stack.options.failDeveloper = { name: "alice", message: "Deployment: 0/1 replicas available: ImagePullBackOff" };
        const settled = await Promise.allSettled([
            portal.update(ref, "alice", { storage: "20Gi" }), portal.stop(ref, "bob"), portal.start(ref, "carol"),
        ]);
        await first;
        const [alice, bob, carol] = settled;
        assert.strictEqual(alice.status, "rejected");
        const err = (alice as PromiseRejectedResult).reason;
        assert.ok(err instanceof UpdateFailedError, String(err));
        assert.deepStrictEqual(err.failures.map((f) => f.name), ["alice-deployment"]);
        assert.match(err.message, /ImagePullBackOff/);
        assert.strictEqual(bob.status === "fulfilled" && bob.value.gitspace?.status, "stopped");
        assert.strictEqual(carol.status === "fulfilled" && carol.value.gitspace?.status, "running");
        assert.ok(stack.runs.at(-1)?.continueOnError);
        const list = Object.fromEntries((await portal.list(ref)).map((g) => [g.name, g.status]));
        assert.deepStrictEqual(list, { alice: "failed", bob: "stopped", carol: "running" });
    });

    it("a failure no developer owns (the program, the stack) fails every caller of the batch", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const first = portal.stop(ref, "carol");
        await running(portal);
        const up = stack.up.bind(stack);
        stack.up = async (o) => {
            o.onEngineEvent({ sequence: 1, timestamp: 0, diagnosticEvent: { message: "program crashed: TypeError", color: "never", severity: "error" } });
            await up(o);
            const { CommandError } = await import("@pulumi/pulumi/automation");
            throw Object.assign(Object.create(CommandError.prototype), { name: "CommandError", message: "failed", commandResult: { stderr: "program crashed" } });
        };
        const settled = await Promise.allSettled([portal.stop(ref, "alice"), portal.stop(ref, "bob")]);
        await first.catch(() => undefined);
        for (const s of settled) {
            assert.strictEqual(s.status, "rejected");
            assert.match((s as PromiseRejectedResult).reason.message, /program crashed/);
        }
    });

    it("a busy stack through every retry: every caller gets 409 and the batch's config changes are put back", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 30;
        const first = portal.stop(ref, "carol");
        await running(portal);
        const before = structuredClone(stack.values);
        (before.developers as Array<Record<string, unknown>>)[2].running = false; // what `first` deploys
        stack.options.busyAfterUps = stack.ups + 1;
        const settled = await Promise.allSettled([portal.stop(ref, "alice"), portal.add(ref, { name: "erin" })]);
        await first;
        for (const s of settled) assert.ok((s as PromiseRejectedResult).reason instanceof StackBusyError);
        assert.deepStrictEqual(stack.values, before);
    });

    it("a dry run and a purge run alone, in arrival order; the dry run changes nothing", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 20;
        const first = portal.stop(ref, "carol");
        await running(portal);
        const order: string[] = [];
        const rs = await Promise.all([
            portal.stop(ref, "alice").then((r) => { order.push("stop alice"); return r; }),
            portal.remove(ref, "bob", { dryRun: true }).then((r) => { order.push("dry remove bob"); return r; }),
            portal.start(ref, "carol").then((r) => { order.push("start carol"); return r; }),
            portal.remove(ref, "bob", { purge: true }).then((r) => { order.push("purge bob"); return r; }),
            portal.start(ref, "alice").then((r) => { order.push("start alice"); return r; }),
        ]);
        await first;
        assert.deepStrictEqual(order, ["stop alice", "dry remove bob", "start carol", "purge bob", "start alice"]);
        assert.deepStrictEqual(stack.runs.slice(2).map((r) => r.kind), ["up", "preview", "up", "up", "up", "up"]);
        assert.deepStrictEqual(rs[1].steps.map((s) => [s.op, s.name]), [["delete", "bob"]]);
        assert.deepStrictEqual((await portal.list(ref)).map((g) => [g.name, g.status]), [["alice", "running"], ["carol", "running"]]);
    });
});

describe("portal: cancel a queued request", () => {
    it("a cancelled request never runs; its caller gets 409 cancelled; the rest of the line runs", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 40;
        const first = portal.stop(ref, "carol");
        await running(portal);
        const events: PortalEvent[] = [];
        const victim = portal.stop(ref, "alice", { onEvent: (e) => events.push(e), operationId: "op-alice" });
        const other = portal.stop(ref, "bob");
        const listed = await portal.operations(ref);
        assert.deepStrictEqual(listed.map((o) => [o.operation, o.developer, o.state, o.position]),
            [["stop", "carol", "running", 0], ["stop", "alice", "queued", 1], ["stop", "bob", "queued", 2]]);
        assert.strictEqual((events[0] as { operationId?: string }).operationId, "op-alice");
        const cancelled = await portal.cancel(ref, "op-alice");
        assert.strictEqual(cancelled.developer, "alice");
        const err = await victim.catch((e) => e);
        assert.ok(err instanceof OperationCancelledError);
        assert.strictEqual(err.status, 409);
        await Promise.all([first, other]);
        assert.deepStrictEqual((await portal.list(ref)).map((g) => [g.name, g.status]), [["alice", "running"], ["bob", "stopped"], ["carol", "stopped"]]);
        assert.ok(!stack.runs.some((r) => r.target?.some((t) => t.endsWith("::alice"))), "alice never ran");
        await assert.rejects(portal.cancel(ref, "op-alice"), OperationNotFoundError);
    });

    it("a running request cannot be cancelled (409); an unknown id is a 404; ids are unique per stack", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.delayMs = 40;
        const carol = portal.stop(ref, "carol", { operationId: "x" });
        await running(portal);
        await assert.rejects(portal.cancel(ref, "x"), OperationRunningError);
        await assert.rejects(portal.cancel(ref, "nope"), OperationNotFoundError);
        await assert.rejects(portal.stop(ref, "alice", { operationId: "x" }), /already queued or running/);
        await carol;
        assert.deepStrictEqual(await portal.operations(ref), []);
    });
});

describe("portal: BatchQueue", () => {
    it("take: the batchable head up to maxBatch; a request that runs alone ends the batch and is a batch of its own", () => {
        const item = (id: string, batchable = true) => ({ id, batchable });
        const pending = [item("a"), item("b"), item("dry", false), item("c"), item("d"), item("e")];
        assert.deepStrictEqual(BatchQueue.take(pending, 10).map((i) => i.id), ["a", "b"]);
        assert.deepStrictEqual(BatchQueue.take(pending, 10).map((i) => i.id), ["dry"]);
        assert.deepStrictEqual(BatchQueue.take(pending, 2).map((i) => i.id), ["c", "d"]);
        assert.deepStrictEqual(BatchQueue.take(pending, 2).map((i) => i.id), ["e"]);
        assert.deepStrictEqual(BatchQueue.take(pending, 2), []);
        assert.throws(() => new BatchQueue(async () => undefined, 0), RangeError);
    });

    it("a window: requests sent within it after an idle line's first one share its batch; without one, only the same turn's", async () => {
        const run = async (windowMs: number) => {
            const seen: string[][] = [];
            const q = new BatchQueue<{ id: string; batchable: boolean }>(async (_k, items) => { seen.push(items.map((i) => i.id)); }, 100, undefined, windowMs);
            q.enqueue("s", { id: "a", batchable: true });
            await tick(5);
            q.enqueue("s", { id: "b", batchable: true });
            await tick(5);
            q.enqueue("s", { id: "c", batchable: true });
            while (q.size("s") > 0) await tick(5);
            return seen;
        };
        assert.deepStrictEqual(await run(100), [["a", "b", "c"]]);
        assert.deepStrictEqual((await run(0))[0], ["a"]);
        assert.throws(() => new BatchQueue(async () => undefined, 1, undefined, -1), RangeError);
        assert.throws(() => new BatchQueue(async () => undefined, 1, undefined, Number.NaN), RangeError);
    });

    it("a runner that throws rejects its batch and the line goes on", async () => {
        const seen: string[][] = [];
        const crashed: string[] = [];
        const q = new BatchQueue<{ id: string; batchable: boolean }>(async (_k, items) => {
            seen.push(items.map((i) => i.id));
            if (items[0].id === "a") throw new Error("boom");
        }, 10, (_k, items) => crashed.push(...items.map((i) => i.id)));
        q.enqueue("s", { id: "a", batchable: false });
        q.enqueue("s", { id: "b", batchable: true });
        await tick(10);
        assert.deepStrictEqual(seen, [["a"], ["b"]]);
        assert.deepStrictEqual(crashed, ["a"]);
        assert.strictEqual(q.size("s"), 0);
    });
});
