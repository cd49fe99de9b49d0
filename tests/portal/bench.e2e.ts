/**
 * `npm run bench:portal`: the portal against the real engine and the local cluster, one run, prints the figures.
 * 1. Storm: a 20-developer team, all stopped (small requests so that 20 pods fit; started once before, so that every
 *    home volume exists, as on a team's morning), 20 simultaneous start requests
 *    through the HTTP API, measured until every pod is Ready, against one start alone:
 *    `storm: <N> starts <X> s, one start <Y> s, ratio <R>`, then where the time went: per phase (Deployment scaled,
 *    pod created, scheduled, initialized, IDE running, Ready) the first, median and last time, from watches in this
 *    process, for the one start, the storm, and the same pods scaled by kubectl alone (the floor).
 * 2. Scale: a no-op update (what the portal runs: a full `up` through its driver) and a one-developer change (a
 *    portal call, targeted) for 10, 50 and 200 developers (`build: false`), and the ratio 200/10.
 * 3. Shared layout (one namespace for the team, the default with the caddy2-k8s router): a no-op update, then
 *    alternating rounds of a one-developer change with the partial program (targeted: the developer and the shared
 *    quota) and with the whole program (`targeting: never`: every resource registered and diffed, what a targeted
 *    change cost in this layout before the partial program), and one developer added (the quota grows, targeted).
 * 4. The SDK's cost in the portal: the portal process's CPU and wall time for a batch changing every developer of a
 *    team and for a no-op update, three ways, alternated: as before (the SDK's promise stacks source-mapped by
 *    ts-node's formatter, its debug messages sent to the engine), plain stacks only (portal/sdk-stacks.ts), and as
 *    shipped (plain stacks and no debug messages, portal/sdk-logs.ts: what main.ts installs); PORTAL_BENCH_STACKS
 *    developers (20).
 * Sizes: PORTAL_BENCH_STORM (20), PORTAL_BENCH_SIZES ("10,50,200"), PORTAL_BENCH_SHARED_SIZES ("50"), rounds of the
 * shared-layout comparison PORTAL_BENCH_ROUNDS (2). Load averages (1, 5, 15 min) are printed with the figures of
 * the scale and shared runs. Every stack is a unique team; at the end its
 * namespaces (every object of a per-developer-layout stack lives in them, the kept homes included) are deleted and
 * the stack is removed. Fails clearly without the CLI, the cluster or the runtime image.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as os from "os";
import { promisify } from "util";
import { GitspacePortal } from "../../portal";
import { AutomationStackDriver } from "../../portal/driver";
import {
    E2eProject, e2eTeamValues, initStack, KUBECONFIG, kubectl, makeProject, pulumiAsync, randomSuffix, requireCli, requireCluster, requireImage,
} from "./e2e-harness";
import { serve } from "./helpers";
import { cheapSdkPromiseStacks } from "../../portal/sdk-stacks";
import { quietSdkDebugLogs, sdkDebugLogsQuiet, sdkLogModule } from "../../portal/sdk-logs";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { developerNamespaceName } from "../../components/names";

const STORM = Number(process.env.PORTAL_BENCH_STORM ?? 20);
const SIZES = (process.env.PORTAL_BENCH_SIZES ?? "10,50,200").split(",").filter(Boolean).map(Number);
const SHARED_SIZES = (process.env.PORTAL_BENCH_SHARED_SIZES ?? "50").split(",").filter(Boolean).map(Number);
const ROUNDS = Number(process.env.PORTAL_BENCH_ROUNDS ?? 2);
const STACKS_DEVS = Number(process.env.PORTAL_BENCH_STACKS ?? 20);
/** ts-node's source-map formatter, before `cheapSdkPromiseStacks` wraps it (the "SDK cost" comparison). */
const SOURCE_MAPPED = Error.prepareStackTrace;
/** The SDK's own log.debug, which sends each message to the engine, before `quietSdkDebugLogs` replaces it (set in before()). */
let sdkDebugSent: (...args: unknown[]) => Promise<void>;
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");
const secs = (ms: number) => (ms / 1000).toFixed(1);
const devs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `dev${String(i).padStart(3, "0")}`, running: false }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const execFileAsync = promisify(execFile);

