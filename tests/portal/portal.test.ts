import * as assert from "assert";
import { PortalEvent, StackBusyError, StackNotFoundError, streamOperation, UpdateFailedError } from "../../portal";
import { memoryPortal, teamValues } from "./helpers";

const ref = { team: "platform", env: "dev" };

describe("portal: GitspacePortal orchestration (in-memory engine)", () => {
    it("lists developers with status and URLs from config + outputs, without secrets", async () => {
        const { portal } = await memoryPortal();
        const list = await portal.list(ref);
        assert.deepStrictEqual(list.map((g) => [g.name, g.status, g.url]), [
            ["alice", "running", "https://alice--platform--dev.gitspace.localtest.me"],
            ["bob", "running", undefined], // an SSH IDE: no HTTP route ever points at sshd
            ["carol", "stopped", "https://carol--platform--dev.gitspace.localtest.me"],
        ]);
        assert.strictEqual((list[1].config as any).git.token, "[secret]");
        assert.ok(!JSON.stringify(list).includes("s3cret-bob"));
        assert.strictEqual(list[0].password, undefined);
        assert.strictEqual((await portal.get(ref, "alice", { showSecrets: true })).password, "pw-alice");
    });

    it("a change to one developer is a targeted update of its component; secrets are stored as secrets", async () => {
        const { portal, stack } = await memoryPortal();
        const events: PortalEvent[] = [];
        const r = await portal.add(ref, { name: "erin", git: { username: "erin", token: "tok" } }, { onEvent: (e) => events.push(e) });
        assert.strictEqual(r.targeted, true);
        // The default router (caddy2-k8s) puts the team in one shared namespace, whose quota covers every developer:
        // the quota is a target too; the program registers erin alone (partial).
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up", target: [
            "urn:pulumi:platform-dev::gitspace::gitspace:gitspace:Gitspace::erin",
            "urn:pulumi:platform-dev::gitspace::gitspace:gitspace:TeamNamespace$kubernetes:core/v1:ResourceQuota::team-quota",
        ], partial: ["erin"] });
        assert.deepStrictEqual(r.changes, { create: 1 });
        assert.strictEqual(r.gitspace?.status, "running");
        assert.ok(stack.secretPaths.has("gitspace:developers[3].git.token"));
        assert.deepStrictEqual(events.map((e) => e.type), ["started", "config", "resource", "resource", "summary"]);
        const stop = await portal.stop(ref, "erin");
        assert.strictEqual(stop.gitspace?.status, "stopped");
        assert.deepStrictEqual(stop.changes, { update: 1 });
    });

    it("the first update of a stack, or targeting: never, is a full update", async () => {
        const { portal, stack } = await memoryPortal();
        await portal.start(ref, "carol", { targeting: "never" });
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up" });
        const mem2 = await memoryPortal();
        const fresh = await mem2.addStack("new-dev", { ...(await mem2.stack.readConfig()).values, team: "new" }, { deploy: false });
        await mem2.portal.stop({ team: "new", env: "dev" }, "alice");
        assert.deepStrictEqual(fresh.runs.at(-1), { kind: "up" });
    });

    it("a pending team-level change (images, defaults, …) makes the update full, with the reason", async () => {
        const { portal, stack } = await memoryPortal();
        (stack.values.images as Record<string, unknown>).tag = "v2";
        const events: PortalEvent[] = [];
        const r = await portal.stop(ref, "alice", { onEvent: (e) => events.push(e) });
        assert.strictEqual(r.targeted, false);
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up" });
        const started = events.find((e) => e.type === "started") as Extract<PortalEvent, { type: "started" }>;
        assert.strictEqual(started.reason, "team-level config changed since the last update: gitspace:images");
        // Deployed now: the next change is targeted again.
        assert.strictEqual((await portal.start(ref, "alice")).targeted, true);
    });

    it("a developer re-added through the config alone (a kept home to adopt) makes another developer's change a full update", async () => {
        const { portal, stack } = await memoryPortal();
        await portal.remove(ref, "carol");
        assert.deepStrictEqual(stack.retainedHomes, ["carol"], "removing carol kept her home");
        // Re-added by a config edit, not deployed: the program would import her kept Namespace and PVC.
        stack.values.developers = [...(stack.values.developers as unknown[]), { name: "carol", running: false }];
        // What a targeted run would do here (the real engine, tests/portal/adoption.e2e.ts): fail and leave the state invalid.
        await assert.rejects(stack.up({ target: [stack.componentUrn("alice")], onEngineEvent: () => undefined }), /snapshot integrity failure/);
        const events: PortalEvent[] = [];
        const r = await portal.stop(ref, "alice", { onEvent: (e) => events.push(e) });
        assert.strictEqual(r.targeted, false);
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up" });
        const started = events.find((e) => e.type === "started") as Extract<PortalEvent, { type: "started" }>;
        assert.strictEqual(started.reason, "developers in the config but not deployed (a home they kept is adopted only by a full update): carol");
        assert.deepStrictEqual(stack.adoptedHomes, ["carol"], "carol's home adopted");
        assert.deepStrictEqual((await portal.list(ref)).map((g) => [g.name, g.status]), [["alice", "stopped"], ["bob", "running"], ["carol", "stopped"]]);
        // Everyone deployed again: targeted.
        assert.strictEqual((await portal.start(ref, "alice")).targeted, true);
        // A dry run sees the same: its preview is full too.
        stack.values.developers = [...(stack.values.developers as unknown[]), { name: "dave" }];
        const dry = await portal.stop(ref, "bob", { dryRun: true });
        assert.strictEqual(dry.targeted, false);
        // The developer being added is not "pending": adding one is targeted.
        stack.values.developers = (stack.values.developers as Array<{ name: string }>).filter((d) => d.name !== "dave");
        assert.strictEqual((await portal.add(ref, { name: "erin" })).targeted, true);
    });

    it("both layouts: a targeted run lets the program register the targeted developers alone", async () => {
        const { portal, addStack } = await memoryPortal();
        const perDev = await addStack("solo-dev", { ...teamValues(), team: "solo", router: { mode: "ingress", namespace: "traefik-system" } });
        const solo = { team: "solo", env: "dev" };
        await portal.stop(solo, "alice");
        assert.deepStrictEqual(perDev.runs.at(-1), { kind: "up", target: [perDev.componentUrn("alice")], partial: ["alice"] });
        await portal.stop(solo, "bob", { dryRun: true });
        assert.deepStrictEqual(perDev.runs.at(-1), { kind: "preview", target: [perDev.componentUrn("bob")], partial: ["bob"] });
        await Promise.all([portal.start(solo, "alice"), portal.stop(solo, "carol")]);
        assert.deepStrictEqual(perDev.runs.at(-1), { kind: "up", target: [perDev.componentUrn("alice"), perDev.componentUrn("carol")], continueOnError: true, partial: ["alice", "carol"] });
        await portal.start(solo, "carol", { targeting: "never" });
        assert.deepStrictEqual(perDev.runs.at(-1), { kind: "up" }, "a full run registers everyone");
        // Shared layout (the default router): the developer's component and the shared namespace's quota.
        const { portal: p2, stack } = await memoryPortal();
        await p2.stop(ref, "alice");
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up", target: [stack.componentUrn("alice"), stack.teamQuotaUrn()], partial: ["alice"] });
        await Promise.all([p2.start(ref, "alice"), p2.stop(ref, "bob")]);
        assert.deepStrictEqual(stack.runs.at(-1), {
            kind: "up", target: [stack.componentUrn("alice"), stack.componentUrn("bob"), stack.teamQuotaUrn()], continueOnError: true, partial: ["alice", "bob"],
        });
    });

    it("shared layout: a change the shared LimitRange or the namespace's retention must follow is a full update, with the reason", async () => {
        const { portal, stack } = await memoryPortal();
        const reasonOf = async (run: Promise<unknown>, events: PortalEvent[]) => {
            await run;
            const started = events.find((e) => e.type === "started") as Extract<PortalEvent, { type: "started" }>;
            return started.reason;
        };
        const big = { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "4", memory: "8Gi" } };
        // Larger limits than anyone's: the LimitRange (the largest developer's) grows.
        let events: PortalEvent[] = [];
        let reason = await reasonOf(portal.add(ref, { name: "erin", resources: big }, { onEvent: (e) => events.push(e) }), events);
        assert.match(reason ?? "", /^the shared namespace's LimitRange \(the largest developer's resources\) changes/);
        assert.deepStrictEqual(stack.runs.at(-1), { kind: "up" });
        // The same resources as the largest: only the quota changes, targeted.
        const add = await portal.add(ref, { name: "frank", resources: big });
        assert.strictEqual(add.targeted, true);
        assert.deepStrictEqual(stack.runs.at(-1)?.partial, ["frank"]);
        // A dry run decides the same way: removing erin leaves frank as large (targeted); removing both shrinks it.
        assert.strictEqual((await portal.remove(ref, "erin", { dryRun: true })).targeted, true);
        await portal.remove(ref, "erin");
        events = [];
        reason = await reasonOf(portal.remove(ref, "frank", { dryRun: true, onEvent: (e) => events.push(e) }), events);
        assert.match(reason ?? "", /LimitRange/);
        // Retention: once nobody else keeps a home, a change of the last one's retainHome flips the namespace's.
        for (const d of ["alice", "bob"]) assert.strictEqual((await portal.update(ref, d, { retainHome: false })).targeted, true);
        assert.strictEqual((await portal.update(ref, "frank", { retainHome: false })).targeted, true, "carol still keeps hers");
        assert.strictEqual((await portal.update(ref, "carol", { retainHome: false })).targeted, false, "carol was the last one keeping a home");
        events = [];
        reason = await reasonOf(portal.add(ref, { name: "gina", retainHome: true }, { onEvent: (e) => events.push(e) }), events);
        assert.strictEqual(reason, "the shared namespace's retention (whether any developer keeps a home) changes: every gitspace depends on it, so only a full update changes it");
        // Per-developer namespaces have no shared namespace: the same change stays targeted.
        const mem = await memoryPortal();
        const solo = await mem.addStack("solo-dev", { ...teamValues(), team: "solo", router: { mode: "ingress", namespace: "traefik-system" } });
        assert.strictEqual((await mem.portal.add({ team: "solo", env: "dev" }, { name: "erin", resources: big })).targeted, true);
        assert.deepStrictEqual(solo.runs.at(-1)?.partial, ["erin"]);
    });

    it("dry run: returns the diff and leaves the config as it was", async () => {
        const { portal, stack } = await memoryPortal();
        const before = structuredClone(stack.values);
        const r = await portal.remove(ref, "alice", { dryRun: true });
        assert.strictEqual(r.dryRun, true);
        assert.deepStrictEqual(r.steps.map((s) => [s.op, s.name]), [["delete", "alice"]]);
        assert.deepStrictEqual(stack.values, before);
        assert.strictEqual(stack.runs.at(-1)?.kind, "preview");
        assert.strictEqual((await portal.list(ref)).length, 3);
    });

    it("busy stack: retried, then StackBusyError, config restored; a later request succeeds", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.busyRuns = 5;
        const retries: PortalEvent[] = [];
        const before = structuredClone(stack.values);
        await assert.rejects(portal.stop(ref, "alice", { onEvent: (e) => e.type === "retry" && retries.push(e) }), StackBusyError);
        assert.strictEqual(retries.length, 2, "3 attempts in the test portal");
        assert.deepStrictEqual(stack.values, before);
        stack.options.busyRuns = 1;
        const r = await portal.stop(ref, "alice");
        assert.strictEqual(r.gitspace?.status, "stopped");
    });

    it("a failed update names the failed resource and why; the developer shows failed", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.failDeveloper = { name: "alice", message: "Deployment gitspace: 0/1 replicas available: ImagePullBackOff" };
        const err = await portal.update(ref, "alice", { storage: "20Gi" }).catch((e) => e);
        assert.ok(err instanceof UpdateFailedError, String(err));
        assert.deepStrictEqual(err.failures, [{
            urn: "urn:pulumi:platform-dev::gitspace::gitspace:gitspace:Gitspace$kubernetes:apps/v1:Deployment::alice-deployment",
            type: "kubernetes:apps/v1:Deployment", name: "alice-deployment",
            message: "Deployment gitspace: 0/1 replicas available: ImagePullBackOff",
        }]);
        assert.match(err.message, /kubernetes:apps\/v1:Deployment "alice-deployment": Deployment gitspace: 0\/1 replicas available/);
        const alice = (await portal.list(ref)).find((g) => g.name === "alice")!;
        assert.strictEqual(alice.status, "failed");
        stack.options.failDeveloper = undefined;
        assert.strictEqual((await portal.start(ref, "alice")).gitspace?.status, "running");
    });

    it("purge: sets retainHome false and updates, then removes", async () => {
        const { portal, stack } = await memoryPortal();
        const r = await portal.remove(ref, "alice", { purge: true });
        assert.strictEqual(r.operation, "purge");
        assert.deepStrictEqual(stack.runs.slice(-2).map((x) => x.kind), ["up", "up"]);
        assert.deepStrictEqual((await portal.list(ref)).map((g) => g.name), ["bob", "carol"]);
    });

    it("two requests on one stack run in order; different stacks in parallel", async () => {
        const mem = await memoryPortal({ batchWindowMs: 0 });
        mem.stack.options.delayMs = 40;
        const other = await mem.addStack("web-dev", { ...mem.stack.values, team: "web" });
        other.options.delayMs = 40;
        const order: string[] = [];
        const t0 = Date.now();
        await Promise.all([
            mem.portal.stop(ref, "alice").then(() => order.push("stop alice")),
            mem.portal.stop(ref, "bob").then(() => order.push("stop bob")),
            mem.portal.stop({ team: "web", env: "dev" }, "alice").then(() => order.push("web")),
        ]);
        const elapsed = Date.now() - t0;
        assert.deepStrictEqual(order.filter((o) => o !== "web"), ["stop alice", "stop bob"]);
        assert.ok(elapsed < 200, `took ${elapsed} ms`);
        const list = await mem.portal.list(ref);
        assert.deepStrictEqual(list.map((g) => g.status), ["stopped", "stopped", "stopped"]);
    });

    it("a developer with a queued or running operation is listed as updating", async () => {
        const mem = await memoryPortal();
        mem.stack.options.delayMs = 60;
        const first = mem.portal.stop(ref, "alice");
        const second = mem.portal.stop(ref, "bob");
        await new Promise((r) => setTimeout(r, 20));
        const during = Object.fromEntries((await mem.portal.list(ref)).map((g) => [g.name, g.status]));
        assert.deepStrictEqual(during, { alice: "updating", bob: "updating", carol: "stopped" });
        await Promise.all([first, second]);
        assert.deepStrictEqual((await mem.portal.list(ref)).map((g) => g.status), ["stopped", "stopped", "stopped"]);
    });

    it("unknown stack → StackNotFoundError; events also as an async iterator", async () => {
        const { portal } = await memoryPortal();
        await assert.rejects(portal.list({ team: "nope", env: "dev" }), StackNotFoundError);
        const op = streamOperation((onEvent) => portal.stop(ref, "bob", { onEvent }));
        const types: string[] = [];
        for await (const e of op.events) types.push(e.type);
        assert.strictEqual((await op.result).gitspace?.status, "stopped");
        assert.deepStrictEqual(types, ["started", "config", "resource", "resource", "summary"]);
    });
});

