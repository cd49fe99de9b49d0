import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    MOUNTS, buildPodSpec, dockerConfigJson, gitCredentialsData, gitspaceEnv, gitspaceLabels, ideProbe, imageTag,
    limitRangeSpec, quotaHard, registryHost, scaleQuantity, selectorLabels,
} from "../../components/builders";
import { IDE_CATALOG, IDE_TYPES, INIT_COMMAND, ideSpec } from "../../components/catalog";
import { DeveloperConfig, parseTeamConfig } from "../../components/config";
import { encodeOpenSshEd25519, generateSshHostKey } from "../../components/sshkeys";
import { SSH_KEY, rawConfig } from "./harness";

const REPO = path.resolve(__dirname, "../..");

function developer(fields: Record<string, unknown> = {}): DeveloperConfig {
    return parseTeamConfig(rawConfig({ developers: [{ name: "alice", sshPublicKeys: [SSH_KEY], ...fields }] })).developers[0];
}

const podSpec = (fields: Record<string, unknown> = {}, extra: Partial<Parameters<typeof buildPodSpec>[0]> = {}) =>
    buildPodSpec({ team: "platform", developer: developer(fields), ideAuth: "password", hasGitCredentials: false, image: "img:1", ...extra }) as any;

describe("IDE catalog", () => {
    it("maps each Gitness IDE type to a flavor, port and access", () => {
        const expect: Record<string, [string, number, string]> = {
            vs_code_web: ["vscode", 8089, "web"], vs_code: ["vscode-desktop", 8088, "ssh"], cursor: ["cursor", 8088, "ssh"],
            windsurf: ["cursor", 8088, "ssh"], intellij: ["jetbrains", 8088, "ssh"], goland: ["jetbrains", 8088, "ssh"],
            pycharm: ["jetbrains", 8088, "ssh"], webstorm: ["jetbrains", 8088, "ssh"], clion: ["jetbrains", 8088, "ssh"],
            phpstorm: ["jetbrains", 8088, "ssh"], rubymine: ["jetbrains", 8088, "ssh"], rider: ["jetbrains", 8088, "ssh"],
        };
        assert.deepEqual(IDE_TYPES.slice().sort(), Object.keys(expect).sort());
        for (const [ide, [flavor, port, access]] of Object.entries(expect)) {
            const spec = ideSpec(ide as keyof typeof IDE_CATALOG);
            assert.deepEqual([spec.flavor, spec.port, spec.access], [flavor, port, access], ide);
            assert.equal(spec.probe.kind, access === "web" ? "http" : "tcp");
        }
    });

    it("names commands that exist in scripts/ and flavors that have a Dockerfile", () => {
        for (const ide of IDE_TYPES) {
            const spec = ideSpec(ide);
            for (const script of [...spec.command.filter((c) => c.startsWith("/usr/local/gitspace/")), ...INIT_COMMAND]) {
                const inRepo = path.join(REPO, "scripts", script.replace("/usr/local/gitspace/scripts/", ""));
                assert.ok(fs.existsSync(inRepo), `${ide}: ${inRepo} missing`);
                assert.ok(fs.statSync(inRepo).mode & 0o111, `${inRepo} not executable`);
            }
            assert.ok(fs.existsSync(path.join(REPO, "images", spec.flavor, "Dockerfile")), `${ide}: images/${spec.flavor}/Dockerfile missing`);
        }
        assert.ok(fs.existsSync(path.join(REPO, "images", "base", "Dockerfile")));
    });
});

describe("labels", () => {
    const dev = developer();
    const scope = { team: "platform", environment: "dev" };
    it("puts the recommended labels and the team/environment/developer on every object", () => {
        assert.deepEqual(gitspaceLabels(scope, dev), {
            "app.kubernetes.io/name": "gitspace", "app.kubernetes.io/instance": "alice--platform--dev",
            "app.kubernetes.io/component": "ide", "app.kubernetes.io/part-of": "gitspace", "app.kubernetes.io/managed-by": "pulumi",
            "gitspace.io/team": "platform", "gitspace.io/environment": "dev", "gitspace.io/developer": "alice", "gitspace.io/ide": "vs_code_web",
        });
    });
    it("selects the pod by the identifier caddy2-k8s also reads", () => {
        assert.deepEqual(selectorLabels(scope, dev), { app: "gitspace", gitspace: "alice--platform--dev" });
    });
});

