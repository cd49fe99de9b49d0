// The organisation's images stack (project gitspace-images): builds and pushes the runtime images once, from the same
// `gitspace:images` key and schema as a team stack. Team stacks set `gitspace:images.fromStack` to this stack's name
// and build nothing; its `images` output is the one they read.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../components/config";
import { RuntimeImages, gitnessOutput, imagesArgsFromConfig, parseImagesConfig } from "../../components/images";

function load() {
    try {
        return parseImagesConfig(new pulumi.Config("gitspace").requireObject("images"));
    } catch (e) {
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

const runtime = new RuntimeImages("runtime-images", imagesArgsFromConfig(load()));

/** Image reference per flavor, digest-pinned: what team stacks read (`gitspace:images.fromStack`). */
export const images = runtime.refs;

/** The same refs as Gitness' prebuilt-image settings (`GITSPACE_PREBUILT_IMAGES_REGISTRY`, `..._IMAGE_VSCODE`, ...). */
export const gitness = gitnessOutput(runtime.refs);
