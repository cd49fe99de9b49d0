/**
 * Benchmark: evaluate the whole program under mocks for 50 and 500 developers and, in the same run, the floor: the
 * time the Pulumi SDK needs to register as many bare resources under the same mocks. Each case runs in its own
 * process so its peak memory (max RSS) is its own. Prints figures and ratios; asserts nothing.
 *
 *   npm run bench
 */
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as dockerbuild from "@pulumi/docker-build";
import * as random from "@pulumi/random";
import { parseTeamConfig } from "../../components/config";
import { IDE_TYPES } from "../../components/catalog";
import { provisionTeam } from "../../components/team";
import { SSH_KEY } from "../unit/harness";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings");

interface Result { kind: string; developers: number; resources: number; ms: number; maxRssMiB: number }
type Kind = "program" | "floor" | "typed-floor";

/** SDK classes of the types the program registers, to build the typed floor (same types, empty inputs). */
const CLASSES: Record<string, new (name: string, args: any) => pulumi.Resource> = {
    "kubernetes:core/v1:Namespace": k8s.core.v1.Namespace,
    "kubernetes:core/v1:PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
    "kubernetes:core/v1:Secret": k8s.core.v1.Secret,
    "kubernetes:core/v1:Service": k8s.core.v1.Service,
    "kubernetes:core/v1:ResourceQuota": k8s.core.v1.ResourceQuota,
    "kubernetes:core/v1:LimitRange": k8s.core.v1.LimitRange,
    "kubernetes:apps/v1:Deployment": k8s.apps.v1.Deployment,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "docker-build:index:Image": dockerbuild.Image,
    "random:index/randomPassword:RandomPassword": random.RandomPassword,
};

function teamConfig(developers: number) {
    return parseTeamConfig({
        team: "bench",
        domain: "gitspace.example.com",
        images: { registry: "registry.example.com/gitspace-runtime", username: "ci", password: "pw" },
        developers: Array.from({ length: developers }, (_, i) => ({
            name: `dev${i}`,
            ide: IDE_TYPES[i % IDE_TYPES.length],
            sshPublicKeys: [SSH_KEY],
            repos: [{ url: `https://git.example.com/acme/service-${i}.git`, branch: "main" }],
            ...(i % 2 === 0 ? { git: { username: `dev${i}`, token: `token-${i}` } } : {}),
        })),
    });
}

async function runCase(kind: Kind, developers: number, floorCount: number): Promise<Result> {
    let registered = 0;
    // The typed floor registers the program's own resource list (types and names), known before timing starts.
    const typed = kind === "typed-floor" ? await registeredTypes(developers) : [];
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            registered++;
            const state: Record<string, unknown> = { ...args.inputs };
            if (args.type === "docker-build:index:Image") state.ref = `${args.inputs.tags?.[0] ?? "bare"}@sha256:00`;
            if (args.type === "random:index/randomPassword:RandomPassword") state.result = "pw";
            return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    }, "gitspace", "bench", false);
    const start = process.hrtime.bigint();
    if (kind === "program") {
        provisionTeam(teamConfig(developers));
    } else if (kind === "floor") {
        for (let i = 0; i < floorCount; i++) new Bare(`bare-${i}`);
    } else {
        for (const [type, name] of typed) {
            const Class = CLASSES[type];
            if (Class) new Class(name, REQUIRED_INPUTS[type] ?? {});
            else new (class extends pulumi.ComponentResource {})(type, name);
        }
    }
    await waitForRPCs();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { kind, developers, resources: registered, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** The least inputs the SDK classes accept. */
const REQUIRED_INPUTS: Record<string, object> = {
    "random:index/randomPassword:RandomPassword": { length: 24 },
    "docker-build:index:Image": { push: false },
    "kubernetes:apps/v1:Deployment": { spec: { selector: {}, template: {} } },
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": { spec: {} },
};

class Bare extends pulumi.CustomResource {
    constructor(name: string) { super("bench:index:Bare", name, {}); }
}

/** [type, name] of every resource the program registers for `developers` (a dry evaluation under mocks). */
async function registeredTypes(developers: number): Promise<Array<[string, string]>> {
    const seen: Array<[string, string]> = [];
    await pulumi.runtime.setMocks({
        newResource: (args) => { seen.push([args.type, args.name]); return { id: args.name, state: {} }; },
        call: (args) => args.inputs,
    }, "gitspace", "bench-types", false);
    provisionTeam(teamConfig(developers));
    await waitForRPCs();
    return seen;
}

function child(kind: string, developers: number, floorCount = 0): Result {
    const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", __filename, kind, String(developers), String(floorCount)], {
        encoding: "utf8", maxBuffer: 1 << 20,
    });
    return JSON.parse(out.trim().split("\n").pop()!);
}

async function main() {
    const [kind, developers, floorCount] = process.argv.slice(2);
    if (kind) {
        const result = await runCase(kind as Kind, Number(developers), Number(floorCount));
        console.log(JSON.stringify(result));
        return;
    }
    const rows: Result[] = [];
    for (const n of [50, 500]) {
        const program = child("program", n);
        const floor = child("floor", n, program.resources);
        const typedFloor = child("typed-floor", n);
        rows.push(program, floor, typedFloor);
    }
    const fmt = (r: Result) => `${r.kind.padEnd(11)} ${String(r.developers).padStart(4)} devs ${String(r.resources).padStart(6)} resources ` +
        `${(r.ms / 1000).toFixed(2).padStart(7)} s  ${(r.ms / r.resources).toFixed(2).padStart(6)} ms/resource  peak RSS ${r.maxRssMiB.toFixed(0)} MiB`;
    console.log("gitspace program under mocks vs the Pulumi SDK floor, same count, same mocks:");
    console.log("  floor = bare pulumi.CustomResource; typed-floor = the program's own resource types and names, empty inputs");
    rows.forEach((r) => console.log("  " + fmt(r)));
    const [p50, f50, t50, p500, f500, t500] = rows;
    console.log(`  program/floor       at 50 devs: ${(p50.ms / f50.ms).toFixed(2)}x   at 500 devs: ${(p500.ms / f500.ms).toFixed(2)}x   (goal at 500: ≤ 1.5x)`);
    console.log(`  program/typed-floor at 50 devs: ${(p50.ms / t50.ms).toFixed(2)}x   at 500 devs: ${(p500.ms / t500.ms).toFixed(2)}x`);
    console.log(`  program 500/50:            ${(p500.ms / p50.ms).toFixed(2)}   (goal ≤ 12, linear is 10)`);
    console.log(`  peak RSS program/floor at 500: ${(p500.maxRssMiB / f500.maxRssMiB).toFixed(2)}x`);
}

main().catch((e) => { console.error(e); process.exit(1); });
