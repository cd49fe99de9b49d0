/**
 * End to end, reachable for real (issue 8): a team stack in the `gateway` mode routed by the local cluster's real
 * router (Traefik in traefik-system, Gateway `gitspace`, TLS from the local CA) with NetworkPolicies enforced by a
 * real agent (kube-network-policies), SSH by NodePort; and a stack in the `caddy2-k8s` mode whose Deployments carry
 * the router's contract and stay unchanged after the router writes its annotations back.
 * Real engine (Automation API, local file backend), real cluster, the runtime images gitspace.e2e.ts pushed (tag
 * `e2e`; mocha runs that file first).
 *
 *   npm run test:e2e        (or: npx mocha --config tests/e2e/mocharc.json tests/e2e/routing.e2e.ts)
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { developerNamespaceName, teamNamespaceName } from "../../components/names";
import { CADDY_MANAGED_LABEL } from "../../components/routing";
import { DEFAULT_DENIED_CIDRS } from "../../components/routing-config";
import {
    E2E_DOMAIN, E2eProject, e2eTeamValues, initStack, kubectl, makeProject, pulumi, randomSuffix, requireCli, requireCluster, requireImage,
} from "../portal/e2e-harness";

const CLUSTER_DIR = process.env.GITSPACE_CLUSTER_DIR ?? "/var/lib/gitspace-cluster";
const CA = path.join(CLUSTER_DIR, "pki", "local-ca.crt");
const HTTPS_PORT = Number(process.env.GITSPACE_ROUTER_HTTPS_PORT ?? 443);
const ROUTER_NS = "traefik-system";
const BASE_IMAGE = process.env.GITSPACE_E2E_BASE_IMAGE ?? "127.0.0.1:5000/debian:bookworm";
const TEAM = `rt${randomSuffix()}`;
const ENV = "dev";
const SCOPE = { team: TEAM, environment: ENV };
const ns = (dev: string) => developerNamespaceName(SCOPE, dev);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timings: string[] = [];

interface Reply { status: number; location: string; body: string }

/** An HTTPS request through the router on 127.0.0.1, the way a browser on this machine would send it. */
function viaRouter(url: string, opts: { data?: string; cookieJar?: string } = {}): Reply {
    const { hostname, pathname } = new URL(url);
    const args = ["-s", "--max-time", "10", "--cacert", CA, "--resolve", `${hostname}:${HTTPS_PORT}:127.0.0.1`,
        "-o", "-", "-w", "\n%{http_code} %{redirect_url}", `https://${hostname}:${HTTPS_PORT}${pathname}`];
    if (opts.cookieJar) args.unshift("-c", opts.cookieJar);
    if (opts.data !== undefined) args.unshift("--data-urlencode", "password@-");
    const r = spawnSync("curl", args, { encoding: "utf8", input: opts.data });
    const out = r.stdout ?? "";
    const i = out.lastIndexOf("\n");
    const [code, location] = out.substring(i + 1).split(" ");
    return { status: Number(code) || 0, location: location ?? "", body: out.substring(0, i) };
}

/** Polls until the URL answers with a status `ok` accepts; returns the reply and how long it took. */
async function until(url: string, ok: (r: Reply) => boolean, timeoutMs = 120000): Promise<{ reply: Reply; ms: number }> {
    const start = Date.now();
    for (;;) {
        const reply = viaRouter(url);
        if (ok(reply)) return { reply, ms: Date.now() - start };
        if (Date.now() - start > timeoutMs) throw new Error(`${url}: still ${reply.status} after ${timeoutMs} ms: ${reply.body.slice(0, 300)}`);
        await sleep(500);
    }
}

/** The node's address as a /32, unless a default denied range already covers it. */
function nodeRange(): string[] {
    const ip = kubectl("get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}").trim();
    const [a, b] = ip.split(".").map(Number);
    const privateRange = a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254);
    return privateRange ? [] : [`${ip}/32`];
}

