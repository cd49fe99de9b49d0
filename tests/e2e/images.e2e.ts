/**
 * End to end, the runtime images on the real engine and the local cluster:
 * - cold-node start: the web IDE's image is removed from the node's containerd first; pod created → IDE Ready is
 *   measured with the pull from the local registry, and again warm (printed, not asserted: the goal is ≤ 20 s);
 * - the SSH flavors jetbrains and cursor: a real `ssh` key login into each running gitspace, a command run, its user
 *   and HOME checked (cursor with a custom user);
 * - multi-arch through the component: `base-system`, `devcontainer`, `base` and `vscode-desktop` built by the
 *   docker-build provider with the component's own Image inputs (components/images.ts `flavorImageArgs`) for
 *   linux/amd64 and linux/arm64 (arm64 under QEMU), their manifest lists read from the registry, and each arm64 image
 *   run under QEMU (GITSPACE_E2E_MULTIARCH_REGISTRY: another repository for them).
 *
 * The gitspaces run the images the gitspace suite (gitspace.e2e.ts, run first) pushed as `<flavor>-e2e`
 * (GITSPACE_E2E_IMAGE_TAG overrides). Team `imge2e`: its namespaces and stacks are this suite's own, and removed.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { DEVCONTAINER_IMAGE, ImageKind, SYSTEM_IMAGE, flavorImageArgs } from "../../components/images";
import { developerNamespaceName } from "../../components/names";
import { E2eProject, e2eTeamValues, initStack, kubectl, makeProject, requireCli, requireCluster, requireImage, gitspacePod, portForward, restartGitspacePod, secondsToReady } from "../portal/e2e-harness";

const TEAM = "imge2e";
const STACK = "imge2e";
const REGISTRY = "127.0.0.1:5000/gitspace-runtime";
const TAG = process.env.GITSPACE_E2E_IMAGE_TAG ?? "e2e";
const BASE_IMAGE = process.env.GITSPACE_E2E_BASE_IMAGE ?? "127.0.0.1:5000/debian:bookworm";
const BUILDER = process.env.GITSPACE_BUILDER ?? "gitspace";
/** The node's containerd (tools/cluster/lib.sh CONTAINERD_SOCK); the kubelet's images are in namespace k8s.io. */
const CONTAINERD = path.join(process.env.GITSPACE_CLUSTER_RUN ?? "/run/gitspace-cluster", "containerd", "containerd.sock");
/** A repository of its own for the multi-arch build, so its registry build cache is apart from the other suites'. */
const MULTIARCH_REGISTRY = process.env.GITSPACE_E2E_MULTIARCH_REGISTRY ?? "127.0.0.1:5000/gitspace-imge2e";
const MULTIARCH_TAG = "multiarch";
const ns = (dev: string) => developerNamespaceName({ team: TEAM, environment: STACK }, dev);
const timings: string[] = [];
const seconds = (start: number) => ((Date.now() - start) / 1000).toFixed(1);

function sh(cmd: string, args: string[], input?: string): string {
    return execFileSync(cmd, args, { encoding: "utf8", input, maxBuffer: 64 << 20, stdio: ["pipe", "pipe", "pipe"] });
}

const podOf = (dev: string) => gitspacePod(ns(dev), dev);
const restart = (dev: string) => restartGitspacePod(ns(dev), dev);

/** The kubelet's "Successfully pulled image …" event of a pod (none when the image was on the node). */
function pulledEvent(dev: string, pod: string): string | undefined {
    const events = JSON.parse(kubectl("-n", ns(dev), "get", "events", "--field-selector", `involvedObject.name=${pod},reason=Pulled`, "-o", "json")).items;
    return events.map((e: any) => e.message as string).find((m: string) => m.startsWith("Successfully pulled"));
}

/** The node's containerd images: ref → target digest. */
function nodeImages(): Map<string, string> {
    const out = sh("ctr", ["--address", CONTAINERD, "-n", "k8s.io", "images", "ls"]);
    const images = new Map<string, string>();
    for (const line of out.trim().split("\n").slice(1)) {
        const [ref, , digest] = line.split(/\s+/);
        images.set(ref, digest);
    }
    return images;
}

/** The layer digests of a node image (its linux/amd64 manifest), from the node's content store; none if missing. */
function nodeImageLayers(digest: string): string[] {
    const get = (d: string) => JSON.parse(sh("ctr", ["--address", CONTAINERD, "-n", "k8s.io", "content", "get", d]));
    try {
        let manifest = get(digest);
        if (manifest.manifests) {
            const entry = manifest.manifests.find((m: any) => m.platform?.os === "linux" && m.platform?.architecture === "amd64");
            if (!entry) return [];
            manifest = get(entry.digest);
        }
        return (manifest.layers ?? []).map((l: any) => l.digest as string);
    } catch {
        return [];
    }
}

