// The gitspace stack: read the team config, build the runtime images, provision one gitspace per developer.
import * as pulumi from "@pulumi/pulumi";
import { AdoptionError, ClusterReader, adoptionForProgram, kubeconfigReader } from "./components/adoption";
import { ConfigError, loadTeamConfig } from "./components/config";
import { GitnessSettings, gitnessOutput } from "./components/images";
import { TeamOutputs, provisionTeam } from "./components/team";

function load() {
    try {
        return loadTeamConfig();
    } catch (e) {
        // A RunError prints just the message: every bad field, no stack trace.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

/**
 * The program. Its stack outputs:
 * - `images`: image reference per flavor (digest-pinned when built here);
 * - `gitness`: the same images as Gitness' prebuilt-image settings (`GITSPACE_PREBUILT_IMAGES_REGISTRY`, ...);
 * - `gitspaces`: per developer: namespace, ide, url (web IDEs), appUrls (app ports), image, password (secret, web
 *   IDEs), ssh and sshConfig (SSH IDEs);
 * - `namespace`: the team stack's shared namespace (layout `shared`; caddy2-k8s watches it).
 * Before anything is registered, the Namespaces and home PVCs a removed developer left behind (`retainHome`) are
 * looked up read-only, so re-adding the developer adopts them (components/adoption.ts). `reader` is for tests.
 */
async function main(reader: () => Promise<ClusterReader> = kubeconfigReader): Promise<TeamOutputs & { gitness: pulumi.Output<GitnessSettings> }> {
    const config = load();
    const adoption = await adoptionForProgram(config, reader).catch((e) => {
        throw e instanceof AdoptionError ? new pulumi.RunError(e.message) : e;
    });
    const team = provisionTeam(config, undefined, adoption);
    const gitness = gitnessOutput(team.images);
    return { images: team.images, gitness, gitspaces: team.gitspaces, ...(team.namespace ? { namespace: team.namespace } : {}) };
}

export = main;
