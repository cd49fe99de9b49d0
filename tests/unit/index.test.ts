import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ClusterReader } from "../../components/adoption";
import { SSH_KEY, TYPES, byType, fakeCluster, runProgram, valueOf } from "./harness";

const INDEX = path.resolve(__dirname, "../../index.ts");

/**
 * Loads index.ts afresh with the given `gitspace:` config (values as the engine passes them: JSON strings) and runs
 * its program against `cluster` (an empty one by default).
 */
function loadIndex(config: Record<string, unknown>, cluster: ClusterReader = fakeCluster()): Promise<any> {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) all[`gitspace:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    pulumi.runtime.setAllConfig(all, ["gitspace:developers"]);
    delete require.cache[require.resolve(INDEX)];
    return require(INDEX)(async () => cluster);
}

describe("index.ts (the program as `pulumi up` runs it)", () => {
    afterEach(() => pulumi.runtime.setAllConfig({}));

    it("reads the stack config, including a secret set with --path, and exports per developer", async () => {
        const { resources, result: pending } = await runProgram(() => loadIndex({
            team: "platform",
            domain: "gitspace.example.com",
            images: { registry: "registry.example.com/gitspace-runtime", build: false },
            developers: [
                { name: "alice", git: { username: "alice", token: "tok-SECRET" }, repos: [{ url: "https://git.example.com/a/api.git" }] },
                { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY] },
            ],
        }));
        const result = await pending;
        assert.equal(byType(resources, TYPES.gitspace).length, 2);
        // The environment defaults to the stack's name ("test" under the mocks); caddy2-k8s shares one namespace.
        assert.equal(await valueOf(result.gitspaces.alice.namespace), "gitspace--platform--test");
        assert.equal(result.gitspaces.alice.url, "https://alice--platform--test.gitspace.example.com");
        assert.equal(await valueOf(result.images.base), "registry.example.com/gitspace-runtime:base-latest");
        // The same images as Gitness' prebuilt-image settings (tag refs here: `build: false`).
        assert.deepEqual(await valueOf(result.gitness), {
            GITSPACE_PREBUILT_IMAGES_REGISTRY: "registry.example.com/gitspace-runtime",
            GITSPACE_PREBUILT_IMAGE_VSCODE: "vscode-latest",
            GITSPACE_PREBUILT_IMAGE_VSCODE_DESKTOP: "vscode-desktop-latest",
            GITSPACE_PREBUILT_IMAGE_CURSOR: "cursor-latest",
            GITSPACE_PREBUILT_IMAGE_JETBRAINS: "jetbrains-latest",
        });
    });

    it("fails with one RunError naming every bad field and creates nothing", async () => {
        let error: unknown;
        const { resources } = await runProgram(() => loadIndex({ team: "platform", domain: "example.com", developer: [], images: { registry: "r.io/x", platforms: [] } })
            .catch((e) => { error = e; }));
        assert.ok(error instanceof pulumi.RunError, `expected RunError, got ${error}`);
        assert.equal((error as Error).message, [
            "invalid gitspace stack configuration (3 problems):",
            "  gitspace:images.platforms: must list at least one platform",
            "  gitspace:developers: required",
            "  gitspace:developer: unknown configuration key; expected one of team, environment, domain, storageClass, ideAuth, router, namespaceLayout, ssh, egress, images, defaults, developers",
        ].join("\n"));
        assert.equal(resources.length, 0);
    });

    it("takes plain strings for string keys (a team named like a number stays a string)", async () => {
        const { result: pending } = await runProgram(() => loadIndex({
            team: "1234", environment: "2025", domain: "gitspace.example.com", namespaceLayout: "shared",
            images: { registry: "r.io/x", build: false }, developers: [{ name: "alice" }],
        }));
        const result = await pending;
        assert.equal(result.gitspaces.alice.url, "https://alice--1234--2025.gitspace.example.com");
        assert.equal(await valueOf(result.namespace), "gitspace--1234--2025");
    });

    it("re-adding a developer adopts their kept Namespace and PVC; a same-named object that is not ours stops it with a RunError", async () => {
        const cfg = { team: "platform", environment: "dev", domain: "gitspace.example.com", namespaceLayout: "per-developer", router: { mode: "none" },
            images: { registry: "r.io/x", build: false }, developers: [{ name: "alice" }] };
        const ns = "gitspace--platform--dev--alice";
        const labels = { "gitspace.io/team": "platform", "gitspace.io/environment": "dev", "gitspace.io/developer": "alice" };
        const kept = fakeCluster({ [ns]: { labels, deleting: false }, [`${ns}/home`]: { labels, deleting: false, storage: "10Gi" } });
        const { resources, result } = await runProgram(() => loadIndex(cfg, kept));
        await result;
        // The program looked the kept objects up before registering them (the import options themselves are asserted
        // on provisionTeam in adoption.test.ts: index.ts passes no transformation to capture them here).
        assert.deepEqual(kept.reads, [ns, `${ns}/home`]);
        assert.equal(byType(resources, TYPES.namespace).length, 1);

        let error: unknown;
        const foreign = fakeCluster({ [ns]: { labels: { "app.kubernetes.io/name": "something-else" }, deleting: false } });
        const { resources: none } = await runProgram(() => loadIndex(cfg, foreign).catch((e) => { error = e; }));
        assert.ok(error instanceof pulumi.RunError, `expected RunError, got ${error}`);
        assert.match((error as Error).message, /Namespace gitspace--platform--dev--alice already exists and is not this stack's/);
        assert.equal(none.length, 0);
    });
});
