/**
 * Pure builders for how a gitspace is reached and isolated: the caddy2-k8s contract, HTTPRoutes, Ingresses, the
 * Services, the NetworkPolicies (ingress from the router and to sshd, egress to DNS and the internet) and the SSH
 * connection strings. Plain functions of the resolved config, tested directly.
 */
import * as k8s from "@pulumi/kubernetes";
import { IdeSpec } from "./catalog";
import { EgressConfig, RouterConfig, SshConfig } from "./config";
import { ParentRef, RoutedRouter, cidrFamily } from "./routing-config";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;
type NetworkPolicyPeer = k8s.types.input.networking.v1.NetworkPolicyPeer;
type ServicePort = k8s.types.input.core.v1.ServicePort;
type IngressSpec = k8s.types.input.networking.v1.IngressSpec;

export const GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1";
/** The namespace label every namespace carries (Kubernetes ≥ 1.21). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

// ---------------------------------------------------------------------------------------------------------------
// caddy2-k8s

/** The label caddy2-k8s selects Deployments by. */
export const CADDY_MANAGED_LABEL = { "gitspace.app.io/managed-by": "caddy" } as const;
export const CADDY_PORT_ANNOTATION = "gitspace.caddy.default.port";
/** Annotations caddy2-k8s writes back on the Deployment; never part of the program's desired state. */
export const CADDY_WRITTEN_ANNOTATIONS = ["gitspace.caddy.route.url", "gitspace.caddy.route.synced-at", "gitspace.caddy.route.id"] as const;

/** `ignoreChanges` paths for the annotations caddy2-k8s writes, so they never show as a change. */
export function caddyIgnoreChanges(): string[] {
    return CADDY_WRITTEN_ANNOTATIONS.map((key) => `metadata.annotations["${key}"]`);
}

/** The port annotation caddy2-k8s reads on the Deployment (and that the pod template carries too). */
export function caddyAnnotations(spec: IdeSpec): Record<string, string> {
    return { [CADDY_PORT_ANNOTATION]: String(spec.port) };
}

/**
 * What caddy2-k8s does in the namespace it watches: list and watch Deployments, write its annotations back, find the
 * ready Pod's IP. Nothing else (no Secrets, no exec).
 */
export function caddyRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
    return [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch", "update"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    ];
}

/** True when caddy2-k8s must route this gitspace: only web IDEs, never sshd. */
export function routedByCaddy(router: RouterConfig, spec: IdeSpec): boolean {
    return router.mode === "caddy2-k8s" && spec.access === "web";
}

// ---------------------------------------------------------------------------------------------------------------
// Ports and Services

/** The ports the router reaches on the pod: the web IDE (every mode but none) and app ports (gateway, ingress). */
export function routedPorts(router: RouterConfig, spec: IdeSpec, appPorts: readonly number[]): number[] {
    if (router.mode === "none") return [];
    const ports = spec.access === "web" ? [spec.port] : [];
    return router.mode === "gateway" || router.mode === "ingress" ? [...ports, ...appPorts] : ports;
}

export const appPortName = (port: number) => `app-${port}`;

/** The ClusterIP Service: the IDE port and every app port. */
export function servicePorts(spec: IdeSpec, appPorts: readonly number[]): ServicePort[] {
    return [
        { name: "ide", port: spec.port, targetPort: spec.port, protocol: "TCP" },
        ...appPorts.map((port) => ({ name: appPortName(port), port, targetPort: port, protocol: "TCP" })),
    ];
}

/** Port of the exposed SSH Service: 22 behind a load balancer, the IDE port otherwise. */
export function sshServicePort(ssh: SshConfig, spec: IdeSpec): number {
    return ssh.serviceType === "LoadBalancer" ? 22 : spec.port;
}

/** The Service exposing only sshd, for `ssh.serviceType` NodePort or LoadBalancer. */
export function sshServiceSpec(ssh: SshConfig, spec: IdeSpec, selector: Record<string, string>, nodePort?: number): k8s.types.input.core.v1.ServiceSpec {
    return {
        type: ssh.serviceType,
        selector,
        ports: [{ name: "ssh", port: sshServicePort(ssh, spec), targetPort: spec.port, protocol: "TCP", ...(nodePort !== undefined ? { nodePort } : {}) }],
    };
}

// ---------------------------------------------------------------------------------------------------------------
// NetworkPolicies

/** The router's pods: its namespace, and its pod labels when configured (both must match). */
export function routerPeer(router: RoutedRouter): NetworkPolicyPeer {
    return {
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: router.namespace } },
        ...(router.podLabels && Object.keys(router.podLabels).length > 0 ? { podSelector: { matchLabels: { ...router.podLabels } } } : {}),
    };
}

/** Namespace-wide: no ingress unless another policy allows it. */
export function defaultDenyIngressSpec(): NetworkPolicySpec {
    return { podSelector: {}, policyTypes: ["Ingress"] };
}

/** The router in, on exactly the ports it routes; undefined when it routes none (no policy). */
export function allowRouterSpec(router: RouterConfig, selector: Record<string, string>, ports: readonly number[]): NetworkPolicySpec | undefined {
    if (router.mode === "none" || ports.length === 0) return undefined;
    return {
        podSelector: { matchLabels: { ...selector } },
        policyTypes: ["Ingress"],
        ingress: [{ from: [routerPeer(router)], ports: ports.map((port) => ({ protocol: "TCP", port })) }],
    };
}

