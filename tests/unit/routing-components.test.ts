/**
 * The components under mocks for each router mode, namespace layout, SSH Service type, app ports and egress setting.
 * The main suite (components.test.ts) covers gateway mode with per-developer namespaces.
 */
import { strict as assert } from "assert";
import { parseTeamConfig } from "../../components/config";
import { provisionTeam } from "../../components/team";
import { Registered, SSH_KEY, TYPES, byType, one, rawConfig, runProgram, valueOf } from "./harness";

const REGISTRY = "registry.example.com/gitspace-runtime";
const GATEWAY = { mode: "gateway", namespace: "traefik-system", parentRefs: [{ name: "gitspace", namespace: "traefik-system", sectionName: "https" }] };

function config(overrides: Record<string, unknown>, developers?: unknown[]) {
    return parseTeamConfig(rawConfig({
        images: { registry: REGISTRY, tag: "v1", build: false, username: "bot", password: "reg-SECRET" },
        developers: developers ?? [
            { name: "alice", ide: "vs_code_web" },
            { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY] },
        ],
        ...overrides,
    }));
}

async function run(overrides: Record<string, unknown>, developers?: unknown[]) {
    return runProgram((opts) => provisionTeam(config(overrides, developers), opts));
}

const named = (resources: Registered[], type: string, name: string) => one(resources, type, name);
const has = (resources: Registered[], name: string) => resources.some((r) => r.name === name);

