import { strict as assert } from "assert";
import { ConfigError, formatConfigPath, parseTeamConfig, quantityValue, repoDirName, repoUrlProblem } from "../../components/config";
import { IDE_TYPES } from "../../components/catalog";
import { SSH_KEY, rawConfig } from "./harness";

/** Parses and returns the list of "path: message" problems (fails the test if the config is accepted). */
function problems(raw: Record<string, unknown>, unknownKeys: string[] = []): string[] {
    try {
        parseTeamConfig(raw, unknownKeys);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
    assert.fail("config was accepted");
}

const dev = (fields: Record<string, unknown>) => rawConfig({ developers: [{ name: "alice", ...fields }] });

describe("config: defaults", () => {
    it("fills every default of a minimal config", () => {
        const c = parseTeamConfig(rawConfig());
        assert.equal(c.ideAuth, "password");
        assert.deepEqual(c.router, { mode: "caddy2-k8s", namespace: "caddy-system" });
        assert.equal(c.environment, "dev");
        assert.equal(c.namespaceLayout, "shared", "caddy2-k8s watches one namespace");
        assert.deepEqual(c.ssh, { serviceType: "ClusterIP", allowedCidrs: ["0.0.0.0/0", "::/0"] });
        assert.deepEqual(c.egress, {
            enabled: true,
            deniedCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"],
            allowedCidrs: [],
            dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" }, cidrs: [] },
        });
        assert.deepEqual(c.images, {
            registry: "registry.example.com/gitspace-runtime", tag: "2025.11.1", platforms: ["linux/amd64", "linux/arm64"],
            push: true, build: true, vscodeExtensions: [], baseImage: "ubuntu:24.04", compression: "gzip",
        });
        assert.deepEqual(c.developers[0], {
            name: "alice", ide: "vs_code_web",
            repos: [{ url: "https://git.example.com/acme/api.git", branch: "main", name: "api" }],
            storage: "10Gi", user: { name: "vscode", uid: 1000, gid: 1000 }, running: true, sshPublicKeys: [], git: undefined,
            resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
            migrateLegacyWorkspaces: false, retainHome: true, ports: [],
        });
    });

    it("takes team defaults, and a developer's own value over them", () => {
        const c = parseTeamConfig(rawConfig({
            defaults: { ide: "goland", storage: "50Gi", sshPublicKeys: [SSH_KEY], user: { name: "dev", uid: 2000, gid: 2000 }, running: false },
            developers: [{ name: "alice" }, { name: "bob", ide: "vs_code_web", storage: "5Gi", running: true }],
        }));
        assert.equal(c.developers[0].ide, "goland");
        assert.equal(c.developers[0].storage, "50Gi");
        assert.equal(c.developers[0].running, false);
        assert.deepEqual(c.developers[0].user, { name: "dev", uid: 2000, gid: 2000 });
        assert.equal(c.developers[1].ide, "vs_code_web");
        assert.equal(c.developers[1].storage, "5Gi");
        assert.equal(c.developers[1].running, true);
    });

    it("accepts every IDE of the catalog", () => {
        for (const ide of IDE_TYPES) {
            const c = parseTeamConfig(dev({ ide, sshPublicKeys: [SSH_KEY] }));
            assert.equal(c.developers[0].ide, ide);
        }
    });

    it("accepts numeric CPU quantities and keeps them as strings", () => {
        const c = parseTeamConfig(dev({ resources: { requests: { cpu: 0.5, memory: "1Gi" }, limits: { cpu: 2, memory: "2Gi" } } }));
        assert.deepEqual(c.developers[0].resources.requests, { cpu: "0.5", memory: "1Gi" });
    });

    it("derives repo directories and honours an explicit name", () => {
        const c = parseTeamConfig(dev({ repos: [{ url: "https://h/org/api.git" }, { url: "https://h/other/api", name: "api-2" }] }));
        assert.deepEqual(c.developers[0].repos.map((r) => r.name), ["api", "api-2"]);
    });
});

describe("config: every problem at once, with its path", () => {
    const cases: Array<[string, Record<string, unknown>, string[]]> = [
        ["missing required keys", {}, [
            "gitspace:team: required",
            "gitspace:domain: required",
            "gitspace:images: required",
            "gitspace:developers: required",
        ]],
        ["team not a DNS label", rawConfig({ team: "Platform_Team" }), [
            `gitspace:team: invalid name "Platform_Team"; must be a DNS label (lowercase letters, digits, '-')`,
        ]],
        ["bad domain", rawConfig({ domain: "https://x.com" }), [
            `gitspace:domain: invalid domain "https://x.com"; expected e.g. "gitspace.example.com"`,
        ]],
        ["unknown IDE", dev({ ide: "vscod" }), [
            `gitspace:developers[0].ide: unknown IDE "vscod"; expected one of ${IDE_TYPES.join(", ")}`,
        ]],
        ["unknown IDE in defaults", rawConfig({ defaults: { ide: "emacs" } }), [
            `gitspace:defaults.ide: unknown IDE "emacs"; expected one of ${IDE_TYPES.join(", ")}`,
        ]],
        ["typo in a developer field", dev({ strorage: "10Gi" }), [`gitspace:developers[0]: unknown field "strorage"`]],
        ["empty developer list", rawConfig({ developers: [] }), ["gitspace:developers: must list at least one developer"]],
        ["developer without name", rawConfig({ developers: [{ ide: "vs_code_web" }] }), ["gitspace:developers[0].name: required"]],
        ["developer name not a DNS label", rawConfig({ developers: [{ name: "Alice" }] }), [
            `gitspace:developers[0].name: invalid name "Alice"; must be a DNS label (lowercase letters, digits, '-')`,
        ]],
        ["duplicate developers", rawConfig({ developers: [{ name: "alice" }, { name: "bob" }, { name: "alice" }] }), [
            `gitspace:developers[2].name: duplicate developer "alice" (also developers[0])`,
        ]],
        ["namespace too long", rawConfig({ team: "t".repeat(30), namespaceLayout: "per-developer", router: { mode: "none" }, developers: [{ name: "d".repeat(22) }] }), [
            `gitspace:developers[0].name: namespace "gitspace--${"t".repeat(30)}--dev--${"d".repeat(22)}" would be 69 characters, over the limit of 63; shorten the team, environment or developer name`,
        ]],
        ["hostname too long", rawConfig({ team: "t".repeat(30), developers: [{ name: "d".repeat(30) }] }), [
            `gitspace:developers[0].name: hostname label "${"d".repeat(30)}--${"t".repeat(30)}--dev" would be 67 characters, over the limit of 63; shorten the team, environment or developer name`,
        ]],
        ["SSH IDE without keys", dev({ ide: "vs_code" }), [
            `gitspace:developers[0].sshPublicKeys: required for the SSH IDE "vs_code" (at least one public key)`,
        ]],
        ["not an SSH key", dev({ ide: "cursor", sshPublicKeys: ["hello"] }), [
            `gitspace:developers[0].sshPublicKeys[0]: not an OpenSSH public key ("ssh-ed25519 AAAA… comment")`,
        ]],
        ["bad storage", dev({ storage: "10GB" }), [`gitspace:developers[0].storage: invalid quantity "10GB"; expected e.g. "512Mi", "4Gi" (bytes: no milli suffix "m")`]],
        ["zero storage", dev({ storage: "0Gi" }), ["gitspace:developers[0].storage: must be greater than zero"]],
        ["request above limit", dev({ resources: { requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "2", memory: "4Gi" } } }), [
            "gitspace:developers[0].resources.requests.cpu: request 4 exceeds limit 2",
            "gitspace:developers[0].resources.requests.memory: request 8Gi exceeds limit 4Gi",
        ]],
        ["bad CPU", dev({ resources: { requests: { cpu: "lots", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } } }), [
            `gitspace:developers[0].resources.requests.cpu: invalid CPU quantity "lots"; expected e.g. "500m", "2"`,
        ]],
        ["root user", dev({ user: { name: "root", uid: 0, gid: 0 } }), [
            "gitspace:developers[0].user.name: must not be root: gitspaces run as a non-root user",
            "gitspace:developers[0].user.uid: must be ≥ 1: gitspaces run as a non-root user",
            "gitspace:developers[0].user.gid: must be ≥ 1: gitspaces run as a non-root group",
        ]],
        ["user missing uid", dev({ user: { name: "dev", gid: 1001 } }), ["gitspace:developers[0].user.uid: required"]],
        ["credentials in a clone URL", dev({ repos: [{ url: "https://alice:s3cr3t@git.example.com/a/b.git" }] }), [
            "gitspace:developers[0].repos[0].url: must not contain credentials; set git.username and git.token (as a secret) instead",
        ]],
        ["ssh clone URL", dev({ repos: [{ url: "ssh://git@git.example.com/a/b.git" }] }), [
            `gitspace:developers[0].repos[0].url: has the unsupported scheme "ssh"; only http(s) clone URLs are supported`,
        ]],
        ["scp-style clone URL", dev({ repos: [{ url: "git@git.example.com:a/b.git" }] }), [
            "gitspace:developers[0].repos[0].url: SSH clone URLs are not supported; use the https:// clone URL",
        ]],
        ["two repos into one directory", dev({ repos: [{ url: "https://h/a/api.git" }, { url: "https://h/b/api.git" }] }), [
            `gitspace:developers[0].repos[1].name: directory "api" is already used by repos[0]; set a distinct name`,
        ]],
        ["bad branch", dev({ repos: [{ url: "https://h/a/api.git", branch: "-rf" }] }), [
            `gitspace:developers[0].repos[0].branch: invalid branch name "-rf"; use letters, digits, '.', '_', '-', '/' as git allows them (not starting with '-' or '/', no '..')`,
        ]],
        ["git token missing", dev({ git: { username: "alice" } }), [
            "gitspace:developers[0].git.token: required",
        ]],
        ["registry with scheme", rawConfig({ images: { registry: "https://registry.example.com/x" } }), [
            `gitspace:images.registry: invalid registry repository "https://registry.example.com/x"; expected e.g. "registry.example.com/gitspace-runtime" (no scheme, no tag)`,
        ]],
        ["unknown platform", rawConfig({ images: { registry: "r.io/x", platforms: ["linux/s390x"] } }), [
            `gitspace:images.platforms[0]: unknown platform "linux/s390x"; expected one of linux/amd64, linux/arm64`,
        ]],
        ["registry username without password", rawConfig({ images: { registry: "r.io/x", username: "ci" } }), [
            "gitspace:images.password: registry username and password must be set together",
        ]],
        ["bad extension id", rawConfig({ images: { registry: "r.io/x", vscodeExtensions: ["python"] } }), [
            `gitspace:images.vscodeExtensions[0]: invalid extension id "python"; expected publisher.name[@version]`,
        ]],
        ["bad ideAuth", rawConfig({ ideAuth: "oauth" }), [`gitspace:ideAuth: unknown ideAuth "oauth"; expected "password" or "proxy"`]],
        ["bad homeVolumeName", dev({ homeVolumeName: "PV_1" }), [`gitspace:developers[0].homeVolumeName: invalid PersistentVolume name "PV_1"`]],
        ["running not a boolean", dev({ running: "no" }), ["gitspace:developers[0].running: must be true or false"]],
    ];
    for (const [title, raw, expected] of cases) {
        it(title, () => assert.deepEqual(problems(raw), expected));
    }

    it("reports unknown gitspace: keys (typos)", () => {
        assert.deepEqual(problems(rawConfig(), ["developer"]), [
            "gitspace:developer: unknown configuration key; expected one of team, environment, domain, storageClass, ideAuth, router, namespaceLayout, ssh, egress, images, defaults, developers",
        ]);
    });

    it("reports the problems of many fields and developers together", () => {
        const found = problems({
            team: "Bad",
            domain: "example.com",
            images: { registry: "r.io/x" },
            developers: [{ name: "ok" }, { name: "b", ide: "vscod" }, { name: "c", ide: "vs_code" }, { name: "ok" }],
        });
        assert.deepEqual(found, [
            `gitspace:team: invalid name "Bad"; must be a DNS label (lowercase letters, digits, '-')`,
            `gitspace:developers[1].ide: unknown IDE "vscod"; expected one of ${IDE_TYPES.join(", ")}`,
            `gitspace:developers[2].sshPublicKeys: required for the SSH IDE "vs_code" (at least one public key)`,
            `gitspace:developers[3].name: duplicate developer "ok" (also developers[0])`,
        ]);
    });

    it("never echoes a secret value in a message", () => {
        const token = "ghp_SUPERSECRET";
        const message = (() => {
            try {
                parseTeamConfig(dev({ git: { username: "alice", token: 42 }, repos: [{ url: `https://x:${token}@h/a.git` }] }));
            } catch (e) { return (e as Error).message; }
            return "";
        })();
        assert.match(message, /git\.token: must be a string/);
        assert.ok(!message.includes(token));
    });

    it("formats the error as one message listing every problem", () => {
        try {
            parseTeamConfig({});
            assert.fail("accepted");
        } catch (e) {
            assert.match((e as Error).message, /^invalid gitspace stack configuration \(4 problems\):\n {2}gitspace:team: required\n/);
        }
    });
});

