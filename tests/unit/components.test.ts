import { strict as assert } from "assert";
import { parseTeamConfig, TOP_LEVEL_SCHEMAS } from "../../components/config";
import { DEVCONTAINER_IMAGE, SYSTEM_IMAGE, flavorImageArgs, takesDevcontainerImage } from "../../components/images";
import { carriedGitspaces, provisionTeam, sharedNamespaceHeldChanges, teamQuotaResource } from "../../components/team";
import { MOCK_DIGEST, isKnown, Registered, SSH_KEY, TYPES, byType, isSecretOutput, one, rawConfig, runProgram, unwrapSecret, valueOf } from "./harness";

const REGISTRY = "registry.example.com/gitspace-runtime";
/** The main suite: per-developer namespaces, routed by a Gateway; other modes and layouts have their own suites. */
const GATEWAY = { mode: "gateway", namespace: "traefik-system", parentRefs: [{ name: "gitspace", namespace: "traefik-system" }] };

function team(overrides: Record<string, unknown> = {}) {
    return parseTeamConfig(rawConfig({
        router: GATEWAY,
        images: { registry: REGISTRY, tag: "2025.11.1", username: "ci-bot", password: "reg-SECRET", vscodeExtensions: ["ms-python.python"] },
        developers: [
            { name: "alice", ide: "vs_code_web", repos: [{ url: "https://git.example.com/acme/api.git", branch: "main" }, { url: "https://git.example.com/acme/web.git" }], git: { username: "alice", token: "tok-SECRET" } },
            { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY], running: false },
            { name: "carol", ide: "goland", sshPublicKeys: [SSH_KEY], user: { name: "dev", uid: 1001, gid: 1001 }, storage: "20Gi", migrateLegacyWorkspaces: true, homeVolumeName: "pvc-legacy-carol" },
            { name: "dave", ide: "cursor", sshPublicKeys: [SSH_KEY], retainHome: false },
        ],
        ...overrides,
    }));
}

const named = (resources: Registered[], type: string, name: string) => one(resources, type, name);
const podSpecOf = (resources: Registered[], dev: string) => named(resources, TYPES.deployment, `${dev}-deployment`).inputs.spec.template.spec;

