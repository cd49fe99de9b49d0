/**
 * Lint of the runtime image Dockerfiles (images/<flavor>/Dockerfile) and their build helpers (images/lib/*.sh):
 * the Dockerfile parser/validator of the VS Code Docker extension (dockerfile-utils / dockerfile-ast) plus the
 * project's rules, each asserted on each Dockerfile. The real builds are tests/images/build-images.sh (needs dockerd).
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Copy, DockerfileParser, From, Instruction } from "dockerfile-ast";
import { validate, ValidationSeverity } from "dockerfile-utils";
import { FLAVORS, IDE_CATALOG, SSH_PORT, WEB_PORT } from "../../components/catalog";
import { DEVCONTAINER_IMAGE, IMAGE_BUILD_ARGS, SYSTEM_IMAGE, takesDevcontainerImage } from "../../components/images";

const REPO = path.resolve(__dirname, "../..");
const IMAGES = path.join(REPO, "images");
const LIB = path.join(IMAGES, "lib");
const SCRIPT_DIRS = ["common", "vscode", "cursor", "jetbrains"];

/** Stages of each Dockerfile, in order (the last one is the image). */
const STAGES: Record<string, string[]> = {
    base: ["rootfs", "system", "devcontainer-build", "devcontainer", "base"],
    vscode: ["build", "devcontainer", "vscode"],
    "vscode-desktop": ["devcontainer", "vscode-desktop"],
    cursor: ["devcontainer", "cursor"],
    jetbrains: ["devcontainer", "jetbrains"],
};
/**
 * The one file every image gets from its `devcontainer` stage (images/devcontainer, Go, cross-compiled): in base the
 * Dockerfile's own target `devcontainer` (the components' DEVCONTAINER_IMAGE), in the others that image's ref.
 */
const DEVCONTAINER_BIN = "/usr/local/gitspace/bin/gitspace-devcontainer";
/** The scripts directories each flavor copies (base carries them all). */
const FLAVOR_SCRIPT_DIRS: Record<string, string[]> = {
    base: SCRIPT_DIRS,
    vscode: ["common", "vscode"],
    "vscode-desktop": ["common"],
    cursor: ["common", "cursor"],
    jetbrains: ["common", "jetbrains"],
};

const dockerfilePath = (flavor: string) => path.join(IMAGES, flavor, "Dockerfile");
const read = (file: string) => fs.readFileSync(file, "utf8");
const libScripts = () => fs.readdirSync(LIB).filter((f) => f.endsWith(".sh")).map((f) => path.join(LIB, f));

/** A RUN that installs packages: apt, npm, or one of the images/lib installers. */
const INSTALLS = /\bapt-get\s+(-\S+\s+)*install\b|\bnpm\s+(install|i|ci)\b|\bapt-install\.sh\b|\binstall-(ssh-server|node|code-server|build-tools)\.sh\b/;
/** Downloads from GitHub (unreachable here, and not pinned by a registry): none in the images. */
const GITHUB_DOWNLOAD = /\b(curl|wget)\b[^\n]*\b(github\.com|githubusercontent\.com|ghcr\.io)/;

function parse(flavor: string) {
    const content = read(dockerfilePath(flavor));
    return { content, dockerfile: DockerfileParser.parse(content) };
}

const keyword = (i: Instruction) => i.getKeyword().toUpperCase();
const args = (i: Instruction) => (i.getArgumentsContent() ?? "").replace(/\\\r?\n/g, " ");

/** Ports the IDE catalog serves from a flavor. */
function catalogPorts(flavor: string): number[] {
    const ports = new Set<number>();
    for (const spec of Object.values(IDE_CATALOG)) if (spec.flavor === flavor) ports.add(spec.port);
    return [...ports].sort();
}