describe("routing: caddy2-k8s in one shared namespace", () => {
    let resources: Registered[];
    let result: ReturnType<typeof provisionTeam>;
    before(async () => {
        ({ resources, result } = await run({ router: { mode: "caddy2-k8s", namespace: "caddy-system", podLabels: { app: "caddy" }, serviceAccount: { name: "caddy" } } }));
    });

    it("creates one TeamNamespace and no namespace per developer", async () => {
        assert.equal(byType(resources, TYPES.namespace).length, 1);
        const ns = named(resources, TYPES.namespace, "team-namespace");
        assert.equal(ns.inputs.metadata.name, "gitspace--platform--dev");
        assert.equal(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.equal(ns.opts.retainOnDelete, true, "homes inside are kept");
        assert.equal(named(resources, TYPES.teamNamespace, "team").name, "team");
        assert.equal(await valueOf(result.namespace!), "gitspace--platform--dev");
        assert.equal(await valueOf(result.gitspaces.alice.namespace), "gitspace--platform--dev");
        assert.equal(await valueOf(result.gitspaces.bob.namespace), "gitspace--platform--dev");
    });

    it("names each developer's objects <role>--<developer> in that namespace", () => {
        for (const dev of ["alice", "bob"]) {
            const deployment = named(resources, TYPES.deployment, `${dev}-deployment`).inputs;
            assert.equal(deployment.metadata.name, `gitspace--${dev}`);
            assert.equal(deployment.metadata.namespace, "gitspace--platform--dev");
            assert.equal(named(resources, TYPES.pvc, `${dev}-home`).inputs.metadata.name, `home--${dev}`);
            assert.equal(named(resources, TYPES.service, `${dev}-service`).inputs.metadata.name, `gitspace--${dev}`);
            const volumes = deployment.spec.template.spec.volumes;
            assert.equal(volumes.find((v: any) => v.name === "home").persistentVolumeClaim.claimName, `home--${dev}`);
            assert.deepEqual(deployment.spec.template.spec.imagePullSecrets, [{ name: "registry-credentials" }]);
        }
        assert.equal(named(resources, TYPES.secret, "alice-ide-password").inputs.metadata.name, "ide-password--alice");
        const ssh = named(resources, TYPES.deployment, "bob-deployment").inputs.spec.template.spec.volumes.find((v: any) => v.name === "ssh");
        assert.deepEqual(ssh.projected.sources, [{ secret: { name: "ssh-authorized-keys--bob" } }, { secret: { name: "ssh-host-key--bob" } }]);
    });

    it("caps the shared namespace with the sum of the developers' quotas", () => {
        const quota = named(resources, TYPES.quota, "team-quota").inputs.spec.hard;
        assert.equal(quota.pods, "4");
        assert.equal(quota.persistentvolumeclaims, "2");
        assert.equal(quota["requests.cpu"], "4000m", "2 × 1 CPU × 2 developers");
        assert.equal(quota["limits.memory"], String(2 * 2 * 4 * 2 ** 30));
        assert.equal(quota["requests.storage"], String(2 * 10 * 2 ** 30));
        assert.deepEqual(named(resources, TYPES.limitRange, "team-limits").inputs.spec.limits[0].max, { cpu: "2", memory: "4Gi" });
        assert.equal(byType(resources, TYPES.quota).length, 1);
    });

    it("puts the contract on the web Deployment's own metadata and its pod template", () => {
        const deployment = named(resources, TYPES.deployment, "alice-deployment");
        const contract = { "gitspace.app.io/managed-by": "caddy", app: "gitspace", gitspace: "alice--platform--dev" };
        for (const meta of [deployment.inputs.metadata, deployment.inputs.spec.template.metadata]) {
            for (const [k, v] of Object.entries(contract)) assert.equal(meta.labels[k], v, k);
            assert.equal(meta.annotations["gitspace.caddy.default.port"], "8089");
        }
        assert.equal(deployment.inputs.spec.replicas, 1, "caddy2-k8s routes only single-replica Deployments");
        assert.deepEqual(deployment.opts.ignoreChanges, [
            'metadata.annotations["gitspace.caddy.route.url"]',
            'metadata.annotations["gitspace.caddy.route.synced-at"]',
            'metadata.annotations["gitspace.caddy.route.id"]',
        ]);
    });

    it("never offers sshd to caddy2-k8s", () => {
        const deployment = named(resources, TYPES.deployment, "bob-deployment").inputs;
        assert.equal(deployment.metadata.labels["gitspace.app.io/managed-by"], undefined);
        assert.equal(deployment.spec.template.metadata.labels["gitspace.app.io/managed-by"], undefined);
        assert.equal(deployment.metadata.annotations, undefined);
        assert.ok(!has(resources, "bob-allow-router"));
    });

    it("lets caddy's pods in on the web IDE port only, per developer, and denies the rest namespace-wide", () => {
        const allow = named(resources, TYPES.networkPolicy, "alice-allow-router").inputs;
        assert.equal(allow.metadata.name, "allow-router--alice");
        assert.deepEqual(allow.spec.podSelector, { matchLabels: { app: "gitspace", gitspace: "alice--platform--dev" } });
        assert.deepEqual(allow.spec.ingress, [{
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "caddy-system" } }, podSelector: { matchLabels: { app: "caddy" } } }],
            ports: [{ protocol: "TCP", port: 8089 }],
        }]);
        assert.deepEqual(named(resources, TYPES.networkPolicy, "team-default-deny").inputs.spec, { podSelector: {}, policyTypes: ["Ingress"] });
        assert.ok(has(resources, "team-egress"));
        assert.equal(byType(resources, TYPES.httpRoute).length + byType(resources, TYPES.ingress).length, 0);
    });

    it("lets caddy's ServiceAccount watch and annotate Deployments and read Pods there, nothing more", () => {
        const role = named(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "team-router-role").inputs;
        assert.equal(role.metadata.namespace, "gitspace--platform--dev");
        assert.deepEqual(role.rules, [
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch", "update"] },
            { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
        ]);
        const binding = named(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "team-router-binding").inputs;
        assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "caddy", namespace: "caddy-system" }], "the router's namespace by default");
        assert.equal(binding.roleRef.kind, "Role");
    });

    it("exports the caddy2-k8s URL", () => {
        assert.equal(result.gitspaces.alice.url, "https://alice--platform--dev.gitspace.example.com");
    });
});