describe("portal: multi-step operations never roll back what the engine deployed", () => {
    it("purge whose second step meets a busy stack: retainHome: false stays (it was deployed), partial result reported", async () => {
        const { portal, stack } = await memoryPortal();
        stack.options.busyAfterUps = stack.ups + 1; // the first step's update succeeds, then the lock is taken
        const err = await portal.remove(ref, "alice", { purge: true }).catch((e) => e);
        assert.ok(err instanceof StackBusyError, String(err));
        assert.deepStrictEqual(err.partial, { completed: ["set retainHome: false and update"], notApplied: ["remove the developer and update"] });
        assert.deepStrictEqual(err.toJSON().partial, err.partial);
        // The config is what the engine deployed: alice is still there, with retainHome: false; not "restored".
        const alice = (stack.values.developers as Array<Record<string, unknown>>).find((d) => d.name === "alice");
        assert.strictEqual(alice?.retainHome, false);
        assert.strictEqual((await stack.lastDeployedConfig())!.values.developers instanceof Array, true);
        const deployed = ((await stack.lastDeployedConfig())!.values.developers as Array<Record<string, unknown>>).find((d) => d.name === "alice");
        assert.strictEqual(deployed?.retainHome, false, "what the engine ran with");
        // Once the stack is free, the same purge finishes (its first step has nothing left to do).
        stack.options.busyAfterUps = undefined;
        const done = await portal.remove(ref, "alice", { purge: true });
        assert.strictEqual(done.operation, "purge");
        assert.deepStrictEqual((await portal.list(ref)).map((g) => g.name), ["bob", "carol"]);
    });

    it("a busy first step puts only its own change back; nothing was deployed, nothing is partial", async () => {
        const { portal, stack } = await memoryPortal();
        const before = structuredClone(stack.values);
        stack.options.busyAfterUps = stack.ups;
        const err = await portal.remove(ref, "alice", { purge: true }).catch((e) => e);
        assert.ok(err instanceof StackBusyError);
        assert.strictEqual(err.partial, undefined);
        assert.deepStrictEqual(stack.values, before);
    });

    it("a later step that the schema refuses fails the operation before the first step runs", async () => {
        const mem = await memoryPortal();
        const one = await mem.addStack("solo-dev", { ...mem.stack.values, team: "solo", developers: [{ name: "alice" }] });
        const runs = one.runs.length;
        const before = structuredClone(one.values);
        const err = await mem.portal.remove({ team: "solo", env: "dev" }, "alice", { purge: true }).catch((e) => e);
        assert.strictEqual(err.status, 400, String(err));
        assert.strictEqual(one.runs.length, runs, "no engine run");
        assert.deepStrictEqual(one.values, before, "retainHome was not set");
    });

    it("a failed second step (update failed) reports the deployed first step", async () => {
        const { portal, stack } = await memoryPortal();
        // The second engine run (the removal) fails.
        const up = stack.up.bind(stack);
        let calls = 0;
        stack.up = async (o) => {
            if (++calls === 2) throw new UpdateFailedError("platform-dev", [{ message: "provider crashed" }]);
            return up(o);
        };
        const err = await portal.remove(ref, "alice", { purge: true }).catch((e) => e);
        assert.ok(err instanceof UpdateFailedError, String(err));
        assert.deepStrictEqual(err.partial?.completed, ["set retainHome: false and update"]);
        assert.deepStrictEqual(err.toJSON().partial, err.partial);
    });
});