function ide(dev: string, command: string): string {
    return kubectl("-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command).trim();
}

function podOf(namespace: string, selector: string): any {
    const pods = JSON.parse(kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json")).items.filter((p: any) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 1, `${namespace}: expected one pod for ${selector}, found ${pods.length}`);
    return pods[0];
}

/** `bash /dev/tcp` from a pod: true when a TCP connection to host:port opens within 3 s. */
function connects(namespace: string, pod: string, container: string, host: string, port: number): boolean {
    const r = spawnSync("kubectl", ["-n", namespace, "exec", pod, "-c", container, "--", "timeout", "3", "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { encoding: "utf8", env: process.env });
    return r.status === 0;
}

describe("reachable for real: router, TLS, NetworkPolicies, SSH (real engine, real cluster)", function () {
    this.timeout(60 * 60 * 1000);
    let project: E2eProject;
    let stack: Stack;
    let gitspaces: Record<string, any>;
    let sshKey: string;
    const intruderNs = `gitspace-e2e-intruder-${randomSuffix()}`;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-e2e-routing-"));

    before(async () => {
        requireCli();
        requireCluster();
        await requireImage("127.0.0.1:5000/gitspace-runtime", "vscode", process.env.GITSPACE_E2E_IMAGE_TAG ?? "e2e");
        assert.ok(fs.existsSync(CA), `${CA} is missing: the local cluster (tools/cluster/up.sh) makes the local CA`);
        kubectl("-n", ROUTER_NS, "get", "gateway", "gitspace");
        project = makeProject("gitspace-e2e-routing-");
        sshKey = path.join(workDir, "id_ed25519");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", sshKey]);
        const values = e2eTeamValues(TEAM, [
            { name: "web1", ide: "vs_code_web", ports: [3000] },
            { name: "web2", ide: "vs_code_web" },
            { name: "ssh1", ide: "vs_code", sshPublicKeys: [fs.readFileSync(`${sshKey}.pub`, "utf8").trim()] },
        ], ENV);
        initStack(project, ENV, {
            ...values,
            router: { mode: "gateway", namespace: ROUTER_NS, parentRefs: [{ name: "gitspace", namespace: ROUTER_NS }] },
            ssh: { serviceType: "NodePort", host: "127.0.0.1" },
            // The local node's address is outside the private ranges denied by default (here a TEST-NET address):
            // the API server behind 10.96.0.1 is DNATed to it, so it is denied too, as a platform team would.
            egress: { dns: { cidrs: ["10.88.0.1/32"] }, deniedCidrs: [...DEFAULT_DENIED_CIDRS, ...nodeRange()] },
        });
        stack = await LocalWorkspace.selectStack({ stackName: ENV, workDir: project.dir }, { envVars: project.env });
        const result = await stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
        assert.equal(result.summary.result, "succeeded");
        gitspaces = (await stack.outputs()).gitspaces.value;
    });

    after(async () => {
        spawnSync("kubectl", ["delete", "namespace", intruderNs, "--wait=false"], { env: process.env });
        try {
            await stack?.destroy();
        } catch (e) {
            console.log(`      destroy: ${(e as Error).message.slice(0, 500)}`);
        }
        for (const dev of ["web1", "web2", "ssh1"]) spawnSync("kubectl", ["delete", "namespace", ns(dev), "--wait=false"], { env: process.env });
        console.log("\n  timings:\n" + timings.map((t) => `    ${t}`).join("\n"));
        project?.cleanup();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("https://<identifier>.<domain> through the router shows code-server's login, over TLS from the local CA", async () => {
        const url = gitspaces.web1.url as string;
        assert.equal(url, `https://web1--${TEAM}--${ENV}.${E2E_DOMAIN}`);
        const pod = podOf(ns("web1"), "app=gitspace");
        const ready = pod.status.conditions.find((c: any) => c.type === "Ready" && c.status === "True");
        const { reply, ms } = await until(url, (r) => r.status === 302);
        timings.push(`web1: pod Ready → first successful request through the router: ${((Date.now() - Date.parse(ready.lastTransitionTime)) / 1000).toFixed(1)} s (polled ${ms} ms after up returned)`);
        assert.match(reply.location, /\/login/, "unauthenticated: redirected to the login page");
        const login = viaRouter(`${url}/login`);
        assert.equal(login.status, 200);
        assert.match(login.body, /code-server/i);
        assert.match(login.body, /password/i);
        // Without the local CA, the certificate is not trusted by default: TLS is real, not skipped.
        const untrusted = spawnSync("curl", ["-s", "--max-time", "10", "--resolve", `${new URL(url).hostname}:${HTTPS_PORT}:127.0.0.1`, `https://${new URL(url).hostname}:${HTTPS_PORT}/`,
            "--capath", "/nonexistent", "--cacert", "/dev/null"], { encoding: "utf8" });
        assert.notEqual(untrusted.status, 0, "a client without the local CA refuses the certificate");
    });

    it("the generated password is accepted through the router, a wrong one is not", async () => {
        const url = gitspaces.web1.url as string;
        const password = (await stack.outputs()).gitspaces.value.web1.password as string;
        assert.notEqual(viaRouter(`${url}/login`, { data: "wrong-password" }).status, 302);
        const jar = path.join(workDir, "cookies");
        const ok = viaRouter(`${url}/login`, { data: password, cookieJar: jar });
        assert.equal(ok.status, 302, "the generated password logs in");
        assert.match(fs.readFileSync(jar, "utf8"), /code-server-session/);
    });

    it("a second gitspace's hostname reaches its own pod (its own password logs in there, the first's does not)", async () => {
        const outputs = (await stack.outputs()).gitspaces.value;
        const url = outputs.web2.url as string;
        assert.notEqual(url, outputs.web1.url);
        await until(url, (r) => r.status === 302);
        assert.notEqual(viaRouter(`${url}/login`, { data: outputs.web1.password }).status, 302, "web1's password does not open web2");
        assert.equal(viaRouter(`${url}/login`, { data: outputs.web2.password }).status, 302, "web2's password opens web2");
    });

    it("an app port started inside a gitspace is reachable at https://<identifier>--<port>.<domain>", async () => {
        const url = gitspaces.web1.appUrls["3000"] as string;
        assert.equal(url, `https://web1--${TEAM}--${ENV}--3000.${E2E_DOMAIN}`);
        const stamp = crypto.randomBytes(8).toString("hex");
        ide("web1", `cd /tmp && (setsid nohup node -e 'require("http").createServer((q, s) => s.end("${stamp}")).listen(3000)' >/dev/null 2>&1 &)`);
        const { reply } = await until(url, (r) => r.status === 200);
        assert.equal(reply.body, stamp);
    });

    it("a pod in another namespace cannot connect to the IDE port; the router can", () => {
        kubectl("create", "namespace", intruderNs);
        kubectl("label", "namespace", intruderNs, "pod-security.kubernetes.io/enforce=restricted");
        const pod = {
            apiVersion: "v1", kind: "Pod", metadata: { name: "intruder", namespace: intruderNs },
            spec: {
                securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                containers: [{ name: "c", image: BASE_IMAGE, command: ["sleep", "infinity"], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
            },
        };
        execFileSync("kubectl", ["apply", "-f", "-"], { input: JSON.stringify(pod), env: process.env });
        kubectl("-n", intruderNs, "wait", "--for=condition=Ready", "pod/intruder", "--timeout=180s");
        const target = podOf(ns("web1"), "app=gitspace").status.podIP as string;
        const router = podOf(ROUTER_NS, "app.kubernetes.io/name=traefik");
        // Control: the intruder reaches the router's pod (no policy there), so a refusal below is the policy's.
        assert.ok(connects(intruderNs, "intruder", "c", router.status.podIP, 8443), "control: the intruder pod has a working network");
        assert.equal(connects(intruderNs, "intruder", "c", target, 8089), false, "another namespace must not reach the IDE port");
        assert.equal(connects(intruderNs, "intruder", "c", target, 3000), false, "nor the app port");
        // The router reaches both (the routed requests above went through it; here the raw TCP connection).
        const routerContainer = router.spec.containers[0].name;
        const fromRouter = spawnSync("kubectl", ["-n", ROUTER_NS, "exec", router.metadata.name, "-c", routerContainer, "--", "timeout", "3", "bash", "-c", `exec 3<>/dev/tcp/${target}/8089`], { encoding: "utf8", env: process.env });
        assert.equal(fromRouter.status, 0, `the router connects to the IDE port: ${fromRouter.stderr}`);
    });

    it("from a gitspace, the API server and 169.254.169.254 are blocked, and DNS works", () => {
        const podName = podOf(ns("web1"), "app=gitspace").metadata.name;
        const nodeIp = kubectl("get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}").trim();
        // Control: without the gitspace's egress policy (the intruder's namespace), the API server answers.
        assert.ok(connects(intruderNs, "intruder", "c", "10.96.0.1", 443), "control: the API server's service address is reachable without the policy");
        assert.equal(connects(ns("web1"), podName, "ide", "10.96.0.1", 443), false, "the API server's service address");
        assert.equal(connects(ns("web1"), podName, "ide", nodeIp, 6443), false, "the API server on the node");
        assert.equal(connects(ns("web1"), podName, "ide", "169.254.169.254", 80), false, "link-local metadata");
        assert.match(ide("web1", "getent hosts kubernetes.default.svc.cluster.local"), /^10\.96\.0\.1\s/, "DNS resolves");
    });

    it("SSH key login works through the NodePort, with the command from the outputs", () => {
        const command = gitspaces.ssh1.ssh as string;
        const port = /-p (\d+)/.exec(command)?.[1];
        assert.ok(port && Number(port) >= 30000, `a NodePort in the ssh command: ${command}`);
        assert.match(gitspaces.ssh1.sshConfig, new RegExp(`Port ${port}`));
        assert.equal(gitspaces.ssh1.url, undefined, "no HTTP route ever points at sshd");
        const known = path.join(workDir, "known_hosts");
        const out = execFileSync("ssh", ["-i", sshKey, "-p", port!, "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${known}`, "-o", "StrictHostKeyChecking=accept-new",
            "-o", "ConnectTimeout=10", "vscode@127.0.0.1", "id -un; pwd"], { encoding: "utf8" }).trim();
        assert.equal(out, "vscode\n/home/vscode");
        const routes = JSON.parse(kubectl("-n", ns("ssh1"), "get", "httproutes", "-o", "json")).items;
        assert.equal(routes.length, 0, "no HTTPRoute for an SSH gitspace");
    });

    it("a stopped gitspace stops being routed", async () => {
        const url = gitspaces.web2.url as string;
        pulumi(project, ["config", "set", "--path", "gitspace:developers[1].running", "false", "--stack", ENV]);
        const result = await stack.up();
        assert.equal(result.summary.result, "succeeded");
        const { reply } = await until(url, (r) => r.status !== 302 && r.status !== 200, 60000);
        assert.ok([404, 502, 503].includes(reply.status), `stopped: ${reply.status}`);
        assert.equal(viaRouter(gitspaces.web1.url).status, 302, "the other gitspace is still routed");
    });
});

describe("caddy2-k8s mode: the router's contract on the Deployment (real engine, real cluster)", function () {
    this.timeout(30 * 60 * 1000);
    let project: E2eProject;
    let stack: Stack;
    const team = `cd${randomSuffix()}`;
    const namespace = teamNamespaceName({ team, environment: ENV });

    before(async () => {
        requireCli();
        requireCluster();
        project = makeProject("gitspace-e2e-caddy-");
        const values = e2eTeamValues(team, [{ name: "ann", ide: "vs_code_web" }, { name: "ben", ide: "vs_code_web", running: false }], ENV);
        initStack(project, ENV, { ...values, router: { mode: "caddy2-k8s", namespace: "caddy-system" }, egress: { dns: { cidrs: ["10.88.0.1/32"] } } });
        stack = await LocalWorkspace.selectStack({ stackName: ENV, workDir: project.dir }, { envVars: project.env });
        assert.equal((await stack.up()).summary.result, "succeeded");
    });

    after(async () => {
        try {
            await stack?.destroy();
        } catch (e) {
            console.log(`      destroy: ${(e as Error).message.slice(0, 500)}`);
        }
        spawnSync("kubectl", ["delete", "namespace", namespace, "--wait=false"], { env: process.env });
        project?.cleanup();
    });

    it("all gitspaces of the team are in one namespace, and each Deployment carries the contract on its own metadata", () => {
        const selector = Object.entries(CADDY_MANAGED_LABEL).map(([k, v]) => `${k}=${v}`).join(",");
        assert.equal(selector, "gitspace.app.io/managed-by=caddy", "the label the router selects on");
        const deployments = JSON.parse(kubectl("-n", namespace, "get", "deploy", "-l", selector, "-o", "json")).items;
        assert.equal(deployments.length, 2, "the router's label selector finds both Deployments in the shared namespace");
        for (const d of deployments) {
            const dev = d.metadata.labels["gitspace.io/developer"];
            assert.equal(d.metadata.labels.app, "gitspace");
            assert.equal(d.metadata.labels.gitspace, `${dev}--${team}--${ENV}`, "identifier on the Deployment's own labels");
            assert.equal(d.metadata.annotations["gitspace.caddy.default.port"], "8089");
            assert.equal(d.spec.replicas, dev === "ann" ? 1 : 0);
            assert.equal(d.spec.template.metadata.labels.gitspace, d.metadata.labels.gitspace);
        }
    });

    it("after the router's three annotations are patched on, the next up shows no changes", async () => {
        const name = JSON.parse(kubectl("-n", namespace, "get", "deploy", "-l", "gitspace.io/developer=ann", "-o", "json")).items[0].metadata.name;
        const host = `ann--${team}--${ENV}.${E2E_DOMAIN}`;
        kubectl("-n", namespace, "annotate", "deploy", name, "--overwrite",
            `gitspace.caddy.route.url=https://${host}`, `gitspace.caddy.route.synced-at=${new Date().toISOString()}`, "gitspace.caddy.route.id=gitspace-ann");
        const preview = await stack.preview({ refresh: true });
        const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
        assert.deepEqual(changes, [], `preview --refresh after the write-back: ${JSON.stringify(preview.changeSummary)}`);
        const up = await stack.up({ refresh: true });
        const upChanges = Object.entries(up.summary.resourceChanges ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
        assert.deepEqual(upChanges, [], `up --refresh after the write-back: ${JSON.stringify(up.summary.resourceChanges)}`);
        const annotations = JSON.parse(kubectl("-n", namespace, "get", "deploy", name, "-o", "json")).metadata.annotations;
        assert.equal(annotations["gitspace.caddy.route.url"], `https://${host}`, "the router's annotations are kept");
    });
});
