/**
 * `npm run bench:portal`: the portal against the real engine and the local cluster, one run, prints the figures.
 * 1. Storm: a 20-developer team, all stopped (small requests so that 20 pods fit), 20 simultaneous start requests
 *    through the HTTP API, measured until every pod is Ready, against one start alone:
 *    `storm: <N> starts <X> s, one start <Y> s, ratio <R>`.
 * 2. Scale: a no-op update (what the portal runs: a full `up` through its driver) and a one-developer change (a
 *    portal call, targeted) for 10, 50 and 200 developers (`build: false`), and the ratio 200/10.
 * 3. Shared layout (one namespace for the team, the default with the caddy2-k8s router): a no-op update, then
 *    alternating rounds of a one-developer change with the partial program (targeted: the developer and the shared
 *    quota) and with the whole program (`targeting: never`: every resource registered and diffed, what a targeted
 *    change cost in this layout before the partial program), and one developer added (the quota grows, targeted).
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
import { developerNamespaceName } from "../../components/names";

const STORM = Number(process.env.PORTAL_BENCH_STORM ?? 20);
const SIZES = (process.env.PORTAL_BENCH_SIZES ?? "10,50,200").split(",").filter(Boolean).map(Number);
const SHARED_SIZES = (process.env.PORTAL_BENCH_SHARED_SIZES ?? "50").split(",").filter(Boolean).map(Number);
const ROUNDS = Number(process.env.PORTAL_BENCH_ROUNDS ?? 2);
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

/** Ready gitspace Deployments of a team (`readyReplicas` 1), by developer (kubectl run without blocking the portal in this process). */
async function readyDevelopers(team: string): Promise<Set<string>> {
    const { stdout } = await execFileAsync("kubectl", ["--kubeconfig", KUBECONFIG, "get", "deployments", "-A", "-l", `gitspace.io/team=${team}`, "-o", "json"], { maxBuffer: 64 << 20 });
    const list = JSON.parse(stdout) as {
        items: Array<{ metadata: { labels?: Record<string, string> }; status?: { readyReplicas?: number } }>;
    };
    return new Set(list.items.filter((d) => (d.status?.readyReplicas ?? 0) >= 1).map((d) => d.metadata.labels?.["gitspace.io/developer"] ?? ""));
}

/**
 * Milliseconds from `t0` until every developer of `names` has a Ready pod (polled every 500 ms); `seen` gets when
 * each one was first seen Ready.
 */
async function untilReady(team: string, names: string[], t0: number, seen: Map<string, number> = new Map(), timeoutMs = 30 * 60_000): Promise<number> {
    for (;;) {
        const ready = await readyDevelopers(team);
        for (const n of ready) if (!seen.has(n)) seen.set(n, Date.now() - t0);
        if (names.every((n) => ready.has(n))) return Date.now() - t0;
        if (Date.now() - t0 > timeoutMs) throw new Error(`not Ready after ${secs(timeoutMs)} s: ${names.filter((n) => !ready.has(n)).join(", ")}`);
        await sleep(500);
    }
}

describe("portal bench (real engine, local cluster)", function () {
    this.timeout(4 * 60 * 60 * 1000);
    const figures: string[] = [];
    const figure = (line: string) => { figures.push(line); console.log(`      ${line}`); };
    after(() => console.log(`\n      ${figures.join("\n      ")}\n`));
    before(() => {
        requireCli();
        requireCluster();
    });

    it(`storm: ${STORM} simultaneous starts through the HTTP API against one start alone`, async () => {
        const images = e2eTeamValues("x", []).images as { registry: string; tag: string };
        await requireImage(images.registry, "vscode", images.tag);
        const names = devs(STORM).map((d) => d.name);
        // 20 pods on 2 cores: requests small enough that the scheduler places every one.
        const team = await deployedTeam("bstorm", STORM, (t) => ({
            ...e2eTeamValues(t, devs(STORM)),
            defaults: { storage: "1Gi", resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "1", memory: "1Gi" } } },
        }));
        figure(`storm team: initial deploy of ${STORM} stopped gitspaces (setup, CLI, PULUMI_SKIP_CHECKPOINTS) ${secs(team.deployMs)} s`);
        const portal = new GitspacePortal({ automation: { workDir: team.project.dir } });
        const served = await serve(portal);
        try {
            const G = `/teams/${team.team}/envs/dev/gitspaces`;
            // The first engine run of a portal process loads the program into it (inline program): warm up with a
            // dry run, as a portal that has been serving does not pay it.
            let t0 = Date.now();
            const warm = await served.request("POST", `${G}/${names[0]}/start?dryRun=1`);
            assert.strictEqual(warm.status, 200, warm.text);
            figure(`storm team: first engine run of the portal process (a dry run, loads the program) ${secs(Date.now() - t0)} s`);
            t0 = Date.now();
            const onePod = untilReady(team.team, [names[0]], t0);
            const one = await served.request("POST", `${G}/${names[0]}/start`);
            assert.strictEqual(one.status, 200, one.text);
            const oneMs = await onePod;
            const stop = await served.request("POST", `${G}/${names[0]}/stop`);
            assert.strictEqual(stop.status, 200, stop.text);
            for (let i = 0; i < 120 && (await readyDevelopers(team.team)).size > 0; i++) await sleep(500);

            t0 = Date.now();
            const readyAt = new Map<string, number>();
            const pods = untilReady(team.team, names, t0, readyAt);
            const replies = await Promise.all(names.map((n) => served.request("POST", `${G}/${n}/start`).then((r) => ({ ...r, ms: Date.now() - t0 }))));
            const bad = replies.filter((r) => r.status !== 200);
            assert.deepStrictEqual(bad.map((r) => `${r.status} ${r.text.slice(0, 300)}`), []);
            const stormMs = await pods;
            const firstReady = [...readyAt.values()].sort((a, b) => a - b);
            const batches = new Set(replies.map((r) => r.body.durationMs && Math.round((t0 + r.ms - r.body.durationMs) / 1000))).size;
            figure(`storm: ${STORM} starts ${secs(stormMs)} s, one start ${secs(oneMs)} s, ratio ${(stormMs / oneMs).toFixed(1)}`);
            // The floor: the same 20 pods started with no portal and no engine (kubectl scale), from stopped again.
            const stopAll = await Promise.all(names.map((n) => served.request("POST", `${G}/${n}/stop`)));
            assert.deepStrictEqual(stopAll.map((r) => r.status), names.map(() => 200));
            for (let i = 0; i < 240 && (await readyDevelopers(team.team)).size > 0; i++) await sleep(500);
            const nsOf = (n: string) => developerNamespaceName({ team: team.team, environment: "dev" }, n);
            const t1 = Date.now();
            const floor = untilReady(team.team, names, t1);
            await Promise.all(names.map((n) => execFileAsync("kubectl", ["--kubeconfig", KUBECONFIG, "-n", nsOf(n), "scale", "deployment", "gitspace", "--replicas=1"])));
            const floorMs = await floor;
            figure(`  (the same 20 pods started by kubectl scale alone, no portal, no engine: ${secs(floorMs)} s)`);
            figure(`  (storm replies ${secs(Math.min(...replies.map((r) => r.ms)))}–${secs(Math.max(...replies.map((r) => r.ms)))} s, about ${batches} engine run(s); ` +
                `pods Ready at ${firstReady.map((ms) => secs(ms)).join(", ")} s)`);
        } finally {
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
