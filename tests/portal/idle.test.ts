/**
 * Idle auto-stop: the pure keep/stop decision (hostile script output, clock skew, missing heartbeat, sessions, pods
 * not Ready, exec failures), and the reaper over the real portal orchestration (in-memory engine) with a fake
 * cluster: who is looked at, who is stopped and how (one update, `stoppedReason: idle`), Start clearing it, and
 * every failure keeping the gitspace running.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as path from "path";
import type { V1Pod } from "@kubernetes/client-node";
import { createInMemoryPortal, deriveStatus, exampleTeamValues, readyPod } from "../../portal";
import {
    asError, BoundedSink, decideIdle, FUTURE_TOLERANCE_S, idleIntervalMs, IdleCluster, IdleInput, IdleReaper, parseActivity, podReadiness,
    portalIdleSource,
} from "../../portal/idle";
import { serve } from "./helpers";

const MIN = 60_000;
const T0 = Date.parse("2026-11-30T12:00:00Z");
const s = (ms: number) => Math.floor(ms / 1000);
const out = (o: unknown) => JSON.stringify(o) + "\n";

/** Defaults: a 5-minute timeout, a pod Ready and first seen 10 minutes ago, no heartbeat, no session. */
function input(over: Partial<IdleInput> = {}, report: Record<string, unknown> = {}): IdleInput {
    return {
        now: T0, timeoutMinutes: 5, firstSeenAt: T0 - 10 * MIN,
        pod: { ready: true, readyAt: T0 - 10 * MIN, startedAt: T0 - 11 * MIN },
        activity: { stdout: out({ now: s(T0), lastActivity: null, sessions: 0, ...report }) },
        ...over,
    };
}

describe("idle: parseActivity (the script's output is untrusted)", () => {
    it("accepts exactly the script's line", () => {
        assert.deepEqual(parseActivity('{"now":1796064630,"lastActivity":null,"sessions":0}\n'), { report: { now: 1796064630, lastActivity: null, sessions: 0 } });
        assert.deepEqual(parseActivity('{"now":1796064630,"lastActivity":1796064000,"sessions":2}'), { report: { now: 1796064630, lastActivity: 1796064000, sessions: 2 } });
    });
    const hostile: Array<[string, string]> = [
        ["", "no output"],
        ["\n\n", "no output"],
        ["not json", "not JSON"],
        ['{"now":1,"lastActivity":null,"sessions":0}\n{"now":1,"lastActivity":null,"sessions":0}', "two lines"],
        ["null", "null"],
        ["[]", "an array"],
        ["1796064630", "a number"],
        ['"idle"', "a string"],
        ['{"now":1796064630,"sessions":0}', "lastActivity missing"],
        ['{"now":1796064630,"lastActivity":null}', "sessions missing"],
        ['{"lastActivity":null,"sessions":0}', "now missing"],
        ['{"now":1796064630,"lastActivity":null,"sessions":-1}', "negative sessions"],
        ['{"now":1796064630,"lastActivity":null,"sessions":1.5}', "fractional sessions"],
        ['{"now":1796064630,"lastActivity":null,"sessions":"3"}', "sessions as a string"],
        ['{"now":1796064630,"lastActivity":null,"sessions":1e12}', "absurd sessions"],
        ['{"now":1796064630,"lastActivity":-5,"sessions":0}', "negative heartbeat"],
        ['{"now":1796064630,"lastActivity":0,"sessions":0}', "zero heartbeat"],
        ['{"now":1796064630,"lastActivity":"1796064000","sessions":0}', "heartbeat as a string"],
        ['{"now":1796064630,"lastActivity":1796064000.5,"sessions":0}', "fractional heartbeat"],
        ['{"now":1796064630,"lastActivity":99999999999999,"sessions":0}', "heartbeat past the year 3000"],
        ['{"now":-1,"lastActivity":null,"sessions":0}', "negative now"],
        ['{"now":1796064630,"lastActivity":null,"sessions":0,"extra":1}', "unknown field"],
        ['{"__proto__":{"sessions":5},"now":1796064630,"lastActivity":null,"sessions":0}', "prototype key"],
        ['{"now":NaN,"lastActivity":null,"sessions":0}', "NaN"],
        [`{"now":1796064630,"lastActivity":null,"sessions":0,"pad":"${"x".repeat(2000)}"}`, "too long"],
        ["\u001b[31m{}\u001b[0m", "ANSI"],
    ];
    for (const [text, what] of hostile) {
        it(`refuses ${what}`, () => {
            const r = parseActivity(text);
            assert.ok("error" in r, `accepted: ${JSON.stringify(r)}`);
            assert.ok(r.error.length <= 250);
        });
    }
});