describe("routing: gateway with app ports", () => {
    let resources: Registered[];
    let result: ReturnType<typeof provisionTeam>;
    before(async () => {
        ({ resources, result } = await run({ router: { ...GATEWAY, annotations: { "example.com/team": "platform" } } }, [
            { name: "alice", ide: "vs_code_web", ports: [3000, 5173] },
            { name: "bob", ide: "goland", sshPublicKeys: [SSH_KEY], ports: [8080] },
        ]));
    });

    it("adds one HTTPRoute per app port at <identifier>--<port>.<domain>", () => {
        const app = named(resources, TYPES.httpRoute, "alice-app-route-3000").inputs;
        assert.equal(app.metadata.name, "app-3000");
        assert.deepEqual(app.spec.hostnames, ["alice--platform--dev--3000.gitspace.example.com"]);
        assert.deepEqual(app.spec.rules[0].backendRefs, [{ name: "gitspace", port: 3000 }]);
        assert.equal(app.metadata.annotations["example.com/team"], "platform");
        assert.deepEqual(app.spec.parentRefs[0].sectionName, "https");
        assert.deepEqual(byType(resources, TYPES.httpRoute).map((r) => r.name).sort(),
            ["alice-app-route-3000", "alice-app-route-5173", "alice-route", "bob-app-route-8080"]);
    });

    it("exposes exactly the IDE and app ports on the Service and in the policy", () => {
        assert.deepEqual(named(resources, TYPES.service, "alice-service").inputs.spec.ports.map((p: any) => [p.name, p.port]),
            [["ide", 8089], ["app-3000", 3000], ["app-5173", 5173]]);
        assert.deepEqual(named(resources, TYPES.networkPolicy, "alice-allow-router").inputs.spec.ingress[0].ports.map((p: any) => p.port), [8089, 3000, 5173]);
        assert.deepEqual(named(resources, TYPES.networkPolicy, "bob-allow-router").inputs.spec.ingress[0].ports.map((p: any) => p.port), [8080],
            "an SSH IDE's app port is routed, its sshd is not");
    });

    it("exports the app URLs", () => {
        assert.deepEqual(result.gitspaces.alice.appUrls, {
            3000: "https://alice--platform--dev--3000.gitspace.example.com",
            5173: "https://alice--platform--dev--5173.gitspace.example.com",
        });
        assert.equal(result.gitspaces.bob.url, undefined);
    });
});

describe("routing: gateway in a shared namespace", () => {
    it("names routes per developer and keeps per-developer policies", async () => {
        const { resources } = await run({ router: GATEWAY, namespaceLayout: "shared" }, [{ name: "alice", ports: [3000] }, { name: "carol" }]);
        assert.equal(byType(resources, TYPES.namespace).length, 1);
        const route = named(resources, TYPES.httpRoute, "alice-route").inputs;
        assert.equal(route.metadata.name, "gitspace--alice");
        assert.equal(route.metadata.namespace, "gitspace--platform--dev");
        assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: "gitspace--alice", port: 8089 }]);
        assert.equal(named(resources, TYPES.httpRoute, "alice-app-route-3000").inputs.metadata.name, "app-3000--alice");
        const alice = named(resources, TYPES.networkPolicy, "alice-allow-router").inputs.spec;
        const carol = named(resources, TYPES.networkPolicy, "carol-allow-router").inputs.spec;
        assert.deepEqual(alice.podSelector.matchLabels.gitspace, "alice--platform--dev");
        assert.deepEqual(alice.ingress[0].ports.map((p: any) => p.port), [8089, 3000]);
        assert.deepEqual(carol.ingress[0].ports.map((p: any) => p.port), [8089], "carol's pod is not opened on alice's app port");
    });
});

