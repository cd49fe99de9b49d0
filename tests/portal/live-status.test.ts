import * as assert from "assert";
import { cleanText, currentStep, deriveStatus, importantLines, LiveStatus, MAX_LINE, MAX_LINES, MAX_MESSAGE } from "../../portal/live/status";

const T0 = "2026-11-30T09:00:00Z";
const T1 = "2026-11-30T09:00:07Z";
const URL = "https://alice--platform--dev.gitspace.localtest.me";

/** A pod of the gitspace Deployment as the API server returns it (JSON: dates as strings), with overrides. */
function pod(status: Record<string, unknown>, meta: Record<string, unknown> = {}): any {
    return {
        metadata: { name: "alice-7d9f-abcde", namespace: "gitspace--platform--dev", creationTimestamp: T0, labels: { "gitspace.io/developer": "alice" }, ...meta },
        status: { phase: "Pending", ...status },
    };
}
const initRunning = { name: "gitspace-init", ready: false, restartCount: 0, state: { running: { startedAt: T0 } } };
const initDone = { name: "gitspace-init", ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed" } } };
const ide = (state: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ name: "ide", ready: false, restartCount: 0, state, ...extra });
const status = (p: any, log?: string, running = true): LiveStatus => deriveStatus({ developer: "alice", running, pods: p === undefined ? [] : Array.isArray(p) ? p : [p], initLog: log, url: URL });

