/**
 * Test harness for Pulumi programs under `pulumi.runtime.setMocks`: runs a program, waits until every resource is
 * registered, and returns what was registered (type, name, inputs and the resource options seen by a
 * transformation), so tests assert on real inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterReader, LiveObject } from "../../components/adoption";
import { TYPE_TOKENS } from "../../components/tokens";
// Internal but stable: resolves once every pending registration RPC has finished.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings");

export interface Registered {
    type: string;
    name: string;
    inputs: any;
    opts: pulumi.CustomResourceOptions;
}

export const MOCK_DIGEST = "sha256:" + "ab".repeat(32);

/** Outputs of the stacks a StackReference may name, by stack name (tests fill it). */
export const STACK_OUTPUTS: Record<string, Record<string, unknown>> = {};

/** Runs `program` under mocks; it receives resource options to pass to its top-level resources. */
export async function runProgram<T>(
    program: (opts: pulumi.ComponentResourceOptions) => T,
    { preview = false }: { preview?: boolean } = {},
): Promise<{ resources: Registered[]; result: T }> {
    const resources: Registered[] = [];
    const optsByName = new Map<string, pulumi.CustomResourceOptions>();
    await pulumi.runtime.setMocks({
        newResource(args) {
            const state: Record<string, unknown> = { ...args.inputs };
            if (args.type === "docker-build:index:Image") {
                state.ref = preview ? undefined : `${args.inputs.tags[0]}@${MOCK_DIGEST}`;
                state.digest = MOCK_DIGEST;
            }
            if (args.type === "pulumi:pulumi:StackReference") state.outputs = STACK_OUTPUTS[args.inputs.name] ?? {};
            if (args.type === "random:index/randomPassword:RandomPassword") state.result = preview ? undefined : `pw-${args.name}`;
            // What the API server fills in on a Service: a NodePort when none was asked for, a load balancer's address.
            if (args.type === "kubernetes:core/v1:Service" && !preview && args.inputs.spec?.type && args.inputs.spec.type !== "ClusterIP") {
                state.spec = { ...args.inputs.spec, ports: args.inputs.spec.ports.map((p: any) => ({ ...p, nodePort: p.nodePort ?? 31234 })) };
                if (args.inputs.spec.type === "LoadBalancer") state.status = { loadBalancer: { ingress: [{ ip: "203.0.113.7" }] } };
            }
            resources.push({ type: args.type, name: args.name, inputs: args.inputs, opts: optsByName.get(args.name) ?? {} });
            return { id: preview ? undefined : `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    }, "gitspace", "test", preview);
    const capture: pulumi.ResourceTransformation = (args) => {
        optsByName.set(args.name, args.opts);
        return undefined;
    };
    const result = program({ transformations: [capture] });
    // An async program (index.ts) registers its resources once its promise settles; the test awaits it for the value.
    if (result instanceof Promise) await result.catch(() => undefined);
    await waitForRPCs();
    return { resources, result };
}

export function byType(resources: Registered[], type: string): Registered[] {
    return resources.filter((r) => r.type === type);
}

export function one(resources: Registered[], type: string, name?: string): Registered {
    const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    if (found.length !== 1) {
        throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    }
    return found[0];
}

/** The value of an Output (undefined when unknown, e.g. in preview). */
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => { resolve(v as T); return v; }));
}

/** False while an Output is unknown (preview before the provider reports). */
export async function isKnown(output: pulumi.Input<unknown>): Promise<boolean> {
    return (await (pulumi.output(output) as any).isKnown) === true;
}

export async function isSecretOutput(output: pulumi.Output<unknown>): Promise<boolean> {
    return (await (output as any).isSecret) === true;
}

export const TYPES = {
    namespace: "kubernetes:core/v1:Namespace",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    secret: "kubernetes:core/v1:Secret",
    deployment: "kubernetes:apps/v1:Deployment",
    service: "kubernetes:core/v1:Service",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    quota: "kubernetes:core/v1:ResourceQuota",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    httpRoute: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    teamNamespace: TYPE_TOKENS.teamNamespace,
    limitRange: "kubernetes:core/v1:LimitRange",
    image: "docker-build:index:Image",
    password: "random:index/randomPassword:RandomPassword",
    gitspace: TYPE_TOKENS.gitspace,
    images: TYPE_TOKENS.runtimeImages,
} as const;

/** Pulumi's marker for a serialized secret value (rpc.specialSecretSig). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** Unwraps a serialized secret: `{secret: true, value}` for secrets, `{secret: false, value}` otherwise. */
export function unwrapSecret(v: any): { secret: boolean; value: any } {
    if (v && typeof v === "object" && v[SIG_KEY] === SECRET_SIG) return { secret: true, value: v.value };
    return { secret: false, value: v };
}

/** A minimal valid raw config, overridable per test. */
export function rawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        team: "platform",
        environment: "dev",
        domain: "gitspace.example.com",
        images: { registry: "registry.example.com/gitspace-runtime", tag: "2025.11.1" },
        developers: [{ name: "alice", ide: "vs_code_web", repos: [{ url: "https://git.example.com/acme/api.git", branch: "main" }] }],
        ...overrides,
    };
}

export const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILBnWtMOv3aGYXbnQQymtuvknoE5TTc20B8fZwt9HcBu alice@laptop";

/** A cluster holding exactly `objects` (`<namespace>` or `<namespace>/<claim>` → live object). */
export function fakeCluster(objects: Record<string, LiveObject> = {}): ClusterReader & { reads: string[] } {
    const reads: string[] = [];
    return {
        reads,
        namespace: async (name) => (reads.push(name), objects[name]),
        claim: async (namespace, name) => (reads.push(`${namespace}/${name}`), objects[`${namespace}/${name}`]),
    };
}

