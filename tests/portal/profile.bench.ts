/**
 * Where one portal update of a team stack spends its time (real CLI, providers and the local cluster):
 * every Pulumi CLI call the portal makes (by its arguments, with its duration) and, inside an engine run, the
 * phases seen from the engine's events (CLI start to the first event, the program registering resources, the last
 * resource to the summary, the summary to the CLI's exit). Runs a no-op update and one-developer changes through
 * the portal (targeted and full). Prints the figures; asserts only that the operations succeed.
 *
 *   node -r ts-node/register/transpile-only tests/portal/profile.bench.ts [developers=50] [rounds=2]
 *   PORTAL_PROFILE_DIR=/tmp/x keeps the deployed stack in /tmp/x for the next run (destroy it by hand:
 *   the script prints how); without it the stack is destroyed and its namespaces deleted at the end.
 */
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, PulumiCommand } from "@pulumi/pulumi/automation";
import { GitspacePortal } from "../../portal";
import { AutomationOptions, AutomationStackDriver } from "../../portal/driver";
import { E2eProject, e2eTeamValues, initStack, kubectl, makeProject, pulumiAsync, randomSuffix, requireCli, requireCluster } from "./e2e-harness";

interface CliCall { args: string; ms: number; start: number }

/** A PulumiCommand that records every call (the Automation API's one entry to the CLI). */
export async function timedCommand(calls: CliCall[]): Promise<PulumiCommand> {
    const cmd = await PulumiCommand.get({ skipVersionCheck: true });
    const run = cmd.run.bind(cmd);
    (cmd as { run: typeof cmd.run }).run = async (args, ...rest) => {
        const start = Date.now();
        try {
            return await run(args, ...rest);
        } finally {
            calls.push({ args: summarize(args), ms: Date.now() - start, start });
        }
    };
    return cmd;
}

/** `up --target … --target …` → `up --target×3`; paths and values elided. */
function summarize(args: string[]): string {
    const out: string[] = [];
    const counts = new Map<string, number>();
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (a === "--non-interactive" || a === "--stack" || a === "--exec-kind" || a === "--event-log" || a.startsWith("--client=")) {
            if (a === "--stack" || a === "--exec-kind" || a === "--event-log") i++;
            continue;
        }
        if (a === "--target" || a === "--plaintext" || a === "--secret" || a === "--path") {
            counts.set(a, (counts.get(a) ?? 0) + 1);
            if (a !== "--path") i++;
            continue;
        }
        if (a.startsWith("-") || out.length < 3) out.push(a);
    }
    for (const [k, n] of counts) out.push(n > 1 ? `${k}×${n}` : k);
    return out.join(" ");
}

/** Engine-event phases of one run, by arrival time. */
export class EnginePhases {
    private t0 = 0;
    private first?: number;
    private firstResource?: number;
    private lastRegistration?: number;
    private summary?: number;
    private resources = 0;
    start() { this.t0 = Date.now(); }
    readonly onEvent = (e: EngineEvent) => {
        const now = Date.now();
        this.first ??= now;
        if (e.resourcePreEvent) {
            this.firstResource ??= now;
            this.lastRegistration = now;
            this.resources++;
        }
        if (e.summaryEvent) this.summary = now;
    };
    report(end: number): string {
        const s = (a?: number, b?: number) => (a !== undefined && b !== undefined ? ((b - a) / 1000).toFixed(1) : "?");
        return `CLI start→first event ${s(this.t0, this.first)} s, →first resource ${s(this.first, this.firstResource)} s, ` +
            `resources (${this.resources} steps) ${s(this.firstResource, this.lastRegistration)} s, →summary ${s(this.lastRegistration, this.summary)} s, ` +
            `summary→CLI exit ${s(this.summary, end)} s`;
    }
}