describe("components under mocks", function () {
    let resources: Registered[];
    let outputs: ReturnType<typeof provisionTeam>;
    before(async () => {
        ({ resources, result: outputs } = await runProgram((opts) => provisionTeam(team(), opts)));
    });

    it("creates the resources of each developer, named ${name}-<role> under its component", () => {
        assert.deepEqual(byType(resources, TYPES.gitspace).map((r) => r.name).sort(), ["alice", "bob", "carol", "dave"]);
        const alice = resources.filter((r) => r.name.startsWith("alice-")).map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(alice, [
            `${TYPES.deployment} alice-deployment`, `${TYPES.limitRange} alice-limits`,
            `${TYPES.quota} alice-quota`, `${TYPES.namespace} alice-namespace`, `${TYPES.pvc} alice-home`,
            `${TYPES.secret} alice-git-credentials`, `${TYPES.secret} alice-ide-password`, `${TYPES.secret} alice-registry-credentials`,
            `${TYPES.service} alice-service`, `${TYPES.networkPolicy} alice-allow-router`, `${TYPES.networkPolicy} alice-default-deny`,
            `${TYPES.networkPolicy} alice-egress`, `${TYPES.password} alice-ide-password`, `${TYPES.httpRoute} alice-route`,
        ].sort());
    });

    it("labels namespaces for Pod Security restricted", () => {
        const ns = named(resources, TYPES.namespace, "alice-namespace").inputs.metadata;
        assert.equal(ns.name, "gitspace--platform--dev--alice");
        assert.equal(ns.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.equal(ns.labels["gitspace.io/developer"], "alice");
    });

    it("keeps home data when a developer is removed, unless retainHome is false", () => {
        for (const dev of ["alice", "bob", "carol"]) {
            assert.equal(named(resources, TYPES.namespace, `${dev}-namespace`).opts.retainOnDelete, true, dev);
            assert.equal(named(resources, TYPES.pvc, `${dev}-home`).opts.retainOnDelete, true, dev);
        }
        assert.equal(named(resources, TYPES.namespace, "dave-namespace").opts.retainOnDelete, false);
        assert.equal(named(resources, TYPES.pvc, "dave-home").opts.retainOnDelete, false);
        assert.equal(named(resources, TYPES.deployment, "alice-deployment").opts.retainOnDelete, undefined);
    });

    it("claims a ReadWriteOnce home of the configured size", () => {
        const pvc = named(resources, TYPES.pvc, "carol-home").inputs;
        assert.equal(pvc.metadata.namespace, "gitspace--platform--dev--carol");
        assert.deepEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
        assert.equal(pvc.spec.resources.requests.storage, "20Gi");
        assert.equal(pvc.spec.storageClassName, undefined, "cluster default when no storageClass");
        assert.equal(pvc.spec.volumeName, "pvc-legacy-carol", "binds the legacy volume");
        assert.equal(named(resources, TYPES.pvc, "alice-home").inputs.spec.volumeName, undefined);
    });

    it("uses Recreate, 1 replica when running and 0 when stopped", () => {
        const alice = named(resources, TYPES.deployment, "alice-deployment").inputs.spec;
        const bob = named(resources, TYPES.deployment, "bob-deployment").inputs.spec;
        assert.deepEqual(alice.strategy, { type: "Recreate" });
        assert.equal(alice.replicas, 1);
        assert.equal(bob.replicas, 0);
        assert.deepEqual(bob.strategy, { type: "Recreate" });
        assert.equal(named(resources, TYPES.deployment, "alice-deployment").inputs.metadata.annotations, undefined, "a running gitspace waits for its rollout");
        assert.deepEqual(named(resources, TYPES.deployment, "bob-deployment").inputs.metadata.annotations, { "pulumi.com/skipAwait": "true" },
            "a stopped gitspace has no rollout to wait for (its WaitForFirstConsumer home never binds)");
    });

    it("selects each pod by its identifier and carries no caddy2-k8s contract outside that mode", () => {
        for (const dev of ["alice", "bob", "carol"]) {
            const deployment = named(resources, TYPES.deployment, `${dev}-deployment`).inputs;
            const template = deployment.spec.template.metadata;
            assert.deepEqual(deployment.spec.selector.matchLabels, { app: "gitspace", gitspace: `${dev}--platform--dev` });
            assert.equal(template.labels.gitspace, `${dev}--platform--dev`);
            assert.equal(template.labels["app.kubernetes.io/instance"], `${dev}--platform--dev`);
            assert.equal(template.labels["gitspace.app.io/managed-by"], undefined, dev);
            assert.equal(deployment.metadata.labels["gitspace.app.io/managed-by"], undefined, dev);
            assert.equal(template.annotations, undefined, dev);
            assert.equal(named(resources, TYPES.deployment, `${dev}-deployment`).opts.ignoreChanges, undefined);
        }
    });

    it("runs each IDE family on its flavor image, pinned by digest", () => {
        const expect: Record<string, [string, string]> = {
            alice: ["vscode", "/usr/local/gitspace/scripts/vscode/run-vscode-web.sh"],
            bob: ["vscode-desktop", "/usr/local/gitspace/scripts/common/run-ssh-server.sh"],
            carol: ["jetbrains", "/usr/local/gitspace/scripts/jetbrains/run-jetbrains.sh"],
            dave: ["cursor", "/usr/local/gitspace/scripts/cursor/run-cursor.sh"],
        };
        for (const [dev, [flavor, command]] of Object.entries(expect)) {
            const spec = podSpecOf(resources, dev);
            const image = `${REGISTRY}:${flavor}-2025.11.1@${MOCK_DIGEST}`;
            assert.equal(spec.containers[0].image, image, dev);
            assert.equal(spec.initContainers[0].image, image, dev);
            assert.deepEqual(spec.containers[0].command, ["/usr/bin/tini", "--", command], dev);
        }
    });

    it("runs a custom user with HOME at /home/<user> (consistency checks 1–3)", () => {
        const spec = podSpecOf(resources, "carol");
        const [ide] = spec.containers;
        assert.equal(spec.securityContext.runAsUser, 1001);
        assert.equal(ide.securityContext.runAsUser, 1001);
        assert.equal(ide.workingDir, "/home/dev");
        assert.ok(ide.volumeMounts.some((m: any) => m.name === "home" && m.mountPath === "/home/dev"));
        const env = Object.fromEntries(ide.env.map((e: any) => [e.name, e.value]));
        assert.equal(env.HOME, "/home/dev");
        assert.equal(env.USER, "dev");
        assert.equal(env.GITSPACE_MIGRATE_LEGACY, "true");
    });

    it("passes every repo to the init container", () => {
        const env = podSpecOf(resources, "alice").initContainers[0].env;
        const repos = JSON.parse(env.find((e: any) => e.name === "GITSPACE_REPOS").value);
        assert.deepEqual(repos, [
            { url: "https://git.example.com/acme/api.git", branch: "main", name: "api" },
            { url: "https://git.example.com/acme/web.git", name: "web" },
        ]);
    });

    it("keeps credentials in Secrets: secret values, never in env", () => {
        const git = named(resources, TYPES.secret, "alice-git-credentials").inputs;
        const data = unwrapSecret(git.stringData);
        assert.ok(data.secret, "stringData is a secret");
        assert.equal(data.value.username, "alice");
        assert.equal(unwrapSecret(data.value.token).value, "tok-SECRET");
        // The credential scope: the scheme://host[:port] of alice's own repositories, one per line, literal.
        assert.equal(data.value.hosts, "https://git.example.com\n");
        const pull = named(resources, TYPES.secret, "alice-registry-credentials").inputs;
        assert.equal(pull.type, "kubernetes.io/dockerconfigjson");
        assert.ok(unwrapSecret(pull.stringData).secret);
        for (const dev of ["alice", "bob", "carol", "dave"]) {
            const spec = JSON.stringify(podSpecOf(resources, dev));
            assert.ok(!spec.includes("tok-SECRET") && !spec.includes("reg-SECRET") && !spec.includes("pw-alice"), dev);
            assert.deepEqual(podSpecOf(resources, dev).imagePullSecrets, [{ name: "registry-credentials" }]);
            for (const c of podSpecOf(resources, dev).containers) {
                for (const e of c.env) assert.ok(e.value !== undefined && e.valueFrom === undefined, `${dev} ${e.name}: literal non-secret values only`);
            }
        }
    });

    it("generates a web IDE password into a Secret and exports it as a Pulumi secret", async () => {
        const password = named(resources, TYPES.password, "alice-ide-password").inputs;
        assert.equal(password.length, 24);
        const secret = named(resources, TYPES.secret, "alice-ide-password").inputs;
        assert.equal(unwrapSecret(secret.stringData).value.password, "pw-alice-ide-password");
        assert.equal(await valueOf(outputs.gitspaces.alice.password!), "pw-alice-ide-password");
        assert.ok(await isSecretOutput(outputs.gitspaces.alice.password!));
        assert.equal(outputs.gitspaces.bob.password, undefined);
    });

    it("gives SSH IDEs authorized keys and a host key generated once (ignoreChanges)", () => {
        const keys = named(resources, TYPES.secret, "bob-ssh-authorized-keys").inputs;
        assert.equal(unwrapSecret(keys.stringData).value.authorized_keys, `${SSH_KEY}\n`);
        const host = named(resources, TYPES.secret, "bob-ssh-host-key");
        const hostData = unwrapSecret(host.inputs.stringData).value;
        assert.match(unwrapSecret(hostData.ssh_host_ed25519_key).value, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        assert.match(hostData["ssh_host_ed25519_key.pub"], /^ssh-ed25519 AAAA\S+ bob--platform--dev\.gitspace$/);
        assert.deepEqual(host.opts.ignoreChanges, ["stringData", "data"]);
        assert.ok(!resources.some((r) => r.name === "alice-ssh-host-key"), "no SSH secrets for the web IDE");
    });

    it("isolates each namespace: default-deny ingress plus the router on the web IDE port, never on sshd", () => {
        const deny = named(resources, TYPES.networkPolicy, "bob-default-deny").inputs.spec;
        assert.deepEqual(deny, { podSelector: {}, policyTypes: ["Ingress"] });
        const allow = named(resources, TYPES.networkPolicy, "alice-allow-router").inputs.spec;
        assert.deepEqual(allow.ingress, [{
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik-system" } } }],
            ports: [{ protocol: "TCP", port: 8089 }],
        }]);
        assert.deepEqual(allow.podSelector, { matchLabels: { app: "gitspace", gitspace: "alice--platform--dev" } });
        for (const dev of ["bob", "carol", "dave"]) {
            assert.ok(!resources.some((r) => r.name === `${dev}-allow-router`), `${dev}: an SSH IDE without app ports lets no router in`);
            assert.ok(!resources.some((r) => r.name === `${dev}-allow-ssh`), `${dev}: ClusterIP sshd is reached by port-forward only`);
            assert.ok(!resources.some((r) => r.name === `${dev}-route`), `${dev}: no HTTP route to sshd`);
        }
    });

    it("limits egress to DNS and the internet outside the cluster's ranges", () => {
        const egress = named(resources, TYPES.networkPolicy, "alice-egress").inputs;
        assert.equal(egress.metadata.name, "egress");
        assert.deepEqual(egress.spec.podSelector, {});
        assert.deepEqual(egress.spec.policyTypes, ["Egress"]);
        assert.deepEqual(egress.spec.egress[0].to, [{
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        }]);
        assert.deepEqual(egress.spec.egress[1].to[0].ipBlock.except, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]);
    });

    it("routes the web IDE through the Gateway with one HTTPRoute", () => {
        const route = named(resources, TYPES.httpRoute, "alice-route").inputs;
        assert.equal(route.apiVersion, "gateway.networking.k8s.io/v1");
        assert.equal(route.kind, "HTTPRoute");
        assert.equal(route.metadata.name, "gitspace");
        assert.equal(route.metadata.namespace, "gitspace--platform--dev--alice");
        assert.deepEqual(route.spec.parentRefs, [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "gitspace", namespace: "traefik-system" }]);
        assert.deepEqual(route.spec.hostnames, ["alice--platform--dev.gitspace.example.com"]);
        assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: "gitspace", port: 8089 }]);
        assert.equal(byType(resources, TYPES.httpRoute).length, 1, "SSH IDEs get no route");
    });

    it("caps each namespace with a ResourceQuota and LimitRange", () => {
        const quota = named(resources, TYPES.quota, "carol-quota").inputs.spec.hard;
        assert.equal(quota["requests.storage"], "20Gi");
        assert.equal(quota.persistentvolumeclaims, "1");
        assert.ok(named(resources, TYPES.limitRange, "carol-limits").inputs.spec.limits[0].max);
    });

    it("exposes the IDE port with a Service, not awaited (a stopped gitspace has no Pods behind it)", () => {
        const svc = named(resources, TYPES.service, "alice-service").inputs;
        assert.deepEqual(svc.spec.ports, [{ name: "ide", port: 8089, targetPort: 8089, protocol: "TCP" }]);
        assert.deepEqual(svc.spec.selector, { app: "gitspace", gitspace: "alice--platform--dev" });
        for (const dev of ["alice", "bob", "carol", "dave"]) {
            assert.deepEqual(named(resources, TYPES.service, `${dev}-service`).inputs.metadata.annotations, { "pulumi.com/skipAwait": "true" }, dev);
        }
        // The SSH Service of a load balancer is awaited: its address is the ssh output's host.
        for (const s of byType(resources, TYPES.service).filter((r) => r.name.endsWith("-ssh-service"))) assert.equal(s.inputs.metadata.annotations, undefined, s.name);
    });

    it("builds five multi-arch images, base-system and devcontainer, every flavor but base FROM base-system's digest-pinned ref", () => {
        const images = byType(resources, TYPES.image);
        assert.deepEqual(images.map((i) => i.name).sort(),
            ["base", "base-system", "devcontainer", "cursor", "jetbrains", "vscode", "vscode-desktop"].map((f) => `runtime-images-${f}`).sort());
        // Destroying a stack never deletes pushed images other stacks and running pods may use.
        for (const image of images) {
            assert.equal(image.opts.retainOnDelete, true, image.name);
            assert.equal((image.opts.parent as any)?.__pulumiType, "gitspace:images:RuntimeImages", `${image.name}: a child of the component`);
        }
        // base-system: images/base/Dockerfile's `system` stage (no scripts), from the same OS image as base.
        const system = named(resources, TYPES.image, "runtime-images-base-system").inputs;
        assert.deepEqual(system.tags, [`${REGISTRY}:base-system-2025.11.1`]);
        assert.equal(system.target, "system");
        assert.match(system.dockerfile.location, /images\/base\/Dockerfile$/);
        assert.deepEqual(system.buildArgs, { BASE_IMAGE: "ubuntu:24.04" });
        assert.deepEqual(system.cacheFrom, [{ registry: { ref: `${REGISTRY}:base-system-buildcache` } }]);
        assert.deepEqual(system.platforms, ["linux/amd64", "linux/arm64"]);
        // devcontainer: images/base/Dockerfile's `devcontainer` stage (FROM scratch, only gitspace-devcontainer), the
        // one build of the binary, multi-arch, pushed and cached like the others.
        const devcontainer = named(resources, TYPES.image, "runtime-images-devcontainer").inputs;
        assert.deepEqual(devcontainer.tags, [`${REGISTRY}:devcontainer-2025.11.1`]);
        assert.equal(devcontainer.target, "devcontainer");
        assert.match(devcontainer.dockerfile.location, /images\/base\/Dockerfile$/);
        assert.deepEqual(devcontainer.buildArgs, { BASE_IMAGE: "ubuntu:24.04" });
        assert.deepEqual(devcontainer.platforms, ["linux/amd64", "linux/arm64"]);
        assert.equal(devcontainer.push, true);
        assert.deepEqual(devcontainer.cacheFrom, [{ registry: { ref: `${REGISTRY}:devcontainer-buildcache` } }]);
        assert.equal(devcontainer.cacheTo[0].registry.mode, "max");
        assert.equal(devcontainer.buildOnPreview, false);
        const base = named(resources, TYPES.image, "runtime-images-base").inputs;
        assert.deepEqual(base.tags, [`${REGISTRY}:base-2025.11.1`]);
        assert.deepEqual(base.buildArgs, { BASE_IMAGE: "ubuntu:24.04" }, "base builds the binary in its own stages (shared cache)");
        assert.deepEqual(base.platforms, ["linux/amd64", "linux/arm64"]);
        assert.equal(base.push, true);
        assert.match(base.dockerfile.location, /images\/base\/Dockerfile$/);
        assert.equal(base.target, undefined, "base is the Dockerfile's last stage");
        assert.deepEqual(base.cacheFrom, [{ registry: { ref: `${REGISTRY}:base-buildcache` } }]);
        assert.equal(base.cacheTo[0].registry.mode, "max");
        const registries = unwrapSecret(base.registries).value;
        assert.equal(registries[0].address, "registry.example.com");
        assert.equal(registries[0].username, "ci-bot");
        assert.ok(unwrapSecret(base.registries).secret || unwrapSecret(registries[0].password).secret, "registry password stays secret");
        for (const flavor of ["vscode", "vscode-desktop", "jetbrains", "cursor"]) {
            const image = named(resources, TYPES.image, `runtime-images-${flavor}`).inputs;
            assert.equal(image.buildArgs.BASE_IMAGE, `${REGISTRY}:base-system-2025.11.1@${MOCK_DIGEST}`, flavor);
            // The binary from the devcontainer Image's pushed ref (its output: the flavor waits for it).
            assert.equal(image.buildArgs.DEVCONTAINER_IMAGE, `${REGISTRY}:devcontainer-2025.11.1@${MOCK_DIGEST}`, flavor);
            assert.equal(image.target, undefined, flavor);
            assert.equal(image.context.location, base.context.location);
        }
        assert.equal(named(resources, TYPES.image, "runtime-images-vscode").inputs.buildArgs.VSCODE_EXTENSIONS, "ms-python.python");
    });

    it("exports per developer namespace, IDE, URL, image and connection", async () => {
        const alice = outputs.gitspaces.alice;
        assert.equal(await valueOf(alice.namespace), "gitspace--platform--dev--alice");
        assert.equal(alice.ide, "vs_code_web");
        assert.equal(alice.url, "https://alice--platform--dev.gitspace.example.com");
        assert.equal(await valueOf(alice.image), `${REGISTRY}:vscode-2025.11.1@${MOCK_DIGEST}`);
        assert.equal(outputs.gitspaces.bob.url, undefined, "no URL leads to sshd");
        assert.equal(await valueOf(outputs.gitspaces.bob.ssh!),
            "kubectl -n gitspace--platform--dev--bob port-forward svc/gitspace 8088 & ssh -o HostKeyAlias=bob--platform--dev -p 8088 vscode@localhost");
        assert.equal(await valueOf(outputs.gitspaces.bob.sshConfig!), [
            "# first: kubectl -n gitspace--platform--dev--bob port-forward svc/gitspace 8088",
            "Host bob--platform--dev", "  HostName localhost", "  Port 8088", "  User vscode", "  HostKeyAlias bob--platform--dev", "",
        ].join("\n"));
    });
});

