/**
 * Gitness can run the same images: the `gitness` stack output holds Gitness' prebuilt-image settings
 * (GITSPACE_PREBUILT_IMAGES_REGISTRY + one `<flavor>-<tag>[@digest]` per IDE family), built by one pure function from
 * the stack's `images` refs. Every ref is input (another stack's output, with `fromStack`): checked before it can reach
 * an environment file.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseTeamConfig } from "../../components/config";
import { GITNESS_PREBUILT_IMAGES, RuntimeImages, gitnessOutput, gitnessSettings, imagesArgsFromConfig, parseImagesConfig } from "../../components/images";
import { provisionTeam } from "../../components/team";
import { MOCK_DIGEST, STACK_OUTPUTS, rawConfig, runProgram, valueOf } from "./harness";

const ORG = "registry.example.com/gitspace-runtime";
const digest = (c: string) => "sha256:" + c.repeat(64);
const refs = (registry: string, tag: string, pin = true) => Object.fromEntries(
    ["base", "vscode", "vscode-desktop", "jetbrains", "cursor"].map((f, i) => [f, `${registry}:${f}-${tag}${pin ? `@${digest(String(i + 1))}` : ""}`]),
);

/** What Gitness does with the settings: `<registry>:<value>` per key (its envconfig reads them from the environment). */
function gitnessRefs(settings: Record<string, string>): Record<string, string> {
    const registry = settings.GITSPACE_PREBUILT_IMAGES_REGISTRY;
    return Object.fromEntries(Object.keys(GITNESS_PREBUILT_IMAGES).map((k) => [k, `${registry}:${settings[k]}`]));
}