describe("portal: live status derivation (pure, pod fixtures)", () => {
    it("stopped, no pod yet, terminating", () => {
        assert.deepStrictEqual(status(undefined, undefined, false), { developer: "alice", phase: "stopped" });
        assert.strictEqual(status(undefined).phase, "pending");
        assert.strictEqual(status(undefined).reason, "no-pod");
        const t = status(pod({ phase: "Running" }, { deletionTimestamp: T1 }), undefined, false);
        assert.deepStrictEqual([t.phase, t.reason], ["stopped", "terminating"]);
    });

    it("pending: unschedulable, PVC pending, image pull, container creating, scheduling", () => {
        const unsched = status(pod({ conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient memory." }] }));
        assert.deepStrictEqual([unsched.phase, unsched.reason, unsched.message], ["pending", "unschedulable", "0/1 nodes are available: 1 Insufficient memory."]);
        const pvc = status(pod({ conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims." }] }));
        assert.deepStrictEqual([pvc.phase, pvc.reason], ["pending", "pvc-pending"]);
        const pull = status(pod({ initContainerStatuses: [{ name: "gitspace-init", state: { waiting: { reason: "ErrImagePull", message: "pull access denied" } } }] }));
        assert.deepStrictEqual([pull.phase, pull.reason, pull.message], ["pending", "image-pull", "pull access denied"]);
        const creating = status(pod({ initContainerStatuses: [{ name: "gitspace-init", state: { waiting: { reason: "ContainerCreating" } } }] }));
        assert.deepStrictEqual([creating.phase, creating.reason], ["pending", "container-creating"]);
        assert.deepStrictEqual([status(pod({})).phase, status(pod({})).reason], ["pending", "scheduling"]);
    });

    it("initializing: the current step from the init log; a finished step is not current", () => {
        const log = "[gitspace] step: prepare-home\n[gitspace] step: prepare-home done in 0.010s\n[gitspace] step: clone-repos\nCloning into 'api'...\n";
        const s = status(pod({ initContainerStatuses: [initRunning] }), log);
        assert.deepStrictEqual([s.phase, s.step, s.since], ["initializing", "clone-repos", new Date(T0).toISOString()]);
        const between = status(pod({ initContainerStatuses: [initRunning] }), "[gitspace] step: a\n[gitspace] step: a done in 1.000s\n");
        assert.deepStrictEqual([between.phase, between.step], ["initializing", undefined]);
        assert.strictEqual(status(pod({ initContainerStatuses: [initRunning] })).step, undefined, "no log yet");
    });

    it("starting and ready (since the Ready transition), with the URL only when ready", () => {
        const starting = status(pod({ phase: "Running", initContainerStatuses: [initDone], containerStatuses: [ide({ running: { startedAt: T1 } })] }));
        assert.deepStrictEqual([starting.phase, starting.url, starting.since], ["starting", undefined, new Date(T1).toISOString()]);
        const creating = status(pod({ initContainerStatuses: [initDone], containerStatuses: [ide({ waiting: { reason: "PodInitializing" } })] }));
        assert.strictEqual(creating.phase, "starting");
        const ready = status(pod({
            phase: "Running", initContainerStatuses: [initDone], containerStatuses: [ide({ running: { startedAt: T0 } }, { ready: true })],
            conditions: [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "True", lastTransitionTime: T1 }],
        }));
        assert.deepStrictEqual([ready.phase, ready.since, ready.url], ["ready", new Date(T1).toISOString(), URL]);
    });

    it("failed: CrashLoopBackOff, ImagePullBackOff, init failed (exit, crash loop), pod Failed — with the lines that matter", () => {
        const crash = status(pod({ phase: "Running", initContainerStatuses: [initDone], containerStatuses: [ide({ waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } }, { restartCount: 4, lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } } })] }));
        assert.deepStrictEqual([crash.phase, crash.reason, crash.lines], ["failed", "CrashLoopBackOff", ["OOMKilled: exit 137"]]);
        const pullOff = status(pod({ initContainerStatuses: [initDone], containerStatuses: [ide({ waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } })] }));
        assert.deepStrictEqual([pullOff.phase, pullOff.reason], ["failed", "ImagePullBackOff"]);
        const initPullOff = status(pod({ initContainerStatuses: [{ name: "gitspace-init", state: { waiting: { reason: "ImagePullBackOff" } } }] }));
        assert.deepStrictEqual([initPullOff.phase, initPullOff.reason], ["failed", "ImagePullBackOff"]);
        const log = "[gitspace] step: prepare-home\n[gitspace] step: prepare-home done in 0.010s\n[gitspace] step: clone-repos\nfatal: could not read Username for 'https://git.example.com': No such device\n[gitspace] ERROR: clone of https://git.example.com/acme/api.git failed\n[gitspace] step: clone-repos failed (exit 1) after 1.2s\n";
        const exited = status(pod({ initContainerStatuses: [{ name: "gitspace-init", state: { terminated: { exitCode: 1, reason: "Error" } } }] }), log);
        assert.deepStrictEqual([exited.phase, exited.reason, exited.step, exited.message], ["failed", "init-failed", "clone-repos", "gitspace-init exited 1 in step clone-repos"]);
        assert.ok(exited.lines!.some((l) => l.startsWith("fatal: could not read Username")));
        assert.ok(exited.lines!.includes("[gitspace] step: clone-repos failed (exit 1) after 1.2s"));
        const loop = status(pod({ initContainerStatuses: [{ name: "gitspace-init", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1 } } }] }), log);
        assert.deepStrictEqual([loop.phase, loop.reason, loop.step], ["failed", "init-failed", "clone-repos"]);
        assert.match(loop.message!, /exited 1; restarting/);
        const evicted = status(pod({ phase: "Failed", reason: "Evicted", message: "The node was low on resource: ephemeral-storage." }));
        assert.deepStrictEqual([evicted.phase, evicted.reason], ["failed", "Evicted"]);
        const config = status(pod({ initContainerStatuses: [initDone], containerStatuses: [ide({ waiting: { reason: "CreateContainerConfigError", message: "secret \"alice-password\" not found" } })] }));
        assert.deepStrictEqual([config.phase, config.reason, config.message], ["failed", "CreateContainerConfigError", "secret \"alice-password\" not found"]);
    });

    it("the newest pod not being deleted tells the status (a Recreate rollout)", () => {
        const old = pod({ phase: "Running", initContainerStatuses: [initDone], containerStatuses: [ide({ running: {} }, { ready: true })] }, { name: "old", creationTimestamp: T0, deletionTimestamp: T1 });
        const fresh = pod({ initContainerStatuses: [initRunning] }, { name: "new", creationTimestamp: T1 });
        const s = status([old, fresh]);
        assert.deepStrictEqual([s.phase, s.pod], ["initializing", "new"]);
        const older = pod({ initContainerStatuses: [initRunning] }, { name: "older", creationTimestamp: "2026-11-30T08:00:00Z" });
        assert.strictEqual(status([older, fresh]).pod, "new");
    });

    it("adversarial pods: missing fields, wrong types, unknown reasons, garbage — never throws, always a phase", () => {
        const garbage: unknown[] = [
            {}, null, 42, "pod", [], { metadata: null }, { metadata: {} }, { metadata: {}, status: null }, { metadata: {}, status: "Running" },
            { metadata: { creationTimestamp: "not a date" }, status: { phase: 7, conditions: "x", initContainerStatuses: {} } },
            { metadata: {}, status: { conditions: [null, 1, { type: "PodScheduled", status: "False" }] } },
            { metadata: {}, status: { initContainerStatuses: [null, { name: "gitspace-init" }] } },
            { metadata: {}, status: { initContainerStatuses: [{ name: "gitspace-init", state: { terminated: {} } }] } },
            { metadata: {}, status: { initContainerStatuses: [initDone], containerStatuses: [{ name: "ide", state: { waiting: { reason: 5, message: {} } } }] } },
            { metadata: {}, status: { initContainerStatuses: [initDone], containerStatuses: [{ name: "ide", state: {} }] } },
            { metadata: {}, status: { initContainerStatuses: [initDone], containerStatuses: [{ name: "ide", state: { terminated: { exitCode: 2 } } }] } },
            { metadata: { name: { evil: true } }, status: { phase: "Failed" } },
        ];
        const phases = new Set(["stopped", "pending", "initializing", "starting", "ready", "failed"]);
        for (const g of garbage) {
            for (const running of [true, false]) {
                const s = deriveStatus({ developer: "alice", running, pods: [g as any], initLog: "\u0000\u001b[31m" });
                assert.ok(phases.has(s.phase), JSON.stringify(g));
                JSON.stringify(s);
            }
        }
        assert.strictEqual(deriveStatus({ developer: "alice", running: true, pods: "nope" as any }).phase, "pending");
        const unknown = status(pod({ initContainerStatuses: [initDone], containerStatuses: [ide({ waiting: { reason: "SomethingNew", message: "a new kubelet reason" } })] }));
        assert.deepStrictEqual([unknown.phase, unknown.reason, unknown.message], ["pending", "SomethingNew", "a new kubelet reason"]);
        const termUnknown = status(pod({ initContainerStatuses: [initDone], containerStatuses: [ide({ terminated: { exitCode: 3, reason: "Weird" } })] }));
        assert.deepStrictEqual([termUnknown.phase, termUnknown.reason], ["failed", "Weird"]);
    });

    it("control characters, ANSI, bidi overrides and huge strings in messages and logs are escaped and bounded", () => {
        const evil = "\u001b[31mred\u001b[0m <script>alert(1)</script>\u0000\u0007bell\u202eesrever\u2028line\r\nnext\u009b";
        const s = status(pod({ conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: evil }] }));
        assert.strictEqual(s.message, "red <script>alert(1)</script>\\u0000\\u0007bell\\u202eesrever\\u2028line next\\u009b");
        assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202e\u2028]/.test(JSON.stringify(s).replace(/\\[nrtu"\\]/g, "")), "no raw control character");
        const huge = status(pod({ phase: "Failed", message: "x".repeat(5_000_000) }));
        assert.strictEqual(huge.message!.length, MAX_MESSAGE + 1);
        const bigLog = ["[gitspace] step: clone-repos", ...Array.from({ length: 5000 }, (_, i) => `error ${i} ${"y".repeat(10_000)}`), "[gitspace] step: clone-repos failed (exit 1) after 9s"].join("\n");
        const failed = status(pod({ initContainerStatuses: [{ name: "gitspace-init", state: { terminated: { exitCode: 1 } } }] }), bigLog);
        assert.ok(failed.lines!.length <= MAX_LINES);
        assert.ok(failed.lines!.every((l) => l.length <= MAX_LINE + 1));
        assert.strictEqual(failed.lines!.at(-1), "[gitspace] step: clone-repos failed (exit 1) after 9s");
        assert.strictEqual(failed.step, "clone-repos");
        const stepEvil = currentStep("[gitspace] step: \u001b[1mclone\u0000x\n");
        assert.strictEqual(stepEvil.step, "clone\\u0000x");
        assert.strictEqual(cleanText("\u0000"), "\\u0000");
        assert.strictEqual(cleanText("   "), undefined);
        assert.strictEqual(cleanText(12), undefined);
        assert.deepStrictEqual(importantLines("only\nthree\nlines"), ["only", "three", "lines"]);
        assert.strictEqual(importantLines(""), undefined);
        const url = status(pod({ phase: "Running", initContainerStatuses: [initDone], containerStatuses: [ide({ running: {} }, { ready: true })] }));
        assert.strictEqual(url.url, URL);
    });
});
