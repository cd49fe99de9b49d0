/**
 * End to end: the real Pulumi engine (Automation API, local file backend) runs this stack against the local
 * cluster, building and pushing the runtime images with BuildKit, then checks from inside the IDE containers the
 * five consistency checks of seed 001 and the promises of DESIGN.md. Fails (never skips) when a piece is missing.
 *
 *   npm run test:e2e        (tests/e2e/run.sh: toolchain, cluster, BuildKit, then this suite)
 */
import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { developerNamespaceName } from "../../components/names";
import { E2E_DOMAIN, E2E_ROUTER, E2eProject, initStack, kubectl, makeProject, pulumi, requireCli, requireCluster, gitspacePod, portForward, restartGitspacePod, secondsToReady } from "../portal/e2e-harness";
import { GitServer, makeBareRepo, startGitServer } from "../scripts/helpers";

const STACK = "e2e";
const TEAM = "e2e";
const REGISTRY = process.env.GITSPACE_E2E_REGISTRY ?? "127.0.0.1:5000/gitspace-runtime";
const BASE_IMAGE = process.env.GITSPACE_E2E_BASE_IMAGE ?? "127.0.0.1:5000/debian:bookworm";
const BUILDER = process.env.GITSPACE_BUILDER ?? "gitspace";
const GIT_USER = "alice";
const GIT_TOKEN = `e2e-token-${crypto.randomBytes(8).toString("hex")}`;
/** The environment defaults to the stack's name. */
const ns = (dev: string) => developerNamespaceName({ team: TEAM, environment: STACK }, dev);
const timings: string[] = [];

function sh(cmd: string, args: string[], input?: string): string {
    return execFileSync(cmd, args, { encoding: "utf8", input, maxBuffer: 64 << 20 });
}

/** Runs a command in the IDE container of a developer's gitspace (as the container's user, in its working dir). */
function ide(dev: string, command: string): string {
    return kubectl("-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command).trim();
}

/** Like `ide`, without blocking the event loop (the test's own git server must keep answering). */
function ideAsync(dev: string, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn("kubectl", ["-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command], { env: process.env });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited ${code}: ${out}`))));
    });
}

const podOf = (dev: string) => gitspacePod(ns(dev), dev);
const restart = (dev: string) => restartGitspacePod(ns(dev), dev);

/** Prepares a PersistentVolume holding the legacy `/workspaces` layout, released so the stack can claim it. */
function prepareLegacyVolume(): { pv: string; files: Record<string, string> } {
    const prep = `gitspace-e2e-legacy-prep`;
    const files: Record<string, string> = {
        "workspaces/legacy-repo/README.md": "legacy repo\n",
        "workspaces/legacy-repo/src/main.go": "package main\n",
        "workspaces/.legacy-dotfile": "dot\n",
        "workspaces/notes with spaces.txt": "spaces\n",
        "workspaces/.bashrc": "# legacy bashrc: conflicts with nothing, or with the skeleton one\n",
    };
    const script = Object.entries(files)
        .map(([f, c]) => `mkdir -p "$(dirname "/data/${f}")" && printf '%s' '${c.replace(/'/g, "")}' > "/data/${f}"`).join(" && ");
    kubectl("create", "namespace", prep);
    const manifest = {
        apiVersion: "v1", kind: "List", items: [
            { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "legacy", namespace: prep }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
            {
                apiVersion: "v1", kind: "Pod", metadata: { name: "writer", namespace: prep },
                spec: {
                    restartPolicy: "Never",
                    securityContext: { runAsUser: 1001, runAsGroup: 1001, fsGroup: 1001, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [{
                        name: "w", image: BASE_IMAGE, command: ["bash", "-c", script],
                        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                        volumeMounts: [{ name: "data", mountPath: "/data" }],
                    }],
                    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "legacy" } }],
                },
            },
        ],
    };
    sh("kubectl", ["apply", "-f", "-"], JSON.stringify(manifest));
    kubectl("-n", prep, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "--timeout=180s");
    const pv = kubectl("-n", prep, "get", "pvc", "legacy", "-o", "jsonpath={.spec.volumeName}").trim();
    kubectl("patch", "pv", pv, "-p", JSON.stringify({ spec: { persistentVolumeReclaimPolicy: "Retain" } }));
    kubectl("delete", "namespace", prep, "--wait=true");
    kubectl("patch", "pv", pv, "--type", "json", "-p", JSON.stringify([{ op: "remove", path: "/spec/claimRef" }]));
    return { pv, files };
}

