/**
 * One image set per organisation: the images stack (images/stack, RuntimeImages from `gitspace:images`) builds and
 * exports `images`; a team stack with `gitspace:images.fromStack` builds nothing and takes those refs through a
 * StackReference, checked like any other input.
 */
import { strict as assert } from "assert";
import { ConfigError, parseTeamConfig } from "../../components/config";
import { RuntimeImages, imagesArgsFromConfig, parseImagesConfig, refFromStackOutput } from "../../components/images";
import { provisionTeam } from "../../components/team";
import { MOCK_DIGEST, SSH_KEY, STACK_OUTPUTS, TYPES, byType, one, rawConfig, runProgram, valueOf } from "./harness";

const ORG = "registry.example.com/gitspace-runtime";
const STACK = "acme/gitspace-images/prod";
const digest = (c: string) => "sha256:" + c.repeat(64);
const ORG_REFS = {
    base: `${ORG}:base-2026.1@${digest("1")}`,
    vscode: `${ORG}:vscode-2026.1@${digest("2")}`,
    "vscode-desktop": `${ORG}:vscode-desktop-2026.1@${digest("3")}`,
    jetbrains: `${ORG}:jetbrains-2026.1@${digest("4")}`,
    cursor: `${ORG}:cursor-2026.1@${digest("5")}`,
};

function team(images: Record<string, unknown>) {
    return parseTeamConfig(rawConfig({
        router: { mode: "gateway", namespace: "traefik-system", parentRefs: [{ name: "gitspace", namespace: "traefik-system" }] },
        images,
        developers: [
            { name: "alice", ide: "vs_code_web" },
            { name: "carol", ide: "goland", sshPublicKeys: [SSH_KEY] },
        ],
    }));
}

