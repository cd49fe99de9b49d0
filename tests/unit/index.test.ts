import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { SSH_KEY, TYPES, byType, runProgram, valueOf } from "./harness";

const INDEX = path.resolve(__dirname, "../../index.ts");

/** Loads index.ts afresh with the given `gitspace:` config (values as the engine passes them: JSON strings). */
function loadIndex(config: Record<string, unknown>) {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) all[`gitspace:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    pulumi.runtime.setAllConfig(all, ["gitspace:developers"]);
    delete require.cache[require.resolve(INDEX)];
    return require(INDEX);
}

describe("index.ts (the program as `pulumi up` runs it)", () => {
    afterEach(() => pulumi.runtime.setAllConfig({}));

    it("reads the stack config, including a secret set with --path, and exports per developer", async () => {
        const { resources, result } = await runProgram(() => loadIndex({
            team: "platform",
            domain: "gitspace.example.com",
            images: { registry: "registry.example.com/gitspace-runtime", build: false },
            developers: [
                { name: "alice", git: { username: "alice", token: "tok-SECRET" }, repos: [{ url: "https://git.example.com/a/api.git" }] },
                { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY] },
            ],
        }));
        assert.equal(byType(resources, TYPES.gitspace).length, 2);
        // The environment defaults to the stack's name ("test" under the mocks); caddy2-k8s shares one namespace.
        assert.equal(await valueOf(result.gitspaces.alice.namespace), "gitspace--platform--test");
        assert.equal(result.gitspaces.alice.url, "https://alice--platform--test.gitspace.example.com");
        assert.equal(await valueOf(result.images.base), "registry.example.com/gitspace-runtime:base-latest");
    });

    it("fails with one RunError naming every bad field and creates nothing", async () => {
        let error: unknown;
        const { resources } = await runProgram(() => {
            try {
                loadIndex({ team: "platform", domain: "example.com", developer: [], images: { registry: "r.io/x", platforms: [] } });
            } catch (e) {
                error = e;
            }
        });
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
        const { result } = await runProgram(() => loadIndex({
            team: "1234", environment: "2025", domain: "gitspace.example.com", namespaceLayout: "shared",
            images: { registry: "r.io/x", build: false }, developers: [{ name: "alice" }],
        }));
        assert.equal(result.gitspaces.alice.url, "https://alice--1234--2025.gitspace.example.com");
        assert.equal(await valueOf(result.namespace), "gitspace--1234--2025");
    });
});
