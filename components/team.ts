/**
 * The whole team stack from a validated config: the runtime images and one Gitspace per developer. index.ts, the
 * portal and the benchmarks all go through here.
 */
import { isDeepStrictEqual } from "util";
import * as pulumi from "@pulumi/pulumi";
import { dockerConfigJson, sharedLimitRangeSpec, sharedQuotaHard, teamLabels } from "./builders";
import { ideSpec } from "./catalog";
import { AdoptionPlan, NO_ADOPTION } from "./adoption";
import { DeveloperConfig, TeamConfig } from "./config";
import { Gitspace } from "./gitspace";
import { RuntimeImages, imagesArgsFromConfig } from "./images";
import { teamNamespaceName } from "./names";
import { NamespaceScaffoldArgs, TeamNamespace, quotaResource } from "./namespace";

export interface GitspaceOutput {
    namespace: pulumi.Output<string>;
    ide: string;
    /** The web IDE's URL; absent for SSH IDEs and when nothing routes (router mode none). */
    url?: string;
    /** URL per app port (gateway and ingress modes). */
    appUrls?: Record<string, string>;
    image: pulumi.Output<string>;
    /** Web IDE password (a Pulumi secret); absent for SSH IDEs or behind an authenticating proxy. */
    password?: pulumi.Output<string>;
    /** SSH IDEs: a ready-to-paste ssh command (through a port-forward for ClusterIP). */
    ssh?: pulumi.Output<string>;
    /** SSH IDEs: an `~/.ssh/config` Host block named after the gitspace identifier. */
    sshConfig?: pulumi.Output<string>;
}

export interface TeamOutputs {
    images: RuntimeImages["refs"];
    gitspaces: Record<string, GitspaceOutput>;
    /** The shared namespace (layout `shared`). */
    namespace?: pulumi.Output<string>;
}

/** What the program exports: TeamOutputs, with `gitspaces` entries carried from the state in a partial run. */
export type ProgramOutputs = Omit<TeamOutputs, "gitspaces"> & { gitspaces: Record<string, GitspaceOutput | pulumi.Output<unknown>> };

/**
 * A run of the program that registers some developers' Gitspace components only: the portal's inline program,
 * for an update or preview targeted at exactly those components (`--target` with `--target-dependents`: their
 * children) and, in the `shared` layout, at the shared namespace's ResourceQuota (`teamQuotaResource`). The engine
 * keeps every resource it is not asked to touch as it is in the state, registered or not, so registering the
 * others is work without effect; their entries of the `gitspaces` output are carried from the last deployed
 * outputs (`gitspaces`, as secrets), for the developers still in the config. The team-level resources are still
 * registered, computed from the whole config (`provisionTeam`), as a full run registers them.
 *
 * No target may have another developer's objects as dependents: with `--target-dependents` the engine would delete
 * every one of them the program did not register (without it, it refuses: "delete untargeted resource"). So the
 * shared Namespace, its LimitRange and pull Secret (every gitspace depends on them) are never targets: a change
 * that alters them needs a full run (`sharedNamespaceHeldChanges`). The quota has no dependents. See
 * portal/driver.ts (EngineRunOptions.partial) and portal/gitspaces.ts (fullUpdateReason).
 */
export interface PartialRun {
    developers: string[];
    /** The stack's `gitspaces` output before the run (plain values). */
    gitspaces: Record<string, unknown>;
}

export function carriedGitspaces(inConfig: string[], partial: PartialRun): Record<string, pulumi.Output<unknown>> {
    const carried: Record<string, pulumi.Output<unknown>> = {};
    for (const name of inConfig) {
        if (partial.developers.includes(name) || !Object.prototype.hasOwnProperty.call(partial.gitspaces, name)) continue;
        carried[name] = pulumi.secret(partial.gitspaces[name]);
    }
    return carried;
}

/** Resource name of a developer's Gitspace component (`gitspace:gitspace:Gitspace` named after the developer). */
export const gitspaceResourceName = (developer: string) => developer;
/** Resource name of the TeamNamespace component (layout `shared`); its quota sums every developer's. */
export const TEAM_NAMESPACE_RESOURCE_NAME = "team";
/** The shared namespace's ResourceQuota (a child of the TeamNamespace component): type token and resource name. */
export const teamQuotaResource = () => quotaResource(TEAM_NAMESPACE_RESOURCE_NAME);