describe("images stack: one image set per organisation", () => {
    afterEach(() => { for (const k of Object.keys(STACK_OUTPUTS)) delete STACK_OUTPUTS[k]; });

    it("the images stack builds base-system, devcontainer and the five flavors and exports the flavors' digest-pinned refs", async () => {
        const cfg = parseImagesConfig({ registry: ORG, tag: "2026.1", platforms: ["linux/amd64"] });
        const { resources, result } = await runProgram((opts) => new RuntimeImages("runtime-images", imagesArgsFromConfig(cfg), opts));
        assert.equal(byType(resources, TYPES.image).length, 7);
        assert.equal(await valueOf(result.refs.vscode), `${ORG}:vscode-2026.1@${MOCK_DIGEST}`);
        assert.deepEqual(Object.keys(result.refs).sort(), ["base", "cursor", "jetbrains", "vscode", "vscode-desktop"], "the parts are no flavors");
        const jetbrains = one(resources, TYPES.image, "runtime-images-jetbrains").inputs;
        assert.equal(jetbrains.buildArgs.BASE_IMAGE, `${ORG}:base-system-2026.1@${MOCK_DIGEST}`);
        assert.equal(jetbrains.buildArgs.DEVCONTAINER_IMAGE, `${ORG}:devcontainer-2026.1@${MOCK_DIGEST}`);
        const devcontainer = one(resources, TYPES.image, "runtime-images-devcontainer").inputs;
        assert.equal(devcontainer.target, "devcontainer");
        assert.deepEqual(devcontainer.platforms, ["linux/amd64"], "the binary for the flavors' platforms");
    });

    it("a team stack with fromStack builds nothing and runs the org's digest-pinned images", async () => {
        STACK_OUTPUTS[STACK] = { images: ORG_REFS };
        const config = team({ registry: ORG, fromStack: STACK, username: "puller", password: "pull-SECRET" });
        const { resources, result } = await runProgram((opts) => provisionTeam(config, opts));
        assert.equal(byType(resources, TYPES.image).length, 0, "no Image in a team stack");
        const ref = one(resources, "pulumi:pulumi:StackReference");
        assert.equal(ref.inputs.name, STACK);
        assert.equal(ref.name, "runtime-images-stack");
        for (const [flavor, want] of Object.entries(ORG_REFS)) assert.equal(await valueOf((result.images as any)[flavor]), want);
        const pod = one(resources, TYPES.deployment, "carol-deployment").inputs.spec.template.spec;
        assert.equal(pod.containers[0].image, ORG_REFS.jetbrains);
        assert.equal(pod.initContainers[0].image, ORG_REFS.jetbrains);
        assert.equal(pod.imagePullSecrets?.length, 1, "the team's pull credentials still apply");
        assert.ok(resources.some((r) => r.type === TYPES.secret && r.name.endsWith("registry-credentials")));
    });

    it("twenty team stacks read one stack: one StackReference each, no build", async () => {
        STACK_OUTPUTS[STACK] = { images: ORG_REFS };
        for (let i = 0; i < 20; i++) {
            const config = team({ registry: ORG, fromStack: STACK });
            const { resources } = await runProgram((opts) => provisionTeam(config, opts));
            assert.equal(byType(resources, TYPES.image).length, 0);
            assert.equal(byType(resources, "pulumi:pulumi:StackReference").length, 1);
        }
    });

    it("rejects bad stack names in the config, naming the field", () => {
        for (const bad of ["", "a/b/c/d", "../x", "org//stack", "stack name", "x\n", "st\u0000ack", "-x", "a/".repeat(3) + "b", "é/p/s", "x".repeat(101)]) {
            assert.throws(() => team({ registry: ORG, fromStack: bad }), (e: unknown) => e instanceof ConfigError
                && e.problems.some((p) => p.path === "gitspace:images.fromStack"), JSON.stringify(bad));
        }
        for (const good of ["prod", "gitspace-images/prod", "acme/gitspace-images/prod", "my_org/gitspace.images/eu-1"]) {
            assert.equal(team({ registry: ORG, fromStack: good }).images.fromStack, good);
        }
    });

    it("the images stack validates its config with the team schema and refuses fromStack", () => {
        assert.throws(() => parseImagesConfig({ registry: "https://x", tag: "bad tag" }), (e: unknown) => e instanceof ConfigError
            && e.problems.map((p) => p.path).sort().join(" ") === "gitspace:images.registry gitspace:images.tag");
        assert.throws(() => parseImagesConfig({ registry: ORG, fromStack: STACK }), /gitspace:images.fromStack: the images stack builds/);
        assert.throws(() => parseImagesConfig(undefined), ConfigError);
        assert.deepEqual(parseImagesConfig({ registry: ORG }).platforms, ["linux/amd64", "linux/arm64"]);
    });

    it("takes from the other stack only well-formed image references", () => {
        assert.equal(refFromStackOutput(STACK, ORG_REFS, "cursor"), ORG_REFS.cursor);
        assert.equal(refFromStackOutput(STACK, { vscode: "localhost:5000/gitspace:vscode-latest" }, "vscode"), "localhost:5000/gitspace:vscode-latest");
        const hostile: unknown[] = [
            undefined, null, "", 42, ["a"], { vscode: 1 }, {},
            { vscode: "registry.example.com/x:vscode\n--privileged" }, { vscode: "registry.example.com/x:vscode latest" },
            { vscode: "https://registry.example.com/x:vscode" }, { vscode: "registry.example.com/x@sha256:abc" },
            { vscode: "REGISTRY.example.com/x:vscode" }, { vscode: "registry.example.com/x:" + "t".repeat(200) },
            { vscode: "registry.example.com/x:vscode\u0000" }, { vscode: "registry.example.com/x:vscode;rm -rf /" },
            { vscode: "vscode" }, { vscode: "registry.example.com/" + "a/".repeat(300) + "x" },
        ];
        for (const images of hostile) {
            assert.throws(() => refFromStackOutput(STACK, images, "vscode"), /stack acme\/gitspace-images\/prod: output images.vscode is not an image reference/,
                JSON.stringify(images));
        }
    });

    it("a missing flavor in the other stack's output fails with the stack and flavor named", async () => {
        STACK_OUTPUTS[STACK] = { images: { ...ORG_REFS, jetbrains: undefined } };
        const config = team({ registry: ORG, fromStack: STACK });
        const { result } = await runProgram((opts) => provisionTeam(config, opts));
        assert.equal(await valueOf(result.images.vscode), ORG_REFS.vscode);
        await assert.rejects(new Promise((resolve, reject) => (result.images.jetbrains as any).apply(resolve).promise().catch(reject)),
            /output images.jetbrains is not an image reference/);
    });
});
