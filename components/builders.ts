/**
 * Pure builders for the objects a gitspace is made of: labels, environment, volumes, the pod spec. Plain functions of
 * the resolved config, so they are tested directly and shared by the components, the portal and the benchmarks.
 * The paths and variables follow the runtime contract in scripts/README.md.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Flavor, INIT_COMMAND, IdeSpec, ideSpec } from "./catalog";
import { DeveloperConfig, DotfilesConfig, GitCredentials, ResourcesConfig, TeamConfig, quantityValue } from "./config";
import { NameScope, ObjectNames, identifier, objectNames } from "./names";
import { credentialHosts } from "./repo";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;
type Probe = k8s.types.input.core.v1.Probe;


/** Where things are mounted (scripts/README.md). */
export const MOUNTS = {
    identityDir: "/var/run/gitspace/identity",
    gitCredentialsDir: "/etc/gitspace/git",
    ideSecretDir: "/etc/gitspace/ide",
    sshDir: "/etc/gitspace/ssh",
    legacyWorkspaces: "/workspaces",
} as const;

const VOLUMES = { home: "home", identity: "identity", git: "git-credentials", ide: "ide-password", ssh: "ssh" } as const;

export const homeDir = (user: { name: string }) => `/home/${user.name}`;

// ---------------------------------------------------------------------------------------------------------------
// Labels and routing

/** Kubernetes recommended labels plus the team, environment and developer, for every object of a gitspace. */
export function gitspaceLabels(scope: NameScope, developer: DeveloperConfig): Record<string, string> {
    return {
        "app.kubernetes.io/name": "gitspace",
        "app.kubernetes.io/instance": identifier(scope, developer.name),
        "app.kubernetes.io/component": "ide",
        "app.kubernetes.io/part-of": "gitspace",
        "app.kubernetes.io/managed-by": "pulumi",
        "gitspace.io/team": scope.team,
        "gitspace.io/environment": scope.environment,
        "gitspace.io/developer": developer.name,
        "gitspace.io/ide": developer.ide,
    };
}

/** Labels of the namespace-wide objects of a team stack (the shared namespace and its policies). */
export function teamLabels(scope: NameScope): Record<string, string> {
    return {
        "app.kubernetes.io/name": "gitspace",
        "app.kubernetes.io/part-of": "gitspace",
        "app.kubernetes.io/managed-by": "pulumi",
        "gitspace.io/team": scope.team,
        "gitspace.io/environment": scope.environment,
    };
}

/**
 * The Deployment's selector: stable for the life of the gitspace (selectors are immutable), unique per developer
 * even in a shared namespace. `gitspace` is also the identifier caddy2-k8s reads.
 */
export function selectorLabels(scope: NameScope, developer: DeveloperConfig): Record<string, string> {
    return { app: "gitspace", gitspace: identifier(scope, developer.name) };
}

// ---------------------------------------------------------------------------------------------------------------
// Images and registries

/** `<registry>:<flavor>-<tag>` */
export function imageTag(registry: string, flavor: Flavor, tag: string): string {
    return `${registry}:${flavor}-${tag}`;
}

