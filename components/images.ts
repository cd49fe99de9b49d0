/**
 * RuntimeImages: builds and pushes the gitspace runtime images, one `@pulumi/docker-build` Image per flavor, plus two
 * parts of them, both from images/base/Dockerfile: `base-system` (target `system`: packages and user, no scripts) and
 * `devcontainer` (target `devcontainer`: only the gitspace-devcontainer binary, the one place it is built). Every
 * flavor but `base` is built FROM base-system's pushed, digest-pinned ref and copies the binary from devcontainer's
 * (build arg DEVCONTAINER_IMAGE) and its own scripts last, so a script or Go change leaves the parent unchanged and
 * rebuilds only the last layers of each flavor.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { FLAVORS, Flavor } from "./catalog";
import { ConfigError, ImagesConfig, LayerCompression, Platform, TEAM_DEFAULTS, TOP_LEVEL_SCHEMAS, formatConfigPath } from "./config";
import { imageTag, registryHost } from "./builders";
import { TYPE_TOKENS } from "./tokens";

export interface RuntimeImagesArgs {
    /** Repository the images are pushed to, e.g. `registry.example.com/gitspace-runtime`. */
    registry: string;
    /** Tag suffix: refs are `<registry>:<flavor>-<tag>`. Defaults to `latest`. */
    tag?: string;
    /** Target platforms. Defaults to linux/amd64 and linux/arm64. */
    platforms?: Platform[];
    /** Push to the registry. Defaults to true. Without a push, pods cannot pull what was built. */
    push?: boolean;
    /** Build the images. Defaults to true; false uses the existing tags and creates no Image resources. */
    build?: boolean;
    /**
     * Stack (`org/project/stack`) whose `images` output holds the ref of every flavor: the organisation's images stack
     * (images/stack) or any gitspace team stack. Set: nothing is built, `build` is ignored. Defaults to none.
     */
    fromStack?: string;
    /** VS Code extensions baked into the `vscode` flavor. Defaults to none. */
    vscodeExtensions?: string[];
    /** Image the `base` flavor is built FROM. Defaults to `ubuntu:24.04`. */
    baseImage?: string;
    /** Registry credentials for push and the registry build cache. Defaults to none (ambient credentials). */
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    /** Name of an existing buildx builder. Defaults to buildx's current builder. */
    builder?: string;
    /**
     * Compression of the pushed layers. `zstd` (level 19, every layer recompressed, OCI media types) pushes and pulls
     * about a quarter less than gzip; nodes need containerd >= 1.5 (or Docker >= 23) to pull it. Defaults to `gzip`.
     */
    compression?: LayerCompression;
    /** Directory holding `images/` and `scripts/` (the build context). Defaults to this repository. */
    contextDir?: string;
}

/** The build args the Dockerfiles declare and the Images set: named here only. */
export const IMAGE_BUILD_ARGS = { base: "BASE_IMAGE", devcontainer: "DEVCONTAINER_IMAGE", extensions: "VSCODE_EXTENSIONS" } as const;

/** The parent of the flavors: images/base/Dockerfile's `system` stage, pushed as `<registry>:base-system-<tag>`. */
export const SYSTEM_IMAGE = { name: "base-system", dockerfileOf: "base", target: "system" } as const;

/**
 * gitspace-devcontainer alone: images/base/Dockerfile's `devcontainer` stage (FROM scratch, the binary), pushed as
 * `<registry>:devcontainer-<tag>`; the flavors but base copy the binary from it (their DEVCONTAINER_IMAGE).
 */
export const DEVCONTAINER_IMAGE = { name: "devcontainer", dockerfileOf: "base", target: "devcontainer" } as const;

/** The images that are parts of the flavors, not flavors: built from a target of another flavor's Dockerfile. */
const PART_IMAGES = { [SYSTEM_IMAGE.name]: SYSTEM_IMAGE, [DEVCONTAINER_IMAGE.name]: DEVCONTAINER_IMAGE } as const;
type PartImage = keyof typeof PART_IMAGES;

/** What an Image builds: a flavor, the flavors' parent, or the devcontainer binary. */
export type ImageKind = Flavor | PartImage;

const isPart = (kind: ImageKind): kind is PartImage => Object.prototype.hasOwnProperty.call(PART_IMAGES, kind);

/** The flavors built FROM base-system that copy the devcontainer binary from DEVCONTAINER_IMAGE (all but base). */
export const takesDevcontainerImage = (kind: ImageKind): boolean => !isPart(kind) && kind !== "base";

