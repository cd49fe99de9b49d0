/**
 * The namespace gitspaces live in, with what every gitspace namespace carries: Pod Security "restricted", a
 * ResourceQuota and LimitRange, default-deny ingress, the egress policy and the image pull Secret. A developer's own
 * namespace (layout `per-developer`) is made by the Gitspace itself; the one namespace of a team stack (layout
 * `shared`) by a TeamNamespace.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { EgressConfig } from "./config";
import { NAMESPACE_OBJECTS } from "./names";
import { caddyRoleRules, defaultDenyIngressSpec, egressSpec } from "./routing";
import { TYPE_TOKENS } from "./tokens";


export interface NamespaceScaffoldArgs {
    /** The Kubernetes namespace name. */
    name: string;
    labels: Record<string, string>;
    quota: Record<string, string>;
    limitRange: k8s.types.input.core.v1.LimitRangeSpec;
    egress: EgressConfig;
    /** `.dockerconfigjson` of the image pull Secret. Defaults to none (no Secret). */
    registryCredentials?: pulumi.Input<string>;
    /** Keep the Namespace (and so the homes in it) when it leaves the program. */
    retainOnDelete: boolean;
    /** Import ID of a kept Namespace of this stack to adopt (`adoption.ts`). Defaults to none: the Namespace is created. */
    adopt?: string;
    /** A router's ServiceAccount to grant `caddyRoleRules` in the namespace. Defaults to none. */
    routerServiceAccount?: { name: string; namespace: string };
}

/** A namespace ready for gitspaces: what its pods need to wait for, and the pull Secret's name. */
export interface GitspaceNamespaceRef {
    name: pulumi.Output<string>;
    /** Name of the image pull Secret, when there is one. */
    imagePullSecret?: string;
    /** Resources a gitspace's pod must wait for (the LimitRange, the pull Secret). */
    ready: pulumi.Resource[];
}

/**
 * The ResourceQuota child of a namespace scaffold made with `prefix`: its resource name and type token (the type
 * @pulumi/kubernetes registers it with). The portal targets the shared namespace's quota by URN (components/team.ts,
 * PartialRun).
 */
export function quotaResource(prefix: string): { type: string; name: string } {
    return { type: (k8s.core.v1.ResourceQuota as unknown as { __pulumiType: string }).__pulumiType, name: `${prefix}-quota` };
}

/** Creates the namespace and its namespace-wide objects as `${prefix}-<role>` children of `parent`. */
export function createNamespace(prefix: string, args: NamespaceScaffoldArgs, parent: pulumi.Resource): GitspaceNamespaceRef {
    const opts = { parent };
    const ns = new k8s.core.v1.Namespace(`${prefix}-namespace`, {
        metadata: {
            name: args.name,
            labels: {
                ...args.labels,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }, { parent, retainOnDelete: args.retainOnDelete, ...(args.adopt !== undefined ? { import: args.adopt } : {}) });
    // Children reference `name` (an output of ns), which orders them after the Namespace.
    const name = ns.metadata.name;
    const meta = (objectName: string) => ({ name: objectName, namespace: name, labels: args.labels });

    const quota = new k8s.core.v1.ResourceQuota(quotaResource(prefix).name, { metadata: meta(NAMESPACE_OBJECTS.quota), spec: { hard: args.quota } }, opts);
    // The gitspaces' objects (the home PVC and pods count against the quota) are created once the quota's own step
    // is done: a developer added to a shared namespace finds the quota already grown. Not a dependency in the state:
    // in the shared layout every gitspace would then be a dependent of the quota, which a targeted run could no
    // longer update alone (components/team.ts, PartialRun).
    const gitspaceName = afterRegistration(name, quota);
    const limitRange = new k8s.core.v1.LimitRange(`${prefix}-limits`, { metadata: meta(NAMESPACE_OBJECTS.limitRange), spec: args.limitRange }, opts);
    new k8s.networking.v1.NetworkPolicy(`${prefix}-default-deny`, { metadata: meta(NAMESPACE_OBJECTS.defaultDeny), spec: defaultDenyIngressSpec() }, opts);
    const egress = egressSpec(args.egress);
    if (egress) new k8s.networking.v1.NetworkPolicy(`${prefix}-egress`, { metadata: meta(NAMESPACE_OBJECTS.egress), spec: egress }, opts);

    if (args.routerServiceAccount) createRouterAccess(prefix, args.routerServiceAccount, meta(NAMESPACE_OBJECTS.routerRole), parent);

    const ready: pulumi.Resource[] = [limitRange];
    if (args.registryCredentials === undefined) return { name: gitspaceName, ready };
    ready.push(new k8s.core.v1.Secret(`${prefix}-registry-credentials`, {
        metadata: meta(NAMESPACE_OBJECTS.registryCredentials),
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": args.registryCredentials },
    }, opts));
    return { name: gitspaceName, imagePullSecret: NAMESPACE_OBJECTS.registryCredentials, ready };
}

/**
 * `value` once `resource`'s registration has returned (the engine ran its step: created, updated or kept), failing
 * if it failed, without making `resource` a dependency of what takes `value` (the Output keeps `value`'s own).
 */
export function afterRegistration<T>(value: pulumi.Output<T>, resource: pulumi.Resource): pulumi.Output<T> {
    // Output#promise is the SDK's own (untyped) accessor: it rejects when the registration failed, where `apply` would
    // never call back, and it adds no dependency.
    const registered = (resource.urn as unknown as { promise(): Promise<string> }).promise();
    registered.catch(() => undefined); // reported through `value` below (or by the failed registration itself)
    return value.apply(async (v) => {
        await registered;
        return v;
    });
}

function createRouterAccess(prefix: string, account: { name: string; namespace: string }, metadata: { name: string; namespace: pulumi.Output<string> }, parent: pulumi.Resource) {
    const role = new k8s.rbac.v1.Role(`${prefix}-router-role`, { metadata, rules: caddyRoleRules() }, { parent });
    new k8s.rbac.v1.RoleBinding(`${prefix}-router-binding`, {
        metadata,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: account.name, namespace: account.namespace }],
    }, { parent });
}

/** The one namespace of a team stack in the `shared` layout (the namespace caddy2-k8s watches). */
export class TeamNamespace extends pulumi.ComponentResource {
    public readonly ref: GitspaceNamespaceRef;
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: NamespaceScaffoldArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE_TOKENS.teamNamespace, name, {}, opts);
        this.ref = createNamespace(name, args, this);
        this.namespace = this.ref.name;
        this.registerOutputs({ namespace: this.namespace });
    }
}
