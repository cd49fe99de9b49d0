// The gitspace stack: read the team config, build the runtime images, provision one gitspace per developer.
import * as pulumi from "@pulumi/pulumi";
import { AdoptionError, ClusterReader, adoptionForProgram, kubeconfigReader } from "./components/adoption";
import { ConfigError, loadTeamConfig } from "./components/config";
import { GitnessSettings, gitnessOutput } from "./components/images";
import { PartialRun, ProgramOutputs, carriedGitspaces, provisionTeam } from "./components/team";

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
 * looked up read-only, so re-adding the developer adopts them (components/adoption.ts). `reader` is for tests;
 * `partial` for the portal's inline program (a run targeted at some developers, see PartialRun).
 */
async function main(reader: () => Promise<ClusterReader> = kubeconfigReader, partial?: PartialRun): Promise<ProgramOutputs & { gitness: pulumi.Output<GitnessSettings> }> {
    const config = load();
    const only = partial ? new Set(partial.developers) : undefined;
    const selected = only ? { ...config, developers: config.developers.filter((d) => only.has(d.name)) } : config;
    const adoption = await adoptionForProgram(selected, reader).catch((e) => {
        throw e instanceof AdoptionError ? new pulumi.RunError(e.message) : e;
    });
    const team = provisionTeam(config, undefined, adoption, only);
    const gitness = gitnessOutput(team.images);
    const gitspaces = partial ? { ...carriedGitspaces(config.developers.map((d) => d.name), partial), ...team.gitspaces } : team.gitspaces;
    return { images: team.images, gitness, gitspaces, ...(team.namespace ? { namespace: team.namespace } : {}) };
}

export = main;