type ResolvedImagesArgs = Required<Pick<RuntimeImagesArgs, "registry" | "tag" | "platforms" | "push" | "build" | "vscodeExtensions" | "baseImage" | "contextDir" | "compression">>
    & Pick<RuntimeImagesArgs, "username" | "password" | "builder" | "fromStack">;

/** An image reference as a stack output may hold it: `host[:port]/path[:tag][@sha256:<64 hex>]`, nothing else. */
const IMAGE_REF = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/**
 * The ref of FLAVOR in the `images` output of another stack, checked: that stack's outputs are input like any other
 * (a missing flavor, a non-string or anything that is not an image reference fails the update with its name).
 */
export function refFromStackOutput(stack: string, images: unknown, flavor: Flavor): string {
    const value = images !== null && typeof images === "object" ? (images as Record<string, unknown>)[flavor] : undefined;
    if (typeof value !== "string" || value.length > 512 || !IMAGE_REF.test(value)) {
        const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
        throw new Error(`stack ${stack}: output images.${flavor} is not an image reference (${shown})`);
    }
    return value;
}

/**
 * Gitness' prebuilt-image settings (its `GitspacePrebuiltImagesConfig`, read from the environment): one repository,
 * `GITSPACE_PREBUILT_IMAGES_REGISTRY`, and per IDE family the part after `<registry>:` (Gitness runs
 * `<registry>:<value>`, e.g. `vscode-latest`). The IDE family each key serves is Gitness' choice; the flavor is ours.
 */
export const GITNESS_PREBUILT_IMAGES = {
    GITSPACE_PREBUILT_IMAGE_VSCODE: "vscode",
    GITSPACE_PREBUILT_IMAGE_VSCODE_DESKTOP: "vscode-desktop",
    GITSPACE_PREBUILT_IMAGE_CURSOR: "cursor",
    GITSPACE_PREBUILT_IMAGE_JETBRAINS: "jetbrains",
} as const satisfies Record<string, Exclude<Flavor, "base">>;
export const GITNESS_REGISTRY_KEY = "GITSPACE_PREBUILT_IMAGES_REGISTRY";
export type GitnessSettings = Record<typeof GITNESS_REGISTRY_KEY | keyof typeof GITNESS_PREBUILT_IMAGES, string>;

/**
 * The Gitness settings filled with the images a stack runs (its `images` output): the one repository they share and,
 * per key, `<flavor>-<tag>` or, digest-pinned, `<flavor>-<tag>@sha256:…` (so `<registry>:<value>` is exactly the ref
 * the stack's own pods run). A ref that is not an image reference, has no tag, or lives in another repository than
 * the others fails, naming the flavor: the values end up in an environment file, where nothing else may slip in.
 */
export function gitnessSettings(refs: Partial<Record<Flavor, string>>): GitnessSettings {
    const parts = Object.entries(GITNESS_PREBUILT_IMAGES).map(([key, flavor]) => {
        const ref = refs[flavor];
        const fail = (why: string): never => {
            const shown = typeof ref === "string" ? JSON.stringify(ref.slice(0, 80)) : typeof ref;
            throw new Error(`images.${flavor}: ${why} (${shown})`);
        };
        if (typeof ref !== "string" || ref.length > 512 || !IMAGE_REF.test(ref)) return fail("not an image reference");
        const at = ref.indexOf("@");
        const name = at < 0 ? ref : ref.slice(0, at);
        const colon = name.lastIndexOf(":");
        // A colon before the last slash is the registry's port, not a tag.
        if (colon < name.lastIndexOf("/")) return fail("no tag: Gitness needs `<registry>:<tag>`");
        return { key, registry: name.slice(0, colon), value: ref.slice(colon + 1) };
    });
    const registry = parts[0].registry;
    if (parts.some((p) => p.registry !== registry)) {
        const where = parts.map((p) => `${GITNESS_PREBUILT_IMAGES[p.key as keyof typeof GITNESS_PREBUILT_IMAGES]} in ${p.registry}`);
        throw new Error(`the images are in more than one repository (${where.join(", ")}): Gitness takes one ${GITNESS_REGISTRY_KEY}`);
    }
    return Object.fromEntries([[GITNESS_REGISTRY_KEY, registry], ...parts.map((p) => [p.key, p.value])]) as GitnessSettings;
}

/** `gitnessSettings` of a stack's `images` output (a stack output: `gitness`). */
export function gitnessOutput(refs: Record<Flavor, pulumi.Input<string>>): pulumi.Output<GitnessSettings> {
    return pulumi.all(refs).apply((r) => gitnessSettings(r));
}