describe("config: pure helpers", () => {
    it("formats paths", () => {
        assert.equal(formatConfigPath(["developers", 2, "repos", 0, "url"]), "gitspace:developers[2].repos[0].url");
        assert.equal(formatConfigPath([]), "gitspace");
    });
    it("derives repo directory names", () => {
        assert.equal(repoDirName("https://h/org/api.git"), "api");
        assert.equal(repoDirName("https://h/org/api/"), "api");
        assert.equal(repoDirName("http://127.0.0.1:8080/git/my%20repo.git"), "my repo");
        assert.equal(repoDirName("https://h/"), undefined);
        assert.equal(repoUrlProblem("https://h/"), undefined, "a URL without a path is fine when the repo has a name");
        assert.deepEqual(problems(dev({ repos: [{ url: "https://h/" }] })), [
            "gitspace:developers[0].repos[0].name: the URL has no repository name in its path; set name",
        ]);
        assert.equal(repoUrlProblem("https://h/a/b.git"), undefined);
    });
    it("computes quantity values", () => {
        assert.equal(quantityValue("2Gi"), 2 * 2 ** 30);
        assert.equal(quantityValue("500m"), 0.5);
        assert.equal(quantityValue("1.5"), 1.5);
        assert.ok(quantityValue("1G") < quantityValue("1Gi"));
    });
});