describe("idle: decideIdle", () => {
    it("no heartbeat, nobody connected, Ready and seen longer than the timeout: stop", () => {
        const d = decideIdle(input());
        assert.equal(d.action, "stop");
        assert.equal(d.idleMs, 10 * MIN);
        assert.match((d as { detail: string }).detail, /no activity for 600 s .*idleTimeout 5m/);
    });

    it("an open session (SSH, browser connection) keeps it, however old everything else is", () => {
        const d = decideIdle(input({}, { sessions: 1, lastActivity: s(T0) - 86400 }));
        assert.deepEqual([d.action, d.action === "keep" && d.reason], ["keep", "sessions"]);
    });

    it("a session seen a minute ago (now closed) keeps it: the timeout runs from the last session seen", () => {
        assert.deepEqual([decideIdle(input({ lastSessionAt: T0 - MIN })).action, decideIdle(input({ lastSessionAt: T0 - MIN })).idleMs], ["keep", MIN]);
        assert.equal(decideIdle(input({ lastSessionAt: T0 - 6 * MIN })).action, "stop");
        assert.equal(decideIdle(input({ lastSessionAt: T0 + 60 * MIN })).idleMs, 0, "never later than now");
        assert.equal(decideIdle(input({ lastSessionAt: NaN })).action, "stop", "garbage is ignored");
    });

    it("a recent heartbeat keeps it; an old one does not", () => {
        assert.equal(decideIdle(input({}, { lastActivity: s(T0) - 60 })).action, "keep");
        const d = decideIdle(input({}, { lastActivity: s(T0) - 7 * 60 }));
        assert.equal(d.action, "stop");
        assert.equal(d.idleMs, 7 * MIN, "measured from the heartbeat, the latest mark");
    });

    it("the heartbeat's age is measured on the container's clock: node/portal skew does not count", () => {
        for (const skewS of [-3600, -90, 0, 90, 3600, 86400 * 365]) {
            const containerNow = s(T0) + skewS;
            assert.equal(decideIdle(input({}, { now: containerNow, lastActivity: containerNow - 60 })).action, "keep", `skew ${skewS}: 1 minute old`);
            const d = decideIdle(input({}, { now: containerNow, lastActivity: containerNow - 6 * 60 }));
            assert.equal(d.action, "stop", `skew ${skewS}: 6 minutes old`);
            assert.equal(d.idleMs, 6 * MIN);
        }
    });

    it("a heartbeat in the container's future: a little (clock steps) counts as now, far ahead is ignored", () => {
        assert.equal(decideIdle(input({}, { lastActivity: s(T0) + FUTURE_TOLERANCE_S })).action, "keep");
        const far = decideIdle(input({}, { lastActivity: s(T0) + 86400 * 365 }));
        assert.equal(far.action, "stop", "a planted future mtime does not keep a gitspace forever");
        assert.match((far as { detail: string }).detail, /heartbeat in the future was ignored/);
    });

    it("a heartbeat from before the pod (a previous run, the home is kept) does not count: measured from Ready", () => {
        const d = decideIdle(input({ pod: { ready: true, readyAt: T0 - 2 * MIN }, firstSeenAt: T0 - 20 * MIN }, { lastActivity: s(T0) - 86400 }));
        assert.deepEqual([d.action, d.idleMs], ["keep", 2 * MIN]);
    });

    it("measured from when the reaper first saw the pod (a restarted portal does not stop at once)", () => {
        const d = decideIdle(input({ firstSeenAt: T0 - 30_000 }));
        assert.deepEqual([d.action, d.idleMs], ["keep", 30_000]);
    });

    it("the start time stands in for a missing Ready time", () => {
        assert.equal(decideIdle(input({ firstSeenAt: T0 - 20 * MIN, pod: { ready: true, startedAt: T0 - MIN } })).action, "keep");
        assert.equal(decideIdle(input({ firstSeenAt: T0 - 20 * MIN, pod: { ready: true, startedAt: T0 - 8 * MIN } })).action, "stop");
    });

    it("a Ready time in the portal's future (API server clock ahead) counts as now, not later", () => {
        const d = decideIdle(input({ firstSeenAt: T0 - 20 * MIN, pod: { ready: true, readyAt: T0 + 60 * MIN } }));
        assert.deepEqual([d.action, d.idleMs], ["keep", 0]);
        assert.equal(decideIdle(input({ now: T0 + 6 * MIN, firstSeenAt: T0 - 20 * MIN, pod: { ready: true, readyAt: T0 + 60 * MIN } })).action, "keep",
            "still clamped to the portal's now, never in the future");
    });

    it("the boundary: exactly the timeout stops, a millisecond less keeps", () => {
        const at = (idle: number) => decideIdle(input({ firstSeenAt: T0 - idle, pod: { ready: true, readyAt: T0 - idle } })).action;
        assert.equal(at(5 * MIN), "stop");
        assert.equal(at(5 * MIN - 1), "keep");
    });

    it("no pod, a pod not Ready (starting, failing) or being deleted: keep, without reading activity", () => {
        assert.deepEqual(decideIdle(input({ pod: undefined })), { action: "keep", reason: "no-pod" });
        assert.deepEqual(decideIdle(input({ pod: { ready: false, startedAt: T0 - 60 * MIN } })), { action: "keep", reason: "not-ready" });
        assert.deepEqual(decideIdle(input({ pod: { ready: false }, activity: { error: "boom" } })), { action: "keep", reason: "not-ready" });
    });

    it("activity that cannot be read never stops a gitspace (exec failure, garbage, nothing)", () => {
        for (const activity of [{ error: "exec: forbidden" }, { stdout: "" }, { stdout: "garbage" }, { stdout: out({ now: s(T0), lastActivity: null, sessions: -1 }) }]) {
            const d = decideIdle(input({ activity }));
            assert.deepEqual([d.action, d.action === "keep" && d.reason], ["keep", "activity-unknown"], JSON.stringify(activity));
        }
    });

    it("a timeout that is not positive never stops (defensive: the schema refuses them)", () => {
        for (const t of [0, -5, NaN]) assert.equal(decideIdle(input({ timeoutMinutes: t })).action, "keep");
    });
});