/** Every apt-get install has --no-install-recommends and its RUN (or script) removes the apt lists. */
function assertAptHygiene(where: string, text: string) {
    for (const m of text.matchAll(/apt-get\s+(?:-\S+\s+)*install\b[^\n]*/g)) {
        assert.match(m[0], /--no-install-recommends/, `${where}: apt-get install without --no-install-recommends: ${m[0]}`);
    }
    if (/apt-get\s+(?:-\S+\s+)*install\b/.test(text)) {
        assert.match(text, /rm -rf \/var\/lib\/apt\/lists\/\*/, `${where}: installs packages but leaves /var/lib/apt/lists`);
    }
}

describe("runtime image Dockerfiles", () => {
    it("exist for every flavor of the catalog, and only those", () => {
        const dirs = fs.readdirSync(IMAGES).filter((d) => fs.existsSync(dockerfilePath(d))).sort();
        assert.deepEqual(dirs, [...FLAVORS].sort());
    });

    for (const flavor of FLAVORS) {
        describe(flavor, () => {
            const { content, dockerfile } = parse(flavor);
            const instructions = dockerfile.getInstructions();
            const runs = instructions.filter((i) => keyword(i) === "RUN");

            it("passes the dockerfile-utils validator with no error or warning", () => {
                const problems = validate(content, {
                    deprecatedMaintainer: ValidationSeverity.ERROR,
                    emptyContinuationLine: ValidationSeverity.ERROR,
                    instructionCasing: ValidationSeverity.ERROR,
                    instructionCmdMultiple: ValidationSeverity.ERROR,
                    instructionEntrypointMultiple: ValidationSeverity.ERROR,
                    instructionHealthcheckMultiple: ValidationSeverity.ERROR,
                    instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
                    instructionWorkdirRelative: ValidationSeverity.ERROR,
                });
                assert.deepEqual(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`), []);
            });

            it("declares ARG BASE_IMAGE before FROM ${BASE_IMAGE}; later stages build on earlier ones, the parent, the devcontainer image or scratch", () => {
                const initial = dockerfile.getInitialARGs().map((a) => a.getProperty()?.getName());
                assert.ok(initial.includes(IMAGE_BUILD_ARGS.base), "ARG BASE_IMAGE must come before FROM");
                const froms = dockerfile.getFROMs();
                const devcontainerImage = `\${${IMAGE_BUILD_ARGS.devcontainer}}`;
                assert.equal(froms.find((f) => f.getImage() !== devcontainerImage)?.getImage(), `\${${IMAGE_BUILD_ARGS.base}}`,
                    "the Pulumi component passes the parent as BASE_IMAGE");
                froms.slice(1).forEach((from, n) => {
                    const earlier = froms.slice(0, n + 1).map((f) => f.getBuildStage());
                    const image = from.getImage() ?? "";
                    const external = image === devcontainerImage && takesDevcontainerImage(flavor as typeof FLAVORS[number]);
                    assert.ok(earlier.includes(image) || image === "${BASE_IMAGE}" || image === "scratch" || external,
                        `FROM ${image}: not an earlier stage, the parent, the devcontainer image or scratch`);
                });
                assert.deepEqual(froms.length > 1 ? froms.map((f) => f.getBuildStage()) : [], STAGES[flavor] ?? []);
                const arg = dockerfile.getInitialARGs().find((a) => a.getProperty()?.getName() === IMAGE_BUILD_ARGS.base);
                if (flavor === "base") {
                    assert.equal(arg?.getProperty()?.getValue(), "ubuntu:24.04");
                    // `rootfs` and `system` (the flavors' parent): everything but the scripts.
                    const systemEnd = instructions.indexOf(froms[2]);
                    assert.ok(!instructions.slice(0, systemEnd).some((i) => /\bscripts\//.test(args(i))), "scripts in the system stage");
                } else {
                    assert.equal(arg?.getProperty()?.getValue(), "gitspace/base-system", "flavors build FROM the system image");
                }
            });

            it("runs RUN with bash -o pipefail", () => {
                const shell = instructions.find((i) => keyword(i) === "SHELL");
                assert.ok(shell, "SHELL missing");
                assert.equal(args(shell).replace(/\s+/g, ""), '["/bin/bash","-o","pipefail","-c"]');
                assert.ok(instructions.indexOf(shell) < instructions.indexOf(runs[0]), "SHELL must precede the first RUN");
            });

            it("installs packages with --no-install-recommends and cleans the apt lists", () => {
                for (const run of runs) assertAptHygiene(`${flavor} line ${run.getRange().start.line + 1}`, args(run));
                if (flavor === "base") {
                    const installs = runs.filter((r) => /apt-install\.sh/.test(args(r)));
                    assert.ok(installs.length, "base installs its packages with images/lib/apt-install.sh");
                    const packages = installs.map(args).join(" ");
                    for (const pkg of ["curl", "wget", "jq", "ca-certificates", "openssh-client", "procps", "bash", "tini"]) {
                        assert.match(packages, new RegExp(`\\s${pkg}(\\s|$)`), `base package ${pkg}`);
                    }
                    // No documentation, manuals or translations: the dpkg excludes come before the first install; git
                    // without the full Perl (install-git.sh) in the same step.
                    assert.match(args(installs[0]), /slim-dpkg\.sh[\s\S]*apt-install\.sh[\s\S]*install-git\.sh/);
                    assert.doesNotMatch(packages, /\sgit(\s|$)/, "git comes from install-git.sh, not apt-install.sh");
                }
            });

            it("installs packages as root and ends as the non-root user vscode in /home/vscode", () => {
                // The OS image and scratch start as root; the system image (a flavor's parent) ends as vscode.
                const stageEndUser = new Map<string, string>();
                let user = "root";
                let stage = "";
                for (const i of instructions) {
                    if (keyword(i) === "FROM") {
                        if (stage) stageEndUser.set(stage, user);
                        const from = (i as From).getImage() ?? "";
                        stage = (i as From).getBuildStage() ?? "";
                        user = stageEndUser.get(from) ?? (from === "${BASE_IMAGE}" && flavor !== "base" ? "vscode" : "root");
                    }
                    if (keyword(i) === "USER") user = args(i).trim();
                    if (keyword(i) === "RUN" && INSTALLS.test(args(i))) {
                        assert.equal(user, "root", `line ${i.getRange().start.line + 1} installs as ${user}`);
                    }
                }
                const users = instructions.filter((i) => keyword(i) === "USER");
                const last = users[users.length - 1];
                assert.ok(last, "no USER");
                assert.equal(args(last).trim(), "vscode");
                assert.notEqual(args(last).trim().split(":")[0], "0");
                const workdirs = instructions.filter((i) => keyword(i) === "WORKDIR");
                assert.equal(args(workdirs[workdirs.length - 1]).trim(), "/home/vscode");
                assert.ok(instructions.indexOf(last) > instructions.indexOf(runs[runs.length - 1]), "USER vscode after the last RUN");
            });

            it("copies the scripts after the last RUN that installs packages, then fixes their modes", () => {
                const scriptCopies = instructions.filter((i) => keyword(i) === "COPY" && /^scripts\/[^/\s]+\/\s/.test(args(i)));
                const copied = scriptCopies.map((c) => args(c).split(/\s+/)[0].replace(/^scripts\/|\/$/g, ""));
                assert.deepEqual(copied.sort(), [...FLAVOR_SCRIPT_DIRS[flavor]].sort());
                for (const c of scriptCopies) {
                    const [src, dest] = args(c).split(/\s+/);
                    assert.equal(dest, `/usr/local/gitspace/${src}`);
                }
                const lastInstall = runs.filter((r) => INSTALLS.test(args(r))).pop();
                const firstScripts = Math.min(...scriptCopies.map((c) => instructions.indexOf(c)));
                if (lastInstall) assert.ok(instructions.indexOf(lastInstall) < firstScripts, "a package install after COPY scripts/");
                const finalize = runs.find((r) => /install-scripts\.sh/.test(args(r)));
                assert.ok(finalize && instructions.indexOf(finalize) > firstScripts, "install-scripts.sh must run after the COPYs");
            });

            it("copies only files that exist in the build context or an earlier stage, without BuildKit-only flags", () => {
                const stages: string[] = [];
                for (const c of instructions.filter((i) => ["COPY", "ADD", "FROM"].includes(keyword(i)))) {
                    if (keyword(c) === "FROM") {
                        stages.push((c as From).getBuildStage() ?? "");
                        continue;
                    }
                    assert.equal(keyword(c), "COPY", "ADD (URLs, auto-extract) is not used");
                    const parts = args(c).split(/\s+/).filter(Boolean);
                    // --from=<earlier stage> is the one flag the classic builder has too (multi-stage builds).
                    const flags = (c as Copy).getFlags();
                    const from = (c as Copy).getFromFlag();
                    assert.ok(flags.every((f) => f === from), `COPY flags (--chmod/--link need BuildKit): ${args(c)}`);
                    if (from) {
                        assert.ok(stages.slice(0, -1).includes(from.getValue() ?? ""), `COPY --from=${from.getValue()}: not an earlier stage`);
                        assert.ok(parts.every((p) => p.startsWith("/")), `COPY --from paths are absolute: ${args(c)}`);
                        continue;
                    }
                    assert.ok(!parts.some((p) => p.startsWith("--")), `COPY flags (--chmod/--link need BuildKit): ${args(c)}`);
                    for (const src of parts.slice(0, -1)) {
                        assert.ok(/^(images|scripts)\//.test(src), `unexpected source ${src}`);
                        if (!src.startsWith("scripts/")) assert.ok(fs.existsSync(path.join(REPO, src)), `${src} missing`);
                    }
                }
            });

            it("uses no BuildKit-only syntax; TARGETARCH and BUILDPLATFORM only in the cross-built stages (devcontainer; vscode's build)", () => {
                assert.doesNotMatch(content, /^#\s*syntax\s*=/m, "no # syntax= directive");
                assert.doesNotMatch(content, /^RUN\s+--/m, "no RUN --mount/--network");
                assert.doesNotMatch(content, /<<-?\s*["']?[A-Z]+/, "no heredocs");
                // Stages built on the builder's platform for the target's (no emulation): the Go helper in every
                // flavor, code-server's native modules in vscode. Every other step runs on the target platform and
                // asks dpkg --print-architecture.
                const cross = ({ base: ["devcontainer-build"], vscode: ["build"] } as Record<string, string[]>)[flavor] ?? [];
                const froms = dockerfile.getFROMs();
                assert.deepEqual(froms.filter((f) => f.getPlatformFlag()).map((f) => [f.getBuildStage(), f.getPlatformFlag()?.getValue()]),
                    cross.map((c) => [c, "${BUILDPLATFORM}"]), "FROM --platform=${BUILDPLATFORM} exactly on the cross-built stages");
                // The classic builder gets BUILDPLATFORM as a build arg, hence the global ARG (no default: BuildKit's own),
                // where a stage is cross-built; none where nothing uses it.
                const buildPlatformArgs = dockerfile.getInitialARGs().filter((x) => x.getProperty()?.getName() === "BUILDPLATFORM");
                assert.deepEqual(buildPlatformArgs.map((x) => x.getProperty()?.getValue() ?? null), cross.length ? [null] : [],
                    "ARG BUILDPLATFORM (no default) before FROM exactly where a stage is cross-built");
                const stageText = (i: number) => instructions.slice(instructions.indexOf(froms[i]), i + 1 < froms.length ? instructions.indexOf(froms[i + 1]) : undefined).map(args).join("\n");
                froms.forEach((f, i) => {
                    const stage = f.getBuildStage() ?? "";
                    if (!cross.includes(stage)) assert.doesNotMatch(stageText(i), /TARGET(ARCH|PLATFORM|OS|VARIANT)|BUILDPLATFORM/, `stage ${stage}: use dpkg --print-architecture`);
                    else if (stage === "devcontainer-build") assert.match(stageText(i), /build-devcontainer\.sh [^\n]*"\$\{TARGETARCH:-\}"/);
                    else {
                        // vscode's build: TARGETARCH (empty with the classic builder: a native build) reaches the helpers as one variable.
                        const own = instructions.slice(instructions.indexOf(f), instructions.indexOf(froms[i + 1]));
                        assert.deepEqual(own.filter((x) => /TARGET/.test(x.getTextContent())).map((x) => `${keyword(x)} ${args(x).trim()}`),
                            ["ARG TARGETARCH", "ENV GITSPACE_TARGET_ARCH=${TARGETARCH}"]);
                        assert.match(content, /^RUN \/usr\/local\/gitspace\/image\/install-build-tools\.sh$/m);
                    }
                });
                // The final stage gets exactly the binary from the devcontainer stage, after the last package install, before the scripts.
                const last = instructions.slice(instructions.indexOf(froms[froms.length - 1]));
                const copy = last.find((i) => keyword(i) === "COPY" && (i as Copy).getFromFlag()?.getValue() === "devcontainer");
                assert.ok(copy, "the final stage copies the devcontainer binary");
                assert.equal(args(copy).replace(/--from=\S+\s+/, "").trim(), `${DEVCONTAINER_BIN} ${DEVCONTAINER_BIN}`);
                const firstScripts = last.findIndex((i) => keyword(i) === "COPY" && /^scripts\/[^/\s]+\/\s/.test(args(i)));
                assert.ok(last.indexOf(copy) < firstScripts, "the binary before the scripts");
                assert.ok(!last.slice(last.indexOf(copy)).some((i) => keyword(i) === "RUN" && INSTALLS.test(args(i))), "a package install after the binary");
            });

            it("exposes exactly the ports the IDE catalog uses for this flavor", () => {
                const exposed = instructions.filter((i) => keyword(i) === "EXPOSE")
                    .flatMap((i) => args(i).split(/\s+/).filter(Boolean)).map((p) => Number(p.replace(/\/tcp$/, ""))).sort();
                assert.deepEqual(exposed, catalogPorts(flavor));
                for (const port of exposed) assert.ok([WEB_PORT, SSH_PORT].includes(port));
            });

            it("downloads nothing from GitHub", () => {
                assert.doesNotMatch(content, GITHUB_DOWNLOAD);
            });
        });
    }

    it("port contract: 8089 for vscode (web), 8088 for the SSH flavors", () => {
        assert.deepEqual(catalogPorts("vscode"), [8089]);
        for (const f of ["vscode-desktop", "jetbrains", "cursor"]) assert.deepEqual(catalogPorts(f), [8088]);
        assert.deepEqual(catalogPorts("base"), []);
    });

    it("shares the SSH server install between the SSH flavors", () => {
        for (const f of ["vscode-desktop", "jetbrains", "cursor"]) {
            const content = read(dockerfilePath(f));
            assert.match(content, /install-ssh-server\.sh/, f);
            assert.doesNotMatch(content, /openssh-server/, `${f}: openssh-server is installed by images/lib/install-ssh-server.sh`);
        }
        assert.match(read(path.join(LIB, "install-ssh-server.sh")), /rm -f \/etc\/ssh\/ssh_host_\*/);
    });

    it("vscode: code-server pinned, from npm with a pinned Node, extensions outside HOME", () => {
        const content = read(dockerfilePath("vscode"));
        assert.match(content, /^ARG CODE_SERVER_VERSION=4\.\d+\.\d+$/m);
        assert.match(content, /^ARG NODE_VERSION=\d+\.\d+\.\d+$/m);
        assert.match(content, /^ARG NODE_INTEGRITY_AMD64=sha512-/m);
        assert.match(content, /^ARG NODE_INTEGRITY_ARM64=sha512-/m);
        assert.match(content, /^ARG VSCODE_EXTENSIONS=""$/m);
        assert.match(content, /GITSPACE_VSCODE_EXTENSIONS_DIR=\/usr\/local\/gitspace\//);
        assert.doesNotMatch(content, /^(ENV|ARG) [^\n]*\/home\//m, "nothing baked for HOME: the HOME volume hides it");
        assert.match(read(path.join(LIB, "install-node.sh")), /dpkg --print-architecture/);
        // The classic builder has no BUILDPLATFORM of its own: the local build passes the daemon's (a native build).
        assert.match(read(path.join(REPO, "tests/images/build-images.sh")), /--build-arg "BUILDPLATFORM=linux\/\$host_arch"/);
    });

    it("gitspace-devcontainer is built once, in base's devcontainer-build stage; its `devcontainer` target holds only the binary", () => {
        const { dockerfile } = parse("base");
        const froms = dockerfile.getFROMs();
        const all = dockerfile.getInstructions();
        const stage = (name: string) => {
            const at = froms.findIndex((f) => f.getBuildStage() === name);
            return all.slice(all.indexOf(froms[at]), at + 1 < froms.length ? all.indexOf(froms[at + 1]) : undefined);
        };
        // The component's target is this stage: FROM scratch, the one file, nothing else (no shell, no user, no env).
        assert.deepEqual(stage(DEVCONTAINER_IMAGE.target).map((i) => i.getTextContent().replace(/\s+/g, " ").trim()), [
            `FROM scratch AS ${DEVCONTAINER_IMAGE.target}`,
            `COPY --from=devcontainer-build ${DEVCONTAINER_BIN} ${DEVCONTAINER_BIN}`,
        ]);
        assert.equal(DEVCONTAINER_IMAGE.dockerfileOf, "base");
        assert.ok(STAGES.base.includes(SYSTEM_IMAGE.target), "base-system's target is a stage of base");
        // No other Dockerfile compiles Go or copies its source: they take the image.
        for (const flavor of FLAVORS) {
            const content = read(dockerfilePath(flavor));
            assert.equal(/build-devcontainer\.sh|images\/devcontainer\/|golang-go/.test(content), flavor === "base", flavor);
        }
    });

    it("every flavor built FROM base-system takes the binary from ARG DEVCONTAINER_IMAGE (the components' build arg), in a stage of nothing else", () => {
        for (const flavor of FLAVORS.filter((f) => takesDevcontainerImage(f))) {
            const { dockerfile } = parse(flavor);
            const arg = dockerfile.getInitialARGs().find((a) => a.getProperty()?.getName() === IMAGE_BUILD_ARGS.devcontainer);
            assert.equal(arg?.getProperty()?.getValue(), "gitspace/devcontainer", `${flavor}: ARG ${IMAGE_BUILD_ARGS.devcontainer} before FROM`);
            const froms = dockerfile.getFROMs();
            const at = froms.findIndex((f) => f.getBuildStage() === "devcontainer");
            assert.equal(froms[at].getImage(), `\${${IMAGE_BUILD_ARGS.devcontainer}}`, flavor);
            assert.equal(froms[at].getPlatformFlag(), null, `${flavor}: the target platform's binary`);
            const all = dockerfile.getInstructions();
            assert.equal(all.indexOf(froms[at + 1]) - all.indexOf(froms[at]), 1, `${flavor}: the devcontainer stage is its FROM alone`);
        }
        const base = parse("base").dockerfile;
        assert.ok(!base.getInitialARGs().some((a) => a.getProperty()?.getName() === IMAGE_BUILD_ARGS.devcontainer), "base builds the binary itself");
    });

    it("no compiler in any image: vscode compiles in its build stage and copies only Node and code-server", () => {
        const COMPILERS = /\b(build-essential|gcc|g\+\+|python3|libkrb5-dev|pkg-config)\b/;
        for (const flavor of FLAVORS) {
            const { dockerfile } = parse(flavor);
            const froms = dockerfile.getFROMs();
            const finalStage = dockerfile.getInstructions().slice(dockerfile.getInstructions().indexOf(froms[froms.length - 1]));
            for (const i of finalStage.filter((x) => keyword(x) === "RUN")) assert.doesNotMatch(args(i), COMPILERS, `${flavor}: ${args(i)}`);
        }
        const { dockerfile } = parse("vscode");
        const copies = dockerfile.getInstructions().filter((i) => keyword(i) === "COPY" && (i as Copy).getFromFlag());
        assert.deepEqual(copies.map((c) => `${(c as Copy).getFromFlag()?.getValue()} ${args(c).replace(/--from=\S+\s+/, "")}`), [
            "build /usr/local/gitspace/node/ /usr/local/gitspace/node/",
            "build /usr/local/gitspace/code-server/ /usr/local/gitspace/code-server/",
            `devcontainer ${DEVCONTAINER_BIN} ${DEVCONTAINER_BIN}`,
        ]);
        assert.match(read(dockerfilePath("vscode")), /prune-code-server\.sh/);
    });

    it("base: slim-dpkg.sh before the first install, then flattened by FROM scratch + COPY --from=rootfs / /", () => {
        const { dockerfile } = parse("base");
        const froms = dockerfile.getFROMs();
        assert.equal(froms[1].getImage(), "scratch");
        const system = dockerfile.getInstructions().slice(dockerfile.getInstructions().indexOf(froms[1]), dockerfile.getInstructions().indexOf(froms[2]));
        const copy = system.find((i) => keyword(i) === "COPY") as Copy;
        assert.equal(copy.getFromFlag()?.getValue(), "rootfs");
        assert.equal(args(copy).trim(), "/ /");
        // what FROM scratch loses: PATH, the locale, the shell of later RUNs
        const env = system.filter((i) => keyword(i) === "ENV").map(args).join(" ");
        for (const v of ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"]) assert.ok(env.includes(v), v);
        assert.ok(system.some((i) => keyword(i) === "SHELL"));
    });
});

describe("image build helpers (images/lib)", () => {
    for (const file of libScripts()) {
        const name = path.relative(REPO, file);
        describe(name, () => {
            const text = read(file);
            it("is a strict, executable bash script", () => {
                assert.match(text, /^#!\/usr\/bin\/env bash\n/);
                assert.match(text, /^set -euo pipefail$/m);
                assert.ok((fs.statSync(file).mode & 0o111) !== 0, "not executable");
                execFileSync("bash", ["-n", file]);
            });
            it("keeps apt clean and downloads nothing from GitHub", () => {
                assertAptHygiene(name, text);
                assert.doesNotMatch(text, GITHUB_DOWNLOAD);
            });
        });
    }

    it("passes shellcheck (when installed)", function () {
        const probe = spawnSync("shellcheck", ["--version"]);
        if (probe.error) this.skip();
        const files = [...libScripts(), ...["tests/images/build-images.sh", "tests/images/layers.sh", "tests/bench/images.bench.sh",
            "tests/bench/vscode-arm64.bench.sh", "tests/bench/vscode-check.sh", "tests/bench/lib.sh"].map((f) => path.join(REPO, f))];
        const res = spawnSync("shellcheck", ["-x", ...files], { encoding: "utf8", cwd: REPO });
        assert.equal(res.status, 0, res.stdout + res.stderr);
    });
});

describe(".dockerignore", () => {
    const lines = read(path.join(REPO, ".dockerignore")).split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    it("is an allowlist: images/ and scripts/ only", () => {
        assert.equal(lines[0], "*");
        const allowed = lines.filter((l) => l.startsWith("!")).sort();
        assert.deepEqual(allowed, ["!images/", "!scripts/"]);
    });
});