/** sshd reachable from the allowed sources when it is exposed outside the cluster; undefined for ClusterIP. */
export function allowSshSpec(ssh: SshConfig, spec: IdeSpec, selector: Record<string, string>): NetworkPolicySpec | undefined {
    if (spec.access !== "ssh" || ssh.serviceType === "ClusterIP") return undefined;
    return {
        podSelector: { matchLabels: { ...selector } },
        policyTypes: ["Ingress"],
        ingress: [{ from: ssh.allowedCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: spec.port }] }],
    };
}

/**
 * Namespace-wide egress: DNS to the cluster DNS pods, the internet minus the denied ranges, and the allowed CIDRs on
 * every port. Undefined when egress control is off.
 */
export function egressSpec(egress: EgressConfig): NetworkPolicySpec | undefined {
    if (!egress.enabled) return undefined;
    const dns: NetworkPolicyPeer = {
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: egress.dns.namespace } },
        podSelector: { matchLabels: { ...egress.dns.podLabels } },
    };
    const internet: NetworkPolicyPeer[] = [];
    for (const [family, all] of [["ipv4", "0.0.0.0/0"], ["ipv6", "::/0"]] as const) {
        const except = egress.deniedCidrs.filter((c) => cidrFamily(c) === family);
        if (except.includes(all)) continue; // the whole family is denied
        internet.push({ ipBlock: { cidr: all, ...(except.length > 0 ? { except } : {}) } });
    }
    const dnsServers = egress.dns.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
    const rules: NonNullable<NetworkPolicySpec["egress"]> = [
        { to: [dns, ...dnsServers], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
    ];
    if (internet.length > 0) rules.push({ to: internet });
    if (egress.allowedCidrs.length > 0) rules.push({ to: egress.allowedCidrs.map((cidr) => ({ ipBlock: { cidr } })) });
    return { podSelector: {}, policyTypes: ["Egress"], egress: rules };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP routes

export interface RouteTarget {
    /** Hostname, e.g. `alice--platform--dev.gitspace.example.com`. */
    host: string;
    /** Service and port the host leads to. */
    service: string;
    port: number;
}

/** The `parentRefs` of an HTTPRoute: Gateways, by default in the route's own namespace. */
export function gatewayParentRefs(parentRefs: readonly ParentRef[]): Record<string, unknown>[] {
    return parentRefs.map((ref) => ({ group: "gateway.networking.k8s.io", kind: "Gateway", ...ref }));
}

/** A Gateway API HTTPRoute spec: one hostname, every path to one Service port. */
export function httpRouteSpec(parentRefs: readonly ParentRef[], target: RouteTarget): Record<string, unknown> {
    return {
        parentRefs: gatewayParentRefs(parentRefs),
        hostnames: [target.host],
        rules: [{
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            backendRefs: [{ name: target.service, port: target.port }],
        }],
    };
}

/** Annotations of an Ingress: the configured ones, plus cert-manager's issuer when TLS comes from an issuer. */
export function ingressAnnotations(router: Extract<RouterConfig, { mode: "ingress" }>): Record<string, string> {
    const tls = router.tls;
    const issuer: Record<string, string> = tls?.mode === "issuer"
        ? { [tls.kind === "ClusterIssuer" ? "cert-manager.io/cluster-issuer" : "cert-manager.io/issuer"]: tls.name }
        : {};
    return { ...router.annotations, ...issuer };
}

/** One Ingress for all of a gitspace's hosts; `name` is the Ingress's, for an issuer's per-Ingress Secret. */
export function ingressSpec(router: Extract<RouterConfig, { mode: "ingress" }>, name: string, targets: readonly RouteTarget[]): IngressSpec {
    const hosts = targets.map((t) => t.host);
    const tls = router.tls;
    const tlsSection = tls === undefined ? undefined
        : tls.mode === "default-certificate" ? [{ hosts }]
            : [{ hosts, secretName: tls.mode === "secret" ? tls.secretName : `${name}-tls` }];
    return {
        ...(router.className ? { ingressClassName: router.className } : {}),
        ...(tlsSection ? { tls: tlsSection } : {}),
        rules: targets.map((t) => ({
            host: t.host,
            http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: t.service, port: { number: t.port } } } }] },
        })),
    };
}

// ---------------------------------------------------------------------------------------------------------------
// SSH connection strings

export interface SshEndpoint {
    /** `Host` alias and known_hosts alias: the gitspace identifier. */
    alias: string;
    host: string;
    port: number;
    user: string;
    /** A command to run first (ClusterIP: the port-forward). */
    before?: string;
}

/** A ready-to-paste `ssh` command. */
export function sshCommand(e: SshEndpoint): string {
    const ssh = `ssh -o HostKeyAlias=${e.alias} -p ${e.port} ${e.user}@${e.host}`;
    return e.before ? `${e.before} & ${ssh}` : ssh;
}

/** An `~/.ssh/config` Host block: `ssh <alias>` connects; IDEs (Remote-SSH, Gateway) list it. */
export function sshConfigEntry(e: SshEndpoint): string {
    return [
        ...(e.before ? [`# first: ${e.before}`] : []),
        `Host ${e.alias}`,
        `  HostName ${e.host}`,
        `  Port ${e.port}`,
        `  User ${e.user}`,
        `  HostKeyAlias ${e.alias}`,
        "",
    ].join("\n");
}
