/**
 * Hostile input for the routing keys: router modes, layouts, Gateway references, annotations, ports, CIDRs, SSH
 * exposure, names and the environment. Each bad config must fail with a message naming its path, and nothing else.
 */
import { strict as assert } from "assert";
import { ConfigError, parseTeamConfig } from "../../components/config";
import { SSH_KEY, rawConfig } from "./harness";

function problems(raw: Record<string, unknown>, stack?: string): string[] {
    try {
        parseTeamConfig(raw, [], { stack });
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
    assert.fail("config was accepted");
}

const GATEWAY = { mode: "gateway", namespace: "traefik-system", parentRefs: [{ name: "gitspace", namespace: "traefik-system" }] };
const gw = (extra: Record<string, unknown>) => rawConfig({ router: { ...GATEWAY, ...extra } });
const ssh = (extra: Record<string, unknown> = {}) => ({ name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY], ...extra });
const withDev = (dev: Record<string, unknown>, extra: Record<string, unknown> = {}) => rawConfig({ router: GATEWAY, developers: [{ name: "alice", ...dev }], ...extra });

/** [title, config, the one expected problem as a regex on "path: message"] */
const cases: [string, Record<string, unknown>, RegExp][] = [
    // router modes
    ["unknown mode", rawConfig({ router: { mode: "traefik" } }), /^gitspace:router(\.mode)?: unknown router mode "traefik"; expected one of caddy2-k8s, gateway, ingress, none$/],
    ["mode with different case", rawConfig({ router: { mode: "Gateway", namespace: "x" } }), /^gitspace:router(\.mode)?: unknown router mode "Gateway"/],
    ["mode as a number", rawConfig({ router: { mode: 1 } }), /^gitspace:router(\.mode)?: unknown router mode 1/],
    ["mode null", rawConfig({ router: { mode: null } }), /^gitspace:router(\.mode)?: unknown router mode null/],
    ["router a string", rawConfig({ router: "gateway" }), /^gitspace:router: unknown router mode undefined/],
    ["router a list", rawConfig({ router: [GATEWAY] }), /^gitspace:router: unknown router mode undefined/],
    ["gateway without parentRefs", rawConfig({ router: { mode: "gateway", namespace: "gw" } }), /^gitspace:router\.parentRefs: required$/],
    ["gateway without namespace", rawConfig({ router: { mode: "gateway", parentRefs: [{ name: "g" }] } }), /^gitspace:router\.namespace: required$/],
    ["ingress without namespace", rawConfig({ router: { mode: "ingress" } }), /^gitspace:router\.namespace: required$/],
    ["none with a namespace", rawConfig({ router: { mode: "none", namespace: "x" } }), /^gitspace:router: unknown field "namespace"$/],
    ["caddy serviceAccount a string", rawConfig({ router: { serviceAccount: "caddy" } }), /^gitspace:router\.serviceAccount: must be an object \{name, namespace\?\}$/],
    ["caddy serviceAccount without name", rawConfig({ router: { serviceAccount: { namespace: "x" } } }), /^gitspace:router\.serviceAccount\.name: required$/],
    ["serviceAccount with gateway", gw({ serviceAccount: { name: "x" } }), /^gitspace:router: unknown field "serviceAccount"$/],
    ["caddy with parentRefs", rawConfig({ router: { mode: "caddy2-k8s", parentRefs: [] } }), /^gitspace:router: unknown field "parentRefs"$/],
    ["unknown router key", gw({ gateway: "x" }), /^gitspace:router: unknown field "gateway"$/],
    ["router namespace not a DNS label", gw({ namespace: "Traefik_System" }), /^gitspace:router\.namespace: invalid namespace "Traefik_System"/],
    ["router namespace too long", gw({ namespace: "n".repeat(64) }), /^gitspace:router\.namespace: must be at most 63 characters$/],
    // layouts
    ["caddy2-k8s with per-developer namespaces", rawConfig({ namespaceLayout: "per-developer" }), /^gitspace:namespaceLayout: caddy2-k8s watches a single namespace and cannot route per-developer namespaces/],
    ["explicit caddy2-k8s with per-developer namespaces", rawConfig({ router: { mode: "caddy2-k8s" }, namespaceLayout: "per-developer" }), /^gitspace:namespaceLayout: caddy2-k8s watches/],
    ["unknown layout", rawConfig({ namespaceLayout: "per-team" }), /^gitspace:namespaceLayout: unknown namespace layout "per-team"; expected one of per-developer, shared$/],
    ["layout as a boolean", rawConfig({ namespaceLayout: true }), /^gitspace:namespaceLayout: unknown namespace layout true/],
    // parentRefs
    ["parentRefs empty", gw({ parentRefs: [] }), /^gitspace:router\.parentRefs: must list at least one Gateway$/],
    ["parentRefs an object", gw({ parentRefs: { name: "g" } }), /^gitspace:router\.parentRefs: must be a list of Gateway references$/],
    ["parentRef a string", gw({ parentRefs: ["gitspace"] }), /^gitspace:router\.parentRefs\[0\]: must be an object \{name, namespace\?, sectionName\?, port\?\}$/],
    ["parentRef without name", gw({ parentRefs: [{ namespace: "x" }] }), /^gitspace:router\.parentRefs\[0\]\.name: required$/],
    ["parentRef name with a slash", gw({ parentRefs: [{ name: "ns/gitspace" }] }), /^gitspace:router\.parentRefs\[0\]\.name: invalid Gateway name "ns\/gitspace"/],
    ["parentRef kind", gw({ parentRefs: [{ name: "g", kind: "Service" }] }), /^gitspace:router\.parentRefs\[0\]: unknown field "kind"$/],
    ["parentRef port out of range", gw({ parentRefs: [{ name: "g", port: 70000 }] }), /^gitspace:router\.parentRefs\[0\]\.port: must be between 1 and 65535$/],
    ["parentRef port as a string", gw({ parentRefs: [{ name: "g", port: "443" }] }), /^gitspace:router\.parentRefs\[0\]\.port: must be an integer port/],
    ["parentRef sectionName with spaces", gw({ parentRefs: [{ name: "g", sectionName: "web secure" }] }), /^gitspace:router\.parentRefs\[0\]\.sectionName: invalid listener name "web secure"$/],
    ["too many parentRefs", gw({ parentRefs: Array.from({ length: 17 }, (_, i) => ({ name: `g${i}` })) }), /^gitspace:router\.parentRefs: must list at most 16 Gateways$/],
    // annotations and labels
    ["annotation key with a space", gw({ annotations: { "bad key": "x" } }), /^gitspace:router\.annotations\.bad key: invalid key "bad key"/],
    ["annotation key with two slashes", gw({ annotations: { "a/b/c": "x" } }), /^gitspace:router\.annotations\.a\/b\/c: invalid key "a\/b\/c"/],
    ["annotation key with an uppercase prefix", gw({ annotations: { "Example.com/a": "x" } }), /^gitspace:router\.annotations\.Example\.com\/a: invalid key/],
    ["annotation value a number", gw({ annotations: { "example.com/a": 1 } }), /^gitspace:router\.annotations\.example\.com\/a: must be a string$/],
    ["annotation value a boolean", gw({ annotations: { "example.com/a": true } }), /^gitspace:router\.annotations\.example\.com\/a: must be a string$/],
    ["annotations a list", gw({ annotations: ["a"] }), /^gitspace:router\.annotations: must be a map of annotation keys to strings$/],
    ["annotation key empty", gw({ annotations: { "": "x" } }), /^gitspace:router\.annotations\.: invalid key ""/],
    ["pod label value with a slash", gw({ podLabels: { app: "a/b" } }), /^gitspace:router\.podLabels\.app: invalid label value "a\/b"$/],
    ["pod label value too long", gw({ podLabels: { app: "a".repeat(64) } }), /^gitspace:router\.podLabels\.app: label values are at most 63 characters$/],
    ["ingress TLS without mode", rawConfig({ router: { mode: "ingress", namespace: "i", tls: { secretName: "x" } } }), /^gitspace:router\.tls(\.mode)?: must be \{mode: default-certificate \| secret \| issuer, …\}$/],
    ["ingress TLS secret without name", rawConfig({ router: { mode: "ingress", namespace: "i", tls: { mode: "secret" } } }), /^gitspace:router\.tls\.secretName: required$/],
    ["ingress issuer of an unknown kind", rawConfig({ router: { mode: "ingress", namespace: "i", tls: { mode: "issuer", kind: "Vault", name: "x" } } }), /^gitspace:router\.tls\.kind: must be ClusterIssuer or Issuer$/],
    ["ingress class with uppercase", rawConfig({ router: { mode: "ingress", namespace: "i", className: "Nginx" } }), /^gitspace:router\.className: invalid IngressClass name "Nginx"/],
    // ports
    ["port 0", withDev({ ports: [0] }), /^gitspace:developers\[0\]\.ports\[0\]: must be at least 1024: gitspaces run unprivileged/],
    ["port 65536", withDev({ ports: [65536] }), /^gitspace:developers\[0\]\.ports\[0\]: must be between 1024 and 65535$/],
    ["negative port", withDev({ ports: [-3000] }), /^gitspace:developers\[0\]\.ports\[0\]: must be at least 1024/],
    ["fractional port", withDev({ ports: [3000.5] }), /^gitspace:developers\[0\]\.ports\[0\]: must be an integer$/],
    ["port as a string", withDev({ ports: ["3000"] }), /^gitspace:developers\[0\]\.ports\[0\]: must be an integer port \(e\.g\. 3000\)$/],
    ["port NaN-like", withDev({ ports: [null] }), /^gitspace:developers\[0\]\.ports\[0\]: must be an integer port/],
    ["privileged port", withDev({ ports: [80] }), /^gitspace:developers\[0\]\.ports\[0\]: must be at least 1024: gitspaces run unprivileged/],
    ["duplicate port", withDev({ ports: [3000, 4000, 3000] }), /^gitspace:developers\[0\]\.ports\[2\]: duplicate port 3000 \(also \[0\]\)$/],
    ["the web IDE port", withDev({ ports: [8089] }), /^gitspace:developers\[0\]\.ports\[0\]: port 8089 is reserved for the IDE/],
    ["the SSH IDE port", withDev({ ports: [8088] }), /^gitspace:developers\[0\]\.ports\[0\]: port 8088 is reserved for the IDE/],
    ["ports a number", withDev({ ports: 3000 }), /^gitspace:developers\[0\]\.ports: must be a list of port numbers$/],
    ["too many ports", withDev({ ports: Array.from({ length: 17 }, (_, i) => 3000 + i) }), /^gitspace:developers\[0\]\.ports: must list at most 16 ports$/],
    ["app ports with caddy2-k8s", rawConfig({ developers: [{ name: "alice", ports: [3000] }] }), /^gitspace:developers\[0\]\.ports: caddy2-k8s routes only the IDE port; app ports need router mode gateway or ingress$/],
    ["app ports in defaults with caddy2-k8s", rawConfig({ defaults: { ports: [3000] } }), /^gitspace:developers\[0\]\.ports: caddy2-k8s routes only the IDE port/],
    ["bad port in defaults", rawConfig({ router: GATEWAY, defaults: { ports: [22] } }), /^gitspace:defaults\.ports\[0\]: must be at least 1024/],
    // SSH exposure
    ["unknown SSH service type", rawConfig({ ssh: { serviceType: "nodeport" } }), /^gitspace:ssh\.serviceType: unknown serviceType "nodeport"; expected one of ClusterIP, NodePort, LoadBalancer$/],
    ["NodePort without a host", rawConfig({ ssh: { serviceType: "NodePort" }, developers: [ssh()] }), /^gitspace:ssh\.host: required with serviceType NodePort/],
    ["host with a scheme", rawConfig({ ssh: { serviceType: "NodePort", host: "ssh://node" }, developers: [ssh()] }), /^gitspace:ssh\.host: invalid host "ssh:\/\/node"/],
    ["host with a user", rawConfig({ ssh: { serviceType: "NodePort", host: "root@node" }, developers: [ssh()] }), /^gitspace:ssh\.host: invalid host "root@node"/],
    ["host with an option", rawConfig({ ssh: { serviceType: "NodePort", host: "-oProxyCommand=x" }, developers: [ssh()] }), /^gitspace:ssh\.host: invalid host "-oProxyCommand=x"/],
    ["host with a newline", rawConfig({ ssh: { serviceType: "NodePort", host: "node\nProxyCommand x" }, developers: [ssh()] }), /^gitspace:ssh\.host: invalid host/],
    ["sshNodePort without NodePort", rawConfig({ developers: [ssh({ sshNodePort: 30022 })] }), /^gitspace:developers\[0\]\.sshNodePort: needs gitspace:ssh\.serviceType NodePort \(it is ClusterIP\)$/],
    ["sshNodePort for a web IDE", rawConfig({ ssh: { serviceType: "NodePort", host: "n" }, developers: [{ name: "alice", sshNodePort: 30022 }] }), /^gitspace:developers\[0\]\.sshNodePort: only SSH IDEs have an SSH port$/],
    ["sshNodePort twice", rawConfig({ ssh: { serviceType: "NodePort", host: "n" }, developers: [ssh({ sshNodePort: 30022 }), ssh({ name: "carol", sshNodePort: 30022 })] }), /^gitspace:developers\[1\]\.sshNodePort: NodePort 30022 is already taken by developers\[0\]$/],
    ["sshNodePort privileged", rawConfig({ ssh: { serviceType: "NodePort", host: "n" }, developers: [ssh({ sshNodePort: 22 })] }), /^gitspace:developers\[0\]\.sshNodePort: must be at least 1024/],
    ["sshNodePort as a string", rawConfig({ ssh: { serviceType: "NodePort", host: "n" }, developers: [ssh({ sshNodePort: "30022" })] }), /^gitspace:developers\[0\]\.sshNodePort: must be an integer port/],
    ["sshNodePort in defaults", rawConfig({ defaults: { sshNodePort: 30022 } }), /^gitspace:defaults: unknown field "sshNodePort"$/],
    ["SSH allowedCidrs empty", rawConfig({ ssh: { allowedCidrs: [] } }), /^gitspace:ssh\.allowedCidrs: must list at least one CIDR$/],
    ["unknown ssh key", rawConfig({ ssh: { type: "NodePort" } }), /^gitspace:ssh: unknown field "type"$/],
    // egress
    ["egress enabled as a string", rawConfig({ egress: { enabled: "false" } }), /^gitspace:egress\.enabled: must be true or false$/],
    ["egress enabled as 0", rawConfig({ egress: { enabled: 0 } }), /^gitspace:egress\.enabled: must be true or false$/],
    ["egress enabled as yes", rawConfig({ egress: { enabled: "yes" } }), /^gitspace:egress\.enabled: must be true or false$/],
    ["denied CIDR malformed", rawConfig({ egress: { deniedCidrs: ["10.0.0.0/8", "10.0.0/8"] } }), /^gitspace:egress\.deniedCidrs\[1\]: invalid CIDR "10\.0\.0\/8"/],
    ["denied CIDR not canonical", rawConfig({ egress: { deniedCidrs: ["10.1.2.3/8"] } }), /^gitspace:egress\.deniedCidrs\[0\]: CIDR "10\.1\.2\.3\/8" is not in canonical form; write "10\.0\.0\.0\/8"$/],
    ["denied CIDRs overlapping", rawConfig({ egress: { deniedCidrs: ["10.0.0.0/8", "10.88.0.0/16"] } }), /^gitspace:egress\.deniedCidrs\[1\]: 10\.88\.0\.0\/16 overlaps \[0\] 10\.0\.0\.0\/8; list each range once$/],
    ["denied CIDRs duplicated", rawConfig({ egress: { deniedCidrs: ["fd00::/8", "fd00::/8"] } }), /^gitspace:egress\.deniedCidrs\[1\]: fd00::\/8 overlaps \[0\]/],
    ["allowed CIDR a bare address", rawConfig({ egress: { allowedCidrs: ["10.1.2.3"] } }), /^gitspace:egress\.allowedCidrs\[0\]: invalid CIDR "10\.1\.2\.3"/],
    ["allowed CIDR a hostname", rawConfig({ egress: { allowedCidrs: ["git.example.com/32"] } }), /^gitspace:egress\.allowedCidrs\[0\]: invalid CIDR/],
    ["allowed CIDRs a string", rawConfig({ egress: { allowedCidrs: "10.0.0.0/8" } }), /^gitspace:egress\.allowedCidrs: must be a list of CIDRs$/],
    ["allowed CIDR a number", rawConfig({ egress: { allowedCidrs: [10] } }), /^gitspace:egress\.allowedCidrs\[0\]: must be a CIDR string$/],
    ["DNS pod labels bad", rawConfig({ egress: { dns: { podLabels: { "k8s-app": "kube dns" } } } }), /^gitspace:egress\.dns\.podLabels\.k8s-app: invalid label value "kube dns"$/],
    ["DNS CIDR malformed", rawConfig({ egress: { dns: { cidrs: ["10.88.0.1"] } } }), /^gitspace:egress\.dns\.cidrs\[0\]: invalid CIDR "10\.88\.0\.1"/],
    ["unknown egress key", rawConfig({ egress: { denied: [] } }), /^gitspace:egress: unknown field "denied"$/],
    // names
    ["team with --", rawConfig({ team: "a--b" }), /^gitspace:team: invalid name "a--b"; must not contain "--"/],
    ["environment with --", rawConfig({ environment: "dev--1" }), /^gitspace:environment: invalid name "dev--1"; must not contain "--"/],
    ["developer with --", rawConfig({ developers: [{ name: "c--8089" }] }), /^gitspace:developers\[0\]\.name: invalid name "c--8089"; must not contain "--"/],
    ["environment uppercase", rawConfig({ environment: "Prod" }), /^gitspace:environment: invalid name "Prod"/],
    ["environment a number", rawConfig({ environment: 1 }), /^gitspace:environment: must be a string$/],
    ["two-letter developer name", rawConfig({ developers: [{ name: "jo" }] }), /^gitspace:developers\[0\]\.name: hostname label "jo--platform--dev" has "--" in its 3rd and 4th characters/],
    ["names too long together", rawConfig({ team: "t".repeat(25), environment: "e".repeat(25), developers: [{ name: "d".repeat(10) }] }), /^gitspace:developers\[0\]\.name: hostname label "d{10}--t{25}--e{25}" would be 64 characters, over the limit of 63/],
    ["a name of 64 characters", rawConfig({ developers: [{ name: "d".repeat(64) }] }), /^gitspace:developers\[0\]\.name: must be at most 63 characters$/],
    ["unknown developer field", rawConfig({ developers: [{ name: "alice", port: 3000 }] }), /^gitspace:developers\[0\]: unknown field "port"$/],
];

