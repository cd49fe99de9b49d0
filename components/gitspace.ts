/**
 * Gitspace: one developer's cloud development environment — home PVC, Secrets, Deployment, Services, routes and
 * NetworkPolicies, in a namespace of its own (layout `per-developer`, which it creates with its quota, limits and
 * namespace-wide policies) or in the team stack's shared namespace (layout `shared`).
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { IdeSpec, ideSpec } from "./catalog";
import { DeveloperConfig, EgressConfig, RouterConfig, SshConfig, TEAM_DEFAULTS, TeamConfig } from "./config";
import { buildPodSpec, clonedRepositories, gitCredentialsData, gitspaceLabels, limitRangeSpec, needsIdePassword, quotaHard, selectorLabels } from "./builders";
import { HOME_CLAIM_IMMUTABLE, HomeAdoption } from "./adoption";
import { GitspaceNamespaceRef, createNamespace } from "./namespace";
import {
    NameScope, NamespaceLayout, ObjectNames, appRouteName, developerNamespaceName, gitspaceUrl, hostname, identifier, objectNames,
} from "./names";
import {
    CADDY_MANAGED_LABEL, GATEWAY_API_VERSION, RouteTarget, SshEndpoint, allowRouterSpec, allowSshSpec, caddyAnnotations,
    caddyIgnoreChanges, httpRouteSpec, ingressAnnotations, ingressSpec, routedByCaddy, routedPorts, servicePorts,
    sshCommand, sshConfigEntry, sshServicePort, sshServiceSpec,
} from "./routing";
import { generateSshHostKey } from "./sshkeys";
import { TYPE_TOKENS } from "./tokens";

/** The `.dockerconfigjson` of the image pull Secret (`dockerConfigJson`), shared by every developer of a team. */
export type RegistryCredentials = pulumi.Input<string>;

export interface GitspaceArgs {
    /** Team and environment of the stack; part of every name (`names.ts`). */
    scope: NameScope;
    /** IDE URLs are `https://<developer>--<team>--<env>.<domain>`. */
    domain: string;
    /** The developer, with defaults already resolved (`parseTeamConfig`). */
    developer: DeveloperConfig;
    /** Image of the developer's IDE flavor. */
    image: pulumi.Input<string>;
    /** How the IDE and app ports are routed, and which router may connect. */
    router: RouterConfig;
    /** How sshd of SSH IDEs is exposed. */
    ssh: SshConfig;
    /** Egress policy of the gitspace's own namespace (unused with `sharedNamespace`). */
    egress: EgressConfig;
    /**
     * The team stack's shared namespace (layout `shared`): the gitspace's objects go there, named `<role>--<developer>`.
     * Defaults to a namespace of the gitspace's own, `gitspace--<team>--<env>--<developer>`.
     */
    sharedNamespace?: GitspaceNamespaceRef;
    /** Storage class of the home PVC. Defaults to the cluster default. */
    storageClass?: string;
    /** Who authenticates web IDE users. Defaults to `password` (a generated password per developer). */
    ideAuth?: TeamConfig["ideAuth"];
    /** Credentials to pull the image, as an image pull Secret of the gitspace's own namespace. Defaults to none. */
    registryCredentials?: RegistryCredentials;
    /** The kept Namespace and home PVC to adopt (`planAdoption`). Defaults to none: both are created. */
    adopt?: HomeAdoption;
}

/** What every createX helper needs. */
interface Ctx {
    name: string;
    args: GitspaceArgs;
    parent: Gitspace;
    spec: IdeSpec;
    layout: NamespaceLayout;
    objects: ObjectNames;
    labels: Record<string, string>;
    selector: Record<string, string>;
    ns: GitspaceNamespaceRef;
    meta: (objectName: string) => { name: string; namespace: pulumi.Output<string>; labels: Record<string, string> };
}

