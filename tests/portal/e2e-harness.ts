/**
 * Real-engine harness of the portal's end-to-end tests: the Pulumi CLI (from PATH or the toolchain cache), a
 * throwaway copy of the program (symlinks) with a local file backend, team stacks created from a config, and the
 * local cluster. Missing pieces FAIL with what to run; nothing is skipped.
 */
import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { freePort } from "../scripts/helpers";

export const REPO = path.resolve(__dirname, "..", "..");
const TOOLS = process.env.GITSPACE_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "gitspace-tools");
export const KUBECONFIG = process.env.KUBECONFIG ?? "/var/lib/gitspace-cluster/kubeconfig";

/** Puts the toolchain's env.sh into process.env when `pulumi` is not on PATH; fails clearly without a CLI. */
export function requireCli(): string {
    const onPath = () => spawnSync("pulumi", ["version"], { encoding: "utf8" });
    let r = onPath();
    if (r.status !== 0) {
        const envFile = path.join(TOOLS, "env.sh");
        if (fs.existsSync(envFile)) {
            const out = execFileSync("bash", ["-c", `source "${envFile}" && env -0`], { encoding: "utf8" });
            for (const line of out.split("\0")) {
                const i = line.indexOf("=");
                if (i > 0 && /^(PATH|PULUMI_HOME|PULUMI_SKIP_UPDATE_CHECK|PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION|GITSPACE_TOOLS_DIR)$/.test(line.substring(0, i))) {
                    process.env[line.substring(0, i)] = line.substring(i + 1);
                }
            }
            r = onPath();
        }
    }
    if (r.status !== 0) {
        // env.sh lists what the last toolchain run built; the cache may hold the CLI anyway.
        const version = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")).packages["node_modules/@pulumi/pulumi"].version;
        const done = (d: string) => fs.existsSync(path.join(TOOLS, d, ".done"));
        const dirs = fs.existsSync(TOOLS) ? fs.readdirSync(TOOLS) : [];
        const cli = dirs.find((d) => d === `pulumi-${version}` && done(d));
        const langhost = dirs.filter((d) => d.startsWith(`pulumi-language-nodejs-${version}`) && done(d))
            .sort((a, b) => fs.statSync(path.join(TOOLS, b)).mtimeMs - fs.statSync(path.join(TOOLS, a)).mtimeMs)[0];
        if (cli && langhost) {
            process.env.PATH = [path.join(TOOLS, cli, "bin"), path.join(TOOLS, langhost, "bin"), process.env.PATH].join(path.delimiter);
            process.env.PULUMI_HOME ??= path.join(TOOLS, "pulumi-home");
            process.env.PULUMI_SKIP_UPDATE_CHECK = "true";
            process.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
            r = onPath();
        }
    }
    if (r.status !== 0) {
        throw new Error(`the Pulumi CLI is missing (not on PATH, no ${TOOLS}/env.sh): build it with \`bash tools/toolchain.sh pulumi providers\` and \`source ${TOOLS}/env.sh\``);
    }
    const plugins = spawnSync("pulumi", ["plugin", "ls", "--json"], { encoding: "utf8" });
    const names = (JSON.parse(plugins.stdout || "[]") as Array<{ name: string }>).map((p) => p.name);
    for (const needed of ["kubernetes", "random"]) {
        if (!names.includes(needed)) throw new Error(`the Pulumi ${needed} provider plugin is missing: \`bash tools/toolchain.sh providers\``);
    }
    return r.stdout.trim();
}

/** Fails clearly unless the local cluster answers. */
export function requireCluster(): void {
    if (!fs.existsSync(KUBECONFIG)) {
        throw new Error(`no Kubernetes cluster: ${KUBECONFIG} does not exist; bring the local cluster up with \`bash tools/cluster/up.sh\` (or set KUBECONFIG)`);
    }
    const r = spawnSync("kubectl", ["--kubeconfig", KUBECONFIG, "get", "--raw", "/readyz"], { encoding: "utf8", timeout: 20000 });
    if (r.status !== 0 || !r.stdout.includes("ok")) {
        throw new Error(`the Kubernetes cluster of ${KUBECONFIG} does not answer /readyz (${(r.stderr || r.stdout).trim()}): \`bash tools/cluster/up.sh\``);
    }
    process.env.KUBECONFIG = KUBECONFIG;
}

export function kubectl(...args: string[]): string {
    return execFileSync("kubectl", ["--kubeconfig", KUBECONFIG, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A kubectl port-forward to the gitspace Deployment of `namespace`; resolves once kubectl forwards the local port. */
export async function portForward(namespace: string, remotePort: number): Promise<{ port: number; child: ChildProcess; stop(): void }> {
    const port = await freePort();
    const child = spawn("kubectl", ["--kubeconfig", KUBECONFIG, "-n", namespace, "port-forward", "deploy/gitspace", `${port}:${remotePort}`], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("port-forward did not start")), 30000);
        child.stdout!.on("data", (d: Buffer) => { if (d.toString().includes("Forwarding from")) { clearTimeout(timer); resolve(); } });
        child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`port-forward exited ${code}`)); });
    });
    return { port, child, stop: () => child.kill() };
}

/** The one live gitspace pod of a developer's namespace (`what` names the developer in failures). */
export function gitspacePod(namespace: string, what = namespace): any {
    const pods = JSON.parse(kubectl("-n", namespace, "get", "pods", "-l", "app=gitspace", "-o", "json")).items
        .filter((p: any) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 1, `${what}: expected one pod, found ${pods.length}`);
    return pods[0];
}

