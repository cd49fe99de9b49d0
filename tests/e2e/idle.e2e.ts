/**
 * End to end, idle auto-stop (issue 10, items 1 and 5): the real portal process (`portal/main.ts`, as `npm run
 * portal` runs it) over the real engine (Automation API, local file backend) and the local cluster, its reaper every
 * 10 s. Three gitspaces with short idleTimeouts:
 *   quiet   (web IDE, 1m, no client)                  → stopped within 3 minutes: Deployment at 0 replicas, config
 *                                                         running: false + stoppedReason: idle, GET and live status
 *                                                         say stopped (idle); Start brings it back with its data;
 *   ssh     (Remote-SSH, 1m, a real ssh session open)  → NOT stopped over the same window; stopped about a minute
 *                                                         after it closes;
 *   browser (web IDE, 2m, a client requesting code-server every 20 s, each on a new connection, so only code-server's
 *            heartbeat file says so: its granularity is a minute) → NOT stopped over the same window.
 * Uses the runtime images of tag GITSPACE_E2E_IMAGE_TAG (default `e2e`, pushed by gitspace.e2e.ts, which mocha runs
 * first); they must contain scripts/common/gitspace-activity.sh.
 *
 *   npm run test:e2e        (or: npx mocha --no-config --exit -r ts-node/register/transpile-only --extension ts \
 *                                  --timeout 1800000 tests/e2e/idle.e2e.ts)
 */
import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { developerNamespaceName } from "../../components/names";
import { kubeIdleCluster } from "../../portal/idle";
import { parseActivity } from "../../portal/idle/decide";
import {
    E2eProject, KUBECONFIG, REPO, e2eTeamValues, initStack, kubectl, makeProject, pulumiAsync, randomSuffix, requireCli, requireCluster,
    portForward, requireImage,
} from "../portal/e2e-harness";
import { freePort } from "../scripts/helpers";

const TEAM = `idle${randomSuffix()}`;
const ENV = "dev";
const STACK = `${TEAM}-${ENV}`;
const TAG = process.env.GITSPACE_E2E_IMAGE_TAG ?? "e2e";
const TOKEN = crypto.randomBytes(24).toString("hex");
const INTERVAL_S = 10;
const WINDOW_MS = 3 * 60_000;
const G = `/teams/${TEAM}/envs/${ENV}/gitspaces`;
const ns = (dev: string) => developerNamespaceName({ team: TEAM, environment: ENV }, dev);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function replicas(dev: string): number {
    return Number(kubectl("-n", ns(dev), "get", "deploy", "gitspace", "-o", "jsonpath={.spec.replicas}"));
}

function ide(dev: string, command: string): string {
    return kubectl("-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command).trim();
}

function waitReady(dev: string): void {
    kubectl("-n", ns(dev), "rollout", "status", "deploy/gitspace", "--timeout=300s");
    kubectl("-n", ns(dev), "wait", "--for=condition=Ready", "pod", "-l", "app=gitspace", "--timeout=300s");
}

/** One GET on a new connection, closed after the reply (so no connection stays open between requests). */
function getOnce(port: number, urlPath: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, headers: { connection: "close" }, timeout: 10000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

interface Portal {
    url: string;
    child: ChildProcess;
    lines: string[];
    request(method: string, p: string): Promise<{ status: number; body: any }>;
    close(): Promise<void>;
}

/** `portal/main.ts` as `npm run portal` runs it, on this test's backend and program copy, with a 10 s reaper. */
async function startPortal(project: E2eProject): Promise<Portal> {
    const port = await freePort();
    const lines: string[] = [];
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "portal/main.ts"], {
        cwd: REPO,
        env: {
            ...process.env, ...project.env, KUBECONFIG, PORTAL_TOKEN: TOKEN, PORTAL_PORT: String(port), PORTAL_HOST: "127.0.0.1",
            PORTAL_WORKDIR: project.dir, PORTAL_IDLE_INTERVAL_SECONDS: String(INTERVAL_S),
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const onData = (d: Buffer) => { for (const l of d.toString().split("\n")) if (l.trim()) lines.push(`${new Date().toISOString()} ${l}`); };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60000;
    while (!lines.some((l) => l.includes("listening on"))) {
        if (child.exitCode !== null) throw new Error(`the portal exited ${child.exitCode}:\n${lines.join("\n")}`);
        if (Date.now() > deadline) throw new Error(`the portal did not start:\n${lines.join("\n")}`);
        await sleep(200);
    }
    return {
        url, child, lines,
        async request(method, p) {
            const res = await fetch(url + p, { method, headers: { authorization: `Bearer ${TOKEN}` } });
            const text = await res.text();
            return { status: res.status, body: text ? JSON.parse(text) : undefined };
        },
        async close() {
            if (child.exitCode !== null) return;
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, sleep(10000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
        },
    };
}

/** The first live status of `developer` from GET …/live (server-sent events). */
async function liveStatus(portal: Portal, developer: string): Promise<any> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 30000);
    try {
        const res = await fetch(`${portal.url}/teams/${TEAM}/envs/${ENV}/live`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        let text = "";
        for (;;) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`the live stream ended: ${text}`);
            text += Buffer.from(value).toString();
            for (const block of text.split("\n\n").slice(0, -1)) {
                const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.substring(6)).join("\n");
                if (/^event: status$/m.test(block) && data && JSON.parse(data).developer === developer) return JSON.parse(data);
            }
        }
    } finally {
        clearTimeout(timer);
        controller.abort();
    }
}

