/**
 * Gitspace: one developer's cloud development environment — Namespace, home PVC, Secrets, Deployment, Service,
 * NetworkPolicies, ResourceQuota and LimitRange.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { ideSpec } from "./catalog";
import { DeveloperConfig, TEAM_DEFAULTS, TeamConfig, namespaceName } from "./config";
import { TYPE_TOKENS } from "./tokens";
import {
    OBJECT_NAMES, buildPodSpec, gitCredentialsData, gitspaceLabels, gitspaceUrl, limitRangeSpec, needsIdePassword,
    quotaHard, routingAnnotations, routingLabels, selectorLabels,
} from "./builders";
import { generateSshHostKey } from "./sshkeys";

/** The `.dockerconfigjson` of the image pull Secret (`dockerConfigJson`), shared by every developer of a team. */
export type RegistryCredentials = pulumi.Input<string>;

export interface GitspaceArgs {
    /** Team (stack) the developer belongs to. */
    team: string;
    /** IDE URLs are `https://<team>-<developer>.<domain>`. */
    domain: string;
    /** The developer, with defaults already resolved (`parseTeamConfig`). */
    developer: DeveloperConfig;
    /** Image of the developer's IDE flavor. */
    image: pulumi.Input<string>;
    /** Storage class of the home PVC. Defaults to the cluster default. */
    storageClass?: string;
    /** Who authenticates web IDE users. Defaults to `password` (a generated password per developer). */
    ideAuth?: TeamConfig["ideAuth"];
    /** Namespace of the router allowed to reach the IDE port. Defaults to `caddy-system`. */
    routerNamespace?: string;
    /** Credentials to pull the image (a `.dockerconfigjson`), stored as an image pull Secret. Defaults to none. */
    registryCredentials?: RegistryCredentials;
}