/**
 * Makes REF cold on the node: removes it (every name of its digest) and every other image that shares a layer with
 * it (another tag of the same flavor keeps most of its layers), then waits for containerd's garbage collection
 * (`--sync`). Images a container on the node uses are left alone (their layers then stay; the caller reports what
 * is left to pull). Every removed image is in the local registry: the next pod that needs one pulls it again.
 */
function makeCold(ref: string): { removed: string[]; inUse: string[] } {
    const images = nodeImages();
    const target = images.get(ref);
    if (target === undefined) return { removed: [], inUse: [] };
    const layers = new Set(nodeImageLayers(target));
    const used = sh("ctr", ["--address", CONTAINERD, "-n", "k8s.io", "containers", "ls"]).trim().split("\n").slice(1)
        .map((line) => images.get(line.split(/\s+/)[1])).filter((d): d is string => d !== undefined);
    const inUse = new Set(used);
    const sharing = new Set([...new Set(images.values())].filter((d) => d === target || nodeImageLayers(d).some((l) => layers.has(l))));
    const removable = [...sharing].filter((d) => d === target || !inUse.has(d));
    const names = [...images].filter(([, d]) => removable.includes(d)).map(([r]) => r);
    sh("ctr", ["--address", CONTAINERD, "-n", "k8s.io", "images", "rm", "--sync", ...names]);
    assert.ok(!nodeImages().has(ref), `${ref} is still on the node`);
    const kept = [...images].filter(([r, d]) => sharing.has(d) && !removable.includes(d) && !r.startsWith("sha256:")).map(([r]) => r);
    return { removed: names.filter((r) => !r.startsWith("sha256:") && !r.includes("@")), inUse: kept };
}

/** The compressed layers (digest → bytes) of REF's linux/amd64 image, from the registry. */
function registryLayers(ref: string): Map<string, number> {
    const accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    let manifest = JSON.parse(sh("curl", ["-sf", "-H", `Accept: ${accept}`, manifestUrl(ref)]));
    if (manifest.manifests) {
        const entry = manifest.manifests.find((m: any) => m.platform?.os === "linux" && m.platform?.architecture === "amd64");
        manifest = JSON.parse(sh("curl", ["-sf", "-H", `Accept: ${entry.mediaType}`, manifestUrl(`${ref.replace(/@.*$/, "")}@${entry.digest}`)]));
    }
    return new Map(manifest.layers.map((l: any) => [l.digest as string, l.size as number]));
}

/** The blobs in the node's content store (what a pull does not fetch again). */
function nodeBlobs(): Set<string> {
    return new Set(sh("ctr", ["--address", CONTAINERD, "-n", "k8s.io", "content", "ls", "-q"]).trim().split("\n"));
}

