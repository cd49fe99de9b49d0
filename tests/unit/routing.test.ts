import { strict as assert } from "assert";
import { sharedLimitRangeSpec, sharedQuotaHard } from "../../components/builders";
import { ideSpec } from "../../components/catalog";
import { parseTeamConfig } from "../../components/config";
import { cidrProblem, cidrsOverlap } from "../../components/routing-config";
import {
    allowRouterSpec, allowSshSpec, caddyAnnotations, caddyIgnoreChanges, egressSpec, httpRouteSpec, ingressAnnotations,
    ingressSpec, routedByCaddy, routedPorts, servicePorts, sshCommand, sshConfigEntry, sshServiceSpec,
} from "../../components/routing";
import { SSH_KEY, rawConfig } from "./harness";

const WEB = ideSpec("vs_code_web");
const SSH = ideSpec("goland");
const team = (overrides: Record<string, unknown>) => parseTeamConfig(rawConfig(overrides));
const CADDY = team({}).router;
const GATEWAY = team({ router: { mode: "gateway", namespace: "gw", parentRefs: [{ name: "gitspace" }] } }).router;
const INGRESS = team({ router: { mode: "ingress", namespace: "ing" } }).router;
const NONE = team({ router: { mode: "none" } }).router;
const SEL = { app: "gitspace", gitspace: "a--t--dev" };

describe("routing builders: which ports are routed", () => {
    it("routes the web IDE in every mode but none, app ports only with gateway and ingress, never sshd", () => {
        assert.deepEqual(routedPorts(CADDY, WEB, [3000]), [8089]);
        assert.deepEqual(routedPorts(GATEWAY, WEB, [3000]), [8089, 3000]);
        assert.deepEqual(routedPorts(INGRESS, WEB, [3000]), [8089, 3000]);
        assert.deepEqual(routedPorts(NONE, WEB, [3000]), []);
        assert.deepEqual(routedPorts(GATEWAY, SSH, [3000]), [3000]);
        assert.deepEqual(routedPorts(CADDY, SSH, []), []);
        assert.equal(routedByCaddy(CADDY, WEB), true);
        assert.equal(routedByCaddy(CADDY, SSH), false);
        assert.equal(routedByCaddy(GATEWAY, WEB), false);
    });

    it("gives caddy2-k8s its port annotation and ignores what it writes back", () => {
        assert.deepEqual(caddyAnnotations(WEB), { "gitspace.caddy.default.port": "8089" });
        assert.deepEqual(caddyIgnoreChanges(), [
            'metadata.annotations["gitspace.caddy.route.url"]',
            'metadata.annotations["gitspace.caddy.route.synced-at"]',
            'metadata.annotations["gitspace.caddy.route.id"]',
        ]);
    });

    it("names Service ports ide and app-<port>", () => {
        assert.deepEqual(servicePorts(SSH, [3000]), [
            { name: "ide", port: 8088, targetPort: 8088, protocol: "TCP" },
            { name: "app-3000", port: 3000, targetPort: 3000, protocol: "TCP" },
        ]);
    });
});