export class Gitspace extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly url: string;
    /** The web IDE password; undefined for SSH IDEs or when a proxy authenticates. */
    public readonly password?: pulumi.Output<string>;

    constructor(name: string, args: GitspaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE_TOKENS.gitspace, name, {}, opts);
        const { team, developer } = args;
        const ideAuth = args.ideAuth ?? TEAM_DEFAULTS.ideAuth;
        const spec = ideSpec(developer.ide);
        const labels = gitspaceLabels(team, developer);
        const parent = { parent: this };
        // Home data outlives the developer's entry in config (and `pulumi destroy`) unless retainHome is false.
        const keepHome = { parent: this, retainOnDelete: developer.retainHome };

        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: {
                name: namespaceName(team, developer.name),
                labels: {
                    ...labels,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
        }, keepHome);
        // Children reference `namespace` (an output of ns), which orders them after the Namespace.
        const namespace = ns.metadata.name;
        const inNamespace = (objectName: string) => ({ name: objectName, namespace, labels });

        const home = new k8s.core.v1.PersistentVolumeClaim(`${name}-home`, {
            metadata: {
                ...inNamespace(OBJECT_NAMES.homeClaim),
                // With WaitForFirstConsumer storage the claim binds only once the pod is scheduled.
                annotations: { "pulumi.com/skipAwait": "true" },
            },
            spec: {
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: developer.storage } },
                ...(args.storageClass ? { storageClassName: args.storageClass } : {}),
                // Reuse an existing volume (a legacy gitspace's): the claim binds to exactly that PV.
                ...(developer.homeVolumeName ? { volumeName: developer.homeVolumeName } : {}),
            },
        }, keepHome);

        const secrets: pulumi.Resource[] = [];
        if (developer.git) {
            secrets.push(new k8s.core.v1.Secret(`${name}-git-credentials`, {
                metadata: inNamespace(OBJECT_NAMES.gitCredentials),
                type: "Opaque",
                stringData: gitCredentialsData(developer.git, developer.repos, (token) => pulumi.secret(token)),
            }, parent));
        }
        if (needsIdePassword(developer, ideAuth)) {
            const password = new random.RandomPassword(`${name}-ide-password`, { length: 24, special: false }, parent);
            this.password = pulumi.secret(password.result);
            secrets.push(new k8s.core.v1.Secret(`${name}-ide-password`, {
                metadata: inNamespace(OBJECT_NAMES.idePassword),
                type: "Opaque",
                stringData: { password: password.result },
            }, parent));
        }
        if (spec.access === "ssh") {
            secrets.push(new k8s.core.v1.Secret(`${name}-ssh-authorized-keys`, {
                metadata: inNamespace(OBJECT_NAMES.sshAuthorizedKeys),
                type: "Opaque",
                stringData: { authorized_keys: developer.sshPublicKeys.join("\n") + "\n" },
            }, parent));
            // Generated once: later runs produce a different key, which ignoreChanges discards.
            const hostKey = generateSshHostKey(`${developer.name}@${team}.gitspace`);
            secrets.push(new k8s.core.v1.Secret(`${name}-ssh-host-key`, {
                metadata: inNamespace(OBJECT_NAMES.sshHostKey),
                type: "Opaque",
                stringData: {
                    ssh_host_ed25519_key: pulumi.secret(hostKey.privateKey),
                    "ssh_host_ed25519_key.pub": hostKey.publicKey,
                },
            }, { ...parent, ignoreChanges: ["stringData", "data"] }));
        }
        let imagePullSecret: string | undefined;
        if (args.registryCredentials) {
            imagePullSecret = OBJECT_NAMES.registryCredentials;
            secrets.push(new k8s.core.v1.Secret(`${name}-registry-credentials`, {
                metadata: inNamespace(OBJECT_NAMES.registryCredentials),
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": args.registryCredentials },
            }, parent));
        }

        new k8s.core.v1.ResourceQuota(`${name}-quota`, {
            metadata: inNamespace("gitspace"),
            spec: { hard: quotaHard(developer) },
        }, parent);
        const limitRange = new k8s.core.v1.LimitRange(`${name}-limits`, {
            metadata: inNamespace("gitspace"),
            spec: limitRangeSpec(developer),
        }, parent);

        new k8s.networking.v1.NetworkPolicy(`${name}-default-deny`, {
            metadata: inNamespace("default-deny-ingress"),
            spec: { podSelector: {}, policyTypes: ["Ingress"] },
        }, parent);
        new k8s.networking.v1.NetworkPolicy(`${name}-allow-router`, {
            metadata: inNamespace("allow-router"),
            spec: {
                podSelector: { matchLabels: selectorLabels(team, developer) },
                policyTypes: ["Ingress"],
                ingress: [{
                    from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.routerNamespace ?? TEAM_DEFAULTS.router.namespace } } }],
                    ports: [{ protocol: "TCP", port: spec.port }],
                }],
            },
        }, parent);

        const podLabels = { ...labels, ...routingLabels(team, developer) };
        new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: {
                ...inNamespace(OBJECT_NAMES.deployment),
                // Stopped: no pod will bind a WaitForFirstConsumer home, so there is no rollout to wait for.
                ...(developer.running ? {} : { annotations: { "pulumi.com/skipAwait": "true" } }),
            },
            spec: {
                replicas: developer.running ? 1 : 0,
                // A ReadWriteOnce home cannot be attached to two pods: the old pod goes before the new one starts.
                strategy: { type: "Recreate" },
                selector: { matchLabels: selectorLabels(team, developer) },
                template: {
                    metadata: { labels: podLabels, annotations: routingAnnotations(spec) },
                    spec: buildPodSpec({
                        team, developer, ideAuth, image: args.image, imagePullSecret, hasGitCredentials: developer.git !== undefined,
                    }),
                },
            },
        }, { parent: this, dependsOn: [home, limitRange, ...secrets] });

        new k8s.core.v1.Service(`${name}-service`, {
            metadata: inNamespace(OBJECT_NAMES.service),
            spec: {
                selector: selectorLabels(team, developer),
                ports: [{ name: "ide", port: spec.port, targetPort: spec.port, protocol: "TCP" }],
            },
        }, parent);

        this.namespace = namespace;
        this.url = gitspaceUrl(team, args.domain, developer.name);
        this.registerOutputs({ namespace: this.namespace, url: this.url, password: this.password });
    }
}