describe("idle auto-stop end to end: the portal's reaper, the real engine and cluster", function () {
    this.timeout(40 * 60 * 1000);
    let project: E2eProject;
    let portal: Portal | undefined;
    let ssh: ChildProcess | undefined;
    let browser: { child: ChildProcess; timer: NodeJS.Timeout; hits: number[] } | undefined;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-e2e-idle-"));
    const sshKey = path.join(workDir, "id_ed25519");
    let sshPort = "";
    const timings: string[] = [];

    before(async () => {
        requireCli();
        requireCluster();
        for (const flavor of ["vscode", "vscode-desktop"]) await requireImage("127.0.0.1:5000/gitspace-runtime", flavor, TAG);
        // This stack runs the images by tag (build: false), pulled only when the node has no copy: drop the node's
        // copies of these tags, so the pods run what the registry holds now (gitspace.e2e.ts pushed it), not an
        // older build a previous run left on the node. Running containers keep their own snapshots.
        const containerd = path.join(process.env.GITSPACE_CLUSTER_RUN ?? "/run/gitspace-cluster", "containerd", "containerd.sock");
        spawnSync("ctr", ["--address", containerd, "-n", "k8s.io", "images", "rm",
            ...["vscode", "vscode-desktop"].map((f) => `127.0.0.1:5000/gitspace-runtime:${f}-${TAG}`)], { stdio: "ignore" });
        project = makeProject("gitspace-e2e-idle-");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", sshKey]);
        initStack(project, STACK, {
            ...e2eTeamValues(TEAM, [
                { name: "quiet", ide: "vs_code_web", idleTimeout: "1m" },
                { name: "ssh", ide: "vs_code", idleTimeout: "1m", sshPublicKeys: [fs.readFileSync(`${sshKey}.pub`, "utf8").trim()] },
                { name: "browser", ide: "vs_code_web", idleTimeout: "2m" },
            ], ENV),
            ssh: { serviceType: "NodePort", host: "127.0.0.1" },
        });
        const stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: project.dir }, { envVars: project.env });
        const t0 = Date.now();
        const up = await stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
        assert.equal(up.summary.result, "succeeded");
        timings.push(`pulumi up (3 gitspaces): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        sshPort = /-p (\d+)/.exec(up.outputs.gitspaces.value.ssh.ssh as string)?.[1] ?? "";
        assert.ok(sshPort, "a NodePort in the ssh command");
        for (const dev of ["quiet", "ssh", "browser"]) waitReady(dev);
        const missing = spawnSync("kubectl", ["--kubeconfig", KUBECONFIG, "-n", ns("quiet"), "exec", "deploy/gitspace", "-c", "ide", "--", "test", "-x", "/usr/local/gitspace/scripts/common/gitspace-activity.sh"]);
        assert.equal(missing.status, 0, `the runtime images of tag ${TAG} lack scripts/common/gitspace-activity.sh: rebuild and push them (gitspace.e2e.ts does, or an images stack with that tag)`);
    });

    after(async () => {
        if (browser) { clearInterval(browser.timer); browser.child.kill(); }
        ssh?.kill();
        await portal?.close();
        if (portal && process.env.GITSPACE_E2E_VERBOSE) console.log(portal.lines.join("\n"));
        if (project) {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", STACK]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            // The homes are kept by default (retainHome): this test made them, it removes them.
            for (const dev of ["quiet", "ssh", "browser"]) spawnSync("kubectl", ["--kubeconfig", KUBECONFIG, "delete", "namespace", ns(dev), "--ignore-not-found", "--wait=false"]);
            project.cleanup();
        }
        fs.rmSync(workDir, { recursive: true, force: true });
        console.log(`      timings:\n        ${timings.join("\n        ")}`);
    });

    it("no client: stopped within 3 minutes (0 replicas, running: false, stoppedReason: idle, stopped (idle)); an SSH session and a browser keep theirs", async () => {
        ide("quiet", "echo kept-across-idle > $HOME/.e2e-idle");
        // A real ssh client through the gitspace's SSH Service (NodePort), held open.
        const known = path.join(workDir, "known_hosts");
        ssh = spawn("ssh", ["-i", sshKey, "-p", sshPort, "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${known}`, "-o", "StrictHostKeyChecking=accept-new",
            "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "vscode@127.0.0.1", "echo session-open; sleep 1200"], { stdio: ["ignore", "pipe", "pipe"] });
        let sshOut = "";
        ssh.stdout!.on("data", (d: Buffer) => (sshOut += d.toString()));
        ssh.stderr!.on("data", (d: Buffer) => (sshOut += d.toString()));
        for (let i = 0; i < 100 && !sshOut.includes("session-open"); i++) await sleep(200);
        assert.match(sshOut, /session-open/, `the ssh session did not open: ${sshOut}`);
        // A browser: a request every 20 s, each on its own connection.
        const forward = await portForward(ns("browser"), 8089);
        browser = { child: forward.child, hits: [], timer: setInterval(() => void getOnce(forward.port, "/").then((s) => browser!.hits.push(s), () => browser!.hits.push(0)), 20000) };
        browser.hits.push(await getOnce(forward.port, "/"));

        const start = Date.now();
        portal = await startPortal(project);
        assert.ok(portal.lines.some((l) => l.includes(`idle reaper: every ${INTERVAL_S} s`)), portal.lines.join("\n"));
        let stoppedAfter = 0;
        while (Date.now() - start < WINDOW_MS) {
            // kubectl only: the portal's GET runs the CLI twice, which would compete with the reaper on a busy machine.
            if (!stoppedAfter && replicas("quiet") === 0) stoppedAfter = Date.now() - start;
            assert.equal(replicas("ssh"), 1, `ssh was stopped with its session open:\n${portal.lines.join("\n")}`);
            assert.equal(replicas("browser"), 1, `browser was stopped with a client:\n${portal.lines.join("\n")}`);
            await sleep(5000);
        }
        const decided = portal.lines.find((l) => /\[portal\] idle \{"event":"stop","stack":"[^"]+","developer":"quiet"/.test(l));
        const decidedAfter = decided ? (Date.parse(decided.split(" ")[0]) - start) / 1000 : NaN;
        timings.push(`quiet: stop decided ${decidedAfter.toFixed(0)} s, Deployment at 0 replicas ${(stoppedAfter / 1000).toFixed(0)} s after the portal started (idleTimeout 1m, sweep every ${INTERVAL_S} s)`);
        assert.ok(stoppedAfter > 0, `quiet was not stopped within 3 minutes:\n${portal.lines.join("\n")}`);
        assert.ok(stoppedAfter >= 60_000, "not before its idleTimeout");

        const quiet = await portal.request("GET", `${G}/quiet`);
        assert.deepEqual([quiet.body.status, quiet.body.running, quiet.body.stoppedReason, quiet.body.config.stoppedReason], ["stopped", false, "idle", "idle"]);
        assert.equal(kubectl("-n", ns("quiet"), "get", "pvc", "home", "-o", "jsonpath={.status.phase}"), "Bound", "the home is kept");
        const stackFile = fs.readFileSync(path.join(project.dir, `Pulumi.${STACK}.yaml`), "utf8");
        assert.match(stackFile, /stoppedReason: idle/, "recorded in the stack config: Pulumi is the source of truth");
        kubectl("-n", ns("quiet"), "wait", "--for=delete", "pod", "-l", "app=gitspace", "--timeout=120s");
        const live = await liveStatus(portal, "quiet");
        assert.deepEqual([live.phase, live.reason], ["stopped", "idle"]);
        for (const dev of ["ssh", "browser"]) {
            const g = await portal.request("GET", `${G}/${dev}`);
            assert.deepEqual([g.body.status, g.body.stoppedReason], ["running", undefined], dev);
        }
        assert.ok(browser.hits.length >= 8 && browser.hits.every((s) => s === 302 || s === 200), `code-server answered the client: ${browser.hits}`);
        assert.ok(portal.lines.some((l) => /\[portal\] idle \{"event":"stop","stack":"[^"]+","developer":"quiet"/.test(l)), "the stop is logged");
        assert.ok(!portal.lines.some((l) => l.includes("activity-unknown")), `activity was read every time:\n${portal.lines.join("\n")}`);
    });

    it("the RBAC the README asks for is enough, and without pods/exec the activity read fails (so nothing is stopped)", async () => {
        const namespace = ns("browser");
        const pod = kubectl("-n", namespace, "get", "pods", "-l", "app=gitspace", "-o", "jsonpath={.items[0].metadata.name}").trim();
        const raw = JSON.parse(kubectl("config", "view", "--raw", "--minify", "-o", "json"));
        const cluster = raw.clusters[0].cluster;
        const kubeconfigFor = (sa: string) => {
            const token = kubectl("-n", namespace, "create", "token", sa, "--duration=10m").trim();
            const file = path.join(workDir, `kubeconfig-${sa}.json`);
            fs.writeFileSync(file, JSON.stringify({
                apiVersion: "v1", kind: "Config", "current-context": "sa",
                clusters: [{ name: "c", cluster: { server: cluster.server, "certificate-authority-data": cluster["certificate-authority-data"] } }],
                users: [{ name: sa, user: { token } }],
                contexts: [{ name: "sa", context: { cluster: "c", user: sa, namespace } }],
            }), { mode: 0o600 });
            return file;
        };
        const apply = (doc: unknown) => execFileSync("kubectl", ["--kubeconfig", KUBECONFIG, "apply", "-f", "-"], { input: JSON.stringify(doc), encoding: "utf8" });
        for (const [sa, rules] of [
            ["idle-reaper", [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }, { apiGroups: [""], resources: ["pods/exec"], verbs: ["create", "get"] }]],
            ["no-exec", [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }]],
        ] as const) {
            apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa, namespace } });
            apply({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: sa, namespace }, rules });
            apply({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: sa, namespace }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: sa }, subjects: [{ kind: "ServiceAccount", name: sa, namespace }] });
        }
        const allowed = await kubeIdleCluster(kubeconfigFor("idle-reaper"));
        assert.equal((await allowed.pods(namespace, `gitspace.io/team=${TEAM},gitspace.io/developer=browser`)).length, 1);
        const report = parseActivity(await allowed.activity(namespace, pod));
        assert.ok("report" in report, JSON.stringify(report));
        assert.ok(report.report.lastActivity !== null, "code-server wrote its heartbeat for the browser client");
        const denied = await kubeIdleCluster(kubeconfigFor("no-exec"));
        await assert.rejects(denied.activity(namespace, pod), (e: Error) => /forbidden|403|Unexpected server response/i.test(e.message) || assert.fail(e.message));
        // A pod that does not exist: rejected too (kept, never stopped).
        await assert.rejects(allowed.activity(namespace, "no-such-pod"));
    });

    it("once the SSH session closes, that gitspace is stopped too, its timeout counted from the last session seen", async () => {
        assert.ok(ssh && portal);
        ssh.kill();
        const start = Date.now();
        while (replicas("ssh") !== 0) {
            assert.ok(Date.now() - start < WINDOW_MS, `ssh was not stopped within 3 minutes of its session closing:\n${portal.lines.join("\n")}`);
            await sleep(5000);
        }
        const after = Date.now() - start;
        timings.push(`ssh stopped ${(after / 1000).toFixed(0)} s after its session closed (idleTimeout 1m)`);
        // The last sweep that saw the session was at most an interval and a sweep before the close.
        assert.ok(after >= 30_000, `stopped ${after} ms after the session closed: the timeout must run from the last session seen`);
        assert.equal((await portal.request("GET", `${G}/ssh`)).body.stoppedReason, "idle");
    });

    it("Start works as always: running again, stoppedReason cleared, the data kept", async () => {
        assert.ok(portal);
        const t0 = Date.now();
        const started = await portal.request("POST", `${G}/quiet/start`);
        assert.equal(started.status, 200, JSON.stringify(started.body));
        assert.deepEqual([started.body.gitspace.running, started.body.gitspace.stoppedReason, started.body.gitspace.config.stoppedReason], [true, undefined, undefined]);
        waitReady("quiet");
        timings.push(`start after the idle stop, to Ready: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        assert.equal(replicas("quiet"), 1);
        assert.equal(ide("quiet", "cat $HOME/.e2e-idle"), "kept-across-idle");
        assert.doesNotMatch(fs.readFileSync(path.join(project.dir, `Pulumi.${STACK}.yaml`), "utf8").split("name: quiet")[1]?.split("- name:")[0] ?? "", /stoppedReason/);
    });
});