export class Gitspace extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    /** The web IDE's URL; undefined for SSH IDEs and when nothing routes (router mode none). */
    public readonly url?: string;
    /** URL per app port (gateway and ingress modes). */
    public readonly appUrls: Record<string, string>;
    /** The web IDE password; undefined for SSH IDEs or when a proxy authenticates. */
    public readonly password?: pulumi.Output<string>;
    /** SSH IDEs: a ready-to-paste ssh command, and an ssh_config Host block. */
    public readonly ssh?: pulumi.Output<string>;
    public readonly sshConfig?: pulumi.Output<string>;

    constructor(name: string, args: GitspaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE_TOKENS.gitspace, name, {}, opts);
        const ctx = context(name, args, this);
        const home = createHome(ctx);
        const { secrets, password } = createSecrets(ctx);
        createPolicies(ctx);
        createDeployment(ctx, [home, ...secrets, ...ctx.ns.ready]);
        const sshService = createServices(ctx);
        createRoutes(ctx);

        const { scope, developer, domain, router } = args;
        this.namespace = ctx.ns.name;
        this.password = password;
        this.url = ctx.spec.access === "web" && router.mode !== "none" ? gitspaceUrl(scope, domain, developer.name) : undefined;
        this.appUrls = router.mode === "gateway" || router.mode === "ingress"
            ? Object.fromEntries(developer.ports.map((port) => [String(port), gitspaceUrl(scope, domain, developer.name, port)]))
            : {};
        if (ctx.spec.access === "ssh") {
            const endpoint = sshEndpoint(ctx, sshService);
            this.ssh = endpoint.apply(sshCommand);
            this.sshConfig = endpoint.apply(sshConfigEntry);
        }
        this.registerOutputs({
            namespace: this.namespace, url: this.url, appUrls: this.appUrls, password: this.password, ssh: this.ssh, sshConfig: this.sshConfig,
        });
    }
}

function context(name: string, args: GitspaceArgs, parent: Gitspace): Ctx {
    const { scope, developer } = args;
    const layout: NamespaceLayout = args.sharedNamespace ? "shared" : "per-developer";
    const labels = gitspaceLabels(scope, developer);
    const ns = args.sharedNamespace ?? createNamespace(name, {
        name: developerNamespaceName(scope, developer.name),
        labels,
        quota: quotaHard(developer),
        limitRange: limitRangeSpec(developer),
        egress: args.egress,
        registryCredentials: args.registryCredentials,
        // Home data outlives the developer's entry in config (and `pulumi destroy`) unless retainHome is false.
        retainOnDelete: developer.retainHome,
        adopt: args.adopt?.namespace,
    }, parent);
    return {
        name, args, parent, layout, labels, ns,
        spec: ideSpec(developer.ide),
        objects: objectNames(developer.name, layout),
        selector: selectorLabels(scope, developer),
        meta: (objectName) => ({ name: objectName, namespace: ns.name, labels }),
    };
}