/**
 * What the shared namespace's objects take from the developers rather than from team-level settings: the quota
 * (the sum of every developer's), the LimitRange (the largest developer's resources) and whether the Namespace is
 * kept on delete (while any developer keeps a home in it).
 */
export function sharedNamespaceOfDevelopers(developers: readonly DeveloperConfig[]): Pick<NamespaceScaffoldArgs, "quota" | "limitRange" | "retainOnDelete"> {
    return {
        quota: sharedQuotaHard(developers),
        limitRange: sharedLimitRangeSpec(developers),
        // Deleting the namespace deletes every home in it: keep it while any developer keeps their home.
        retainOnDelete: developers.some((d) => d.retainHome),
    };
}

/**
 * The parts of the shared namespace that follow the developers and that a run targeted at some developers cannot
 * change (PartialRun: every gitspace depends on them), whose value differs between the developers of `deployed`
 * (each config the state may hold them from) and of `next`. Empty: a targeted run leaves the shared namespace
 * exactly as the whole program describes it (it updates the quota itself). Plain data of the resolved configs.
 */
export function sharedNamespaceHeldChanges(deployed: readonly TeamConfig[], next: TeamConfig): string[] {
    const want = sharedNamespaceOfDevelopers(next.developers);
    const held = { limitRange: "LimitRange (the largest developer's resources)", retainOnDelete: "retention (whether any developer keeps a home)" } as const;
    return (Object.keys(held) as Array<keyof typeof held>)
        .filter((k) => deployed.some((c) => !isDeepStrictEqual(sharedNamespaceOfDevelopers(c.developers)[k], want[k])))
        .map((k) => held[k]);
}

/**
 * `adoption`: the kept Namespaces and home PVCs to adopt (`adoptionForProgram`). Defaults to none (everything is
 * created).
 * `only`: register the Gitspace components of these developers alone (a run targeted at them, see index.ts);
 * team-level resources are still computed from every developer. Defaults to every developer.
 */
export function provisionTeam(
    config: TeamConfig, opts?: pulumi.ComponentResourceOptions, adoption: AdoptionPlan = NO_ADOPTION, only?: ReadonlySet<string>,
): TeamOutputs {
    const images = createImages(config, opts);
    const { images: img } = config;
    // One pull secret value for the whole team, computed once.
    const registryCredentials = img.username !== undefined && img.password !== undefined
        ? pulumi.secret(dockerConfigJson(img.registry, img.username, img.password))
        : undefined;
    const scope = { team: config.team, environment: config.environment };
    const shared = config.namespaceLayout === "shared"
        ? new TeamNamespace(TEAM_NAMESPACE_RESOURCE_NAME, {
            name: teamNamespaceName(scope),
            labels: teamLabels(scope),
            ...sharedNamespaceOfDevelopers(config.developers),
            egress: config.egress,
            registryCredentials,
            adopt: adoption.teamNamespace,
            ...(config.router.mode === "caddy2-k8s" && config.router.serviceAccount ? { routerServiceAccount: config.router.serviceAccount } : {}),
        }, opts)
        : undefined;

    const gitspaces: Record<string, GitspaceOutput> = {};
    for (const developer of config.developers) {
        if (only && !only.has(developer.name)) continue;
        const image = images.refs[ideSpec(developer.ide).flavor];
        const gitspace = new Gitspace(gitspaceResourceName(developer.name), {
            scope,
            domain: config.domain,
            developer,
            image,
            router: config.router,
            ssh: config.ssh,
            egress: config.egress,
            sharedNamespace: shared?.ref,
            storageClass: config.storageClass,
            ideAuth: config.ideAuth,
            registryCredentials,
            adopt: adoption.developers[developer.name],
        }, opts);
        gitspaces[developer.name] = {
            namespace: gitspace.namespace,
            ide: developer.ide,
            ...(gitspace.url ? { url: gitspace.url } : {}),
            ...(Object.keys(gitspace.appUrls).length > 0 ? { appUrls: gitspace.appUrls } : {}),
            image,
            ...(gitspace.password ? { password: gitspace.password } : {}),
            ...(gitspace.ssh ? { ssh: gitspace.ssh, sshConfig: gitspace.sshConfig } : {}),
        };
    }
    return { images: images.refs, gitspaces, ...(shared ? { namespace: shared.namespace } : {}) };
}

function createImages(config: TeamConfig, opts?: pulumi.ComponentResourceOptions): RuntimeImages {
    return new RuntimeImages("runtime-images", imagesArgsFromConfig(config.images), opts);
}