/** The registry host of a repository reference (`registry.example.com/gitspace-runtime` → `registry.example.com`). */
export function registryHost(registry: string): string {
    const first = registry.split("/")[0];
    return registry.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** The `.dockerconfigjson` of an image pull secret. */
export function dockerConfigJson(registry: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    return JSON.stringify({ auths: { [registryHost(registry)]: { username, password, auth } } });
}

// ---------------------------------------------------------------------------------------------------------------
// Environment, volumes, mounts

export interface GitspaceRuntime {
    team: string;
    developer: DeveloperConfig;
    ideAuth: TeamConfig["ideAuth"];
    /** True when the developer has git credentials (a Secret is mounted). */
    hasGitCredentials: boolean;
    /** Names of the developer's objects (`objectNames`). Defaults to the per-developer layout's. */
    objects?: ObjectNames;
}

const objectsOf = (rt: GitspaceRuntime) => rt.objects ?? objectNames(rt.developer.name, "per-developer");

/** Environment of both containers. Values are never credentials: those are files from Secrets. */
export function gitspaceEnv(rt: GitspaceRuntime): EnvVar[] {
    const { developer } = rt;
    const spec = ideSpec(developer.ide);
    const home = homeDir(developer.user);
    // The resolved, validated list: the scripts use these values as given (scripts/README.md).
    const repos = developer.repos.map((r) => (r.branch !== undefined ? { name: r.name, url: r.url, branch: r.branch } : { name: r.name, url: r.url }));
    const env: Record<string, string> = {
        HOME: home,
        USER: developer.user.name,
        SHELL: "/bin/bash",
        GITSPACE_USER: developer.user.name,
        GITSPACE_UID: String(developer.user.uid),
        GITSPACE_GID: String(developer.user.gid),
        GITSPACE_IDE: developer.ide,
        GITSPACE_IDE_PORT: String(spec.port),
        GITSPACE_IDE_AUTH: rt.ideAuth === "proxy" ? "none" : "password",
        GITSPACE_REPOS: JSON.stringify(repos),
        // The resolved dotfiles repository ({url, branch?, installCommand?}); empty when none.
        GITSPACE_DOTFILES: developer.dotfiles ? JSON.stringify(dotfilesEntry(developer.dotfiles)) : "",
        GITSPACE_MIGRATE_LEGACY: String(developer.migrateLegacyWorkspaces),
        GITSPACE_IDENTITY_DIR: MOUNTS.identityDir,
        GITSPACE_GIT_CREDENTIALS_DIR: MOUNTS.gitCredentialsDir,
        GITSPACE_IDE_SECRET_DIR: MOUNTS.ideSecretDir,
        GITSPACE_SSH_DIR: MOUNTS.sshDir,
    };
    return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** The GITSPACE_DOTFILES value: the resolved fields, in a fixed order. */
export function dotfilesEntry(d: DotfilesConfig): DotfilesConfig {
    return { url: d.url, ...(d.branch !== undefined ? { branch: d.branch } : {}), ...(d.installCommand !== undefined ? { installCommand: d.installCommand } : {}) };
}

/** Every repository the gitspace clones: the repos, then the dotfiles repository. */
export function clonedRepositories(developer: Pick<DeveloperConfig, "repos" | "dotfiles">): Array<{ url: string }> {
    return [...developer.repos, ...(developer.dotfiles ? [developer.dotfiles] : [])];
}

/**
 * The files of the git-credentials Secret (mounted at MOUNTS.gitCredentialsDir): `username`, `token`, and `hosts`,
 * the only `scheme://host[:port]` scopes the credential helper gives them to (those of the repositories the
 * developer's gitspace clones, `clonedRepositories`).
 */
export function gitCredentialsData<T>(git: GitCredentials, repos: ReadonlyArray<{ url: string }>, wrapToken: (token: string) => T):
    { username: string; token: T; hosts: string } {
    return { username: git.username, token: wrapToken(git.token), hosts: credentialHosts(repos) };
}

/** True when the IDE is a web IDE that asks for the generated password. */
export function needsIdePassword(developer: DeveloperConfig, ideAuth: TeamConfig["ideAuth"]): boolean {
    return ideSpec(developer.ide).access === "web" && ideAuth === "password";
}

export function gitspaceVolumes(rt: GitspaceRuntime): Volume[] {
    const spec = ideSpec(rt.developer.ide);
    const names = objectsOf(rt);
    const volumes: Volume[] = [
        { name: VOLUMES.home, persistentVolumeClaim: { claimName: names.homeClaim } },
        // Tiny and in memory: the passwd/group pair the init container writes for the IDE container.
        { name: VOLUMES.identity, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    ];
    if (rt.hasGitCredentials) {
        volumes.push({ name: VOLUMES.git, secret: { secretName: names.gitCredentials, defaultMode: 0o440 } });
    }
    if (needsIdePassword(rt.developer, rt.ideAuth)) {
        volumes.push({ name: VOLUMES.ide, secret: { secretName: names.idePassword, defaultMode: 0o440 } });
    }
    if (spec.access === "ssh") {
        volumes.push({
            name: VOLUMES.ssh,
            projected: {
                defaultMode: 0o440,
                sources: [
                    { secret: { name: names.sshAuthorizedKeys } },
                    { secret: { name: names.sshHostKey } },
                ],
            },
        });
    }
    return volumes;
}

export function initVolumeMounts(rt: GitspaceRuntime): VolumeMount[] {
    const mounts: VolumeMount[] = [
        { name: VOLUMES.home, mountPath: homeDir(rt.developer.user) },
        { name: VOLUMES.identity, mountPath: MOUNTS.identityDir },
    ];
    if (rt.hasGitCredentials) mounts.push({ name: VOLUMES.git, mountPath: MOUNTS.gitCredentialsDir, readOnly: true });
    return mounts;
}

export function ideVolumeMounts(rt: GitspaceRuntime): VolumeMount[] {
    const spec = ideSpec(rt.developer.ide);
    const mounts: VolumeMount[] = [
        { name: VOLUMES.home, mountPath: homeDir(rt.developer.user) },
        // Back-compat path: the same volume mounted a second time, not a symlink (no loop inside HOME).
        { name: VOLUMES.home, mountPath: MOUNTS.legacyWorkspaces },
        // The identity must hold where the IDE runs: the init container's /etc never reaches this container.
        { name: VOLUMES.identity, mountPath: "/etc/passwd", subPath: "passwd", readOnly: true },
        { name: VOLUMES.identity, mountPath: "/etc/group", subPath: "group", readOnly: true },
    ];
    if (rt.hasGitCredentials) mounts.push({ name: VOLUMES.git, mountPath: MOUNTS.gitCredentialsDir, readOnly: true });
    if (needsIdePassword(rt.developer, rt.ideAuth)) mounts.push({ name: VOLUMES.ide, mountPath: MOUNTS.ideSecretDir, readOnly: true });
    if (spec.access === "ssh") mounts.push({ name: VOLUMES.ssh, mountPath: MOUNTS.sshDir, readOnly: true });
    return mounts;
}

// ---------------------------------------------------------------------------------------------------------------
// Pod

export function ideProbe(spec: IdeSpec, overrides: Partial<Probe> = {}): Probe {
    const action = spec.probe.kind === "http"
        ? { httpGet: { path: spec.probe.path, port: spec.port } }
        : { tcpSocket: { port: spec.port } };
    return { ...action, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3, ...overrides };
}

/** Restricted-profile container security context, running as the developer. */
export function containerSecurityContext(developer: DeveloperConfig): k8s.types.input.core.v1.SecurityContext {
    return {
        runAsUser: developer.user.uid,
        runAsGroup: developer.user.gid,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

export function containerResources(resources: ResourcesConfig): k8s.types.input.core.v1.ResourceRequirements {
    return { requests: { ...resources.requests }, limits: { ...resources.limits } };
}

export interface PodSpecArgs extends GitspaceRuntime {
    /** The flavor image (digest-pinned when built by this stack). */
    image: pulumi.Input<string>;
    /** Name of an image pull Secret in the namespace, when the registry needs credentials. */
    imagePullSecret?: string;
}

export function buildPodSpec(args: PodSpecArgs): PodSpec {
    const { developer } = args;
    const spec = ideSpec(developer.ide);
    const env = gitspaceEnv(args);
    const securityContext = containerSecurityContext(developer);
    const resources = containerResources(developer.resources);

    const init: Container = {
        name: "gitspace-init",
        image: args.image,
        command: INIT_COMMAND,
        workingDir: homeDir(developer.user),
        env,
        volumeMounts: initVolumeMounts(args),
        securityContext,
        resources,
    };
    const ide: Container = {
        name: "ide",
        image: args.image,
        command: spec.command,
        workingDir: homeDir(developer.user),
        env,
        ports: [{ name: "ide", containerPort: spec.port, protocol: "TCP" }],
        // No startup probe: the kubelet probes a not-yet-ready container at once on every status sync, so a pod is
        // Ready within a second of the IDE listening. A 1 s startup probe was measured slower (one vscode pod, scale
        // to Ready, 4 alternating runs: 2.7–3.0 s without, 3.5–4.9 s with; portal/README.md, "storm").
        readinessProbe: ideProbe(spec),
        // Liveness is lenient: a busy IDE (indexing, builds) must not be killed for a slow answer.
        livenessProbe: ideProbe(spec, { initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 }),
        volumeMounts: ideVolumeMounts(args),
        securityContext,
        resources,
    };
    return {
        // fsGroup makes a fresh volume writable by the developer; OnRootMismatch keeps warm starts from walking HOME.
        securityContext: {
            runAsUser: developer.user.uid,
            runAsGroup: developer.user.gid,
            runAsNonRoot: true,
            fsGroup: developer.user.gid,
            fsGroupChangePolicy: "OnRootMismatch",
            seccompProfile: { type: "RuntimeDefault" },
        },
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 30,
        ...(args.imagePullSecret ? { imagePullSecrets: [{ name: args.imagePullSecret }] } : {}),
        initContainers: [init],
        containers: [ide],
        volumes: gitspaceVolumes(args),
    };
}

/** The namespace's ResourceQuota: room for the gitspace pod plus its replacement while the old one terminates. */
export function quotaHard(developer: DeveloperConfig): Record<string, string> {
    const twice = (q: string) => scaleQuantity(q, 2);
    const { requests, limits } = developer.resources;
    return {
        pods: "2",
        "requests.cpu": twice(requests.cpu),
        "requests.memory": twice(requests.memory),
        "limits.cpu": twice(limits.cpu),
        "limits.memory": twice(limits.memory),
        persistentvolumeclaims: "1",
        "requests.storage": developer.storage,
    };
}

/** `scaleQuantity("1500m", 2)` → `"3000m"`, keeping the unit suffix. */
export function scaleQuantity(quantity: string, factor: number): string {
    const match = /^([0-9.]+)(.*)$/.exec(quantity);
    if (!match) throw new Error(`not a quantity: ${quantity}`);
    const scaled = Number(match[1]) * factor;
    // Guard against float noise such as 0.1 * 3.
    return `${Number.isInteger(scaled) ? scaled : Number(scaled.toPrecision(12))}${match[2]}`;
}

/** Limits applied to any container of the namespace that sets none, capped at the developer's limits. */
export function limitRangeSpec(developer: DeveloperConfig): k8s.types.input.core.v1.LimitRangeSpec {
    const { requests, limits } = developer.resources;
    return {
        limits: [{
            type: "Container",
            default: { ...limits },
            defaultRequest: { ...requests },
            max: { ...limits },
        }],
    };
}


/** The largest of some quantities, as written. */
function largest(quantities: string[]): string {
    return quantities.reduce((a, b) => (quantityValue(b) > quantityValue(a) ? b : a));
}

/** Sum of CPU quantities, in millicores. */
function sumCpu(quantities: string[]): string {
    return `${Math.ceil(quantities.reduce((sum, q) => sum + quantityValue(q) * 1000, 0))}m`;
}

/** Sum of byte quantities, in bytes. */
function sumBytes(quantities: string[]): string {
    return String(Math.ceil(quantities.reduce((sum, q) => sum + quantityValue(q), 0)));
}

/**
 * The ResourceQuota of a shared namespace: the sum of every developer's `quotaHard`, so the namespace as a whole is
 * capped as tightly as the per-developer namespaces together. Each pod's own requests and limits are the developer's.
 */
export function sharedQuotaHard(developers: readonly DeveloperConfig[]): Record<string, string> {
    const each = developers.map(quotaHard);
    const all = (key: string) => each.map((q) => q[key]);
    return {
        pods: String(2 * developers.length),
        "requests.cpu": sumCpu(all("requests.cpu")),
        "requests.memory": sumBytes(all("requests.memory")),
        "limits.cpu": sumCpu(all("limits.cpu")),
        "limits.memory": sumBytes(all("limits.memory")),
        persistentvolumeclaims: String(developers.length),
        "requests.storage": sumBytes(all("requests.storage")),
    };
}

/** The LimitRange of a shared namespace: no container may exceed the largest developer's limits. */
export function sharedLimitRangeSpec(developers: readonly DeveloperConfig[]): k8s.types.input.core.v1.LimitRangeSpec {
    const pick = (f: (r: ResourcesConfig) => string) => largest(developers.map((d) => f(d.resources)));
    const limits = { cpu: pick((r) => r.limits.cpu), memory: pick((r) => r.limits.memory) };
    return {
        limits: [{
            type: "Container",
            default: limits,
            defaultRequest: { cpu: pick((r) => r.requests.cpu), memory: pick((r) => r.requests.memory) },
            max: { ...limits },
        }],
    };
}