/** The component args of a validated `gitspace:images` (a team stack's, or the images stack's). */
export function imagesArgsFromConfig(img: ImagesConfig): RuntimeImagesArgs {
    return {
        registry: img.registry,
        tag: img.tag,
        platforms: img.platforms,
        push: img.push,
        build: img.build,
        vscodeExtensions: img.vscodeExtensions,
        baseImage: img.baseImage,
        fromStack: img.fromStack,
        builder: img.builder,
        compression: img.compression,
        username: img.username,
        password: img.password === undefined ? undefined : pulumi.secret(img.password),
    };
}

/** `gitspace:images` of the images stack (images/stack), validated by the team stacks' schema; every problem named. */
export function parseImagesConfig(raw: unknown): ImagesConfig {
    const parsed = TOP_LEVEL_SCHEMAS.images.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((i) => ({ path: formatConfigPath(["images", ...i.path]), message: i.message })));
    }
    if (parsed.data.fromStack !== undefined) {
        throw new ConfigError([{ path: formatConfigPath(["images", "fromStack"]), message: "the images stack builds the images itself" }]);
    }
    return parsed.data as ImagesConfig;
}

/** The args with every default applied (the defaults are the config schema's, TEAM_DEFAULTS.images). */
export function resolveImagesArgs(args: RuntimeImagesArgs): ResolvedImagesArgs {
    const d = TEAM_DEFAULTS.images;
    return {
        ...args,
        tag: args.tag ?? d.tag,
        platforms: args.platforms ?? [...d.platforms],
        push: args.push ?? d.push,
        build: args.fromStack === undefined ? args.build ?? d.build : false,
        vscodeExtensions: args.vscodeExtensions ?? [...d.vscodeExtensions],
        baseImage: args.baseImage ?? d.baseImage,
        compression: args.compression ?? d.compression,
        contextDir: args.contextDir ?? path.resolve(__dirname, ".."),
    };
}

/** The tag of an image: `<registry>:<flavor>-<tag>`, or `<registry>:<part>-<tag>` for base-system and devcontainer. */
export function imageKindTag(registry: string, kind: ImageKind, tag: string): string {
    return isPart(kind) ? `${registry}:${kind}-${tag}` : imageTag(registry, kind, tag);
}

/**
 * The docker-build Image inputs of one flavor, or of `base-system` or `devcontainer` (targets of
 * images/base/Dockerfile): pure, so tests and the benchmark use them directly. `from` is the BASE_IMAGE build arg:
 * the OS image for `base`, `base-system` and `devcontainer`, base-system's ref for the other flavors; `devcontainer`
 * is the DEVCONTAINER_IMAGE build arg, devcontainer's ref, which the flavors but base need (and no other image takes).
 */
export function flavorImageArgs(
    kind: ImageKind,
    rawArgs: RuntimeImagesArgs & { from: pulumi.Input<string>; devcontainer?: pulumi.Input<string> },
): dockerbuild.ImageArgs {
    const args = resolveImagesArgs(rawArgs);
    const contextDir = args.contextDir;
    const tag = imageKindTag(args.registry, kind, args.tag);
    const cacheRef = imageKindTag(args.registry, kind, "buildcache");
    const push = args.push;
    const buildArgs: Record<string, pulumi.Input<string>> = { [IMAGE_BUILD_ARGS.base]: rawArgs.from };
    if (takesDevcontainerImage(kind) !== (rawArgs.devcontainer !== undefined)) {
        throw new Error(`image ${kind}: the devcontainer image ref is ${takesDevcontainerImage(kind) ? "required" : "not taken"} (${IMAGE_BUILD_ARGS.devcontainer})`);
    }
    if (rawArgs.devcontainer !== undefined) buildArgs[IMAGE_BUILD_ARGS.devcontainer] = rawArgs.devcontainer;
    if (kind === "vscode") buildArgs[IMAGE_BUILD_ARGS.extensions] = args.vscodeExtensions.join(" ");
    const part = isPart(kind) ? PART_IMAGES[kind] : undefined;
    return {
        tags: [tag],
        context: { location: contextDir },
        dockerfile: { location: path.join(contextDir, "images", part ? part.dockerfileOf : kind, "Dockerfile") },
        target: part?.target,
        platforms: args.platforms as dockerbuild.Platform[],
        ...pushArgs(push, args.compression),
        buildArgs,
        // The registry build cache only works where we push.
        cacheFrom: push ? [{ registry: { ref: cacheRef } }] : undefined,
        cacheTo: push ? [{ registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } }] : undefined,
        registries: args.username !== undefined && args.password !== undefined
            ? [{ address: registryHost(args.registry), username: args.username, password: args.password }]
            : undefined,
        builder: args.builder ? { name: args.builder } : undefined,
        // Preview must not build five multi-arch images.
        buildOnPreview: false,
    };
}

