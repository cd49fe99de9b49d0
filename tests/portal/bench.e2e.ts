/**
 * Benchmark: a one-developer change in a 50-developer team, targeted vs full, through the portal library.
 * 1. preview (needs the CLI only): targeted (the developer's component) vs full;
 * 2. update (needs the local cluster): targeted vs full, after a full deploy of 50 stopped gitspaces.
 * Prints the figures; fails clearly when the CLI or the cluster is missing.
 */
import * as assert from "assert";
import { GitspacePortal, updateDeveloper } from "../../portal";
import { AutomationStackDriver } from "../../portal/driver";
import { EventCollector } from "../../portal/events";
import { developerNamespaceName } from "../../components/names";
import { e2eTeamValues, initStack, kubectl, makeProject, pulumi, pulumiAsync, randomSuffix, requireCli, requireCluster } from "./e2e-harness";

const N = Number(process.env.PORTAL_BENCH_DEVELOPERS ?? 50);
const developers = Array.from({ length: N }, (_, i) => ({ name: `dev${String(i).padStart(2, "0")}`, running: false }));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe(`portal bench: one-developer change in a ${N}-developer team, targeted vs full`, function () {
    this.timeout(60 * 60 * 1000);
    const figures: string[] = [];
    after(() => console.log(`\n      ${figures.join("\n      ")}\n`));

    it("preview of the change (engine only)", async () => {
        requireCli();
        const project = makeProject("portal-bench-");
        try {
            initStack(project, "bench-preview", e2eTeamValues("bench", developers));
            const portal = new GitspacePortal({ automation: { workDir: project.dir } });
            const driver = (await portal.driver({ team: "bench", env: "preview" })) as AutomationStackDriver;
            const m = updateDeveloper(await driver.readConfig(), "bench-preview", "dev07", { storage: "2Gi" });
            await driver.applyConfig(m.ops);
            const run = async (target?: string[]) => {
                const c = new EventCollector();
                const t0 = Date.now();
                await driver.preview({ target, onEngineEvent: c.onEngineEvent });
                return { ms: Date.now() - t0, steps: c.steps.length };
            };
            // Alternated rounds: the machine is shared, single runs are noisy.
            const fulls: number[] = [], targeteds: number[] = [];
            let fullSteps = 0, targetedSteps = 0;
            for (let round = 0; round < 2; round++) {
                const f = await run();
                const t = await run([driver.componentUrn("dev07")]);
                fulls.push(f.ms); targeteds.push(t.ms);
                fullSteps = f.steps; targetedSteps = t.steps;
            }
            figures.push(`preview, ${N} developers (never deployed: every resource is a create): full ${fulls.map(secs).join(" / ")} (${fullSteps} steps), targeted ${targeteds.map(secs).join(" / ")} (${targetedSteps} steps)`);
            assert.ok(targetedSteps < fullSteps);
        } finally {
            project.cleanup();
        }
    });

    it("update of the change on the cluster", async () => {
        requireCli();
        requireCluster();
        const team = `bench${randomSuffix()}`;
        const stack = `${team}-dev`;
        const project = makeProject("portal-bench-");
        try {
            initStack(project, stack, e2eTeamValues(team, developers));
            let t0 = Date.now();
            await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", stack]);
            figures.push(`initial full deploy of ${N} stopped gitspaces: ${secs(Date.now() - t0)}`);
            const portal = new GitspacePortal({ automation: { workDir: project.dir } });
            const ref = { team, env: "dev" };
            // Alternated rounds (the machine is shared): toggle a field of one developer, targeted then full.
            const rows: string[] = [];
            const measure = async (dev: string, value: boolean, targeting: "auto" | "never") => {
                let engine = 0;
                const t = Date.now();
                const r = await portal.update(ref, dev, { migrateLegacyWorkspaces: value }, {
                    targeting, onEvent: (e) => { if (e.type === "summary") engine = e.durationSeconds ?? 0; },
                });
                assert.strictEqual(r.targeted, targeting === "auto");
                return { ms: Date.now() - t, engine, changes: r.changes };
            };
            const targetedMs: number[] = [], fullMs: number[] = [];
            for (let round = 0; round < 3; round++) {
                const a = await measure("dev07", round % 2 === 0, "auto");
                const b = await measure("dev08", round % 2 === 0, "never");
                targetedMs.push(a.ms); fullMs.push(b.ms);
                rows.push(`round ${round + 1}: targeted ${secs(a.ms)} (engine ${a.engine} s, ${JSON.stringify(a.changes)}), full ${secs(b.ms)} (engine ${b.engine} s, ${JSON.stringify(b.changes)})`);
            }
            const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
            figures.push(`update of one developer in ${N} (portal call, wall clock): targeted median ${secs(median(targetedMs))}, full median ${secs(median(fullMs))}`);
            figures.push(...rows.map((r) => `  ${r}`));
        } finally {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", stack]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            for (const d of developers) {
                try { kubectl("delete", "namespace", developerNamespaceName({ team, environment: "dev" }, d.name), "--ignore-not-found", "--wait=false"); } catch { /* cleanup */ }
            }
            project.cleanup();
        }
    });
});