describe("routing: ingress", () => {
    it("makes one Ingress with the class, the issuer's TLS and the extra annotations", async () => {
        const { resources } = await run({
            router: {
                mode: "ingress", namespace: "ingress-nginx", className: "nginx",
                tls: { mode: "issuer", name: "letsencrypt" }, annotations: { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600" },
            },
        }, [{ name: "alice", ports: [3000] }, { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY] }]);
        const ingress = named(resources, TYPES.ingress, "alice-ingress").inputs;
        assert.equal(ingress.metadata.name, "gitspace");
        assert.deepEqual(ingress.metadata.annotations, {
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600", "cert-manager.io/cluster-issuer": "letsencrypt",
            "pulumi.com/skipAwait": "true",
        });
        assert.equal(ingress.spec.ingressClassName, "nginx");
        const hosts = ["alice--platform--dev.gitspace.example.com", "alice--platform--dev--3000.gitspace.example.com"];
        assert.deepEqual(ingress.spec.tls, [{ hosts, secretName: "gitspace-tls" }]);
        assert.deepEqual(ingress.spec.rules.map((r: any) => [r.host, r.http.paths[0].backend.service.port.number]), [[hosts[0], 8089], [hosts[1], 3000]]);
        assert.ok(!has(resources, "bob-ingress"), "no Ingress for an SSH IDE without app ports");
        assert.deepEqual(named(resources, TYPES.networkPolicy, "alice-allow-router").inputs.spec.ingress[0].from,
            [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }]);
    });

    it("uses a given TLS Secret, the controller's default certificate, or no TLS section", async () => {
        const tlsOf = async (tls: unknown) => {
            const { resources } = await run({ router: { mode: "ingress", namespace: "ingress", ...(tls ? { tls } : {}) } }, [{ name: "alice" }]);
            return named(resources, TYPES.ingress, "alice-ingress").inputs.spec;
        };
        assert.deepEqual((await tlsOf({ mode: "secret", secretName: "wildcard-tls" })).tls, [{ hosts: ["alice--platform--dev.gitspace.example.com"], secretName: "wildcard-tls" }]);
        assert.deepEqual((await tlsOf({ mode: "default-certificate" })).tls, [{ hosts: ["alice--platform--dev.gitspace.example.com"] }]);
        const none = await tlsOf(undefined);
        assert.equal(none.tls, undefined);
        assert.equal(none.ingressClassName, undefined, "the cluster's default IngressClass");
    });
});

describe("routing: none", () => {
    it("creates only the Service: no route, no router policy, no URL", async () => {
        const { resources, result } = await run({ router: { mode: "none" } }, [{ name: "alice", ports: [3000] }]);
        assert.equal(byType(resources, TYPES.httpRoute).length + byType(resources, TYPES.ingress).length, 0);
        assert.ok(!has(resources, "alice-allow-router"));
        assert.ok(has(resources, "alice-default-deny"));
        assert.ok(has(resources, "alice-namespace"), "per-developer namespaces by default outside caddy2-k8s");
        assert.deepEqual(named(resources, TYPES.service, "alice-service").inputs.spec.ports.map((p: any) => p.port), [8089, 3000]);
        assert.equal(result.gitspaces.alice.url, undefined);
        assert.equal(result.gitspaces.alice.appUrls, undefined);
    });
});