describe("routing builders: NetworkPolicies", () => {
    it("lets exactly the router in, on the routed ports", () => {
        assert.deepEqual(allowRouterSpec(GATEWAY, SEL, [8089, 3000]), {
            podSelector: { matchLabels: SEL },
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gw" } } }], ports: [{ protocol: "TCP", port: 8089 }, { protocol: "TCP", port: 3000 }] }],
        });
        assert.equal(allowRouterSpec(GATEWAY, SEL, []), undefined, "no ports, no policy (never an empty port list, which would open all)");
        assert.equal(allowRouterSpec(NONE, SEL, [8089]), undefined);
    });

    it("narrows the router to its pods when podLabels are given (namespace AND pods)", () => {
        const router = team({ router: { mode: "ingress", namespace: "ing", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } } }).router;
        const spec = allowRouterSpec(router, SEL, [8089]) as any;
        assert.deepEqual(spec.ingress[0].from, [{
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ing" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
        }]);
    });

    it("opens sshd only when it is exposed, only to the allowed sources", () => {
        const nodePort = team({ ssh: { serviceType: "NodePort", host: "node1", allowedCidrs: ["192.0.2.0/24"] }, developers: [{ name: "a", ide: "goland", sshPublicKeys: [SSH_KEY] }] }).ssh;
        assert.deepEqual(allowSshSpec(nodePort, SSH, SEL), {
            podSelector: { matchLabels: SEL }, policyTypes: ["Ingress"],
            ingress: [{ from: [{ ipBlock: { cidr: "192.0.2.0/24" } }], ports: [{ protocol: "TCP", port: 8088 }] }],
        });
        assert.equal(allowSshSpec(nodePort, WEB, SEL), undefined);
        assert.equal(allowSshSpec(team({}).ssh, SSH, SEL), undefined, "ClusterIP: reached through port-forward, which no policy sees");
        assert.deepEqual(sshServiceSpec(nodePort, SSH, SEL).ports, [{ name: "ssh", port: 8088, targetPort: 8088, protocol: "TCP" }]);
    });

    it("denies the cluster's ranges and link-local on egress, allows DNS, the internet and the exceptions", () => {
        const spec = egressSpec(team({ egress: { allowedCidrs: ["10.1.2.3/32", "fd00::/64"] } }).egress) as any;
        assert.deepEqual(spec.podSelector, {});
        assert.deepEqual(spec.egress[0].ports, [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
        assert.deepEqual(spec.egress[1].to, [
            { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] } },
            { ipBlock: { cidr: "::/0", except: ["fc00::/7", "fe80::/10"] } },
        ]);
        assert.deepEqual(spec.egress[2].to, [{ ipBlock: { cidr: "10.1.2.3/32" } }, { ipBlock: { cidr: "fd00::/64" } }]);
        // The local cluster's pods (10.88.0.0/16), services (10.96.0.0/16) and metadata are inside the denied ranges.
        for (const addr of ["10.88.0.1/32", "10.96.0.1/32", "169.254.169.254/32"]) {
            assert.ok(spec.egress[1].to[0].ipBlock.except.some((c: string) => cidrsOverlap(c, addr)), addr);
        }
        assert.equal(egressSpec(team({ egress: { enabled: false } }).egress), undefined);
        const noDeny = egressSpec(team({ egress: { deniedCidrs: [] } }).egress) as any;
        assert.deepEqual(noDeny.egress[1].to, [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }]);
    });
});

describe("routing builders: HTTP routes", () => {
    const target = { host: "a--t--dev.d.io", service: "gitspace", port: 8089 };
    it("builds an HTTPRoute attached to the configured Gateways", () => {
        const router = team({ router: { mode: "gateway", namespace: "gw", parentRefs: [{ name: "gitspace", namespace: "traefik-system", sectionName: "websecure", port: 8443 }, { name: "internal" }] } }).router as any;
        assert.deepEqual(httpRouteSpec(router.parentRefs, target), {
            parentRefs: [
                { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gitspace", namespace: "traefik-system", sectionName: "websecure", port: 8443 },
                { group: "gateway.networking.k8s.io", kind: "Gateway", name: "internal" },
            ],
            hostnames: ["a--t--dev.d.io"],
            rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "gitspace", port: 8089 }] }],
        });
    });

    it("builds an Ingress: class, TLS per mode, issuer annotation kinds", () => {
        const ingress = (r: Record<string, unknown>) => team({ router: { mode: "ingress", namespace: "ing", ...r } }).router as any;
        const issuer = ingress({ tls: { mode: "issuer", kind: "Issuer", name: "local-ca" }, annotations: { a: "1" } });
        assert.deepEqual(ingressAnnotations(issuer), { a: "1", "cert-manager.io/issuer": "local-ca" });
        assert.deepEqual(ingressSpec(issuer, "gitspace--a", [target]).tls, [{ hosts: ["a--t--dev.d.io"], secretName: "gitspace--a-tls" }]);
        const plain = ingressSpec(ingress({ className: "traefik" }), "gitspace", [target]);
        assert.deepEqual(plain, {
            ingressClassName: "traefik",
            rules: [{ host: "a--t--dev.d.io", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "gitspace", port: { number: 8089 } } } }] } }],
        });
    });
});

