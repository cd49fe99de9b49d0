/**
 * The schemas of the routing, reachability and isolation keys of the stack config: `gitspace:router`,
 * `gitspace:namespaceLayout`, `gitspace:environment`, `gitspace:ssh`, `gitspace:egress`, and the developer fields
 * `ports` and `sshNodePort`. Defaults are resolved here, once; rules that span keys are in `routingProblems`.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { SSH_PORT, WEB_PORT } from "./catalog";
import { DNS_LABEL, DNS_SUBDOMAIN, NAMESPACE_LAYOUTS, NamespaceLayout, QUALIFIED_NAME_PART, metadataKeyProblem, nameComponentProblem } from "./names";

export const ROUTER_MODES = ["caddy2-k8s", "gateway", "ingress", "none"] as const;
export type RouterMode = (typeof ROUTER_MODES)[number];
export const SSH_SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type SshServiceType = (typeof SSH_SERVICE_TYPES)[number];

/** caddy2-k8s watches this namespace by default (its `k8s_router { namespace … }` is the gitspaces' namespace). */
export const DEFAULT_CADDY_NAMESPACE = "caddy-system";
/**
 * Ranges a gitspace may not reach by default: RFC 1918, shared address space (RFC 6598, used by several clouds for
 * pods and services), link-local (cloud metadata at 169.254.169.254), IPv6 unique-local and link-local. Pod, service
 * and API server addresses of almost every cluster are inside them.
 */
export const DEFAULT_DENIED_CIDRS = [
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10",
];
/** Who may connect to an exposed SSH port by default: anyone (sshd accepts only the configured keys). */
export const DEFAULT_SSH_ALLOWED_CIDRS = ["0.0.0.0/0", "::/0"];

const required = (what: string) => (iss: { input?: unknown }) =>
    iss.input === undefined ? "required" : `must be ${what}`;

const dnsLabel = (what: string) => z.string({ error: required("a string") })
    .max(63, { error: "must be at most 63 characters" })
    .regex(DNS_LABEL, { error: (iss) => `invalid ${what} ${JSON.stringify(iss.input)}; must be a DNS label (lowercase letters, digits, '-')` });
const dnsSubdomain = (what: string) => z.string({ error: required("a string") })
    .max(253, { error: "must be at most 253 characters" })
    .regex(DNS_SUBDOMAIN, { error: (iss) => `invalid ${what} ${JSON.stringify(iss.input)}; must be a DNS subdomain (lowercase letters, digits, '-', '.')` });