describe("components: variants", () => {
    it("build: false uses the existing tags and creates no Image", async () => {
        const config = team({ images: { registry: REGISTRY, tag: "v1", build: false } });
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts));
        assert.equal(byType(resources, TYPES.image).length, 0);
        assert.equal(await valueOf(result.images.jetbrains), `${REGISTRY}:jetbrains-v1`);
        assert.equal(podSpecOf(resources, "carol").containers[0].image, `${REGISTRY}:jetbrains-v1`);
        assert.equal(podSpecOf(resources, "carol").imagePullSecrets, undefined, "no credentials, no pull secret");
        assert.ok(!resources.some((r) => r.name.endsWith("registry-credentials")));
    });

    it("compression: zstd pushes every image through a registry export that recompresses its layers", async () => {
        const config = team({ images: { registry: REGISTRY, compression: "zstd" } });
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts));
        const images = byType(resources, TYPES.image);
        assert.equal(images.length, 7);
        for (const image of images) {
            assert.equal(image.inputs.push, false, `${image.name}: no plain push besides the export`);
            assert.deepEqual(image.inputs.exports, [{ registry: { push: true, compression: "zstd", compressionLevel: 19, forceCompression: true, ociMediaTypes: true } }], image.name);
            assert.ok(image.inputs.cacheTo, `${image.name}: the registry build cache stays`);
        }
        assert.equal(await valueOf(result.images.vscode), `${REGISTRY}:vscode-latest@${MOCK_DIGEST}`, "the refs stay digest-pinned");
        const gzip = await runProgram((opts) => provisionTeam(team({ images: { registry: REGISTRY } }), opts));
        for (const image of byType(gzip.resources, TYPES.image)) {
            assert.equal(image.inputs.push, true, `${image.name}: gzip (the default) is a plain push`);
            assert.equal(image.inputs.exports, undefined, image.name);
        }
    });

    it("compression accepts exactly gzip and zstd", () => {
        for (const bad of ["ZSTD", "zstd ", " gzip", "gzip\n", "brotli", "", "zstd:19", "none", true, 19, null, ["zstd"], { type: "zstd" }]) {
            const r = TOP_LEVEL_SCHEMAS.images.safeParse({ registry: REGISTRY, compression: bad });
            assert.ok(!r.success, JSON.stringify(bad));
            assert.deepEqual(r.error!.issues.map((i) => i.path), [["compression"]], JSON.stringify(bad));
        }
        assert.equal((TOP_LEVEL_SCHEMAS.images.parse({ registry: REGISTRY }) as { compression: string }).compression, "gzip");
    });

    it("flavorImageArgs: DEVCONTAINER_IMAGE for exactly the flavors built FROM base-system, a clear error otherwise", () => {
        const args = { registry: REGISTRY, from: "os:1" };
        const ref = `${REGISTRY}:devcontainer-x@sha256:${"c".repeat(64)}`;
        for (const kind of ["vscode", "vscode-desktop", "jetbrains", "cursor"] as const) {
            assert.equal(takesDevcontainerImage(kind), true, kind);
            assert.equal((flavorImageArgs(kind, { ...args, devcontainer: ref }).buildArgs as Record<string, string>).DEVCONTAINER_IMAGE, ref, kind);
            assert.throws(() => flavorImageArgs(kind, args), new RegExp(`^Error: image ${kind}: the devcontainer image ref is required \\(DEVCONTAINER_IMAGE\\)$`), kind);
        }
        for (const kind of ["base", SYSTEM_IMAGE.name, DEVCONTAINER_IMAGE.name] as const) {
            assert.equal(takesDevcontainerImage(kind), false, kind);
            assert.deepEqual(flavorImageArgs(kind, args).buildArgs, { BASE_IMAGE: "os:1" }, kind);
            assert.throws(() => flavorImageArgs(kind, { ...args, devcontainer: ref }), /the devcontainer image ref is not taken/, kind);
        }
        const part = flavorImageArgs(DEVCONTAINER_IMAGE.name, { ...args, tag: "t1", platforms: ["linux/arm64"] });
        assert.deepEqual([part.tags, part.target, part.platforms], [[`${REGISTRY}:devcontainer-t1`], "devcontainer", ["linux/arm64"]]);
        assert.match(String((part.dockerfile as { location: string }).location), /\/images\/base\/Dockerfile$/);
    });

    it("push: false builds without registry cache and refers to the tags", async () => {
        const config = team({ images: { registry: REGISTRY, push: false, platforms: ["linux/amd64"] } });
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts));
        const base = named(resources, TYPES.image, "runtime-images-base").inputs;
        assert.equal(base.push, false);
        assert.equal(base.cacheFrom, undefined);
        assert.deepEqual(base.platforms, ["linux/amd64"]);
        assert.equal(await valueOf(result.images.vscode), `${REGISTRY}:vscode-latest`);
        const vscode = named(resources, TYPES.image, "runtime-images-vscode").inputs;
        assert.equal(vscode.buildArgs.BASE_IMAGE, `${REGISTRY}:base-system-latest`, "without a push: the parent's tag");
        assert.equal(vscode.buildArgs.DEVCONTAINER_IMAGE, `${REGISTRY}:devcontainer-latest`, "without a push: devcontainer's tag");
    });

    it("an authenticating proxy means no generated password", async () => {
        const config = team({ ideAuth: "proxy" });
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts));
        assert.equal(byType(resources, TYPES.password).length, 0);
        assert.equal(result.gitspaces.alice.password, undefined);
        const env = podSpecOf(resources, "alice").containers[0].env;
        assert.equal(env.find((e: any) => e.name === "GITSPACE_IDE_AUTH").value, "none");
    });

    it("sets the storage class and the router namespace from config", async () => {
        const config = team({ storageClass: "fast-ssd", router: { ...GATEWAY, namespace: "ingress" } });
        const { resources } = await runProgram((opts) => provisionTeam(config, opts));
        assert.equal(named(resources, TYPES.pvc, "alice-home").inputs.spec.storageClassName, "fast-ssd");
        const allow = named(resources, TYPES.networkPolicy, "alice-allow-router").inputs.spec;
        assert.equal(allow.ingress[0].from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "ingress");
    });
});