describe("gitness: Gitness' prebuilt-image settings from the stack's images", () => {
    afterEach(() => { for (const k of Object.keys(STACK_OUTPUTS)) delete STACK_OUTPUTS[k]; });

    it("splits digest-pinned refs into the one registry and `<flavor>-<tag>@sha256:…` per IDE family", () => {
        const r = refs(ORG, "2026.1");
        const settings = gitnessSettings(r);
        assert.deepEqual(settings, {
            GITSPACE_PREBUILT_IMAGES_REGISTRY: ORG,
            GITSPACE_PREBUILT_IMAGE_VSCODE: `vscode-2026.1@${digest("2")}`,
            GITSPACE_PREBUILT_IMAGE_VSCODE_DESKTOP: `vscode-desktop-2026.1@${digest("3")}`,
            GITSPACE_PREBUILT_IMAGE_CURSOR: `cursor-2026.1@${digest("5")}`,
            GITSPACE_PREBUILT_IMAGE_JETBRAINS: `jetbrains-2026.1@${digest("4")}`,
        });
        // Gitness' `<registry>:<value>` is exactly the ref the stack's own pods run.
        assert.deepEqual(gitnessRefs(settings), {
            GITSPACE_PREBUILT_IMAGE_VSCODE: r.vscode, GITSPACE_PREBUILT_IMAGE_VSCODE_DESKTOP: r["vscode-desktop"],
            GITSPACE_PREBUILT_IMAGE_CURSOR: r.cursor, GITSPACE_PREBUILT_IMAGE_JETBRAINS: r.jetbrains,
        });
    });

    it("tag refs (build: false) give Gitness' own form, `vscode-latest`; a registry with a port keeps its port", () => {
        assert.equal(gitnessSettings(refs(ORG, "latest", false)).GITSPACE_PREBUILT_IMAGE_VSCODE, "vscode-latest");
        for (const registry of ["127.0.0.1:5000/gitspace-runtime", "localhost:5000/a/b/c", "registry.example.com:443/x"]) {
            const s = gitnessSettings(refs(registry, "e2e"));
            assert.equal(s.GITSPACE_PREBUILT_IMAGES_REGISTRY, registry);
            assert.equal(s.GITSPACE_PREBUILT_IMAGE_JETBRAINS, `jetbrains-e2e@${digest("4")}`);
        }
    });

    it("the settings work as an environment file: sourced by a real shell, each `<registry>:<value>` is the ref", () => {
        const r = refs("127.0.0.1:5000/gitspace-runtime", "e2e");
        const settings = gitnessSettings(r);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitness-env-"));
        try {
            const file = path.join(dir, "gitness.env");
            // The README's recipe: `pulumi stack output gitness --json | jq -r 'to_entries[] | "\(.key)=\(.value)"'`.
            fs.writeFileSync(file, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""));
            const seen = execFileSync("bash", ["-c", 'set -euo pipefail; set -a; . "$1"; set +a; '
                + 'for k in VSCODE VSCODE_DESKTOP CURSOR JETBRAINS; do v="GITSPACE_PREBUILT_IMAGE_$k"; echo "$GITSPACE_PREBUILT_IMAGES_REGISTRY:${!v}"; done', "-", file],
            { encoding: "utf8", env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
            assert.deepEqual(seen.trim().split("\n"), [r.vscode, r["vscode-desktop"], r.cursor, r.jetbrains]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a missing, malformed or hostile ref, naming the flavor, and never lets a line break through", () => {
        const ok = refs(ORG, "1");
        const hostile: unknown[] = [
            undefined, null, 42, "", ["x"], {},
            `${ORG}:vscode-1\nLD_PRELOAD=/tmp/x.so`, `${ORG}:vscode-1\r`, `${ORG}:vscode 1`, `${ORG}:vscode-1\u0000`,
            `${ORG}:vscode-1;rm -rf /`, `${ORG}:vscode-$(id)`, `${ORG}:vscode-\`id\``, `${ORG}:vscode-1=2`,
            `https://${ORG}:vscode-1`, `${ORG.toUpperCase()}:vscode-1`, `${ORG}:vscode-1@sha256:abc`, `${ORG}:vscode-1@md5:${"a".repeat(32)}`,
            `${ORG}:` + "t".repeat(200), "vscode-latest", `${ORG}:vscode-1\u200b`, `${ORG}:vscodé`, `${ORG}/` + "a/".repeat(300) + "x:t",
        ];
        for (const bad of hostile) {
            assert.throws(() => gitnessSettings({ ...ok, vscode: bad as string }), /^Error: images\.vscode: not an image reference/, JSON.stringify(bad));
        }
        // Gitness needs a tag: a ref by digest only (or a bare repository) has none to give.
        for (const noTag of [`${ORG}@${digest("2")}`, ORG, "localhost:5000/x", `registry.example.com:5000/x@${digest("2")}`]) {
            assert.throws(() => gitnessSettings({ ...ok, cursor: noTag }), /^Error: images\.cursor: no tag/, noTag);
        }
        assert.throws(() => gitnessSettings({ ...ok, jetbrains: undefined }), /images\.jetbrains: not an image reference \(undefined\)/);
        // The shown value is cut: a huge output does not flood the error.
        assert.throws(() => gitnessSettings({ ...ok, vscode: "x".repeat(100_000) }), (e: Error) => e.message.length < 200);
    });

    it("refuses refs in two repositories: Gitness takes one registry", () => {
        const mixed = { ...refs(ORG, "1"), cursor: `registry.example.com/other:cursor-1@${digest("5")}` };
        assert.throws(() => gitnessSettings(mixed), (e: Error) => e.message === "the images are in more than one repository (vscode in registry.example.com/gitspace-runtime, "
            + "vscode-desktop in registry.example.com/gitspace-runtime, cursor in registry.example.com/other, jetbrains in registry.example.com/gitspace-runtime): "
            + "Gitness takes one GITSPACE_PREBUILT_IMAGES_REGISTRY");
        // Same path, other port: another registry.
        const port = { ...refs("localhost:5000/g", "1"), jetbrains: `localhost:5001/g:jetbrains-1` };
        assert.throws(() => gitnessSettings(port), /jetbrains in localhost:5001\/g\): Gitness takes one/);
        // `base` is not a Gitness image: its ref is not read at all.
        assert.doesNotThrow(() => gitnessSettings({ ...refs(ORG, "1"), base: "anything else" }));
    });

    it("the images stack's refs (built here) become the output, digest-pinned", async () => {
        const cfg = parseImagesConfig({ registry: "127.0.0.1:5000/gitspace-runtime", tag: "e2e", platforms: ["linux/amd64"] });
        const { result } = await runProgram((opts) => gitnessOutput(new RuntimeImages("runtime-images", imagesArgsFromConfig(cfg), opts).refs));
        assert.deepEqual(await valueOf(result), {
            GITSPACE_PREBUILT_IMAGES_REGISTRY: "127.0.0.1:5000/gitspace-runtime",
            GITSPACE_PREBUILT_IMAGE_VSCODE: `vscode-e2e@${MOCK_DIGEST}`,
            GITSPACE_PREBUILT_IMAGE_VSCODE_DESKTOP: `vscode-desktop-e2e@${MOCK_DIGEST}`,
            GITSPACE_PREBUILT_IMAGE_CURSOR: `cursor-e2e@${MOCK_DIGEST}`,
            GITSPACE_PREBUILT_IMAGE_JETBRAINS: `jetbrains-e2e@${MOCK_DIGEST}`,
        });
    });

    it("a team stack on fromStack exports the organisation's images, and a bad one fails the output", async () => {
        const stack = "acme/gitspace-images/prod";
        const config = () => parseTeamConfig(rawConfig({ images: { registry: ORG, fromStack: stack }, developers: [{ name: "alice" }] }));
        STACK_OUTPUTS[stack] = { images: refs(ORG, "2026.1") };
        let run = await runProgram((opts) => gitnessOutput(provisionTeam(config(), opts).images));
        assert.equal((await valueOf(run.result)).GITSPACE_PREBUILT_IMAGE_CURSOR, `cursor-2026.1@${digest("5")}`);
        STACK_OUTPUTS[stack] = { images: { ...refs(ORG, "2026.1"), vscode: "evil.example.com/x:vscode-1" } };
        run = await runProgram((opts) => gitnessOutput(provisionTeam(config(), opts).images));
        await assert.rejects(new Promise((resolve, reject) => (run.result as any).apply(resolve).promise().catch(reject)),
            /more than one repository \(vscode in evil\.example\.com\/x, vscode-desktop in registry/);
    });
});