/** Zstandard level of `compression: zstd`: the push sizes in images/README.md were measured at 19. */
export const ZSTD_LEVEL = 19;

/**
 * How an Image pushes: `push` (BuildKit's gzip), or a registry export that recompresses every layer with zstd.
 * gzip is not forced: BuildKit 0.31 pushed a broken manifest (fewer layers than the config's diffIDs) for a forced
 * gzip export here. So a gzip stack sharing a builder with a zstd one may reuse a zstd blob of a shared layer: use
 * one compression per builder (images/README.md, "Size").
 */
function pushArgs(push: boolean, compression: LayerCompression): Pick<dockerbuild.ImageArgs, "push" | "exports"> {
    if (!push || compression === "gzip") return { push };
    return {
        push: false,
        exports: [{ registry: { push: true, compression: "zstd", compressionLevel: ZSTD_LEVEL, forceCompression: true, ociMediaTypes: true } }],
    };
}

export class RuntimeImages extends pulumi.ComponentResource {
    /** Image reference per flavor: digest-pinned when built and pushed here, the tag otherwise. */
    public readonly refs: Record<Flavor, pulumi.Output<string>>;
    /** The Image resources, `base-system` and `devcontainer` included (empty when `build` is false). */
    public readonly images: Partial<Record<ImageKind, dockerbuild.Image>>;

    constructor(name: string, rawArgs: RuntimeImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE_TOKENS.runtimeImages, name, {}, opts);
        const args = resolveImagesArgs(rawArgs);
        const { tag, build } = args;

        const refs = {} as Record<Flavor, pulumi.Output<string>>;
        this.images = {};
        if (args.fromStack !== undefined) {
            const stack = args.fromStack;
            const source = new pulumi.StackReference(`${name}-stack`, { name: stack }, { parent: this });
            const images = source.requireOutput("images");
            for (const flavor of FLAVORS) refs[flavor] = images.apply((i) => refFromStackOutput(stack, i, flavor));
        } else if (!build) {
            for (const flavor of FLAVORS) refs[flavor] = pulumi.output(imageTag(args.registry, flavor, tag));
        } else {
            Object.assign(refs, this.createImages(name, args));
        }
        this.refs = refs;
        this.registerOutputs({ refs });
    }

    /**
     * base-system and devcontainer, then the flavors: base FROM the OS image, the others FROM base-system's ref with
     * devcontainer's ref as DEVCONTAINER_IMAGE (both digest-pinned once pushed, so a flavor depends on them and is
     * rebuilt when either changes). Returns the ref of each flavor.
     */
    private createImages(name: string, args: ResolvedImagesArgs): Record<Flavor, pulumi.Output<string>> {
        const refOf = (image: dockerbuild.Image, kind: ImageKind) =>
            // `ref` is `<tag>@sha256:…` once pushed; without a push fall back to the tag.
            image.ref.apply((ref) => (args.push && ref ? ref : imageKindTag(args.registry, kind, args.tag)));
        const create = (kind: ImageKind, from: pulumi.Input<string>, devcontainer?: pulumi.Input<string>) => {
            // Destroying a stack (or dropping a flavor) leaves the pushed image in the registry: other stacks push
            // the same `<flavor>-<tag>` refs, pods may still run it, and docker-build's delete removes the
            // manifest by digest, under every tag. The registry's own garbage collection cleans up.
            const image = new dockerbuild.Image(`${name}-${kind}`, flavorImageArgs(kind, { ...args, from, devcontainer }), { parent: this, retainOnDelete: true });
            this.images[kind] = image;
            return refOf(image, kind);
        };
        const system = create(SYSTEM_IMAGE.name, args.baseImage);
        const devcontainer = create(DEVCONTAINER_IMAGE.name, args.baseImage);
        const refs = {} as Record<Flavor, pulumi.Output<string>>;
        for (const flavor of FLAVORS) {
            refs[flavor] = takesDevcontainerImage(flavor) ? create(flavor, system, devcontainer) : create(flavor, args.baseImage);
        }
        return refs;
    }
}