function createHome(ctx: Ctx): k8s.core.v1.PersistentVolumeClaim {
    const { developer, adopt } = ctx.args;
    return new k8s.core.v1.PersistentVolumeClaim(`${ctx.name}-home`, {
        metadata: {
            ...ctx.meta(ctx.objects.homeClaim),
            // With WaitForFirstConsumer storage the claim binds only once the pod is scheduled.
            annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: {
            accessModes: ["ReadWriteOnce"],
            // A kept home is never asked to shrink (Kubernetes refuses it).
            resources: { requests: { storage: adopt?.storage ?? developer.storage } },
            ...(ctx.args.storageClass ? { storageClassName: ctx.args.storageClass } : {}),
            // Reuse an existing volume (a legacy gitspace's): the claim binds to exactly that PV.
            ...(developer.homeVolumeName ? { volumeName: developer.homeVolumeName } : {}),
        },
    }, {
        parent: ctx.parent,
        retainOnDelete: developer.retainHome,
        // Immutable in Kubernetes: a change could only replace the claim, i.e. give the developer an empty home.
        ignoreChanges: HOME_CLAIM_IMMUTABLE,
        ...(adopt?.claim !== undefined ? { import: adopt.claim } : {}),
    });
}

function createSecrets(ctx: Ctx): { secrets: pulumi.Resource[]; password?: pulumi.Output<string> } {
    const { developer, scope } = ctx.args;
    const parent = { parent: ctx.parent };
    const secret = (role: string, objectName: string, stringData: Record<string, pulumi.Input<string>>, opts: pulumi.CustomResourceOptions = {}) =>
        new k8s.core.v1.Secret(`${ctx.name}-${role}`, { metadata: ctx.meta(objectName), type: "Opaque", stringData }, { ...parent, ...opts });
    const secrets: pulumi.Resource[] = [];
    let password: pulumi.Output<string> | undefined;
    if (developer.git) {
        secrets.push(secret("git-credentials", ctx.objects.gitCredentials, gitCredentialsData(developer.git, clonedRepositories(developer), (token) => pulumi.secret(token))));
    }
    if (needsIdePassword(developer, ctx.args.ideAuth ?? TEAM_DEFAULTS.ideAuth)) {
        const generated = new random.RandomPassword(`${ctx.name}-ide-password`, { length: 24, special: false }, parent);
        password = pulumi.secret(generated.result);
        secrets.push(secret("ide-password", ctx.objects.idePassword, { password: generated.result }));
    }
    if (ctx.spec.access === "ssh") {
        secrets.push(secret("ssh-authorized-keys", ctx.objects.sshAuthorizedKeys, { authorized_keys: developer.sshPublicKeys.join("\n") + "\n" }));
        // Generated once: later runs produce a different key, which ignoreChanges discards.
        const hostKey = generateSshHostKey(`${identifier(scope, developer.name)}.gitspace`);
        secrets.push(secret("ssh-host-key", ctx.objects.sshHostKey, {
            ssh_host_ed25519_key: pulumi.secret(hostKey.privateKey),
            "ssh_host_ed25519_key.pub": hostKey.publicKey,
        }, { ignoreChanges: ["stringData", "data"] }));
    }
    return { secrets, password };
}

/** The router in on the ports it routes; sshd open to the allowed sources when exposed. Nothing else comes in. */
function createPolicies(ctx: Ctx) {
    const { router, ssh, developer } = ctx.args;
    const parent = { parent: ctx.parent };
    const routerSpec = allowRouterSpec(router, ctx.selector, routedPorts(router, ctx.spec, developer.ports));
    if (routerSpec) {
        new k8s.networking.v1.NetworkPolicy(`${ctx.name}-allow-router`, { metadata: ctx.meta(ctx.objects.allowRouter), spec: routerSpec }, parent);
    }
    const sshSpec = allowSshSpec(ssh, ctx.spec, ctx.selector);
    if (sshSpec) {
        new k8s.networking.v1.NetworkPolicy(`${ctx.name}-allow-ssh`, { metadata: ctx.meta(ctx.objects.allowSsh), spec: sshSpec }, parent);
    }
}

function createDeployment(ctx: Ctx, dependsOn: pulumi.Resource[]): k8s.apps.v1.Deployment {
    const { developer, router, scope } = ctx.args;
    const caddy = routedByCaddy(router, ctx.spec);
    // caddy2-k8s reads its label and port annotation on the Deployment itself; the pod template carries them too.
    const routeLabels: Record<string, string> = caddy ? { ...CADDY_MANAGED_LABEL, ...ctx.selector } : {};
    const routeAnnotations: Record<string, string> = caddy ? caddyAnnotations(ctx.spec) : {};
    // Stopped: no pod will bind a WaitForFirstConsumer home, so there is no rollout to wait for.
    const awaitAnnotations: Record<string, string> = developer.running ? {} : { "pulumi.com/skipAwait": "true" };
    const annotations = { ...routeAnnotations, ...awaitAnnotations };
    return new k8s.apps.v1.Deployment(`${ctx.name}-deployment`, {
        metadata: {
            ...ctx.meta(ctx.objects.deployment),
            labels: { ...ctx.labels, ...routeLabels },
            ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        },
        spec: {
            replicas: developer.running ? 1 : 0,
            // A ReadWriteOnce home cannot be attached to two pods: the old pod goes before the new one starts.
            strategy: { type: "Recreate" },
            selector: { matchLabels: ctx.selector },
            template: {
                metadata: {
                    labels: { ...ctx.labels, ...ctx.selector, ...routeLabels },
                    ...(caddy ? { annotations: routeAnnotations } : {}),
                },
                spec: buildPodSpec({
                    team: scope.team, developer, ideAuth: ctx.args.ideAuth ?? TEAM_DEFAULTS.ideAuth, image: ctx.args.image,
                    imagePullSecret: ctx.ns.imagePullSecret, hasGitCredentials: developer.git !== undefined, objects: ctx.objects,
                }),
            },
        },
    }, {
        parent: ctx.parent,
        dependsOn,
        // The annotations caddy2-k8s writes back are never ours: a following `up` must not show them as a change.
        ...(caddy ? { ignoreChanges: caddyIgnoreChanges() } : {}),
    });
}

/** The ClusterIP Service (IDE and app ports); for SSH IDEs exposed by NodePort/LoadBalancer, a Service for sshd only. */
function createServices(ctx: Ctx): k8s.core.v1.Service | undefined {
    const { developer, ssh } = ctx.args;
    const parent = { parent: ctx.parent };
    new k8s.core.v1.Service(`${ctx.name}-service`, {
        // Not awaited: the provider would look for ready Pods behind it, 10 s for a stopped gitspace (which has none:
        // an added developer's update took 10 s longer for it); a running one's rollout is awaited on the Deployment.
        metadata: { ...ctx.meta(ctx.objects.service), annotations: { "pulumi.com/skipAwait": "true" } },
        spec: { selector: ctx.selector, ports: servicePorts(ctx.spec, developer.ports) },
    }, parent);
    if (ctx.spec.access !== "ssh" || ssh.serviceType === "ClusterIP") return undefined;
    return new k8s.core.v1.Service(`${ctx.name}-ssh-service`, {
        metadata: ctx.meta(ctx.objects.sshService),
        spec: sshServiceSpec(ssh, ctx.spec, ctx.selector, developer.sshNodePort),
    }, parent);
}

/** HTTPRoutes (gateway) or one Ingress (ingress) for the web IDE and the app ports; never for sshd. */
function createRoutes(ctx: Ctx) {
    const { router, developer, scope, domain } = ctx.args;
    if (router.mode !== "gateway" && router.mode !== "ingress") return;
    const target = (port?: number): RouteTarget => ({ host: hostname(scope, domain, developer.name, port), service: ctx.objects.service, port: port ?? ctx.spec.port });
    const ide = ctx.spec.access === "web" ? [target()] : [];
    const apps = developer.ports.map((port) => ({ port, target: target(port) }));
    const parent = { parent: ctx.parent };
    if (router.mode === "ingress") {
        const targets = [...ide, ...apps.map((a) => a.target)];
        if (targets.length === 0) return;
        new k8s.networking.v1.Ingress(`${ctx.name}-ingress`, {
            // Not awaited: the provider would wait for a load balancer address and for endpoints, which a stopped
            // gitspace never has and some controllers never publish.
            metadata: { ...ctx.meta(ctx.objects.route), annotations: { ...ingressAnnotations(router), "pulumi.com/skipAwait": "true" } },
            spec: ingressSpec(router, ctx.objects.route, targets),
        }, parent);
        return;
    }
    const httpRoute = (resourceName: string, objectName: string, t: RouteTarget) => new k8s.apiextensions.CustomResource(resourceName, {
        apiVersion: GATEWAY_API_VERSION,
        kind: "HTTPRoute",
        metadata: { ...ctx.meta(objectName), ...(Object.keys(router.annotations).length > 0 ? { annotations: router.annotations } : {}) },
        spec: httpRouteSpec(router.parentRefs, t),
    }, parent);
    for (const t of ide) httpRoute(`${ctx.name}-route`, ctx.objects.route, t);
    for (const app of apps) httpRoute(`${ctx.name}-app-route-${app.port}`, appRouteName(developer.name, ctx.layout, app.port), app.target);
}

/** Where an SSH client connects: through a port-forward (ClusterIP), a node (NodePort) or the load balancer. */
function sshEndpoint(ctx: Ctx, service: k8s.core.v1.Service | undefined): pulumi.Output<SshEndpoint> {
    const { ssh, developer, scope } = ctx.args;
    const base = { alias: identifier(scope, developer.name), user: developer.user.name };
    if (service === undefined) {
        return ctx.ns.name.apply((ns) => ({
            ...base, host: "localhost", port: ctx.spec.port,
            before: `kubectl -n ${ns} port-forward svc/${ctx.objects.service} ${ctx.spec.port}`,
        }));
    }
    if (ssh.serviceType === "NodePort") {
        const nodePort = developer.sshNodePort ?? service.spec.ports.apply((ports) => ports[0].nodePort);
        return pulumi.output(nodePort).apply((port) => ({ ...base, host: ssh.host!, port }));
    }
    const lbHost = ssh.host ?? service.status.loadBalancer.ingress.apply((ingress) => ingress?.[0]?.hostname || ingress?.[0]?.ip || "<pending load balancer>");
    return pulumi.output(lbHost).apply((host) => ({ ...base, host, port: sshServicePort(ssh, ctx.spec) }));
}