describe("images and registries", () => {
    it("names image refs <registry>:<flavor>-<tag>", () => {
        assert.equal(imageTag("r.example.com/gs", "vscode-desktop", "2025.11.1"), "r.example.com/gs:vscode-desktop-2025.11.1");
    });
    it("finds the registry host", () => {
        assert.equal(registryHost("registry.example.com/gitspace-runtime"), "registry.example.com");
        assert.equal(registryHost("127.0.0.1:5000/gs"), "127.0.0.1:5000");
        assert.equal(registryHost("localhost/gs"), "localhost");
        assert.equal(registryHost("acme/gitspace"), "docker.io");
    });
    it("writes a dockerconfigjson", () => {
        const json = JSON.parse(dockerConfigJson("r.example.com/gs", "ci", "pw"));
        assert.deepEqual(json, { auths: { "r.example.com": { username: "ci", password: "pw", auth: Buffer.from("ci:pw").toString("base64") } } });
    });
});

describe("environment", () => {
    it("holds the contract variables and never a credential", () => {
        const dev = developer({
            user: { name: "dev", uid: 1001, gid: 1002 }, git: { username: "alice", token: "tok-SECRET" },
            repos: [{ url: "https://h/a/api.git", branch: "main" }, { url: "https://h/a/web.git" }], migrateLegacyWorkspaces: true,
        });
        const env = Object.fromEntries(gitspaceEnv({ team: "platform", developer: dev, ideAuth: "password", hasGitCredentials: true }).map((e) => [e.name, e.value]));
        assert.equal(env.HOME, "/home/dev");
        assert.equal(env.USER, "dev");
        assert.equal(env.GITSPACE_UID, "1001");
        assert.equal(env.GITSPACE_GID, "1002");
        assert.equal(env.GITSPACE_IDE_PORT, "8089");
        assert.equal(env.GITSPACE_IDE_AUTH, "password");
        assert.equal(env.GITSPACE_MIGRATE_LEGACY, "true");
        assert.deepEqual(JSON.parse(env.GITSPACE_REPOS as string), [
            { url: "https://h/a/api.git", branch: "main", name: "api" }, { url: "https://h/a/web.git", name: "web" },
        ]);
        assert.equal(env.GITSPACE_GIT_CREDENTIALS_DIR, MOUNTS.gitCredentialsDir);
        assert.ok(!JSON.stringify(env).includes("tok-SECRET"));
        assert.ok(!JSON.stringify(env).includes("alice\""), "git username is not in env either: it is a mounted file");
    });
    it("hands the scripts every repository's resolved name, url and branch (nothing left for them to derive)", () => {
        const dev = developer({ repos: [{ url: "https://h.example/a/api.git" }, { url: "http://10.0.0.5:8080/x/y", name: "why", branch: "dev" }] });
        const env = Object.fromEntries(gitspaceEnv({ team: "p", developer: dev, ideAuth: "password", hasGitCredentials: false }).map((e) => [e.name, e.value]));
        const repos = JSON.parse(env.GITSPACE_REPOS as string);
        assert.deepEqual(repos, [{ name: "api", url: "https://h.example/a/api.git" }, { name: "why", url: "http://10.0.0.5:8080/x/y", branch: "dev" }]);
        for (const r of repos) assert.ok(typeof r.name === "string" && typeof r.url === "string");
    });
    it("builds the git-credentials Secret: username, token (wrapped by the caller), and the literal scopes of the repos", () => {
        const dev = developer({
            git: { username: "alice", token: "tok-SECRET" },
            repos: [{ url: "https://h.example/a/api.git" }, { url: "https://h.example/b/web.git" }, { url: "http://10.0.0.5:8080/x.git" }, { url: "https://[::1]:8443/z.git" }],
        });
        const data = gitCredentialsData(dev.git!, dev.repos, (t) => ({ wrapped: t }));
        assert.deepEqual(data, {
            username: "alice",
            token: { wrapped: "tok-SECRET" },
            hosts: "http://10.0.0.5:8080\nhttps://[::1]:8443\nhttps://h.example\n",
        });
        assert.equal(gitCredentialsData(dev.git!, [], (t) => t).hosts, "", "no repository: the token goes to no host");
    });
    it("switches code-server auth off only behind an authenticating proxy", () => {
        const env = gitspaceEnv({ team: "p", developer: developer(), ideAuth: "proxy", hasGitCredentials: false });
        assert.equal(env.find((e) => e.name === "GITSPACE_IDE_AUTH")?.value, "none");
    });
});