/** A team, environment or developer name: a DNS label without `--`. */
export const nameComponent = () => z.string({ error: required("a string") }).superRefine((name, ctx) => {
    const problem = nameComponentProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const port = (what: string, min = 1, why = "") => z.number({ error: required(`an integer port (${what})`) })
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}${why}` })
    .max(65535, { error: `must be between ${min} and 65535` });

/** Label or annotation map; label values are checked (annotation values are free text). */
const metadataMap = (kind: "label" | "annotation") => z.record(
    z.string(),
    kind === "label"
        ? z.string({ error: "must be a string" }).max(63, { error: "label values are at most 63 characters" })
            .refine((v) => v === "" || QUALIFIED_NAME_PART.test(v), { error: (iss) => `invalid label value ${JSON.stringify(iss.input)}` })
        : z.string({ error: "must be a string" }).max(4096, { error: "must be at most 4096 characters" }),
    { error: (iss) => (iss.code === "invalid_type" ? `must be a map of ${kind} keys to strings` : undefined) },
).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
        const problem = metadataKeyProblem(key);
        if (problem) ctx.addIssue({ code: "custom", path: [key], message: problem });
    }
});

// ---------------------------------------------------------------------------------------------------------------
// CIDRs

/** Why `cidr` is not a canonical CIDR (`10.0.0.0/8`, `fd00::/8`, host bits zero), or undefined. */
export function cidrProblem(cidr: string): string | undefined {
    const bad = `invalid CIDR ${JSON.stringify(cidr)}; expected e.g. "10.0.0.0/8" or "fd00::/8"`;
    if (!/^[0-9a-f.:]+\/[0-9]{1,3}$/.test(cidr)) return bad;
    const v4 = ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr);
    if (!v4 && !(cidr.includes(":") && ipaddr.IPv6.isValidCIDR(cidr))) return bad;
    const [, bits] = ipaddr.parseCIDR(cidr);
    const network = v4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    const canonical = `${network.toString()}/${bits}`;
    if (canonical !== cidr) return `CIDR ${JSON.stringify(cidr)} is not in canonical form; write ${JSON.stringify(canonical)}`;
    return undefined;
}

/** True when the two valid CIDRs share an address (one contains the other). */
export function cidrsOverlap(a: string, b: string): boolean {
    const pa = ipaddr.parseCIDR(a);
    const pb = ipaddr.parseCIDR(b);
    if (pa[0].kind() !== pb[0].kind()) return false;
    return pa[1] <= pb[1] ? pb[0].match(pa) : pa[0].match(pb);
}

export const cidrFamily = (cidr: string): "ipv4" | "ipv6" => (cidr.includes(":") ? "ipv6" : "ipv4");

/** A list of canonical CIDRs, none overlapping another. */
const cidrList = () => z.array(z.string({ error: "must be a CIDR string" }), { error: "must be a list of CIDRs" })
    .max(256, { error: "must list at most 256 CIDRs" })
    .superRefine((cidrs, ctx) => {
        cidrs.forEach((cidr, i) => {
            const problem = cidrProblem(cidr);
            if (problem) {
                ctx.addIssue({ code: "custom", path: [i], message: problem });
                return;
            }
            const other = cidrs.findIndex((c, j) => j < i && cidrProblem(c) === undefined && cidrsOverlap(c, cidr));
            if (other !== -1) ctx.addIssue({ code: "custom", path: [i], message: `${cidr} overlaps [${other}] ${cidrs[other]}; list each range once` });
        });
    });

// ---------------------------------------------------------------------------------------------------------------
// Router

const routerPeer = {
    /** The router's namespace: the only namespace allowed to reach the routed ports. */
    namespace: dnsLabel("namespace"),
    /** Narrows the allowed peers to the router's pods in that namespace. Defaults to every pod of the namespace. */
    podLabels: metadataMap("label").optional(),
};

const parentRefSchema = z.strictObject({
    name: dnsSubdomain("Gateway name"),
    namespace: dnsLabel("namespace").optional(),
    sectionName: z.string({ error: "must be a string" }).max(253).regex(DNS_SUBDOMAIN, { error: (iss) => `invalid listener name ${JSON.stringify(iss.input)}` }).optional(),
    port: port("the listener port").optional(),
}, { error: required("an object {name, namespace?, sectionName?, port?}") });

const ingressTlsSchema = z.discriminatedUnion("mode", [
    /** The controller's default certificate (e.g. a wildcard for the domain): `tls: [{hosts}]`, no secret. */
    z.strictObject({ mode: z.literal("default-certificate") }),
    /** A Secret with the certificate, present in every gitspace namespace. */
    z.strictObject({ mode: z.literal("secret"), secretName: dnsSubdomain("Secret name") }),
    /** cert-manager issues one certificate per Ingress into `<ingress>-tls`. */
    z.strictObject({
        mode: z.literal("issuer"),
        kind: z.enum(["ClusterIssuer", "Issuer"], { error: "must be ClusterIssuer or Issuer" }).default("ClusterIssuer"),
        name: dnsSubdomain("issuer name"),
    }),
], { error: (iss) => iss.input === undefined ? "required" : "must be {mode: default-certificate | secret | issuer, …}" });

const routerUnion = z.preprocess(
    // `router: {namespace: …}` (no mode) keeps meaning the caddy2-k8s router of earlier versions.
    (v) => (v !== null && typeof v === "object" && !Array.isArray(v) && !("mode" in v) ? { mode: "caddy2-k8s", ...v } : v),
    z.discriminatedUnion("mode", [
        z.strictObject({
            mode: z.literal("caddy2-k8s"),
            ...routerPeer,
            namespace: dnsLabel("namespace").default(DEFAULT_CADDY_NAMESPACE),
            /** Caddy's ServiceAccount: granted read/patch of Deployments and read of Pods in the shared namespace. */
            serviceAccount: z.strictObject({
                name: dnsSubdomain("ServiceAccount name"),
                /** Defaults to the router's namespace. */
                namespace: dnsLabel("namespace").optional(),
            }, { error: required("an object {name, namespace?}") }).optional(),
        }),
        z.strictObject({
            mode: z.literal("gateway"),
            ...routerPeer,
            parentRefs: z.array(parentRefSchema, { error: required("a list of Gateway references") })
                .min(1, { error: "must list at least one Gateway" }).max(16, { error: "must list at most 16 Gateways" }),
            annotations: metadataMap("annotation").default({}),
        }),
        z.strictObject({
            mode: z.literal("ingress"),
            ...routerPeer,
            className: dnsSubdomain("IngressClass name").optional(),
            tls: ingressTlsSchema.optional(),
            annotations: metadataMap("annotation").default({}),
        }),
        z.strictObject({ mode: z.literal("none") }),
    ], { error: (iss) => `unknown router mode ${JSON.stringify((iss.input as { mode?: unknown } | undefined)?.mode)}; expected one of ${ROUTER_MODES.join(", ")}` }),
);

type ParsedRouter = z.output<typeof routerUnion>;
type CaddyRouter = Extract<ParsedRouter, { mode: "caddy2-k8s" }>;
/** The router config with the ServiceAccount's namespace resolved (the router's own by default). */
export type ResolvedRouter = Exclude<ParsedRouter, CaddyRouter>
    | (Omit<CaddyRouter, "serviceAccount"> & { serviceAccount?: { name: string; namespace: string } });

export const routerSchema = routerUnion.transform((r): ResolvedRouter => (r.mode === "caddy2-k8s" && r.serviceAccount
    ? { ...r, serviceAccount: { name: r.serviceAccount.name, namespace: r.serviceAccount.namespace ?? r.namespace } }
    : r as ResolvedRouter)).default({ mode: "caddy2-k8s", namespace: DEFAULT_CADDY_NAMESPACE });

export type RouterConfig = z.output<typeof routerSchema>;
export type RoutedRouter = Exclude<RouterConfig, { mode: "none" }>;
export type ParentRef = z.output<typeof parentRefSchema>;
export type IngressTls = z.output<typeof ingressTlsSchema>;

// ---------------------------------------------------------------------------------------------------------------
// SSH, egress, layout, environment

export const sshSchema = z.strictObject({
    /** Type of the Service exposing sshd of SSH gitspaces (a second Service; the ClusterIP one stays). */
    serviceType: z.enum(SSH_SERVICE_TYPES, { error: (iss) => `unknown serviceType ${JSON.stringify(iss.input)}; expected one of ${SSH_SERVICE_TYPES.join(", ")}` }).default("ClusterIP"),
    /** Address developers connect to: a node's address or DNS name (NodePort), or overrides the load balancer's. */
    host: z.string({ error: "must be a string" }).max(253)
        .refine((h) => DNS_SUBDOMAIN.test(h) || ipaddr.isValid(h) && /^[0-9a-f.:]+$/.test(h), { error: (iss) => `invalid host ${JSON.stringify(iss.input)}; expected a DNS name or an IP address` })
        .optional(),
    /** Sources allowed to reach an exposed sshd. */
    allowedCidrs: cidrList().min(1, { error: "must list at least one CIDR" }).default([...DEFAULT_SSH_ALLOWED_CIDRS]),
}).default({ serviceType: "ClusterIP", allowedCidrs: [...DEFAULT_SSH_ALLOWED_CIDRS] });
export type SshConfig = z.output<typeof sshSchema>;

const DEFAULT_DNS = { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" }, cidrs: [] as string[] };
const dnsPeerSchema = z.strictObject({
    /** Namespace and labels of the cluster DNS pods. */
    namespace: dnsLabel("namespace").default(DEFAULT_DNS.namespace),
    podLabels: metadataMap("label").default({ ...DEFAULT_DNS.podLabels }),
    /** DNS servers outside pods (node-local caches, a DNS on the node): reachable on port 53 only. */
    cidrs: cidrList().default([]),
}).default({ ...DEFAULT_DNS, podLabels: { ...DEFAULT_DNS.podLabels }, cidrs: [] });

export const egressSchema = z.strictObject({
    /** `false`: no egress policy (pods reach everything the cluster's network allows). */
    enabled: z.boolean({ error: "must be true or false" }).default(true),
    /** Ranges the internet rule excludes: the cluster's own (pods, services, API server, nodes) and link-local. */
    deniedCidrs: cidrList().default([...DEFAULT_DENIED_CIDRS]),
    /** Extra destinations allowed on every port, even inside a denied range (an in-cluster git server, a proxy). */
    allowedCidrs: cidrList().default([]),
    /** The cluster DNS pods gitspaces may query on port 53. */
    dns: dnsPeerSchema,
}).default({ enabled: true, deniedCidrs: [...DEFAULT_DENIED_CIDRS], allowedCidrs: [], dns: { ...DEFAULT_DNS, podLabels: { ...DEFAULT_DNS.podLabels }, cidrs: [] } });
export type EgressConfig = z.output<typeof egressSchema>;

export const namespaceLayoutSchema = z.enum(NAMESPACE_LAYOUTS, {
    error: (iss) => `unknown namespace layout ${JSON.stringify(iss.input)}; expected one of ${NAMESPACE_LAYOUTS.join(", ")}`,
}).optional();

export const environmentSchema = nameComponent().optional();

/** App ports (dev servers) routed to `<identifier>--<port>.<domain>`. */
export const portsSchema = z.array(
    port("e.g. 3000", 1024, ": gitspaces run unprivileged and cannot bind privileged ports")
        .refine((p) => p !== WEB_PORT && p !== SSH_PORT, { error: (iss) => `port ${String(iss.input)} is reserved for the IDE (${WEB_PORT} web, ${SSH_PORT} SSH)` }),
    { error: "must be a list of port numbers" },
).max(16, { error: "must list at most 16 ports" }).superRefine((ports, ctx) => {
    ports.forEach((p, i) => {
        const first = ports.indexOf(p);
        if (first !== i) ctx.addIssue({ code: "custom", path: [i], message: `duplicate port ${p} (also [${first}])` });
    });
});

/** A fixed NodePort for the developer's sshd; the cluster picks one when unset. */
export const sshNodePortSchema = port("a NodePort", 1024, " (NodePorts are in the cluster's service-node-port-range, 30000-32767 by default)");

// ---------------------------------------------------------------------------------------------------------------
// Rules spanning keys

export interface RoutingView {
    router?: RouterConfig;
    namespaceLayout?: NamespaceLayout;
    ssh?: SshConfig;
    developers: { index: number; name: string; access: "web" | "ssh"; ports: number[]; sshNodePort?: number }[];
}

export interface PathProblem { path: (string | number)[]; message: string }

/** The layout when `gitspace:namespaceLayout` is unset: caddy2-k8s watches one namespace, the others route any. */
export function defaultLayout(router: RouterConfig): NamespaceLayout {
    return router.mode === "caddy2-k8s" ? "shared" : "per-developer";
}

/** Problems of the combination of router, layout, SSH exposure and developers, with their config paths. */
export function routingProblems(view: RoutingView): PathProblem[] {
    const problems: PathProblem[] = [];
    const { router, ssh } = view;
    if (router?.mode === "caddy2-k8s" && view.namespaceLayout === "per-developer") {
        problems.push({
            path: ["namespaceLayout"],
            message: "caddy2-k8s watches a single namespace and cannot route per-developer namespaces; use \"shared\" (the default for caddy2-k8s) or another router mode",
        });
    }
    if (ssh?.serviceType === "NodePort" && ssh.host === undefined) {
        problems.push({ path: ["ssh", "host"], message: "required with serviceType NodePort: the node address or DNS name developers connect to" });
    }
    const nodePorts = new Map<number, number>();
    for (const dev of view.developers) {
        if (router?.mode === "caddy2-k8s" && dev.ports.length > 0) {
            problems.push({ path: ["developers", dev.index, "ports"], message: "caddy2-k8s routes only the IDE port; app ports need router mode gateway or ingress" });
        }
        if (dev.sshNodePort === undefined) continue;
        if (dev.access !== "ssh") {
            problems.push({ path: ["developers", dev.index, "sshNodePort"], message: "only SSH IDEs have an SSH port" });
        } else if (ssh?.serviceType !== "NodePort") {
            problems.push({ path: ["developers", dev.index, "sshNodePort"], message: `needs gitspace:ssh.serviceType NodePort (it is ${ssh?.serviceType ?? "unset"})` });
        }
        const first = nodePorts.get(dev.sshNodePort);
        if (first !== undefined) {
            problems.push({ path: ["developers", dev.index, "sshNodePort"], message: `NodePort ${dev.sshNodePort} is already taken by developers[${first}]` });
        } else {
            nodePorts.set(dev.sshNodePort, dev.index);
        }
    }
    return problems;
}