describe("idle: podReadiness", () => {
    it("Ready and since when; a pod being deleted is not Ready; hostile fields do not throw", () => {
        const pod = readyPod("alice", "ns");
        const r = podReadiness(pod);
        assert.equal(r.ready, true);
        assert.equal(r.readyAt, Date.parse(String(pod.status!.conditions![1].lastTransitionTime)));
        assert.equal(podReadiness({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } }).ready, false);
        assert.deepEqual(podReadiness({} as V1Pod), { ready: false });
        assert.deepEqual(podReadiness({ status: { conditions: "nope", startTime: "garbage" } } as never), { ready: false });
        assert.deepEqual(podReadiness({ status: { conditions: [null, { type: "Ready", status: "False" }] } } as never), { ready: false });
    });
});

describe("idle: PORTAL_IDLE_INTERVAL_SECONDS", () => {
    it("whole seconds from 5 to 3600, default 60", () => {
        assert.equal(idleIntervalMs(undefined), 60_000);
        assert.equal(idleIntervalMs(""), 60_000);
        assert.equal(idleIntervalMs("5"), 5_000);
        assert.equal(idleIntervalMs("3600"), 3_600_000);
    });
    for (const bad of ["0", "4", "3601", "-10", "+10", "10s", "1m", "10.0", "1e2", " 10", "10 ", "010", "0x10", "ten", "１０", "99999999999"]) {
        it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => idleIntervalMs(bad), /PORTAL_IDLE_INTERVAL_SECONDS must be whole seconds from 5 to 3600/));
    }
});

