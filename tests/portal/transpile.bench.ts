/**
 * What type-checking the program costs on every engine run: `pulumi preview` of a 50-developer team (real CLI,
 * providers and the local cluster's API for the provider; nothing is created) with the language host's default
 * (ts-node type-checks the program) and with PULUMI_NODEJS_TRANSPILE_ONLY=true (what the portal sets, see
 * AutomationOptions.typeCheck). Prints the figures; asserts nothing but that both previews succeed.
 *   node -r ts-node/register/transpile-only tests/portal/transpile.bench.ts [rounds]
 */
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { e2eTeamValues, initStack, makeProject, requireCli, requireCluster } from "./e2e-harness";

async function main() {
    requireCli();
    requireCluster();
    const rounds = Number(process.argv[2] ?? 2);
    const project = makeProject("portal-transpile-");
    try {
        const developers = Array.from({ length: 50 }, (_, i) => ({ name: `dev${String(i).padStart(2, "0")}`, running: false }));
        initStack(project, "bench-dev", e2eTeamValues("bench", developers));
        const figures: Record<string, number[]> = { "type-check": [], "transpile-only": [] };
        for (let r = 0; r < rounds; r++) {
            for (const mode of ["type-check", "transpile-only"] as const) {
                const stack = await LocalWorkspace.selectStack({ stackName: "bench-dev", workDir: project.dir }, {
                    envVars: { ...project.env, ...(mode === "transpile-only" ? { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } : {}) },
                });
                const t0 = Date.now();
                const p = await stack.preview({ color: "never" });
                figures[mode].push((Date.now() - t0) / 1000);
                console.log(`${mode}: preview of ${Object.values(p.changeSummary).reduce((a, b) => a + (b ?? 0), 0)} resources ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            }
        }
        for (const [mode, xs] of Object.entries(figures)) console.log(`${mode}: ${xs.map((x) => x.toFixed(1)).join(", ")} s`);
    } finally {
        project.cleanup();
    }
}

main().catch((e) => { console.error(e); process.exit(1); });
