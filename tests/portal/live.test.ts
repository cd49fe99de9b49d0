import * as assert from "assert";
import { LiveStatus, MemoryLiveBackend, readyPod } from "../../portal";
import { memoryPortal, serve } from "./helpers";

const ref = { team: "platform", env: "dev" };
const NS = "gitspace--platform--dev";
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: () => T | undefined, ms = 3000): Promise<T> {
    const t0 = Date.now();
    for (;;) {
        const v = what();
        if (v !== undefined && v !== false) return v;
        if (Date.now() - t0 > ms) throw new Error("timed out");
        await tick(10);
    }
}

function initializingPod(developer: string) {
    const p = readyPod(developer, NS, "platform");
    p.metadata!.name = `${developer}-init`;
    p.status = { phase: "Pending", initContainerStatuses: [{ name: "gitspace-init", ready: false, restartCount: 0, image: "", imageID: "", state: { running: { startedAt: new Date() } } }] };
    return p;
}

async function livePortal() {
    const live = new MemoryLiveBackend();
    const mem = await memoryPortal({ live });
    return { ...mem, live };
}

describe("portal: live status (watch over a pod source)", () => {
    it("every developer once, then only changes; the shared namespace is watched with the team's label", async () => {
        const { portal, live } = await livePortal();
        const bob = readyPod("bob", NS, "platform");
        live.setPods([readyPod("alice", NS, "platform"), bob]);
        const seen: LiveStatus[] = [];
        const stop = await portal.watch(ref, (s) => seen.push(s));
        assert.deepStrictEqual(live.scopes, [{ namespace: NS, labelSelector: "gitspace.io/team=platform" }]);
        assert.deepStrictEqual(seen.map((s) => [s.developer, s.phase, s.url]), [
            ["alice", "ready", "https://alice--platform--dev.gitspace.localtest.me"], ["bob", "ready", undefined], ["carol", "stopped", undefined],
        ]);
        seen.length = 0;
        live.setLog(NS, "alice-init", "[gitspace] step: prepare-home\n[gitspace] step: prepare-home done in 0.1s\n[gitspace] step: clone-repos\n");
        live.setPods([initializingPod("alice"), bob]);
        await until(() => seen.length >= 1);
        await tick(30);
        assert.deepStrictEqual(seen.map((s) => [s.developer, s.phase, s.step]), [["alice", "initializing", "clone-repos"]], "bob and carol did not change");
        // A pod of another environment of the same team (same label, other namespace) is not this stack's.
        live.setPods([initializingPod("alice"), bob, readyPod("carol", "gitspace--platform--prod", "platform")]);
        await tick(50);
        assert.ok(!seen.some((s) => s.developer === "carol"));
        stop();
    });

    it("the init log is read while a pod initializes, at most every 2 s, and the next step shows up without a pod event", async function () {
        this.timeout(10_000);
        const { portal, live } = await livePortal();
        live.setLog(NS, "alice-init", "[gitspace] step: prepare-home\n");
        live.setPods([initializingPod("alice")]);
        const seen: LiveStatus[] = [];
        const stop = await portal.watch(ref, (s) => s.developer === "alice" && seen.push(s));
        assert.strictEqual(seen.at(-1)?.step, "prepare-home");
        const reads = live.logReads;
        for (let i = 0; i < 20; i++) live.setPods([initializingPod("alice")]);
        await tick(100);
        assert.ok(live.logReads - reads <= 1, `${live.logReads - reads} reads for 20 events`);
        live.setLog(NS, "alice-init", "[gitspace] step: prepare-home\n[gitspace] step: prepare-home done in 1s\n[gitspace] step: clone-repos\n");
        await until(() => seen.at(-1)?.step === "clone-repos", 5000);
        stop();
    });

    it("follows operations: a stop makes the developer stopped once its pod is gone; unsubscribing stops the watch", async () => {
        const { portal, stack, live } = await livePortal();
        live.mirror(stack);
        await tick(20);
        const seen: LiveStatus[] = [];
        const stop = await portal.watch(ref, (s) => seen.push(s));
        assert.strictEqual(seen.find((s) => s.developer === "alice")?.phase, "ready");
        await portal.stop(ref, "alice");
        await until(() => seen.filter((s) => s.developer === "alice").at(-1)?.phase === "stopped");
        await portal.start(ref, "carol");
        await until(() => seen.filter((s) => s.developer === "carol").at(-1)?.phase === "ready");
        stop();
        const count = seen.length;
        await portal.start(ref, "alice");
        await tick(50);
        assert.strictEqual(seen.length, count, "no event after unsubscribing");
    });

    it("HTTP: GET …/live streams status events as server-sent events; 404 live_unavailable without a cluster", async () => {
        const { portal, live } = await livePortal();
        live.setPods([readyPod("alice", NS, "platform")]);
        const s = await serve(portal);
        try {
            const ac = new AbortController();
            const res = await fetch(`${s.url}/teams/platform/envs/dev/live`, { headers: { authorization: `Bearer ${(await import("./helpers")).TOKEN}` }, signal: ac.signal });
            assert.strictEqual(res.status, 200);
            assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
            const reader = res.body!.getReader();
            let text = "";
            const next = async (pattern: RegExp) => {
                while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
            };
            await next(/"developer":"carol"[^\n]*\n\n/);
            const events = text.trim().split("\n\n").map((e) => JSON.parse(e.split("\n")[1].slice(6)));
            assert.deepStrictEqual(events.map((e) => [e.developer, e.phase]), [["alice", "ready"], ["bob", "pending"], ["carol", "stopped"]]);
            live.setPods([readyPod("alice", NS, "platform"), readyPod("bob", NS, "platform")]);
            await next(/"developer":"bob"[^\n]*"phase":"ready"/);
            ac.abort();
        } finally {
            await s.close();
        }
        const { portal: noLive } = await memoryPortal();
        const s2 = await serve(noLive);
        try {
            const r = await s2.request("GET", "/teams/platform/envs/dev/live");
            assert.deepStrictEqual([r.status, r.body.error], [404, "live_unavailable"]);
            assert.strictEqual((await s2.request("GET", "/teams/nope/envs/dev/live")).status, 404);
        } finally {
            await s2.close();
        }
    });
});
