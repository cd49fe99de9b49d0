/**
 * RuntimeImages: builds and pushes the gitspace runtime images, one `@pulumi/docker-build` Image per flavor, with
 * `base` first and every other flavor built FROM base's pushed, digest-pinned ref.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { FLAVORS, Flavor } from "./catalog";
import { Platform } from "./config";
import { imageTag, registryHost } from "./builders";

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
    /** VS Code extensions baked into the `vscode` flavor. Defaults to none. */
    vscodeExtensions?: string[];
    /** Image the `base` flavor is built FROM. Defaults to `ubuntu:24.04`. */
    baseImage?: string;
    /** Registry credentials for push and the registry build cache. Defaults to none (ambient credentials). */
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    /** Name of an existing buildx builder. Defaults to buildx's current builder. */
    builder?: string;
    /** Directory holding `images/` and `scripts/` (the build context). Defaults to this repository. */
    contextDir?: string;
}

export const IMAGE_BUILD_ARGS = { base: "BASE_IMAGE", extensions: "VSCODE_EXTENSIONS" } as const;

/** The docker-build Image inputs of one flavor: pure, so tests and the benchmark use them directly. */
export function flavorImageArgs(
    flavor: Flavor,
    args: RuntimeImagesArgs & { from: pulumi.Input<string> },
): dockerbuild.ImageArgs {
    const contextDir = args.contextDir ?? path.resolve(__dirname, "..");
    const tag = imageTag(args.registry, flavor, args.tag ?? "latest");
    const cacheRef = imageTag(args.registry, flavor, "buildcache");
    const push = args.push ?? true;
    const buildArgs: Record<string, pulumi.Input<string>> = { [IMAGE_BUILD_ARGS.base]: args.from };
    if (flavor === "vscode") buildArgs[IMAGE_BUILD_ARGS.extensions] = (args.vscodeExtensions ?? []).join(" ");
    return {
        tags: [tag],
        context: { location: contextDir },
        dockerfile: { location: path.join(contextDir, "images", flavor, "Dockerfile") },
        platforms: (args.platforms ?? ["linux/amd64", "linux/arm64"]) as dockerbuild.Platform[],
        push,
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

export class RuntimeImages extends pulumi.ComponentResource {
    /** Image reference per flavor: digest-pinned when built and pushed here, the tag otherwise. */
    public readonly refs: Record<Flavor, pulumi.Output<string>>;
    /** The Image resources (empty when `build` is false). */
    public readonly images: Partial<Record<Flavor, dockerbuild.Image>>;

    constructor(name: string, args: RuntimeImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitspace:images:RuntimeImages", name, {}, opts);
        const tag = args.tag ?? "latest";
        const build = args.build ?? true;
        const push = args.push ?? true;

        const refs = {} as Record<Flavor, pulumi.Output<string>>;
        this.images = {};
        if (!build) {
            for (const flavor of FLAVORS) refs[flavor] = pulumi.output(imageTag(args.registry, flavor, tag));
        } else {
            const refOf = (image: dockerbuild.Image, flavor: Flavor) =>
                // `ref` is `<tag>@sha256:…` once pushed; without a push fall back to the tag.
                image.ref.apply((ref) => (push && ref ? ref : imageTag(args.registry, flavor, tag)));
            const base = new dockerbuild.Image(`${name}-base`,
                flavorImageArgs("base", { ...args, from: args.baseImage ?? "ubuntu:24.04" }), { parent: this });
            this.images.base = base;
            refs.base = refOf(base, "base");
            for (const flavor of FLAVORS.filter((f) => f !== "base")) {
                const image = new dockerbuild.Image(`${name}-${flavor}`,
                    flavorImageArgs(flavor, { ...args, from: refs.base }), { parent: this });
                this.images[flavor] = image;
                refs[flavor] = refOf(image, flavor);
            }
        }
        this.refs = refs;
        this.registerOutputs({ refs });
    }
}