describe("gitspace stack end to end (real engine, real cluster)", function () {
    this.timeout(90 * 60 * 1000);
    let project: E2eProject;
    let stack: Stack;
    let git: GitServer;
    let legacy: { pv: string; files: Record<string, string> };
    let sshKey: string;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-e2e-"));

    before(async () => {
        requireCli();
        requireCluster();
        project = makeProject("gitspace-e2e-");
        const nodeIp = kubectl("get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}").trim();
        const repos = path.join(workDir, "repos");
        fs.mkdirSync(repos);
        makeBareRepo(repos, "api");
        git = await startGitServer(repos, GIT_USER, GIT_TOKEN, "0.0.0.0");
        const repoUrl = `http://${nodeIp}:${git.port}/api.git`;
        sshKey = path.join(workDir, "id_ed25519");
        sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", sshKey]);
        const publicKey = fs.readFileSync(`${sshKey}.pub`, "utf8").trim();
        legacy = prepareLegacyVolume();

        initStack(project, STACK, {
            team: TEAM,
            domain: E2E_DOMAIN,
            router: E2E_ROUTER,
            // The git server listens on the node's address, inside the ranges the default egress policy denies.
            egress: { allowedCidrs: [`${nodeIp}/32`] },
            images: { registry: REGISTRY, tag: "e2e", platforms: ["linux/amd64"], builder: BUILDER, baseImage: BASE_IMAGE },
            defaults: { storage: "1Gi", resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "2", memory: "2Gi" } } },
            developers: [
                { name: "web", ide: "vs_code_web", repos: [{ url: repoUrl, branch: "main" }], git: { username: GIT_USER, token: "placeholder" } },
                { name: "ssh", ide: "vs_code", sshPublicKeys: [publicKey], repos: [{ url: repoUrl }], git: { username: GIT_USER, token: "placeholder" } },
                { name: "legacy", ide: "vs_code", sshPublicKeys: [publicKey], user: { name: "dev", uid: 1001, gid: 1001 }, homeVolumeName: legacy.pv, migrateLegacyWorkspaces: true },
            ],
        });
        for (const i of [0, 1]) pulumi(project, ["config", "set", "--secret", "--path", `gitspace:developers[${i}].git.token`, GIT_TOKEN, "--stack", STACK]);
        assert.ok(!fs.readFileSync(path.join(project.dir, `Pulumi.${STACK}.yaml`), "utf8").includes(GIT_TOKEN), "the token is encrypted in the stack file");
        stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: project.dir }, { envVars: project.env });
    });

    after(async () => {
        await git?.close();
        for (const dev of ["web", "ssh", "legacy"]) spawnSync("kubectl", ["delete", "namespace", ns(dev), "--wait=false"], { env: process.env });
        if (legacy) spawnSync("kubectl", ["delete", "pv", legacy.pv, "--wait=false"], { env: process.env });
        console.log("\n  timings:\n" + timings.map((t) => `    ${t}`).join("\n"));
        project?.cleanup();
    });

    it("pulumi up builds and pushes the images and brings every gitspace to Ready", async () => {
        const start = Date.now();
        const result = await stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
        timings.push(`first pulumi up (image builds included): ${((Date.now() - start) / 1000).toFixed(0)} s`);
        assert.equal(result.summary.result, "succeeded");
        const images = result.outputs.images.value;
        for (const flavor of ["base", "vscode", "vscode-desktop", "jetbrains", "cursor"]) {
            assert.match(images[flavor], new RegExp(`^${REGISTRY.replace(/[.]/g, "\\.")}:${flavor}-e2e@sha256:[0-9a-f]{64}$`), flavor);
        }
        // Gitness' prebuilt-image settings name the same pushed images: `<registry>:<value>` is each ref.
        const gitness = result.outputs.gitness.value;
        assert.equal(gitness.GITSPACE_PREBUILT_IMAGES_REGISTRY, REGISTRY);
        for (const [key, flavor] of [["VSCODE", "vscode"], ["VSCODE_DESKTOP", "vscode-desktop"], ["CURSOR", "cursor"], ["JETBRAINS", "jetbrains"]]) {
            assert.equal(`${REGISTRY}:${gitness[`GITSPACE_PREBUILT_IMAGE_${key}`]}`, images[flavor], key);
        }
        for (const dev of ["web", "ssh", "legacy"]) {
            const pod = podOf(dev);
            timings.push(`${dev}: pod creation → IDE Ready (first start): ${secondsToReady(pod)} s`);
        }
    });

    // The five consistency checks, per IDE container (top-level tests: mocha runs a suite's tests in order, before
    // any nested suite, and these must run before stop/start and destroy).
    for (const [dev, user, uid] of [["web", "vscode", 1000], ["ssh", "vscode", 1000], ["legacy", "dev", 1001]] as const) {
        const home = `/home/${user}`;
        it(`${dev}: 1. the PVC is mounted at /home/<user> (and again at /workspaces)`, () => {
            const pod = podOf(dev);
            const mounts = pod.spec.containers.find((c: any) => c.name === "ide").volumeMounts;
            assert.ok(mounts.some((m: any) => m.name === "home" && m.mountPath === home));
            const seen = ide(dev, `awk '$5 == "${home}" || $5 == "/workspaces" { print $5 }' /proc/self/mountinfo | sort`);
            assert.equal(seen, `${home}\n/workspaces`);
            assert.equal(ide(dev, `stat -c %i ${home}/. /workspaces/. | uniq | wc -l`), "1", "same volume");
        });
        it(`${dev}: 2. the working directory is /home/<user>`, () => {
            assert.equal(ide(dev, "pwd"), home);
            assert.equal(ide(dev, "echo $HOME"), home);
        });
        it(`${dev}: 3. id prints the configured user`, () => {
            assert.equal(ide(dev, "id"), `uid=${uid}(${user}) gid=${uid}(${user}) groups=${uid}(${user})`);
        });
        if (dev !== "legacy") {
            it(`${dev}: 4. the code is at $HOME/<repo>`, () => {
                assert.equal(ide(dev, "git -C $HOME/api log -1 --format=%s"), "init");
                assert.equal(ide(dev, "cat $HOME/api/README"), "api");
            });
        }
        it(`${dev}: 5. a file written in HOME survives deleting the pod`, () => {
            const stamp = crypto.randomBytes(6).toString("hex");
            ide(dev, `echo ${stamp} > $HOME/.e2e-persistence`);
            const pod = restart(dev);
            timings.push(`${dev}: pod creation → IDE Ready (restart, warm HOME): ${secondsToReady(pod)} s`);
            assert.equal(ide(dev, "cat $HOME/.e2e-persistence"), stamp);
        });
    }

    it("the legacy volume's data is all in HOME, nothing lost", () => {
        for (const [file, content] of Object.entries(legacy.files)) {
            const name = file.replace(/^workspaces\//, "");
            const inHome = ide("legacy", `cat "$HOME/${name}" 2>/dev/null || find $HOME -path "*${path.basename(name)}" -type f -exec cat {} +`);
            assert.ok(inHome.includes(content.trim()), `${file} not found in HOME`);
        }
        assert.equal(ide("legacy", "test -e $HOME/workspaces && echo present || echo gone"), "gone", "the emptied legacy folder is removed (rmdir only)");
        assert.match(ide("legacy", "ls $HOME/.gitspace"), /migration/);
    });

    it("code-server answers on 8089 and rejects access without the password", async () => {
        assert.equal(ide("web", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8089/healthz"), "200");
        const anonymous = ide("web", "curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1:8089/");
        assert.match(anonymous, /^302 .*login/);
        const password = (await stack.outputs()).gitspaces.value.web.password;
        const masked = JSON.parse(pulumi(project, ["stack", "output", "gitspaces", "--json", "--stack", STACK]).stdout);
        assert.equal(masked.web.password, "[secret]", "the password is exported as a secret");
        assert.match(password, /^[A-Za-z0-9]{24}$/);
        const forward = await portForward(ns("web"), 8089);
        try {
            const wrong = sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-urlencode", "password=wrong", `http://127.0.0.1:${forward.port}/login`]);
            const right = sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-urlencode", `password@-`, `http://127.0.0.1:${forward.port}/login`], password);
            assert.notEqual(wrong, "302");
            assert.equal(right, "302", "the generated password logs in");
        } finally {
            forward.stop();
        }
    });

    it("SSH key login on 8088 works, with the same host key after a restart", async () => {
        const knownHosts = path.join(workDir, "known_hosts");
        const login = async (strict: string) => {
            const forward = await portForward(ns("ssh"), 8088);
            try {
                // The alias keys known_hosts by gitspace, not by the (random) forwarded port.
                return sh("ssh", ["-i", sshKey, "-p", String(forward.port), "-o", `StrictHostKeyChecking=${strict}`, "-o", `UserKnownHostsFile=${knownHosts}`,
                    "-o", "HostKeyAlias=gitspace-e2e-ssh",
                    "-o", "BatchMode=yes", "vscode@127.0.0.1", "id && pwd"]).trim();
            } finally {
                forward.stop();
            }
        };
        assert.equal(await login("accept-new"), "uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)\n/home/vscode");
        restart("ssh");
        assert.equal(await login("yes"), "uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)\n/home/vscode");
    });

    it("no token is visible: env, pod spec, .git/config, processes, HOME", async () => {
        for (const dev of ["web", "ssh"]) {
            assert.ok(!ide(dev, "env").includes(GIT_TOKEN), `${dev}: env`);
            assert.ok(!kubectl("-n", ns(dev), "get", "pod", "-o", "yaml").includes(GIT_TOKEN), `${dev}: pod spec`);
            assert.ok(!ide(dev, "cat $HOME/api/.git/config").includes(GIT_TOKEN), `${dev}: .git/config`);
            assert.ok(!ide(dev, "ps -eo args ww").includes(GIT_TOKEN), `${dev}: ps`);
            assert.equal(ide(dev, `grep -rlF -- '${GIT_TOKEN}' $HOME 2>/dev/null | wc -l`), "0", `${dev}: HOME`);
            assert.ok(!kubectl("-n", ns(dev), "logs", "deploy/gitspace", "-c", "gitspace-init").includes(GIT_TOKEN), `${dev}: init log`);
            // Yet git in the IDE container still authenticates through the helper.
            assert.match(await ideAsync(dev, "git -C $HOME/api fetch origin 2>&1 && echo fetched"), /fetched$/);
        }
    });

    it("a second pulumi up changes nothing", async () => {
        const preview = await stack.preview();
        const changed = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
        assert.deepEqual(changed, [], `changes on the second run: ${JSON.stringify(preview.changeSummary)}`);
        const up = await stack.up();
        assert.deepEqual(Object.keys(up.summary.resourceChanges ?? {}), ["same"]);
    });

    it("running: false scales to 0 and back with the data kept", async () => {
        ide("ssh", "echo kept > $HOME/.e2e-stop-start");
        await stack.setConfig("gitspace:developers[1].running", { value: "false" }, true);
        await stack.up();
        assert.equal(kubectl("-n", ns("ssh"), "get", "deploy", "gitspace", "-o", "jsonpath={.spec.replicas}"), "0");
        kubectl("-n", ns("ssh"), "wait", "--for=delete", "pod", "-l", "app=gitspace", "--timeout=120s");
        await stack.setConfig("gitspace:developers[1].running", { value: "true" }, true);
        await stack.up();
        assert.equal(ide("ssh", "cat $HOME/.e2e-stop-start"), "kept");
    });

    it("pulumi destroy keeps every developer's home (Namespace and PVC)", async () => {
        await stack.destroy();
        for (const dev of ["web", "ssh", "legacy"]) {
            assert.equal(kubectl("-n", ns(dev), "get", "pvc", "home", "-o", "jsonpath={.status.phase}"), "Bound", dev);
            assert.equal(kubectl("-n", ns(dev), "get", "deploy", "--no-headers", "--ignore-not-found").trim(), "", `${dev}: workload gone`);
        }
    });
});