describe("pod spec", () => {
    it("runs the web IDE as the user with HOME on the PVC (consistency checks 1–2)", () => {
        const spec = podSpec();
        const [ide] = spec.containers;
        assert.equal(ide.name, "ide");
        assert.deepEqual(ide.command, ["/usr/bin/tini", "--", "/usr/local/gitspace/scripts/vscode/run-vscode-web.sh"]);
        assert.equal(ide.workingDir, "/home/vscode");
        assert.deepEqual(ide.ports, [{ name: "ide", containerPort: 8089, protocol: "TCP" }]);
        assert.deepEqual(ide.readinessProbe.httpGet, { path: "/healthz", port: 8089 });
        const home = ide.volumeMounts.find((m: any) => m.mountPath === "/home/vscode");
        assert.equal(home.name, "home");
        assert.deepEqual(spec.volumes.find((v: any) => v.name === "home"), { name: "home", persistentVolumeClaim: { claimName: "home" } });
    });

    it("mounts the identity files and /workspaces where the IDE container sees them (seed bug 1, 3)", () => {
        const [ide] = podSpec().containers;
        assert.deepEqual(ide.volumeMounts.filter((m: any) => m.name === "identity"), [
            { name: "identity", mountPath: "/etc/passwd", subPath: "passwd", readOnly: true },
            { name: "identity", mountPath: "/etc/group", subPath: "group", readOnly: true },
        ]);
        assert.deepEqual(ide.volumeMounts.find((m: any) => m.mountPath === "/workspaces"), { name: "home", mountPath: "/workspaces" });
        const [init] = podSpec().initContainers;
        assert.ok(init.volumeMounts.some((m: any) => m.name === "identity" && m.mountPath === MOUNTS.identityDir));
    });

    it("passes Pod Security restricted: non-root, no escalation, no capabilities, RuntimeDefault seccomp", () => {
        const spec = podSpec({ user: { name: "dev", uid: 1001, gid: 1001 } });
        assert.deepEqual(spec.securityContext, {
            runAsUser: 1001, runAsGroup: 1001, runAsNonRoot: true, fsGroup: 1001, fsGroupChangePolicy: "OnRootMismatch",
            seccompProfile: { type: "RuntimeDefault" },
        });
        for (const c of [...spec.initContainers, ...spec.containers]) {
            assert.deepEqual(c.securityContext, {
                runAsUser: 1001, runAsGroup: 1001, runAsNonRoot: true, allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
            }, c.name);
        }
        assert.equal(spec.automountServiceAccountToken, false);
        for (const v of spec.volumes) assert.ok(!("hostPath" in v), "no hostPath volumes");
    });

    it("runs the init entrypoint from the same image with HOME mounted", () => {
        const [init] = podSpec({ user: { name: "dev", uid: 1001, gid: 1001 } }, { image: "reg/x:vscode@sha256:1" }).initContainers;
        assert.equal(init.name, "gitspace-init");
        assert.deepEqual(init.command, INIT_COMMAND);
        assert.equal(init.image, "reg/x:vscode@sha256:1");
        assert.deepEqual(init.volumeMounts[0], { name: "home", mountPath: "/home/dev" });
    });

    it("mounts SSH keys for SSH IDEs and the password for the web IDE, never both", () => {
        for (const ide of IDE_TYPES) {
            const spec = podSpec({ ide });
            const names = spec.volumes.map((v: any) => v.name);
            const access = ideSpec(ide).access;
            assert.equal(names.includes("ssh"), access === "ssh", ide);
            assert.equal(names.includes("ide-password"), access === "web", ide);
            if (access === "ssh") {
                assert.deepEqual(spec.containers[0].readinessProbe.tcpSocket, { port: 8088 });
                const ssh = spec.volumes.find((v: any) => v.name === "ssh");
                assert.deepEqual(ssh.projected.sources.map((s: any) => s.secret.name), ["ssh-authorized-keys", "ssh-host-key"]);
                assert.equal(ssh.projected.defaultMode, 0o440);
            }
        }
        assert.ok(!podSpec({}, { ideAuth: "proxy" }).volumes.some((v: any) => v.name === "ide-password"));
    });

    it("mounts git credentials as files in both containers only when configured", () => {
        const withCreds = podSpec({}, { hasGitCredentials: true });
        for (const c of [...withCreds.initContainers, ...withCreds.containers]) {
            assert.deepEqual(c.volumeMounts.find((m: any) => m.name === "git-credentials"),
                { name: "git-credentials", mountPath: "/etc/gitspace/git", readOnly: true });
        }
        assert.ok(!podSpec().volumes.some((v: any) => v.name === "git-credentials"));
    });

    it("references the image pull secret when given", () => {
        assert.deepEqual(podSpec({}, { imagePullSecret: "registry-credentials" }).imagePullSecrets, [{ name: "registry-credentials" }]);
        assert.equal(podSpec().imagePullSecrets, undefined);
    });

    it("applies the developer's resources to both containers", () => {
        const resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "4", memory: "8Gi" } };
        const spec = podSpec({ resources });
        for (const c of [...spec.initContainers, ...spec.containers]) assert.deepEqual(c.resources, resources);
    });

    it("uses a lenient liveness probe", () => {
        const probe = ideProbe(ideSpec("vs_code_web"), { failureThreshold: 6 });
        assert.equal(probe.failureThreshold, 6);
        assert.deepEqual(probe.httpGet, { path: "/healthz", port: 8089 });
    });
});