/** A team stack of `n` stopped developers, deployed by the CLI; `cleanup` deletes its namespaces and the stack. */
async function deployedTeam(prefix: string, n: number, values: (team: string) => Record<string, unknown> = (t) => e2eTeamValues(t, devs(n))) {
    const team = `${prefix}${randomSuffix()}`;
    const stack = `${team}-dev`;
    const project = makeProject("portal-bench-");
    initStack(project, stack, values(team));
    const t0 = Date.now();
    try {
        // Setup, not a measured figure: without intermediate checkpoints the DIY backend writes the whole state
        // (14 MB for 200 developers) once instead of at every step (quadratic: a 200-developer first deploy ran
        // for over 15 minutes here and had written half of it).
        await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", stack], { PULUMI_SKIP_CHECKPOINTS: "true" });
    } catch (e) {
        await removeTeam(project, team, stack);
        throw e;
    }
    return { team, stack, project, deployMs: Date.now() - t0, cleanup: () => removeTeam(project, team, stack) };
}

async function removeTeam(project: E2eProject, team: string, stack: string) {
    try {
        const ns = kubectl("get", "namespaces", "-l", `gitspace.io/team=${team}`, "-o", "name").split("\n").filter(Boolean);
        if (ns.length) kubectl("delete", "--wait=false", ...ns);
    } catch (e) {
        console.log(`      cleanup of ${team}'s namespaces: ${String(e).slice(0, 300)}`);
    }
    await pulumiAsync(project, ["stack", "rm", "--force", "--yes", "--stack", stack]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
    project.cleanup();
}

const PHASES = ["deployment", "pod", "scheduled", "initialized", "ide", "ready"] as const;
type Phase = (typeof PHASES)[number];

/**
 * What the cluster does with a team's gitspaces, from two watches (@kubernetes/client-node, in this process: no
 * kubectl process every half second competing with the pods for the two cores): when each developer's Deployment
 * asked for a pod, the pod was created, scheduled, initialized (the init container done), its IDE container running,
 * and Ready. Times are milliseconds since `reset`.
 */
class TeamTimeline {
    private t0 = Date.now();
    private marks = new Map<string, Partial<Record<Phase, number>>>();
    private readyNow = new Set<string>();
    private constructor(private readonly watches: Array<{ abort(): void }>) {}

    static async start(team: string): Promise<TeamTimeline> {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(KUBECONFIG);
        const w = new k8s.Watch(kc);
        const labelSelector = `gitspace.io/team=${team}`;
        const aborts: Array<{ abort(): void }> = [];
        const timeline = new TeamTimeline(aborts);
        const failed = (e: unknown) => { if (e && !String(e).includes("aborted")) console.log(`      watch: ${String(e).slice(0, 200)}`); };
        aborts.push(await w.watch("/apis/apps/v1/deployments", { labelSelector }, (type, d: any) => {
            if (type !== "DELETED" && d.spec?.replicas === 1) timeline.mark(d, "deployment");
        }, failed));
        aborts.push(await w.watch("/api/v1/pods", { labelSelector }, (type, p: any) => timeline.pod(type, p), failed));
        return timeline;
    }

    private developer(o: any): string { return o.metadata?.labels?.["gitspace.io/developer"] ?? ""; }
    private mark(o: any, phase: Phase) {
        const m = this.marks.get(this.developer(o)) ?? {};
        if (m[phase] === undefined) m[phase] = Date.now() - this.t0;
        this.marks.set(this.developer(o), m);
    }
    private pod(type: string, p: any) {
        const dev = this.developer(p);
        const ready = type !== "DELETED" && !p.metadata.deletionTimestamp &&
            (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
        if (ready) this.readyNow.add(dev); else this.readyNow.delete(dev);
        if (type === "DELETED" || p.metadata.deletionTimestamp) return;
        const is = (t: string) => (p.status?.conditions ?? []).some((c: any) => c.type === t && c.status === "True");
        this.mark(p, "pod");
        if (is("PodScheduled")) this.mark(p, "scheduled");
        if (is("Initialized")) this.mark(p, "initialized");
        if (p.status?.containerStatuses?.some((c: any) => c.name === "ide" && c.state?.running)) this.mark(p, "ide");
        if (ready) this.mark(p, "ready");
    }

    /** Starts a new measurement: marks are cleared, times count from now. */
    reset() { this.t0 = Date.now(); this.marks.clear(); }
    get ready(): ReadonlySet<string> { return this.readyNow; }

    /** Milliseconds since `reset` until every developer of `names` has had a Ready pod. */
    async untilReady(names: string[], timeoutMs = 30 * 60_000): Promise<number> {
        while (!names.every((n) => this.marks.get(n)?.ready !== undefined)) {
            if (Date.now() - this.t0 > timeoutMs) throw new Error(`not Ready after ${secs(timeoutMs)} s: ${names.filter((n) => this.marks.get(n)?.ready === undefined).join(", ")}`);
            await sleep(50);
        }
        return Math.max(...names.map((n) => this.marks.get(n)!.ready!));
    }

    /** Until no pod of the team is Ready. */
    async untilNoneReady(timeoutMs = 180_000) {
        const end = Date.now() + timeoutMs;
        while (this.readyNow.size > 0 && Date.now() < end) await sleep(200);
    }

    /** Per phase, over `names`: first, median and last time (s), e.g. `ready 9.8/21.0/27.4`. */
    summary(names: string[]): string {
        return PHASES.map((ph) => {
            const xs = names.map((n) => this.marks.get(n)?.[ph]).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
            return xs.length ? `${ph} ${secs(xs[0])}/${secs(xs[Math.floor(xs.length / 2)])}/${secs(xs[xs.length - 1])}` : `${ph} -`;
        }).join(", ");
    }

    stop() { for (const w of this.watches) w.abort(); }
}

describe("portal bench (real engine, local cluster)", function () {
    this.timeout(4 * 60 * 60 * 1000);
    const figures: string[] = [];
    const figure = (line: string) => { figures.push(line); console.log(`      ${line}`); };
    after(() => console.log(`\n      ${figures.join("\n      ")}\n`));
    before(() => {
        requireCli();
        requireCluster();
        // Every figure is the portal as shipped: main.ts installs both too.
        cheapSdkPromiseStacks();
        sdkDebugSent = sdkLogModule().debug;
        quietSdkDebugLogs();
    });

    it(`storm: ${STORM} simultaneous starts through the HTTP API against one start alone`, async () => {
        const images = e2eTeamValues("x", []).images as { registry: string; tag: string };
        await requireImage(images.registry, "vscode", images.tag);
        const names = devs(STORM).map((d) => d.name);
        // 20 pods on 2 cores: requests small enough that the scheduler places every one. Deployed running, then
        // stopped below: every home volume exists, as it does on a team's morning. (A first start also provisions the
        // volume; the local-path provisioner of the local cluster makes one at a time, which a storm of first starts
        // waits for: portal/README.md.)
        const team = await deployedTeam("bstorm", STORM, (t) => ({
            ...e2eTeamValues(t, devs(STORM).map((d) => ({ ...d, running: true }))),
            defaults: { storage: "1Gi", resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "1", memory: "1Gi" } } },
        }));
        figure(`storm team: initial deploy of ${STORM} running gitspaces (setup, CLI, PULUMI_SKIP_CHECKPOINTS) ${secs(team.deployMs)} s`);
        const portal = new GitspacePortal({ automation: { workDir: team.project.dir } });
        const served = await serve(portal);
        const timeline = await TeamTimeline.start(team.team);
        try {
            const G = `/teams/${team.team}/envs/dev/gitspaces`;
            // The first engine run of a portal process loads the program into it (inline program): warm up with a
            // dry run, as a portal that has been serving does not pay it.
            let t0 = Date.now();
            const warm = await served.request("POST", `${G}/${names[0]}/start?dryRun=1`);
            assert.strictEqual(warm.status, 200, warm.text);
            figure(`storm team: first engine run of the portal process (a dry run, loads the program) ${secs(Date.now() - t0)} s`);
            const stopped = await Promise.all(names.map((n) => served.request("POST", `${G}/${n}/stop`)));
            assert.deepStrictEqual(stopped.map((r) => r.status), names.map(() => 200));
            await timeline.untilNoneReady(240_000);
            timeline.reset();
            const one = await served.request("POST", `${G}/${names[0]}/start`);
            assert.strictEqual(one.status, 200, one.text);
            const oneMs = await timeline.untilReady([names[0]]);
            const oneSummary = timeline.summary([names[0]]);
            const stop = await served.request("POST", `${G}/${names[0]}/stop`);
            assert.strictEqual(stop.status, 200, stop.text);
            await timeline.untilNoneReady();

            timeline.reset();
            t0 = Date.now();
            const replies = await Promise.all(names.map((n) => served.request("POST", `${G}/${n}/start`).then((r) => ({ ...r, ms: Date.now() - t0 }))));
            const bad = replies.filter((r) => r.status !== 200);
            assert.deepStrictEqual(bad.map((r) => `${r.status} ${r.text.slice(0, 300)}`), []);
            const stormMs = await timeline.untilReady(names);
            const stormSummary = timeline.summary(names);
            const batches = new Set(replies.map((r) => r.body.durationMs && Math.round((t0 + r.ms - r.body.durationMs) / 1000))).size;
            figure(`storm: ${STORM} starts ${secs(stormMs)} s, one start ${secs(oneMs)} s, ratio ${(stormMs / oneMs).toFixed(1)}`);
            // The floor: the same 20 pods started with no portal and no engine (kubectl scale), from stopped again.
            const stopAll = await Promise.all(names.map((n) => served.request("POST", `${G}/${n}/stop`)));
            assert.deepStrictEqual(stopAll.map((r) => r.status), names.map(() => 200));
            await timeline.untilNoneReady(240_000);
            const nsOf = (n: string) => developerNamespaceName({ team: team.team, environment: "dev" }, n);
            timeline.reset();
            await Promise.all(names.map((n) => execFileAsync("kubectl", ["--kubeconfig", KUBECONFIG, "-n", nsOf(n), "scale", "deployment", "gitspace", "--replicas=1"])));
            const floorMs = await timeline.untilReady(names);
            figure(`  (the same ${STORM} pods started by kubectl scale alone, no portal, no engine: ${secs(floorMs)} s)`);
            figure(`  (storm replies ${secs(Math.min(...replies.map((r) => r.ms)))}–${secs(Math.max(...replies.map((r) => r.ms)))} s, about ${batches} engine run(s))`);
            figure(`  (seconds from the request(s), first/median/last: one start: ${oneSummary})`);
            figure(`  (storm: ${stormSummary})`);
            figure(`  (kubectl scale: ${timeline.summary(names)})`);
        } finally {
            timeline.stop();
            await served.close();
            await portal.close();
            await team.cleanup();
        }
    });

    /** A portal over a deployed team's project, and the wall time of a no-op `up` through its driver (nothing changed). */
    async function noopUp(teamName: string, workDir: string) {
        const portal = new GitspacePortal({ automation: { workDir } });
        const ref = { team: teamName, env: "dev" };
        const driver = (await portal.driver(ref)) as AutomationStackDriver;
        const t0 = Date.now();
        const noop = await driver.up({ onEngineEvent: () => undefined });
        const noopMs = Date.now() - t0;
        assert.deepStrictEqual(Object.keys(noop.changes), ["same"], JSON.stringify(noop.changes));
        return { portal, ref, noopMs };
    }

    it(`the SDK's cost in the portal: CPU for a ${STACKS_DEVS}-developer batch and a no-op update, promise stacks and debug logs as before and as shipped`, async () => {
        // The portal as shipped (main.ts) formats the SDK's promise stacks plainly and sends no SDK debug messages;
        // here three ways, alternated: as before either, plain stacks only, and as shipped.
        const mapped = SOURCE_MAPPED;
        assert.ok(mapped, "ts-node's source-map formatter is installed (this bench runs under ts-node, as npm run portal does)");
        const cheap = Error.prepareStackTrace;
        assert.ok(cheap && cheap !== mapped, "cheapSdkPromiseStacks is installed (before)");
        assert.ok(sdkDebugLogsQuiet(), "quietSdkDebugLogs is installed (before)");
        const log = sdkLogModule();
        const quiet = log.debug;
        const sent = sdkDebugSent;
        const team = await deployedTeam("bstacks", STACKS_DEVS);
        type How = "before" | "plain stacks" | "shipped";
        const HOWS: How[] = ["before", "plain stacks", "shipped"];
        const set = (how: How) => {
            Error.prepareStackTrace = how === "before" ? mapped : cheap;
            log.debug = how === "shipped" ? quiet : sent;
        };
        try {
            const portal = new GitspacePortal({ automation: { workDir: team.project.dir } });
            const ref = { team: team.team, env: "dev" };
            const driver = (await portal.driver(ref)) as AutomationStackDriver;
            await portal.update(ref, "dev000", { migrateLegacyWorkspaces: true }, { dryRun: true });
            // debug: the engine's debug events of the run (counted for the no-op update, where the driver's events are seen).
            type Run = { cpu: number; wall: number; debug: number };
            const runs: Record<"batch" | "noop", Record<How, Run[]>> = {
                batch: { before: [], "plain stacks": [], shipped: [] }, noop: { before: [], "plain stacks": [], shipped: [] },
            };
            const measure = async (kind: "batch" | "noop", how: How, run: (onEngineEvent: (e: EngineEvent) => void) => Promise<unknown>) => {
                set(how);
                let debug = 0;
                const count = (e: EngineEvent) => { if (e.diagnosticEvent?.severity === "debug") debug++; };
                const cpu0 = process.cpuUsage(), t0 = Date.now();
                await run(count);
                const cpu = process.cpuUsage(cpu0);
                runs[kind][how].push({ cpu: (cpu.user + cpu.system) / 1000, wall: Date.now() - t0, debug });
            };
            let batches = 0;
            for (let round = 0; round < ROUNDS * 2; round++) {
                // Each round in another order: every configuration runs first, in the middle and last.
                for (const how of HOWS.map((_, i) => HOWS[(i + round) % HOWS.length])) {
                    const migrate = batches++ % 2 === 0; // flips every batch: each one changes every developer
                    // One batch: every developer's change at once (stopped gitspaces: the Deployments change, no pod starts).
                    await measure("batch", how, async () => {
                        const results = await Promise.all(devs(STACKS_DEVS).map((d) => portal.update(ref, d.name, { migrateLegacyWorkspaces: migrate })));
                        assert.ok(results.every((r) => r.changes.update === 1), JSON.stringify(results.map((r) => r.changes)));
                    });
                    // A no-op update: the whole program registers, nothing changes.
                    await measure("noop", how, async (onEngineEvent) => {
                        const noop = await driver.up({ onEngineEvent });
                        assert.deepStrictEqual(Object.keys(noop.changes), ["same"], JSON.stringify(noop.changes));
                    });
                }
            }
            await portal.close();
            const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
            const noops = runs.noop;
            assert.ok(noops.before.every((r) => r.debug > 0) && noops["plain stacks"].every((r) => r.debug > 0), "the SDK sends debug messages unless quieted");
            assert.ok(noops.shipped.every((r) => r.debug === 0), `as shipped, no debug message reaches the engine: ${JSON.stringify(noops.shipped)}`);
            for (const [kind, what] of [["batch", `${STACKS_DEVS}-developer batch`], ["noop", "no-op update"]] as const) {
                const m = (how: How, k: keyof Run) => med(runs[kind][how].map((r) => r[k]));
                figure(`SDK cost, ${what} (median of ${runs[kind].shipped.length}): portal CPU ${HOWS.map((h) => `${secs(m(h, "cpu"))} s ${h}`).join(", ")} ` +
                    `(${(m("before", "cpu") / m("shipped", "cpu")).toFixed(2)}x); wall ${HOWS.map((h) => `${secs(m(h, "wall"))} s`).join(", ")}` +
                    (kind === "noop" ? `; engine debug events ${m("plain stacks", "debug")} → ${m("shipped", "debug")}` : "") + ` (load ${load()})`);
            }
        } finally {
            Error.prepareStackTrace = cheap;
            log.debug = quiet;
            await team.cleanup();
        }
    });

    const scale: Record<number, { noop: number; change: number }> = {};
    for (const n of SIZES) {
        it(`no-op update and a one-developer change, ${n} developers`, async () => {
            const team = await deployedTeam(`bscale${n}x`, n);
            try {
                const { portal, ref, noopMs } = await noopUp(team.team, team.project.dir);
                const t0 = Date.now();
                const change = await portal.update(ref, devs(n)[Math.floor(n / 2)].name, { migrateLegacyWorkspaces: true });
                const changeMs = Date.now() - t0;
                assert.ok(change.targeted);
                assert.deepStrictEqual(change.changes.update, 1, JSON.stringify(change.changes));
                await portal.close();
                scale[n] = { noop: noopMs, change: changeMs };
                figure(`${n} developers: initial deploy (setup) ${secs(team.deployMs)} s, no-op up ${secs(noopMs)} s, one-developer change ${secs(changeMs)} s (portal call, targeted; load ${load()})`);
                const lo = Math.min(...Object.keys(scale).map(Number)), hi = Math.max(...Object.keys(scale).map(Number));
                if (hi > lo && n === hi) {
                    figure(`ratio ${hi}/${lo} developers: no-op ${(scale[hi].noop / scale[lo].noop).toFixed(1)}x, one-developer change ${(scale[hi].change / scale[lo].change).toFixed(1)}x`);
                }
            } finally {
                await team.cleanup();
            }
        });
    }

    for (const n of SHARED_SIZES) {
        it(`shared layout, ${n} developers: no-op update, one-developer change with the partial program and with the whole program`, async () => {
            const team = await deployedTeam(`bshared${n}x`, n, (t) => ({
                ...e2eTeamValues(t, devs(n)),
                // The default router's layout: one namespace for the team (quota, limits, policies cover everyone).
                router: { mode: "caddy2-k8s", serviceAccount: { name: "caddy", namespace: "caddy-system" } },
            }));
            try {
                const { portal, ref, noopMs } = await noopUp(team.team, team.project.dir);
                figure(`shared layout, ${n} developers: initial deploy (setup) ${secs(team.deployMs)} s, no-op up ${secs(noopMs)} s (load ${load()})`);
                const partial: number[] = [], whole: number[] = [];
                for (let round = 0; round < ROUNDS; round++) {
                    // Alternated, each on its own developer, so that the machine's load swings hit both alike.
                    for (const targeting of ["auto", "never"] as const) {
                        const developer = devs(n)[(round * 2 + (targeting === "auto" ? 0 : 1) + Math.floor(n / 3)) % n].name;
                        const t0 = Date.now();
                        const change = await portal.update(ref, developer, { migrateLegacyWorkspaces: true }, { targeting });
                        const ms = Date.now() - t0;
                        assert.strictEqual(change.targeted, targeting === "auto");
                        assert.deepStrictEqual(change.changes.update, 1, JSON.stringify(change.changes));
                        (targeting === "auto" ? partial : whole).push(ms);
                        figure(`  round ${round + 1}: ${targeting === "auto" ? "partial program (targeted)" : "whole program (targeting: never)"} ${secs(ms)} s (load ${load()})`);
                    }
                }
                const addStart = Date.now();
                const add = await portal.add(ref, { name: "added", running: false });
                const addMs = Date.now() - addStart;
                assert.ok(add.targeted);
                assert.ok(add.steps.some((st) => st.name === "team-quota" && st.op === "update"), "the quota grew");
                await portal.close();
                const median = (xs: number[]) => {
                    const sorted = [...xs].sort((a, b) => a - b);
                    const mid = Math.floor(sorted.length / 2);
                    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
                };
                figure(`shared layout, ${n} developers: one-developer change ${secs(median(partial))} s with the partial program, ` +
                    `${secs(median(whole))} s with the whole program (median of ${ROUNDS}); one developer added (quota grows, targeted) ${secs(addMs)} s (load ${load()})`);
            } finally {
                await team.cleanup();
            }
        });
    }
});
