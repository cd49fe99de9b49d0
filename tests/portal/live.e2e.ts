/**
 * Live status against the real cluster: the pod informer (@kubernetes/client-node) and the init log tail, in a
 * namespace of its own (`gitspace-scale-test`, deleted afterwards). Pods shaped like a gitspace (labels, the
 * `gitspace-init` and `ide` containers, `[gitspace] step:` lines) run the local registry's Debian image.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as net from "net";
import { kubeLiveBackend, LiveStatus, StackLive } from "../../portal";
import { KUBECONFIG, kubectl, requireCluster } from "./e2e-harness";

const NS = "gitspace-scale-test";
const IMAGE = process.env.GITSPACE_LIVE_TEST_IMAGE ?? "127.0.0.1:5000/debian:bookworm";

function podManifest(developer: string, init: string, image = IMAGE) {
    return {
        apiVersion: "v1", kind: "Pod",
        metadata: { name: `${developer}-pod`, namespace: NS, labels: { "gitspace.io/team": "scaletest", "gitspace.io/developer": developer, app: "gitspace" } },
        spec: {
            terminationGracePeriodSeconds: 0,
            initContainers: [{ name: "gitspace-init", image, command: ["bash", "-c", init] }],
            containers: [{ name: "ide", image: IMAGE, command: ["sleep", "3600"], readinessProbe: { exec: { command: ["true"] }, periodSeconds: 1 } }],
        },
    };
}

const apply = (manifest: unknown) => execFileSync("kubectl", ["--kubeconfig", KUBECONFIG, "apply", "-f", "-"], { input: JSON.stringify(manifest) });

async function until(seen: LiveStatus[], pred: (s: LiveStatus) => boolean, ms: number, what: string) {
    const t0 = Date.now();
    while (!seen.some(pred)) {
        if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; seen: ${JSON.stringify(seen.map((s) => [s.developer, s.phase, s.reason, s.step]))}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe("portal e2e: live status from a real cluster", function () {
    this.timeout(300_000);
    before(() => {
        requireCluster();
        // This suite's own namespace, left terminating by a run just before (after() does not wait for it).
        kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=180s");
        kubectl("create", "namespace", NS);
    });
    after(() => {
        try { kubectl("delete", "namespace", NS, "--wait=false"); } catch { /* already gone */ }
    });

    it("initializing (with the current step) → ready; init failure with its step and lines; image pull back-off", async () => {
        const live = await kubeLiveBackend(KUBECONFIG);
        const desired = ["alice", "bob", "carl"].map((name) => ({ name, status: "running" as const, running: true, deployed: true, namespace: NS, url: `https://${name}.example` }));
        const errors: unknown[] = [];
        const stack = new StackLive({ team: "scaletest", env: "e2e" }, live, async () => ({ gitspaces: desired, sharedNamespace: NS }), (e) => errors.push(e));
        const seen: LiveStatus[] = [];
        const t0 = Date.now();
        await stack.start();
        stack.subscribe((s) => { seen.push(s); console.log(`      ${((Date.now() - t0) / 1000).toFixed(1)} s ${s.developer}: ${s.phase}${s.reason ? ` ${s.reason}` : ""}${s.step ? ` [${s.step}]` : ""}`); });
        try {
            apply(podManifest("alice", "echo '[gitspace] step: prepare-home'; sleep 3; echo '[gitspace] step: prepare-home done in 3.0s'; echo '[gitspace] step: clone-repos'; sleep 5; echo '[gitspace] step: clone-repos done in 5.0s'"));
            apply(podManifest("bob", "echo '[gitspace] step: clone-repos'; echo \"fatal: could not read Username for 'https://git.example.com': $(printf '\\033[31mno\\007')\"; echo '[gitspace] step: clone-repos failed (exit 1) after 0.1s'; exit 1"));
            apply(podManifest("carl", "true", "127.0.0.1:5000/does-not-exist:never"));
            await until(seen, (s) => s.developer === "alice" && s.phase === "initializing" && s.step === "prepare-home", 90_000, "alice initializing prepare-home");
            await until(seen, (s) => s.developer === "alice" && s.phase === "initializing" && s.step === "clone-repos", 60_000, "alice at clone-repos");
            await until(seen, (s) => s.developer === "alice" && s.phase === "ready", 60_000, "alice ready");
            const ready = seen.find((s) => s.developer === "alice" && s.phase === "ready")!;
            assert.strictEqual(ready.url, "https://alice.example");
            assert.ok(ready.since && !Number.isNaN(Date.parse(ready.since)));
            await until(seen, (s) => s.developer === "bob" && s.phase === "failed" && s.reason === "init-failed" && !!s.lines, 90_000, "bob init failed");
            const bob = seen.filter((s) => s.developer === "bob" && s.phase === "failed").at(-1)!;
            assert.strictEqual(bob.step, "clone-repos");
            assert.ok(bob.lines!.some((l) => l.includes("fatal: could not read Username") && l.includes("no\\u0007") && !l.includes("\u001b")), JSON.stringify(bob.lines));
            await until(seen, (s) => s.developer === "carl" && (s.reason === "image-pull" || s.reason === "ImagePullBackOff"), 90_000, "carl image pull");
            assert.deepStrictEqual(errors, []);
        } finally {
            await stack.stop();
        }
    });

    it("a stopped watch leaves no connection open (the stop's own abort does not restart it)", async () => {
        const server = new URL(JSON.parse(execFileSync("kubectl", ["--kubeconfig", KUBECONFIG, "config", "view", "--minify", "-o", "json"]).toString()).clusters[0].cluster.server);
        const apiPort = Number(server.port || 443);
        const openToApi = () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
            .filter((h): h is net.Socket => h instanceof net.Socket && !h.destroyed && h.remotePort === apiPort);
        // Sockets the earlier tests left (a keep-alive one may close at any moment) are not this watch's: only the
        // sockets opened after this point count, so one of those closing meanwhile cannot hide the watch's.
        const before = new Set(openToApi());
        const opened = () => openToApi().filter((s) => !before.has(s));
        const live = await kubeLiveBackend(KUBECONFIG);
        const errors: unknown[] = [];
        const watch = await live.watchPods({ namespace: NS, labelSelector: "gitspace.io/team=scaletest" }, () => undefined, (e) => errors.push(e));
        assert.ok(opened().length > 0, "the watch holds a connection to the API server while it runs");
        await watch.stop();
        // The informer's error-restart waits 5 s: wait past it.
        await new Promise((r) => setTimeout(r, 6500));
        assert.deepStrictEqual(opened().map((s) => `${s.localPort}->${s.remotePort}`), [], "connections to the API server left open after stop()");
        assert.deepStrictEqual(errors, [], "stop() is not reported as an error");
    });
});