describe("quota and limits", () => {
    it("doubles quantities keeping units", () => {
        assert.equal(scaleQuantity("1500m", 2), "3000m");
        assert.equal(scaleQuantity("2Gi", 2), "4Gi");
        assert.equal(scaleQuantity("0.1", 3), "0.3");
    });
    it("makes room for one pod and its replacement", () => {
        assert.deepEqual(quotaHard(developer()), {
            pods: "2", "requests.cpu": "2", "requests.memory": "4Gi", "limits.cpu": "4", "limits.memory": "8Gi",
            persistentvolumeclaims: "1", "requests.storage": "10Gi",
        });
        assert.deepEqual(limitRangeSpec(developer()).limits, [{
            type: "Container", default: { cpu: "2", memory: "4Gi" }, defaultRequest: { cpu: "1", memory: "2Gi" }, max: { cpu: "2", memory: "4Gi" },
        }]);
    });
});

describe("SSH host keys", () => {
    it("are valid OpenSSH ed25519 keys that ssh-keygen reads back", () => {
        const key = generateSshHostKey("alice@platform.gitspace");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostkey-"));
        const file = path.join(dir, "key");
        fs.writeFileSync(file, key.privateKey, { mode: 0o600 });
        const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
        assert.equal(derived, key.publicKey);
        fs.rmSync(dir, { recursive: true });
    });
    it("encode deterministically apart from the check bytes", () => {
        const seed = Buffer.alloc(32, 1);
        const pub = Buffer.alloc(32, 2);
        const a = encodeOpenSshEd25519(seed, pub, "c");
        assert.equal(a.publicKey, `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), pub]).toString("base64")} c`);
        assert.throws(() => encodeOpenSshEd25519(Buffer.alloc(31), pub, "c"), /32 bytes/);
    });
});