async function main() {
    requireCli();
    requireCluster();
    const n = Number(process.argv[2] ?? 50);
    const rounds = Number(process.argv[3] ?? 2);
    const keep = process.env.PORTAL_PROFILE_DIR;
    let project: E2eProject;
    let team: string;
    if (keep && fs.existsSync(path.join(keep, "profile.json"))) {
        ({ team } = JSON.parse(fs.readFileSync(path.join(keep, "profile.json"), "utf8")));
        const state = path.join(keep, ".state");
        project = { dir: keep, backend: `file://${state}`, env: { PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "portal-e2e-passphrase" }, cleanup: () => undefined };
        Object.assign(process.env, project.env);
        console.log(`reusing ${keep} (team ${team})`);
    } else {
        project = makeProject("portal-profile-");
        team = `prof${randomSuffix()}`;
        const developers = Array.from({ length: n }, (_, i) => ({ name: `dev${String(i).padStart(3, "0")}`, running: false }));
        initStack(project, `${team}-dev`, e2eTeamValues(team, developers));
        const t0 = Date.now();
        await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", `${team}-dev`]);
        console.log(`initial deploy of ${n} stopped gitspaces: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        if (keep) {
            fs.mkdirSync(keep, { recursive: true });
            for (const f of fs.readdirSync(project.dir)) fs.renameSync(path.join(project.dir, f), path.join(keep, f));
            fs.writeFileSync(path.join(keep, "profile.json"), JSON.stringify({ team, n }));
            fs.rmSync(project.dir, { recursive: true, force: true });
            project = { ...project, dir: keep, backend: `file://${path.join(keep, ".state")}`, env: { PULUMI_BACKEND_URL: `file://${path.join(keep, ".state")}`, PULUMI_CONFIG_PASSPHRASE: "portal-e2e-passphrase" } };
            Object.assign(process.env, project.env);
        }
    }
    const stack = `${team}-dev`;
    const ref = { team, env: "dev" };
    const calls: CliCall[] = [];
    const pulumiCommand = await timedCommand(calls);
    // PORTAL_PROFILE_VARIANTS: comma-separated, from: host (the CLI's Node.js language host), inline (the program in
    // this process), inline-skipcp (inline + PULUMI_SKIP_CHECKPOINTS=true).
    const variants = (process.env.PORTAL_PROFILE_VARIANTS ?? "host,inline").split(",");
    const automation = (v: string): AutomationOptions => ({
        workDir: project.dir, pulumiCommand, inline: v.startsWith("inline"),
        ...(v === "inline-skipcp" ? { envVars: { PULUMI_SKIP_CHECKPOINTS: "true" } } : {}),
    });
    const portals = variants.map((v) => ({ v, portal: new GitspacePortal({ automation: automation(v) }) }));
    const show = (label: string, t0: number, extra = "") => {
        const mine = calls.splice(0);
        const cli = mine.reduce((a, c) => a + c.ms, 0);
        console.log(`\n${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s wall, ${mine.length} CLI calls ${(cli / 1000).toFixed(1)} s ${extra}`);
        for (const c of mine) console.log(`    +${((c.start - t0) / 1000).toFixed(1).padStart(5)} s  ${(c.ms / 1000).toFixed(2).padStart(6)} s  ${c.args}`);
    };
    let toggle = false;
    try {
        for (let round = 0; round < rounds; round++) {
            for (const { v, portal } of portals) {
                const driver = (await portal.driver(ref)) as AutomationStackDriver;
                calls.splice(0);
                const phases = new EnginePhases();
                let t0 = Date.now();
                phases.start();
                await driver.up({ onEngineEvent: phases.onEvent });
                show(`[${v}] no-op up (driver, round ${round + 1})`, t0, `\n    engine: ${phases.report(Date.now())}`);
                for (const targeting of ["auto", "never"] as const) {
                    const entry = ((await driver.readConfig()).values.developers as Array<{ name: string; migrateLegacyWorkspaces?: boolean }>).find((d) => d.name === "dev007");
                    toggle = !(entry?.migrateLegacyWorkspaces ?? false);
                    calls.splice(0);
                    const p = new EnginePhases();
                    t0 = Date.now();
                    let upStart = 0;
                    const r = await portal.update(ref, "dev007", { migrateLegacyWorkspaces: toggle }, {
                        targeting,
                        onEvent: (e) => { if (e.type === "config") { upStart = Date.now(); p.start(); } },
                        onEngineEvent: p.onEvent,
                    });
                    show(`[${v}] one-developer change via the portal (${targeting === "auto" ? "targeted" : "full"}, round ${round + 1}), targeted ${r.targeted}, ${JSON.stringify(r.changes)}`, t0,
                        `\n    engine (from the config write): ${p.report(Date.now())} [up started at +${((upStart - t0) / 1000).toFixed(1)} s]`);
                }
            }
        }
    } finally {
        for (const { portal } of portals) await portal.close();
        if (!keep) {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", stack]).catch((e) => console.log(`cleanup: ${String(e).slice(0, 300)}`));
            const ns = kubectl("get", "ns", "-l", `gitspace.io/team=${team}`, "-o", "name").split("\n").filter(Boolean);
            if (ns.length) kubectl("delete", "--wait=false", ...ns);
            project.cleanup();
        } else {
            console.log(`\nkept: ${project.dir}; to remove: (cd ${project.dir} && PULUMI_BACKEND_URL=${project.backend} PULUMI_CONFIG_PASSPHRASE=portal-e2e-passphrase pulumi destroy --yes -s ${stack}) && kubectl delete ns -l gitspace.io/team=${team} && rm -rf ${project.dir}`);
        }
    }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