describe("routing builders: SSH connection strings", () => {
    it("prints a command and a Host block, with a known_hosts alias per gitspace", () => {
        const e = { alias: "bob--t--dev", host: "203.0.113.7", port: 22, user: "dev" };
        assert.equal(sshCommand(e), "ssh -o HostKeyAlias=bob--t--dev -p 22 dev@203.0.113.7");
        assert.equal(sshConfigEntry(e), "Host bob--t--dev\n  HostName 203.0.113.7\n  Port 22\n  User dev\n  HostKeyAlias bob--t--dev\n");
        const pf = { ...e, host: "localhost", port: 8088, before: "kubectl -n ns port-forward svc/gitspace 8088" };
        assert.equal(sshCommand(pf), "kubectl -n ns port-forward svc/gitspace 8088 & ssh -o HostKeyAlias=bob--t--dev -p 8088 dev@localhost");
        assert.match(sshConfigEntry(pf), /^# first: kubectl -n ns port-forward svc\/gitspace 8088\nHost bob--t--dev\n/);
    });
});

describe("routing builders: shared namespace quota", () => {
    it("sums the developers' quotas and caps containers at the largest limits", () => {
        const { developers } = team({
            developers: [
                { name: "a", resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } }, storage: "5Gi" },
                { name: "b", resources: { requests: { cpu: "1.5", memory: "1Gi" }, limits: { cpu: "3", memory: "2Gi" } }, storage: "20Gi" },
            ],
        });
        assert.deepEqual(sharedQuotaHard(developers), {
            pods: "4",
            "requests.cpu": "4000m",
            "requests.memory": String(2 * (512 + 1024) * 2 ** 20),
            "limits.cpu": "8000m",
            "limits.memory": String(2 * 3 * 2 ** 30),
            persistentvolumeclaims: "2",
            "requests.storage": String(25 * 2 ** 30),
        });
        assert.deepEqual((sharedLimitRangeSpec(developers).limits as any)[0], {
            type: "Container", default: { cpu: "3", memory: "2Gi" }, defaultRequest: { cpu: "1.5", memory: "1Gi" }, max: { cpu: "3", memory: "2Gi" },
        });
    });
});

describe("routing builders: CIDRs", () => {
    for (const cidr of ["10.0.0.0/8", "0.0.0.0/0", "192.0.2.1/32", "::/0", "fd00::/8", "2001:db8::/32", "fe80::/10"]) {
        it(`accepts ${cidr}`, () => assert.equal(cidrProblem(cidr), undefined));
    }
    const bad: [string, RegExp][] = [
        ["10.0.0.1/8", /canonical form; write "10.0.0.0\/8"/],
        ["10.0.0.0", /invalid CIDR/],
        ["10.0.0.0/33", /invalid CIDR/],
        ["10/8", /invalid CIDR/],
        ["010.0.0.0/8", /invalid CIDR/],
        ["0x0a.0.0.0/8", /invalid CIDR/],
        ["10.0.0.0/8 ", /invalid CIDR/],
        [" 10.0.0.0/8", /invalid CIDR/],
        ["10.0.0.0/8\n", /invalid CIDR/],
        ["10.0.0.0/-1", /invalid CIDR/],
        ["256.0.0.0/8", /invalid CIDR/],
        ["10.0.0.0/08", /canonical form/],
        ["FD00::/8", /invalid CIDR/],
        ["fd00::1/8", /canonical form; write "fd00::\/8"/],
        ["fd00:0:0::/8", /canonical form/],
        ["::ffff:10.0.0.0/104", /canonical form/],
        ["fd00::/129", /invalid CIDR/],
        ["", /invalid CIDR/],
        ["10.0.0.0/8,11.0.0.0/8", /invalid CIDR/],
    ];
    for (const [cidr, message] of bad) {
        it(`rejects ${JSON.stringify(cidr)}`, () => assert.match(cidrProblem(cidr) ?? "", message));
    }
    it("finds overlaps in either direction, and none across families", () => {
        assert.equal(cidrsOverlap("10.0.0.0/8", "10.1.0.0/16"), true);
        assert.equal(cidrsOverlap("10.1.0.0/16", "10.0.0.0/8"), true);
        assert.equal(cidrsOverlap("10.0.0.0/8", "11.0.0.0/8"), false);
        assert.equal(cidrsOverlap("0.0.0.0/0", "::/0"), false);
        assert.equal(cidrsOverlap("fd00::/8", "fd12::/16"), true);
    });
});