describe("idle: asError (what the exec client rejects with)", () => {
    it("keeps an Error, reads an ErrorEvent's error or message, never says [object Object]", () => {
        const err = new Error("boom");
        assert.equal(asError(err), err);
        assert.equal(asError({ error: err, message: "other" }), err);
        assert.equal(asError({ message: "Unexpected server response: 403" }).message, "Unexpected server response: 403");
        for (const v of [{}, null, undefined, 42, "", { message: 7 }]) assert.equal(asError(v).message, "the exec request failed");
        assert.equal(asError("text").message, "text");
    });
});

describe("idle: npm run portal refuses a bad PORTAL_IDLE_INTERVAL_SECONDS", function () {
    this.timeout(60000);
    it("exits 2 with the reason, before serving", async () => {
        const root = path.join(__dirname, "..", "..");
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "portal", "main.ts")], {
            env: { PATH: process.env.PATH ?? "", PORTAL_TOKEN: "t".repeat(40), PORTAL_PORT: "0", PORTAL_IDLE_INTERVAL_SECONDS: "10s" }, cwd: root,
        });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
        assert.equal(code, 2, output);
        assert.match(output, /\[portal\] PORTAL_IDLE_INTERVAL_SECONDS must be whole seconds from 5 to 3600 \(got "10s"\)/);
        assert.doesNotMatch(output, /listening/);
    });
});

describe("idle: BoundedSink (exec output)", () => {
    it("keeps at most its limit and flags the rest", async () => {
        const sink = new BoundedSink(8);
        await new Promise<void>((r) => sink.write(Buffer.from("0123456"), () => r()));
        await new Promise<void>((r) => sink.write(Buffer.from("789abc"), () => r()));
        assert.equal(sink.text(), "01234567");
        assert.equal(sink.overflow, true);
    });
});

/** readyPod, Ready since `readyAt` (the test's clock). */
function podAt(developer: string, namespace: string, team: string, readyAt = T0 - MIN): V1Pod {
    const pod = readyPod(developer, namespace, team);
    pod.status!.conditions = [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "True", lastTransitionTime: new Date(readyAt) }];
    return pod;
}

/** A cluster whose pods and activity the test sets; records what it was asked. */
function fakeCluster() {
    const pods = new Map<string, V1Pod[]>();
    const activity = new Map<string, () => Promise<string>>();
    const calls: string[] = [];
    const cluster: IdleCluster = {
        async pods(namespace, selector) {
            calls.push(`pods ${namespace} ${selector}`);
            const p = pods.get(namespace);
            if (!p) throw new Error(`namespace ${namespace} not set up`);
            return p;
        },
        async activity(namespace, pod) {
            calls.push(`exec ${namespace}/${pod}`);
            const a = activity.get(namespace);
            if (!a) throw new Error("no activity set");
            return a();
        },
    };
    return { cluster, pods, activity, calls };
}