/** A real `ssh` key login into the developer's gitspace on 8088, running `command`; strict host key checking. */
async function sshRun(dev: string, user: string, key: string, knownHosts: string, command: string): Promise<string> {
    const forward = await portForward(ns(dev), 8088);
    try {
        return sh("ssh", ["-i", key, "-p", String(forward.port), "-o", "StrictHostKeyChecking=accept-new", "-o", `UserKnownHostsFile=${knownHosts}`,
            "-o", `HostKeyAlias=${ns(dev)}`, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", `${user}@127.0.0.1`, command]).trim();
    } finally {
        forward.stop();
    }
}

/** Writes the developers of the stack's config (Pulumi.<stack>.yaml holds no secret here). */
function setDevelopers(project: E2eProject, developers: unknown[]): void {
    const file = path.join(project.dir, `Pulumi.${STACK}.yaml`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8"));
    doc.config["gitspace:developers"] = developers;
    fs.writeFileSync(file, YAML.stringify(doc));
}

describe("runtime images end to end: cold start, SSH flavors, multi-arch (real engine, real cluster)", function () {
    this.timeout(60 * 60 * 1000);
    let project: E2eProject;
    let stack: Stack;
    let sshKey: string;
    let publicKey: string;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-imge2e-"));
    const web = { name: "web", ide: "vs_code_web" };

    before(async () => {
        requireCli();
        requireCluster();
        for (const flavor of ["vscode", "jetbrains", "cursor"]) await requireImage(REGISTRY, flavor, TAG);
        project = makeProject("gitspace-imge2e-");
        sshKey = path.join(workDir, "id_ed25519");
        sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "imge2e", "-f", sshKey]);
        publicKey = fs.readFileSync(`${sshKey}.pub`, "utf8").trim();
        initStack(project, STACK, e2eTeamValues(TEAM, [web], STACK));
        stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: project.dir }, { envVars: project.env });
    });

    after(async () => {
        if (stack) await stack.destroy().catch((e) => console.log(`    destroy: ${e.message}`));
        for (const dev of ["web", "jet", "cur"]) spawnSync("kubectl", ["delete", "namespace", ns(dev), "--wait=false"], { env: process.env });
        console.log("\n  timings:\n" + timings.map((t) => `    ${t}`).join("\n"));
        project?.cleanup();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("cold node: the web IDE starts with its image pulled from the registry (measured; goal ≤ 20 s)", async () => {
        const ref = `${REGISTRY}:vscode-${TAG}`;
        const { removed, inUse } = makeCold(ref);
        timings.push(`removed from the node before the cold start: ${removed.join(", ") || "(nothing: was not there)"}`
            + (inUse.length ? `; sharing layers but in use, kept: ${inUse.join(", ")}` : ""));
        // Layers another image on the node shares (base-system's, with the other flavors) stay: report what is left.
        const layers = registryLayers(ref);
        const blobs = nodeBlobs();
        const toPull = [...layers].filter(([d]) => !blobs.has(d));
        const mb = (entries: [string, number][]) => (entries.reduce((n, [, b]) => n + b, 0) / 1e6).toFixed(1);
        assert.ok(toPull.length > 0, "every layer of the image is still on the node");
        timings.push(`web, cold node: ${toPull.length} of ${layers.size} layers to pull, ${mb(toPull)} of ${mb([...layers])} MB compressed`);
        const start = Date.now();
        const result = await stack.up();
        assert.equal(result.summary.result, "succeeded");
        kubectl("-n", ns("web"), "wait", "--for=condition=Ready", "pod", "-l", "app=gitspace", "--timeout=300s");
        const pod = podOf("web");
        assert.equal(pod.spec.containers.find((c: any) => c.name === "ide").image, ref);
        const pulled = pulledEvent("web", pod.metadata.name);
        assert.ok(pulled, `the kubelet pulled nothing: ${ref} was still on the node`);
        assert.ok(nodeImages().has(ref), "the image is on the node again");
        timings.push(`web, cold node (image removed): pod created → IDE Ready ${secondsToReady(pod)} s (goal ≤ 20 s); pulled: ${pulled}`);
        timings.push(`web, cold node: pulumi up (no build) ${seconds(start)} s`);
        // The same start with the image on the node: what the pull costs.
        const warm = restart("web");
        assert.equal(pulledEvent("web", warm.metadata.name), undefined, "no pull when the image is on the node");
        timings.push(`web, warm node (image cached, HOME kept): pod created → IDE Ready ${secondsToReady(warm)} s`);
        // The IDE answers, with nothing downloaded at start.
        const health = kubectl("-n", ns("web"), "exec", "deploy/gitspace", "-c", "ide", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8089/healthz");
        assert.equal(health, "200");
    });

    it("jetbrains and cursor: a real SSH key login runs a command as the configured user, in HOME", async () => {
        setDevelopers(project, [
            web,
            { name: "jet", ide: "intellij", sshPublicKeys: [publicKey] },
            { name: "cur", ide: "cursor", sshPublicKeys: [publicKey], user: { name: "dev", uid: 1001, gid: 1001 } },
        ]);
        const start = Date.now();
        const result = await stack.up();
        assert.equal(result.summary.result, "succeeded");
        timings.push(`pulumi up adding the jetbrains and cursor gitspaces: ${seconds(start)} s`);
        const knownHosts = path.join(workDir, "known_hosts");
        for (const [dev, flavor, user, uid] of [["jet", "jetbrains", "vscode", 1000], ["cur", "cursor", "dev", 1001]] as const) {
            kubectl("-n", ns(dev), "wait", "--for=condition=Ready", "pod", "-l", "app=gitspace", "--timeout=300s");
            const pod = podOf(dev);
            assert.equal(pod.spec.containers.find((c: any) => c.name === "ide").image, `${REGISTRY}:${flavor}-${TAG}`);
            timings.push(`${dev} (${flavor}): pod created → IDE Ready ${secondsToReady(pod)} s`);
            const out = await sshRun(dev, user, sshKey, knownHosts, 'id; echo "$HOME"; pwd; echo ssh-ok > "$HOME/.ssh-login"; cat "$HOME/.ssh-login"');
            assert.equal(out, [`uid=${uid}(${user}) gid=${uid}(${user}) groups=${uid}(${user})`, `/home/${user}`, `/home/${user}`, "ssh-ok"].join("\n"), dev);
            // What was written over SSH is on the home volume the IDE container mounts.
            assert.equal(kubectl("-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "cat", `/home/${user}/.ssh-login`).trim(), "ssh-ok");
            // What the IDE backend needs: Java for JetBrains Gateway; for Cursor, the user's own writable server
            // directory in HOME (Cursor installs its server, with its own Node, there at connect time).
            const tool = flavor === "jetbrains" ? '"$JAVA_HOME/bin/java" -version 2>&1 | head -n 1'
                : 'test -d "$HOME/.cursor-server" && test -w "$HOME/.cursor-server" && test -O "$HOME/.cursor-server" && echo server-dir-ok';
            assert.match(await sshRun(dev, user, sshKey, knownHosts, tool), flavor === "jetbrains" ? /version "\d+/ : /^server-dir-ok$/, `${dev}: ${tool}`);
            // A key that is not authorised is refused.
            const other = path.join(workDir, `other-${dev}`);
            sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
            await assert.rejects(sshRun(dev, user, other, knownHosts, "id"), /Permission denied/, `${dev}: a foreign key`);
        }
    });

    it("multi-arch through the component: base and vscode-desktop for linux/amd64 and linux/arm64", async () => {
        const index = JSON.parse(sh("curl", ["-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json", manifestUrl(BASE_IMAGE)]));
        const arches = index.manifests.map((m: any) => m.platform?.architecture);
        assert.ok(arches.includes("arm64"), `${BASE_IMAGE} has no arm64 variant (tools/cluster/up.sh with GITSPACE_BASE_ARCHES="amd64 arm64")`);
        const platforms = ["linux/amd64", "linux/arm64"] as const;
        const program = async () => {
            const args = { registry: MULTIARCH_REGISTRY, tag: MULTIARCH_TAG, platforms: [...platforms], builder: BUILDER, baseImage: BASE_IMAGE };
            // vscode-desktop with `compression: zstd` (FROM the gzip base-system): both ways of pushing, for real.
            const image = (kind: ImageKind, from: pulumi.Input<string>, devcontainer?: pulumi.Input<string>) =>
                new dockerbuild.Image(`multiarch-${kind}`, flavorImageArgs(kind, { ...args, from, devcontainer, compression: kind === "vscode-desktop" ? "zstd" : "gzip" }), { retainOnDelete: true });
            const system = image(SYSTEM_IMAGE.name, BASE_IMAGE);
            const devcontainer = image(DEVCONTAINER_IMAGE.name, BASE_IMAGE);
            const base = image("base", BASE_IMAGE);
            // The binary of vscode-desktop comes from the devcontainer image: its arm64 variant must be the arm64 one.
            const desktop = image("vscode-desktop", system.ref, devcontainer.ref);
            return { "base-system": system.ref, devcontainer: devcontainer.ref, base: base.ref, "vscode-desktop": desktop.ref };
        };
        // Its own work directory: an inline program's workspace writes its Pulumi.yaml there (the project's are symlinks).
        const multiDir = fs.mkdtempSync(path.join(workDir, "multiarch-"));
        const multi = await LocalWorkspace.createOrSelectStack({ stackName: "imge2e-multiarch", projectName: "gitspace-imge2e-multiarch", program },
            { envVars: project.env, workDir: multiDir });
        try {
            const start = Date.now();
            const up = await multi.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
            timings.push(`base-system + devcontainer + base + vscode-desktop for linux/amd64 + linux/arm64 through docker-build: ${seconds(start)} s`);
            const devcontainerRef: string = up.outputs.devcontainer.value;
            assert.match(devcontainerRef, new RegExp(`^${MULTIARCH_REGISTRY.replace(/[.]/g, "\\.")}:devcontainer-${MULTIARCH_TAG}@sha256:[0-9a-f]{64}$`));
            const parts = JSON.parse(sh("curl", ["-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json", manifestUrl(devcontainerRef)]));
            assert.deepEqual(parts.manifests.filter((m: any) => m.platform?.os === "linux").map((m: any) => `linux/${m.platform.architecture}`).sort(), [...platforms].sort(),
                "devcontainer: one image per platform");
            for (const kind of ["base", "vscode-desktop"] as const) {
                const ref: string = up.outputs[kind].value;
                assert.match(ref, new RegExp(`^${MULTIARCH_REGISTRY.replace(/[.]/g, "\\.")}:${kind}-${MULTIARCH_TAG}@sha256:[0-9a-f]{64}$`));
                const list = JSON.parse(sh("curl", ["-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json", manifestUrl(ref)]));
                const found = list.manifests.map((m: any) => `${m.platform?.os}/${m.platform?.architecture}`);
                for (const p of platforms) assert.ok(found.includes(p), `${kind}: ${p} missing in ${JSON.stringify(found)}`);
                // Each platform's image says so in its config, and its binaries run as that architecture (arm64 under QEMU).
                for (const p of platforms) {
                    const entry = list.manifests.find((m: any) => `${m.platform?.os}/${m.platform?.architecture}` === p);
                    const manifest = JSON.parse(sh("curl", ["-sf", "-H", `Accept: ${entry.mediaType}`, manifestUrl(`${ref.replace(/@.*$/, "")}@${entry.digest}`)]));
                    const config = JSON.parse(sh("curl", ["-sfL", blobUrl(ref, manifest.config.digest)]));
                    assert.equal(`${config.os}/${config.architecture}`, p, `${kind} ${p}: image config`);
                    // zstd is forced on every layer of vscode-desktop. base (gzip, not forced) may reuse the zstd blob
                    // BuildKit made of a layer it shares with base-system: one compression per builder (images.ts).
                    if (kind === "vscode-desktop") {
                        const layerTypes = [...new Set(manifest.layers.map((l: any) => l.mediaType))];
                        assert.deepEqual(layerTypes, ["application/vnd.oci.image.layer.v1.tar+zstd"], `${kind} ${p}: layer compression`);
                    }
                    const runStart = Date.now();
                    // dpkg's architecture, the kernel's as the image sees it (QEMU reports aarch64), the ELF machine of
                    // the cross-compiled devcontainer reader (183 aarch64, 62 x86-64: binfmt would run either), and
                    // that reader running.
                    const bin = "/usr/local/gitspace/bin/gitspace-devcontainer";
                    const arch = runIn(ref, p, `printf "%s %s %s %s" "$(dpkg --print-architecture)" "$(uname -m)" "$(od -An -j18 -N2 -tu2 ${bin} | tr -d ' ')" ` +
                        `"$(${bin} user --repo /nonexistent --default-user root | grep -o '"source":"default"')"`);
                    assert.equal(arch, p === "linux/arm64" ? 'arm64 aarch64 183 "source":"default"' : 'amd64 x86_64 62 "source":"default"', `${kind} ${p}: what runs`);
                    timings.push(`${kind} ${p}: a command in the image ${seconds(runStart)} s`);
                }
            }
        } finally {
            await multi.destroy().catch((e) => console.log(`    multi-arch destroy: ${e.message}`));
            await multi.workspace.removeStack("imge2e-multiarch").catch(() => undefined);
        }
    });
});

/** https://<host>/v2/<name>/manifests/<tag or digest> of a `host/name[:tag][@digest]` ref. */
function manifestUrl(ref: string): string {
    const [host, ...rest] = ref.split("/");
    const path = rest.join("/");
    const at = path.indexOf("@");
    if (at >= 0) return `https://${host}/v2/${path.slice(0, at).replace(/:[^:]*$/, "")}/manifests/${path.slice(at + 1)}`;
    const colon = path.lastIndexOf(":");
    return `https://${host}/v2/${path.slice(0, colon)}/manifests/${path.slice(colon + 1)}`;
}

function blobUrl(ref: string, digest: string): string {
    return manifestUrl(`${ref.replace(/@.*$/, "")}@${digest}`).replace(/\/manifests\/[^/]+$/, `/blobs/${digest}`);
}

/**
 * Runs `command` in the image for `platform` and returns its output: a one-step BuildKit build FROM the image (no
 * network, never cached), so a foreign platform runs under QEMU as the node's runtime would.
 */
function runIn(ref: string, platform: string, command: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imge2e-run-"));
    try {
        fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${ref}\nRUN --network=none ${command} > /tmp/out\nFROM scratch\nCOPY --from=0 /tmp/out /out\n`);
        sh("buildx", ["build", "--builder", BUILDER, "--platform", platform, "--no-cache", "--progress", "quiet", "--output", `type=local,dest=${path.join(dir, "out")}`, dir]);
        return fs.readFileSync(path.join(dir, "out", "out"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