describe("routing config: hostile input, one clear problem each", () => {
    for (const [title, raw, expected] of cases) {
        it(title, () => {
            const found = problems(raw);
            assert.equal(found.length, 1, found.join("\n"));
            assert.match(found[0], expected);
        });
    }
});

describe("routing config: environment", () => {
    it("defaults to the stack name, without its organization and project", () => {
        const raw = { ...rawConfig() };
        delete raw.environment;
        assert.equal(parseTeamConfig(raw, [], { stack: "prod" }).environment, "prod");
        assert.equal(parseTeamConfig(raw, [], { stack: "acme/gitspace/staging" }).environment, "staging");
        assert.equal(parseTeamConfig({ ...raw, environment: "qa" }, [], { stack: "prod" }).environment, "qa", "the key wins");
    });

    it("drops a leading `<team>-` from the stack name (the `<team>-<env>` convention of the README and the portal)", () => {
        const raw: Record<string, unknown> = { ...rawConfig(), team: "platform" };
        delete raw.environment;
        assert.equal(parseTeamConfig(raw, [], { stack: "platform-dev" }).environment, "dev");
        assert.equal(parseTeamConfig(raw, [], { stack: "acme/gitspace/platform-prod-eu" }).environment, "prod-eu");
        assert.equal(parseTeamConfig(raw, [], { stack: "platform" }).environment, "platform", "the team alone is not stripped");
        assert.equal(parseTeamConfig(raw, [], { stack: "platformdev" }).environment, "platformdev", "only `<team>-` is a prefix");
        assert.equal(parseTeamConfig(raw, [], { stack: "other-dev" }).environment, "other-dev");
        assert.equal(parseTeamConfig({ ...raw, environment: "qa" }, [], { stack: "platform-dev" }).environment, "qa", "the key wins");
        assert.match(problems(raw, "platform--dev")[0], /^gitspace:environment: required: the stack name "platform--dev" cannot default it/);
    });

    it("asks for the key when the stack name cannot be one", () => {
        const raw = { ...rawConfig() };
        delete raw.environment;
        assert.deepEqual(problems(raw, "Platform_Dev"), [
            `gitspace:environment: required: the stack name "Platform_Dev" cannot default it (invalid name "Platform_Dev"; must be a DNS label (lowercase letters, digits, '-')); set gitspace:environment`,
        ]);
        assert.match(problems(raw, "team--dev")[0], /^gitspace:environment: required: the stack name "team--dev" cannot default it/);
    });
});

