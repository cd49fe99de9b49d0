/**
 * The portal service over the real library, the real engine and the local cluster: add, stop/start, update,
 * remove; two concurrent requests on one stack; a request racing a CLI `pulumi up`; 400 / 401. Fails (never
 * skips) without the CLI, the cluster or the runtime image.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { GitspacePortal } from "../../portal";
import {
    E2E_DOMAIN, e2eTeamValues, E2eProject, initStack, kubectl, makeProject, pulumiAsync, randomSuffix, requireCli, requireCluster, requireImage,
} from "./e2e-harness";
import { developerNamespaceName, gitspaceUrl } from "../../components/names";
import { parseSse, serve, Served } from "./helpers";

const TEAM = `pe2e${randomSuffix()}`;
const ENV = "dev";
const STACK = `${TEAM}-${ENV}`;
const G = `/teams/${TEAM}/envs/${ENV}/gitspaces`;
const SCOPE = { team: TEAM, environment: ENV };
const ns = (dev: string) => developerNamespaceName(SCOPE, dev);

function deployment(dev: string): { replicas: number; ready: number; resources: any } {
    const d = JSON.parse(kubectl("-n", ns(dev), "get", "deployment", "gitspace", "-o", "json"));
    return { replicas: d.spec.replicas, ready: d.status.readyReplicas ?? 0, resources: d.spec.template.spec.containers[0].resources };
}

describe("portal e2e: service + library + engine + local cluster", function () {
    this.timeout(30 * 60 * 1000);
    let project: E2eProject;
    let served: Served;
    const timings: string[] = [];
    const timed = async <T>(label: string, fn: () => Promise<T>) => {
        const t0 = Date.now();
        const r = await fn();
        timings.push(`${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        console.log(`      ${timings.at(-1)}`);
        return r;
    };

    before(async () => {
        requireCli();
        requireCluster();
        const values = e2eTeamValues(TEAM, [{ name: "alice", running: false }], ENV);
        project = makeProject();
        initStack(project, STACK, values);
        const portal = new GitspacePortal({ automation: { workDir: project.dir }, retry: { attempts: 12, initialDelayMs: 1000, maxDelayMs: 8000 } });
        served = await serve(portal);
    });

    after(async () => {
        await served?.close();
        if (project) {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", STACK]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            for (const dev of ["alice", "bob"]) kubectlQuiet("delete", "namespace", ns(dev), "--ignore-not-found", "--wait=false");
            project.cleanup();
        }
        console.log(`      timings:\n        ${timings.join("\n        ")}`);
    });

    it("no token → 401; bad bodies → 400 with field paths (real library)", async () => {
        assert.strictEqual((await served.request("GET", G, undefined, { authorization: "" })).status, 401);
        const bad = await served.request("POST", G, { name: "bob", ide: "vscod", resources: { requests: { cpu: "lots" } } });
        assert.strictEqual(bad.status, 400, bad.text);
        assert.deepStrictEqual(bad.body.problems.map((p: any) => p.path).sort(),
            ["gitspace:developers[1].ide", "gitspace:developers[1].resources.requests.cpu", "gitspace:developers[1].resources.requests.memory", "gitspace:developers[1].resources.limits"].sort());
        assert.strictEqual((await served.request("GET", `${G}/zoe`)).status, 404);
        assert.strictEqual((await served.request("GET", `/teams/${TEAM}/envs/nope/gitspaces`)).status, 404);
    });

    it("add a developer: the first update of the stack is a full one; the gitspace is listed with its URL", async () => {
        const add = await timed("add bob (first, full update)", () => served.request("POST", G, { name: "bob", running: false }));
        assert.strictEqual(add.status, 201, add.text);
        assert.strictEqual(add.body.targeted, false);
        assert.strictEqual(add.body.gitspace.status, "stopped");
        assert.strictEqual(add.body.gitspace.url, gitspaceUrl(SCOPE, E2E_DOMAIN, "bob"));
        assert.strictEqual(deployment("bob").replicas, 0);
        const list = await served.request("GET", G);
        assert.deepStrictEqual(list.body.gitspaces.map((g: any) => [g.name, g.status]), [["alice", "stopped"], ["bob", "stopped"]]);
    });

    it("start / stop: targeted updates; the pod runs, then 0 replicas with the home PVC kept", async () => {
        const images = e2eTeamValues(TEAM, []).images as { registry: string; tag: string };
        await requireImage(images.registry, "vscode", images.tag);
        const start = await timed("start bob (targeted)", () => served.request("POST", `${G}/bob/start`));
        assert.strictEqual(start.status, 200, start.text);
        assert.strictEqual(start.body.targeted, true);
        assert.deepStrictEqual(deployment("bob").replicas, 1);
        assert.strictEqual(deployment("bob").ready, 1);
        const stop = await timed("stop bob (targeted)", () => served.request("POST", `${G}/bob/stop`));
        assert.strictEqual(stop.status, 200, stop.text);
        assert.strictEqual(deployment("bob").replicas, 0);
        assert.match(kubectl("-n", ns("bob"), "get", "pvc", "home", "-o", "name"), /home/);
    });

    it("update: a PATCH changes the developer's Deployment only", async () => {
        const patch = await timed("update bob resources (targeted)", () => served.request("PATCH", `${G}/bob`, { resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } } }));
        assert.strictEqual(patch.status, 200, patch.text);
        assert.ok(patch.body.steps.every((s: any) => s.name.startsWith("bob")), JSON.stringify(patch.body.steps));
        assert.deepStrictEqual(deployment("bob").resources.requests, { cpu: "100m", memory: "128Mi" });
    });

    it("two concurrent requests on one stack both succeed, in order", async () => {
        const stamp = () => Date.now();
        const a = served.request("PATCH", `${G}/alice?stream=1`, { storage: "1Gi", migrateLegacyWorkspaces: true });
        await new Promise((r) => setTimeout(r, 300));
        const b = served.request("PATCH", `${G}/bob?stream=1`, { migrateLegacyWorkspaces: true });
        const [ra, rb] = await Promise.all([a.then((r) => ({ ...r, at: stamp() })), b.then((r) => ({ ...r, at: stamp() }))]);
        const ea = parseSse(ra.text), eb = parseSse(rb.text);
        assert.strictEqual(ea.at(-1)!.event, "result", ra.text);
        assert.strictEqual(eb.at(-1)!.event, "result", rb.text);
        assert.ok(eb.some((e) => e.data.type === "queued"), "the second request waited in the stack's queue");
        assert.ok(ra.at <= rb.at, "the first request finished first");
        const list = (await served.request("GET", G)).body.gitspaces;
        assert.ok(list.every((g: any) => g.config.migrateLegacyWorkspaces === true));
    });

    it("a request racing a CLI `pulumi up` gets busy, retries, then succeeds", async () => {
        const cli = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK], { cwd: project.dir, env: { ...process.env, ...project.env } });
        let out = "";
        cli.stdout.on("data", (d) => (out += d));
        cli.stderr.on("data", (d) => (out += d));
        const cliDone = new Promise<number>((r) => cli.on("exit", (c) => r(c ?? -1)));
        const locks = path.join(project.dir, ".state", ".pulumi", "locks");
        const t0 = Date.now();
        while (!(fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json")))) {
            if (Date.now() - t0 > 60000) throw new Error(`the CLI never locked the stack:\n${out}`);
            await new Promise((r) => setTimeout(r, 200));
        }
        const res = await timed("stop alice while a CLI up runs", () => served.request("POST", `${G}/alice/stop?stream=1`));
        assert.strictEqual(await cliDone, 0, out);
        const events = parseSse(res.text);
        assert.ok(events.some((e) => e.data.type === "retry"), `busy first: ${res.text.slice(0, 2000)}`);
        assert.strictEqual(events.at(-1)!.event, "result", res.text);
        assert.strictEqual(events.at(-1)!.data.status, 200);
    });

    it("remove: the developer goes, the Namespace and home PVC stay", async () => {
        const del = await timed("remove bob (targeted)", () => served.request("DELETE", `${G}/bob`));
        assert.strictEqual(del.status, 200, del.text);
        assert.strictEqual((await served.request("GET", `${G}/bob`)).status, 404);
        assert.match(kubectl("get", "namespace", ns("bob"), "-o", "name"), /namespace/);
        assert.match(kubectl("-n", ns("bob"), "get", "pvc", "home", "-o", "name"), /home/);
        assert.throws(() => kubectl("-n", ns("bob"), "get", "deployment", "gitspace"), /NotFound/);
    });
});

function kubectlQuiet(...args: string[]) {
    try { kubectl(...args); } catch { /* cleanup */ }
}