describe("idle: the reaper over the portal (in-memory engine, fake cluster)", () => {
    const TEAM = "acme";
    const STACK = `${TEAM}-dev`;
    const ns = (dev: string) => `gitspace--${TEAM}--dev--${dev}`;

    async function setup(developers: unknown[], defaults?: Record<string, unknown>) {
        const mem = createInMemoryPortal();
        const driver = await mem.addStack(STACK, { ...exampleTeamValues(TEAM, developers), environment: "dev", router: { mode: "none" }, ...(defaults ? { defaults } : {}) });
        const fake = fakeCluster();
        let now = T0;
        const logs: Array<Record<string, unknown>> = [];
        const reaper = new IdleReaper({ source: portalIdleSource(mem.portal), cluster: fake.cluster, now: () => now, log: (r) => logs.push(r) });
        const outputs = (await driver.outputs()).gitspaces.value as Record<string, { namespace: string }>;
        for (const [name, g] of Object.entries(outputs)) {
            assert.equal(g.namespace, ns(name));
            fake.pods.set(g.namespace, [podAt(name, g.namespace, TEAM)]);
            fake.activity.set(g.namespace, async () => out({ now: s(now), lastActivity: null, sessions: 0 }));
        }
        const entry = (name: string) => (driver.values.developers as Array<Record<string, unknown>>).find((d) => d.name === name)!;
        return { ...mem, driver, fake, reaper, logs, entry, advance: (ms: number) => { now += ms; }, ref: { team: TEAM, env: "dev" } };
    }

    it("stops idle gitspaces with an idleTimeout, in one update, recording stoppedReason: idle; leaves the others", async () => {
        const t = await setup([
            { name: "alice", idleTimeout: "1m" },
            { name: "bob" },
            { name: "carol", idleTimeout: "1m", running: false },
            { name: "dave", idleTimeout: "1m" },
            { name: "erin" },
        ], undefined);
        t.fake.activity.set(ns("dave"), async () => out({ now: s(T0), lastActivity: null, sessions: 1 }));
        const first = await t.reaper.sweep();
        assert.deepEqual(first.map((r) => [r.developer, r.decision.action]), [["alice", "keep"], ["dave", "keep"]], "first sight: measured from now");
        assert.ok(!t.fake.calls.some((c) => /bob|carol|erin/.test(c)), `only candidates are looked at: ${t.fake.calls}`);
        const runs = t.driver.runs.length;

        t.advance(2 * MIN);
        const second = await t.reaper.sweep();
        assert.deepEqual(second.map((r) => [r.developer, r.decision.action]), [["alice", "stop"], ["dave", "keep"]]);
        assert.equal(t.driver.runs.length, runs + 1, "one engine run");
        assert.equal(t.entry("alice").running, false);
        assert.equal(t.entry("alice").stoppedReason, "idle");
        assert.equal(t.entry("dave").running, undefined, "dave has an SSH session");
        assert.equal(t.entry("bob").stoppedReason, undefined);
        const alice = await t.portal.get(t.ref, "alice");
        assert.deepEqual([alice.status, alice.running, alice.stoppedReason], ["stopped", false, "idle"]);
        assert.equal((await t.portal.get(t.ref, "carol")).stoppedReason, undefined, "stopped by a person");
        assert.deepEqual(t.logs.filter((l) => l.event === "stop").map((l) => l.developer), ["alice"]);

        // Stopped: no longer a candidate.
        t.advance(2 * MIN);
        assert.deepEqual((await t.reaper.sweep()).map((r) => r.developer), ["dave"]);

        // Start works as always and clears the reason; so does a person's Stop.
        await t.portal.start(t.ref, "alice");
        assert.equal(t.entry("alice").running, true);
        assert.ok(!("stoppedReason" in t.entry("alice")));
        assert.equal((await t.portal.get(t.ref, "alice")).stoppedReason, undefined);
        await t.portal.stop(t.ref, "alice");
        assert.ok(!("stoppedReason" in t.entry("alice")), "a person's stop is not an idle stop");
    });

    it("the timeout from defaults; a developer's \"off\" opts out", async () => {
        const t = await setup([{ name: "alice" }, { name: "bob", idleTimeout: "off" }], { idleTimeout: "5m" });
        await t.reaper.sweep();
        t.advance(6 * MIN);
        const r = await t.reaper.sweep();
        assert.deepEqual(r.map((x) => [x.developer, x.decision.action]), [["alice", "stop"]]);
        assert.equal(t.entry("bob").running, undefined);
    });

    it("fail safe: exec failure, garbage output, pods unreadable: logged, nothing stopped", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }, { name: "bob", idleTimeout: "1m" }, { name: "carol", idleTimeout: "1m" }]);
        t.fake.activity.set(ns("alice"), async () => { throw new Error("pods \"x\" is forbidden: cannot create resource \"pods/exec\""); });
        t.fake.activity.set(ns("bob"), async () => "rm -rf / # not json");
        t.fake.pods.delete(ns("carol"));
        await t.reaper.sweep();
        t.advance(10 * MIN);
        const r = await t.reaper.sweep();
        assert.deepEqual(r.map((x) => [x.developer, x.decision.action]), [["alice", "keep"], ["bob", "keep"], ["carol", "keep"]]);
        for (const name of ["alice", "bob", "carol"]) assert.equal(t.entry(name).running, undefined);
        const unknown = () => t.logs.filter((l) => l.event === "activity-unknown");
        assert.deepEqual(unknown().map((l) => l.developer).sort(), ["alice", "bob", "carol"], "the same error is logged once, not every sweep");
        assert.match(String(unknown().find((l) => l.developer === "alice")!.error), /exec: .*pods\/exec/);
        // Another error is logged; after a good read, the old error is news again.
        t.fake.activity.set(ns("alice"), async () => { throw new Error("timeout"); });
        await t.reaper.sweep();
        t.fake.activity.set(ns("bob"), async () => out({ now: s(T0), lastActivity: null, sessions: 1 }));
        await t.reaper.sweep();
        t.fake.activity.set(ns("bob"), async () => "rm -rf / # not json");
        await t.reaper.sweep();
        assert.deepEqual(unknown().map((l) => l.developer).sort(), ["alice", "alice", "bob", "bob", "carol"]);
    });

    it("a pod not Ready yet, or none: kept without exec", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }, { name: "bob", idleTimeout: "1m" }]);
        const starting = podAt("alice", ns("alice"), TEAM);
        starting.status!.conditions = [{ type: "Ready", status: "False" }];
        t.fake.pods.set(ns("alice"), [starting]);
        t.fake.pods.set(ns("bob"), []);
        await t.reaper.sweep();
        t.advance(10 * MIN);
        const r = await t.reaper.sweep();
        assert.deepEqual(r.map((x) => [x.developer, x.decision.action === "keep" && x.decision.reason]), [["alice", "not-ready"], ["bob", "no-pod"]]);
        assert.ok(!t.fake.calls.some((c) => c.startsWith("exec")));
    });

    it("an SSH session that closes: stopped a full timeout after the last sweep that saw it, not at once", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "5m" }]);
        t.fake.activity.set(ns("alice"), async () => out({ now: s(T0), lastActivity: null, sessions: 1 }));
        await t.reaper.sweep();
        t.advance(30 * MIN);
        assert.equal((await t.reaper.sweep())[0].decision.action, "keep", "connected for half an hour");
        t.fake.activity.set(ns("alice"), async () => out({ now: s(T0), lastActivity: null, sessions: 0 }));
        t.advance(MIN);
        const after1 = (await t.reaper.sweep())[0].decision;
        assert.deepEqual([after1.action, after1.idleMs], ["keep", MIN], "the pod has been Ready for 31 minutes, but the session was seen a minute ago");
        t.advance(4 * MIN);
        assert.equal((await t.reaper.sweep())[0].decision.action, "stop");
    });

    it("a new pod (restart) is measured from its own first sight", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "5m" }]);
        await t.reaper.sweep();
        t.advance(4 * MIN);
        // Its Ready time says long ago (as the API server says it): first sight is what counts.
        const fresh = podAt("alice", ns("alice"), TEAM, T0 - 10 * MIN);
        fresh.metadata!.uid = "new-pod";
        t.fake.pods.set(ns("alice"), [fresh]);
        await t.reaper.sweep();
        t.advance(2 * MIN);
        assert.equal((await t.reaper.sweep())[0].decision.action, "keep", "6 minutes after the first pod, 2 after the new one was first seen");
        t.advance(3 * MIN);
        assert.equal((await t.reaper.sweep())[0].decision.action, "stop");
    });

    it("the stop is decided again when it runs: a gitspace stopped or whose timeout was removed meanwhile is left alone", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }, { name: "bob", idleTimeout: "1m" }]);
        await t.portal.stop(t.ref, "alice");
        await t.portal.update(t.ref, "bob", { idleTimeout: null });
        const runs = t.driver.runs.length;
        await t.portal.stopIdle(t.ref, "alice");
        await t.portal.stopIdle(t.ref, "bob");
        assert.equal(t.driver.runs.length, runs, "no engine run");
        assert.ok(!("stoppedReason" in t.entry("alice")));
        assert.equal(t.entry("bob").running, undefined);
        await assert.rejects(t.portal.stopIdle(t.ref, "zoe"), /zoe/);
    });

    it("a stop that fails is logged; the reaper goes on", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }]);
        t.driver.options.failDeveloper = { name: "alice", message: "quota exceeded" };
        await t.reaper.sweep();
        t.advance(2 * MIN);
        const [r] = await t.reaper.sweep();
        assert.equal(r.decision.action, "stop");
        assert.ok(r.stopError, "the failure is reported");
        assert.equal(t.logs.filter((l) => l.event === "stop-failed").length, 1);
    });

    it("a stack whose config is invalid is reported and skipped; the others are swept", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }]);
        await t.addStack("broken-dev", { team: "broken", developers: "nope" }, { deploy: false });
        await t.reaper.sweep();
        t.advance(2 * MIN);
        const r = await t.reaper.sweep();
        assert.deepEqual(r.map((x) => [x.developer, x.decision.action]), [["alice", "stop"]]);
        assert.equal(t.logs.filter((l) => l.event === "stack-unreadable" && l.stack === "broken-dev").length, 1, `logged once, not every sweep: ${JSON.stringify(t.logs)}`);
    });

    it("one sweep at a time: a second call while one runs gets the same pass", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }]);
        let release!: () => void;
        t.fake.activity.set(ns("alice"), () => new Promise((r) => { release = () => r(out({ now: s(T0), lastActivity: null, sessions: 0 })); }));
        const a = t.reaper.sweep();
        const b = t.reaper.sweep();
        assert.equal(a, b);
        await new Promise((r) => setTimeout(r, 20));
        release();
        await a;
        assert.equal(t.fake.calls.filter((c) => c.startsWith("exec")).length, 1);
    });

    it("live status and GET gitspace report stopped (idle); the reply matches its schema", async () => {
        assert.deepEqual(deriveStatus({ developer: "alice", running: false, pods: [], stoppedReason: "idle" }), { developer: "alice", phase: "stopped", reason: "idle" });
        assert.deepEqual(deriveStatus({ developer: "alice", running: false, pods: [] }), { developer: "alice", phase: "stopped" });
        assert.equal(deriveStatus({ developer: "alice", running: true, pods: [], stoppedReason: "idle" }).phase, "pending", "a started gitspace is not stopped (idle)");
        const t = await setup([{ name: "alice", idleTimeout: "1m" }]);
        await t.reaper.sweep();
        t.advance(2 * MIN);
        await t.reaper.sweep();
        const served = await serve(t.portal);
        try {
            const one = await served.request("GET", `/teams/${TEAM}/envs/dev/gitspaces/alice`);
            assert.equal(one.status, 200, one.text);
            assert.deepEqual([one.body.status, one.body.stoppedReason, one.body.config.stoppedReason], ["stopped", "idle", "idle"]);
            const list = await served.request("GET", `/teams/${TEAM}/envs/dev/gitspaces`);
            assert.equal(list.body.gitspaces[0].stoppedReason, "idle");
        } finally {
            await served.close();
        }
    });

    it("start() and stop() of the reaper: periodic sweeps, stopped cleanly", async () => {
        const t = await setup([{ name: "alice", idleTimeout: "1m" }]);
        const reaper = new IdleReaper({ source: portalIdleSource(t.portal), cluster: t.fake.cluster, intervalMs: 20 });
        reaper.start();
        await new Promise((r) => setTimeout(r, 150));
        await reaper.stop();
        const n = t.fake.calls.filter((c) => c.startsWith("exec")).length;
        assert.ok(n >= 2, `swept ${n} times`);
        await new Promise((r) => setTimeout(r, 60));
        assert.equal(t.fake.calls.filter((c) => c.startsWith("exec")).length, n, "no sweep after stop");
    });
});