describe("routing config: resolved values", () => {
    it("keeps `router: {namespace}` meaning caddy2-k8s, with one shared namespace", () => {
        const c = parseTeamConfig(rawConfig({ router: { namespace: "caddy" } }));
        assert.deepEqual(c.router, { mode: "caddy2-k8s", namespace: "caddy" });
        assert.equal(c.namespaceLayout, "shared");
    });

    it("defaults other modes to per-developer namespaces and accepts shared", () => {
        assert.equal(parseTeamConfig(rawConfig({ router: GATEWAY })).namespaceLayout, "per-developer");
        assert.equal(parseTeamConfig(rawConfig({ router: { mode: "none" } })).namespaceLayout, "per-developer");
        assert.equal(parseTeamConfig(rawConfig({ router: GATEWAY, namespaceLayout: "shared" })).namespaceLayout, "shared");
    });

    it("reports problems of several keys at once", () => {
        const found = problems(rawConfig({
            router: { mode: "gateway", namespace: "gw", parentRefs: [] },
            namespaceLayout: "x",
            egress: { enabled: "true" },
            ssh: { serviceType: "NodePort" },
            developers: [ssh({ ports: [80] }), { name: "a--b" }],
        }));
        const paths = found.map((p) => p.substring(0, p.indexOf(": "))).sort();
        assert.deepEqual(paths, [
            "gitspace:developers[0].ports[0]", "gitspace:developers[1].name", "gitspace:egress.enabled",
            "gitspace:namespaceLayout", "gitspace:router.parentRefs", "gitspace:ssh.host",
        ]);
        assert.equal(found.length, 6, found.join("\n"));
    });
});