describe("routing: SSH Service types", () => {
    const devs = [{ name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY], sshNodePort: 30022 }, { name: "carol", ide: "goland", sshPublicKeys: [SSH_KEY] }, { name: "alice" }];

    it("NodePort: a second Service for sshd only, a fixed or assigned port, and ready-to-paste connections", async () => {
        const { resources, result } = await run({ router: GATEWAY, ssh: { serviceType: "NodePort", host: "192.0.2.10", allowedCidrs: ["198.51.100.0/24"] } }, devs);
        const svc = named(resources, TYPES.service, "bob-ssh-service").inputs;
        assert.equal(svc.metadata.name, "ssh");
        assert.deepEqual(svc.spec, { type: "NodePort", selector: { app: "gitspace", gitspace: "bob--platform--dev" }, ports: [{ name: "ssh", port: 8088, targetPort: 8088, protocol: "TCP", nodePort: 30022 }] });
        assert.equal(named(resources, TYPES.service, "bob-service").inputs.spec.type, undefined, "the main Service stays ClusterIP");
        assert.ok(!has(resources, "alice-ssh-service"), "web IDEs have no sshd");
        assert.equal(await valueOf(result.gitspaces.bob.ssh!), "ssh -o HostKeyAlias=bob--platform--dev -p 30022 vscode@192.0.2.10");
        assert.equal(await valueOf(result.gitspaces.carol.ssh!), "ssh -o HostKeyAlias=carol--platform--dev -p 31234 vscode@192.0.2.10", "the port the cluster assigned");
        assert.equal(await valueOf(result.gitspaces.bob.sshConfig!),
            "Host bob--platform--dev\n  HostName 192.0.2.10\n  Port 30022\n  User vscode\n  HostKeyAlias bob--platform--dev\n");
        const allow = named(resources, TYPES.networkPolicy, "bob-allow-ssh").inputs.spec;
        assert.deepEqual(allow.ingress, [{ from: [{ ipBlock: { cidr: "198.51.100.0/24" } }], ports: [{ protocol: "TCP", port: 8088 }] }]);
        assert.ok(!has(resources, "alice-allow-ssh"));
    });

    it("LoadBalancer: port 22 at the balancer's address, or at the configured host", async () => {
        const lb = await run({ router: GATEWAY, ssh: { serviceType: "LoadBalancer" } }, devs.slice(1));
        assert.equal(named(lb.resources, TYPES.service, "carol-ssh-service").inputs.spec.ports[0].port, 22);
        assert.equal(await valueOf(lb.result.gitspaces.carol.ssh!), "ssh -o HostKeyAlias=carol--platform--dev -p 22 vscode@203.0.113.7");
        const allow = named(lb.resources, TYPES.networkPolicy, "carol-allow-ssh").inputs.spec;
        assert.deepEqual(allow.ingress[0].from, [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }], "anyone by default: sshd takes only the keys");
        assert.deepEqual(allow.ingress[0].ports, [{ protocol: "TCP", port: 8088 }], "the pod's port, behind the Service's 22");
        const named_ = await run({ router: GATEWAY, ssh: { serviceType: "LoadBalancer", host: "ssh.gitspace.example.com" } }, devs.slice(1));
        assert.equal(await valueOf(named_.result.gitspaces.carol.ssh!), "ssh -o HostKeyAlias=carol--platform--dev -p 22 vscode@ssh.gitspace.example.com");
    });
});

describe("routing: egress", () => {
    it("can be turned off", async () => {
        const { resources } = await run({ router: GATEWAY, egress: { enabled: false } }, [{ name: "alice" }]);
        assert.ok(!has(resources, "alice-egress"));
        assert.ok(has(resources, "alice-default-deny"), "ingress isolation stays");
    });

    it("takes configured denied and allowed ranges and DNS pods", async () => {
        const { resources } = await run({
            router: GATEWAY,
            egress: { deniedCidrs: ["0.0.0.0/0"], allowedCidrs: ["10.20.0.5/32"], dns: { namespace: "dns", podLabels: { app: "coredns" }, cidrs: ["10.88.0.1/32"] } },
        }, [{ name: "alice" }]);
        const rules = named(resources, TYPES.networkPolicy, "alice-egress").inputs.spec.egress;
        assert.deepEqual(rules, [
            { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns" } }, podSelector: { matchLabels: { app: "coredns" } } }, { ipBlock: { cidr: "10.88.0.1/32" } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
            { to: [{ ipBlock: { cidr: "::/0" } }] },
            { to: [{ ipBlock: { cidr: "10.20.0.5/32" } }] },
        ]);
    });
});