/** Seconds from pod creation to Ready, from the pod's own timestamps (one-second resolution). */
export function secondsToReady(pod: any): number {
    const ready = pod.status.conditions.find((c: any) => c.type === "Ready" && c.status === "True");
    assert.ok(ready, `${pod.metadata.name} is not Ready`);
    return (Date.parse(ready.lastTransitionTime) - Date.parse(pod.metadata.creationTimestamp)) / 1000;
}

/** Deletes the gitspace pod of a namespace and waits for its replacement to be Ready; returns the new pod. */
export function restartGitspacePod(namespace: string, what = namespace): any {
    const old = gitspacePod(namespace, what).metadata.name;
    kubectl("-n", namespace, "delete", "pod", old, "--wait=true");
    kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod", "-l", "app=gitspace", "--timeout=300s");
    const pod = gitspacePod(namespace, what);
    assert.notEqual(pod.metadata.name, old);
    return pod;
}

export interface E2eProject {
    dir: string;
    backend: string;
    env: Record<string, string>;
    cleanup(): void;
}

/** A throwaway program directory (symlinks to this repository's program) and a local file backend. */
export function makeProject(prefix = "portal-e2e-"): E2eProject {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    for (const entry of ["index.ts", "components", "node_modules", "package.json", "tsconfig.json", "Pulumi.yaml", "images", "scripts"]) {
        if (fs.existsSync(path.join(REPO, entry))) fs.symlinkSync(path.join(REPO, entry), path.join(dir, entry));
    }
    const state = path.join(dir, ".state");
    fs.mkdirSync(state);
    const backend = `file://${state}`;
    const env = { PULUMI_BACKEND_URL: backend, PULUMI_CONFIG_PASSPHRASE: "portal-e2e-passphrase" };
    Object.assign(process.env, env);
    return { dir, backend, env, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function pulumi(project: E2eProject, args: string[], opts: { allowFail?: boolean } = {}) {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: project.dir, env: { ...process.env, ...project.env }, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0 && !opts.allowFail) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stderr}\n${r.stdout}`);
    return r;
}

/** `pulumi stack init` and the team's `gitspace:` config written into Pulumi.<stack>.yaml (no secrets in it). */
export function initStack(project: E2eProject, stack: string, values: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    pulumi(project, ["stack", "init", stack]);
    const file = path.join(project.dir, `Pulumi.${stack}.yaml`);
    const doc = fs.existsSync(file) ? (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) : {};
    doc.config = { ...(doc.config ?? {}), ...extra };
    for (const [k, v] of Object.entries(values)) doc.config[`gitspace:${k}`] = v;
    fs.writeFileSync(file, YAML.stringify(doc));
}

/** The router the e2e stacks use: Ingress objects need no CRD and are not awaited. */
export const E2E_ROUTER = { mode: "ingress", namespace: "traefik-system" } as const;
export const E2E_DOMAIN = "gitspace.localtest.me";

/**
 * Team config of the e2e stacks: existing image tags (no build), the cluster's registry. The tag defaults to what
 * the gitspace end-to-end suite (tests/e2e) pushes, which run.sh runs first; GITSPACE_E2E_IMAGE_TAG overrides it.
 */
export function e2eTeamValues(team: string, developers: unknown[], environment = "dev"): Record<string, unknown> {
    return {
        team,
        environment,
        // Per-developer namespaces with fixed object names; an Ingress per web gitspace for the local Traefik.
        router: E2E_ROUTER,
        domain: E2E_DOMAIN,
        images: { registry: "127.0.0.1:5000/gitspace-runtime", tag: process.env.GITSPACE_E2E_IMAGE_TAG ?? "e2e", platforms: ["linux/amd64"], build: false, push: false },
        defaults: { storage: "1Gi", resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "1", memory: "1Gi" } } },
        developers,
    };
}

/** Fails clearly unless the runtime image of `flavor` is in the local registry (pods cannot start without it). */
export async function requireImage(registry: string, flavor: string, tag: string): Promise<void> {
    const [host, ...repo] = registry.split("/");
    // HTTPS with the local cluster's CA (tools/cluster/README.md, "TLS"): curl reads the system trust store that
    // up.sh adds it to; Node's fetch would not (it has its own CA list)
    const url = `https://${host}/v2/${repo.join("/")}/manifests/${flavor}-${tag}`;
    const accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    const r = spawnSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-I", "-H", `accept: ${accept}`, url], { encoding: "utf8" });
    const status = Number(r.stdout);
    if (r.status !== 0 || !status) {
        throw new Error(`the local registry ${host} does not answer (${r.stderr.trim() || r.error?.message}): \`bash tools/cluster/up.sh\``);
    }
    if (r.stdout.trim() !== "200") {
        throw new Error(`image ${registry}:${flavor}-${tag} is not in the registry (HTTP ${r.stdout.trim()}): build and push the runtime images (tests/images/build-images.sh or \`pulumi up\` with images.build: true)`);
    }
}

export const randomSuffix = () => Math.random().toString(36).slice(2, 7).replace(/^[0-9]/, "x");

/** `pulumi …` without blocking the event loop (timers such as the PVC binder keep running). */
export function pulumiAsync(project: E2eProject, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const { spawn } = require("child_process") as typeof import("child_process");
    return new Promise((resolve, reject) => {
        const p = spawn("pulumi", [...args, "--non-interactive"], { cwd: project.dir, env: { ...process.env, ...project.env, ...extraEnv } });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (out += d));
        p.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`pulumi ${args.join(" ")} failed (${code}):\n${out.slice(-4000)}`))));
    });
}