describe("components in preview mode", () => {
    it("registers the same resources with unknown image digests and passwords", async () => {
        const { resources, result } = await runProgram((opts) => provisionTeam(team(), opts), { preview: true });
        assert.equal(byType(resources, TYPES.deployment).length, 4);
        assert.equal(byType(resources, TYPES.image).length, 7);
        for (const image of byType(resources, TYPES.image)) assert.equal(image.inputs.buildOnPreview, false, "preview never builds");
        assert.equal(await isKnown(result.images.vscode), false, "digest unknown before the build");
        assert.equal(await isKnown(result.gitspaces.alice.password!), false);
        assert.equal(podSpecOf(resources, "alice").containers[0].image?.__pulumiUnknown, true, "image is unknown in preview");
        assert.equal(podSpecOf(resources, "alice").containers[0].workingDir, "/home/vscode");
    });
});

describe("components: a partial run (the portal's targeted inline program)", () => {
    it("registers the selected developers' components only, and the team's images component", async () => {
        const config = team();
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts, undefined, new Set(["bob"])));
        assert.deepEqual(byType(resources, TYPES.gitspace).map((r) => r.name), ["bob"]);
        assert.ok(resources.every((r) => r.type !== TYPES.deployment || r.name === "bob-deployment"));
        assert.deepEqual(Object.keys(result.gitspaces), ["bob"]);
        assert.equal(byType(resources, TYPES.images).length, 1, "the team's images component");
    });

    it("shared layout: the shared namespace's objects are registered as a full run registers them; the quota is what the portal targets", async () => {
        const config = team({ router: { mode: "caddy2-k8s", serviceAccount: { name: "caddy" } } });
        assert.equal(config.namespaceLayout, "shared");
        const full = await runProgram((opts) => provisionTeam(config, opts));
        const partial = await runProgram((opts) => provisionTeam(config, opts, undefined, new Set(["bob"])));
        assert.deepEqual(byType(partial.resources, TYPES.gitspace).map((r) => r.name), ["bob"]);
        const teamLevel = (rs: Registered[]) => rs.filter((r) => r.name === "team" || r.name.startsWith("team-"))
            .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs, retainOnDelete: r.opts.retainOnDelete })).sort((a, b) => a.name.localeCompare(b.name));
        const objects = teamLevel(full.resources);
        assert.deepEqual(objects.map((r) => r.name), [
            "team", "team-default-deny", "team-egress", "team-limits", "team-namespace", "team-quota", "team-registry-credentials", "team-router-binding", "team-router-role",
        ]);
        assert.deepEqual(teamLevel(partial.resources), objects, "identical inputs and retention: the engine sees no difference");
        // Computed from every developer, not from bob alone.
        const quota = one(partial.resources, TYPES.quota, teamQuotaResource().name);
        assert.equal(quota.type, teamQuotaResource().type);
        assert.equal(quota.inputs.spec.hard.pods, "8");
        assert.equal(quota.inputs.spec.hard.persistentvolumeclaims, "4");
    });

    it("the gitspaces' namespace waits for the quota's step but is no dependent of it (a targeted run updates the quota alone)", async () => {
        for (const router of [{ mode: "caddy2-k8s" }, GATEWAY]) {
            const { result } = await runProgram((opts) => provisionTeam(team({ router }), opts));
            // What a gitspace's objects take as their namespace carries these resources as dependencies into the state.
            const deps = await (result.gitspaces.alice.namespace as unknown as { allResources(): Promise<Set<{ __name: string }>> }).allResources();
            assert.deepEqual([...deps].map((r) => r.__name), [router.mode === "caddy2-k8s" ? "team-namespace" : "alice-namespace"]);
            assert.equal(await valueOf(result.gitspaces.alice.namespace), router.mode === "caddy2-k8s" ? "gitspace--platform--dev" : "gitspace--platform--dev--alice");
        }
    });

    it("shared layout: a change of the LimitRange (largest developer) or of the retention (anyone keeps a home) is held for a full run; the quota is not", () => {
        const base = team({ router: { mode: "caddy2-k8s" } });
        const withDevs = (developers: Array<Record<string, unknown>>) => team({ router: { mode: "caddy2-k8s" }, developers });
        const dev = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra });
        const big = { resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "8", memory: "4Gi" } } };
        const small = { resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "1Gi" } } };
        const LIMITS = "LimitRange (the largest developer's resources)";
        const RETAIN = "retention (whether any developer keeps a home)";
        // More developers of the same size, fewer, other storage, stopped or started: the quota alone.
        const four = [dev("a"), dev("b"), dev("c", { storage: "20Gi" }), dev("d", { running: false })];
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four)], withDevs([...four, dev("e")])), []);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four)], withDevs(four.slice(1))), []);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four)], withDevs([...four.slice(0, 3), dev("d", { running: true })])), []);
        // A smaller developer added or removed: the largest stays.
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four)], withDevs([...four, dev("e", small)])), []);
        // The largest grows, or the only large one leaves.
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four)], withDevs([...four, dev("e", big)])), [LIMITS]);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs([...four, dev("e", big)])], withDevs(four)), [LIMITS]);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs([...four, dev("e", big)])], withDevs([...four, dev("e", big), dev("f", big)])), []);
        // Nobody else keeps a home: the last keeper's retainHome decides the Namespace's retention.
        const lone = [dev("a", { retainHome: false }), dev("b", { retainHome: false })];
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(lone)], withDevs([...lone, dev("c")])), [RETAIN]);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs([...lone, dev("c")])], withDevs([...lone, dev("c", { retainHome: false })])), [RETAIN]);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs([dev("a"), dev("c")])], withDevs([dev("a"), dev("c", { retainHome: false })])), []);
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(lone)], withDevs([...lone, dev("c", big)])), [LIMITS, RETAIN]);
        // Every config the state may hold them from must agree (a failed update may have applied its own).
        assert.deepEqual(sharedNamespaceHeldChanges([withDevs(four), withDevs([...four, dev("e", big)])], withDevs(four)), [LIMITS]);
        assert.deepEqual(sharedNamespaceHeldChanges([base], base), []);
    });

    it("carries the other developers' outputs (as secrets) for those still in the config; never the selected ones", async () => {
        const previous = { alice: { namespace: "ns-a", password: "pw-old" }, bob: { namespace: "ns-b" }, gone: { namespace: "ns-x" } };
        const { result } = await runProgram(() => carriedGitspaces(["alice", "bob", "carol"], { developers: ["bob"], gitspaces: previous }));
        assert.deepEqual(Object.keys(result).sort(), ["alice"], "not bob (selected, fresh), not gone (removed), not carol (never deployed)");
        assert.ok(await isSecretOutput(result.alice));
        assert.deepEqual(await valueOf(result.alice), previous.alice);
    });
});
