/**
 * The portal against the real Pulumi engine (CLI + kubernetes/random providers, local file backend). Needs no
 * cluster: config writes go through the CLI, previews run the real program, and an `up` racing a CLI `pulumi up`
 * meets the real stack lock. Fails (never skips) when the CLI is missing.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    addDeveloper, applyOps, GitspacePortal, isTornStateRead, PortalEvent, removeDeveloper, updateDeveloper, UpdateFailedError,
} from "../../portal";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { automationDriverFactory, AutomationStackDriver } from "../../portal/driver";
import { quietSdkDebugLogs } from "../../portal/sdk-logs";
import { e2eTeamValues, E2eProject, initStack, KUBECONFIG, makeProject, pulumi, requireCli } from "./e2e-harness";
import { serve } from "./helpers";

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILBnWtMOv3aGYXbnQQymtuvknoE5TTc20B8fZwt9HcBu bob@laptop";
const ref = { team: "acme", env: "engine" };
const STACK = "acme-engine";

describe("portal e2e: the real Pulumi engine (no cluster needed)", function () {
    this.timeout(15 * 60 * 1000);
    let project: E2eProject;
    let portal: GitspacePortal;
    let driver: AutomationStackDriver;
    const configFile = () => path.join(project.dir, `Pulumi.${STACK}.yaml`);

    before(() => {
        console.log(`      pulumi ${requireCli()}`);
        project = makeProject();
        initStack(project, STACK, e2eTeamValues("acme", [{ name: "alice", running: false }, { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY], running: false }]));
        portal = new GitspacePortal({ automation: { workDir: project.dir }, retry: { attempts: 10, initialDelayMs: 1000, maxDelayMs: 8000 } });
    });
    after(() => {
        // The racing `pulumi up` below deploys the stack: take it down, and the homes destroy keeps, with the project.
        if (project) {
            pulumi(project, ["destroy", "--yes", "--skip-preview", "--stack", STACK], { allowFail: true });
            spawnSync("kubectl", ["--kubeconfig", KUBECONFIG, "delete", "namespace", "-l", "gitspace.io/team=acme,gitspace.io/environment=dev", "--wait=false"]);
        }
        project?.cleanup();
    });

    it("config mutations through the CLI give exactly the modelled config; secrets are stored encrypted", async () => {
        driver = (await portal.driver(ref)) as AutomationStackDriver;
        const t0 = Date.now();
        let raw = await driver.readConfig();
        const steps = [
            (r: typeof raw) => addDeveloper(r, STACK, { name: "carol", storage: "10", repos: [{ url: "https://git.example.com/a/true.git", name: "true" }], git: { username: "carol", token: "12345" }, running: false }),
            (r: typeof raw) => updateDeveloper(r, STACK, "carol", { repos: [{ url: "https://git.example.com/a/b.git" }, { url: "https://git.example.com/a/c.git", branch: "dev" }], git: { token: "s3cr3t-carol-token" }, user: { name: "dev", uid: 1001, gid: 1001 } }),
            (r: typeof raw) => removeDeveloper(r, STACK, "alice"),
            (r: typeof raw) => updateDeveloper(r, STACK, "carol", { storage: "2Gi", user: null }),
        ];
        for (const step of steps) {
            const m = step(raw);
            await driver.applyConfig(m.ops);
            const modelled = applyOps(raw.values, m.ops);
            raw = await driver.readConfig();
            assert.deepStrictEqual(raw.values, modelled, `after ${m.ops.map((o) => o.path).join(", ")}`);
            assert.deepStrictEqual(raw.values, m.next.values);
        }
        const text = fs.readFileSync(configFile(), "utf8");
        assert.ok(!text.includes("s3cr3t-carol-token") && !text.includes("12345"), "no token in plain text:\n" + text);
        assert.match(text, /token:\s*\n\s*secure: v1:/);
        console.log(`      4 mutations through the CLI: ${Date.now() - t0} ms`);
    });

    it("the driver reads config and outputs once per content of the files they come from (CLI calls counted)", async () => {
        const calls: string[] = [];
        const cmd = await PulumiCommand.get({ skipVersionCheck: true });
        const run = cmd.run.bind(cmd);
        (cmd as { run: typeof cmd.run }).run = (args, ...rest) => { calls.push(args.slice(0, 2).join(" ")); return run(args, ...rest); };
        const d = (await automationDriverFactory({ workDir: project.dir, pulumiCommand: cmd })(STACK)) as AutomationStackDriver;
        calls.length = 0;
        const a = await d.readConfig();
        const b = await d.readConfig();
        assert.deepStrictEqual(b, a);
        assert.deepStrictEqual(calls, ["config --show-secrets"], "the second read is served from the parsed file");
        (b.values as Record<string, unknown>).team = "mutated";
        assert.strictEqual((await d.readConfig()).values.team, "acme", "callers get copies");
        // A write through the driver, and one by hand (another process, a person): both are read again.
        await d.applyConfig([{ op: "set", path: "gitspace:developers[0].storage", value: "3Gi" }]);
        assert.strictEqual(((await d.readConfig()).values.developers as Array<{ storage?: string }>)[0].storage, "3Gi");
        fs.appendFileSync(configFile(), "# edited by hand\n");
        await d.readConfig();
        assert.deepStrictEqual(calls.filter((c) => c.startsWith("config")), ["config --show-secrets", "config set-all", "config --show-secrets", "config --show-secrets"]);
        await d.applyConfig([{ op: "remove", path: "gitspace:developers[0].storage" }]);
        // Outputs: one `stack output --show-secrets` per state of the stack (file backend: the state file's identity).
        const token = d.stateToken();
        assert.ok(token, "a file backend has a state token");
        calls.length = 0;
        await d.outputs();
        await d.outputs();
        assert.deepStrictEqual(calls, ["stack output"]);
        await d.lastDeployedConfig();
        await d.lastDeployedConfig();
        assert.deepStrictEqual(calls, ["stack output", "stack history"]);
        assert.strictEqual(d.stateToken(), token, "reads do not change the state");
    });

    it("dry run: the diff of adding a developer, from the real program; the config file is left as it was", async () => {
        const before = fs.readFileSync(configFile());
        const events: PortalEvent[] = [];
        const t0 = Date.now();
        const r = await portal.add(ref, { name: "dave", git: { username: "dave", token: "tok-dave" } }, { dryRun: true, onEvent: (e) => events.push(e) });
        console.log(`      preview: ${Date.now() - t0} ms, changes ${JSON.stringify(r.changes)}`);
        assert.ok(fs.readFileSync(configFile()).equals(before), "config restored");
        const dave = r.steps.filter((s) => s.name.startsWith("dave-")).map((s) => `${s.op} ${s.resourceType}`);
        for (const t of ["Namespace", "PersistentVolumeClaim", "Deployment", "Service", "Secret"]) {
            assert.ok(dave.some((s) => s.startsWith("create ") && s.includes(`:${t}`)), `creates dave's ${t}: ${dave.join(", ")}`);
        }
        assert.ok(events.some((e) => e.type === "summary"));
        assert.ok(!events.some((e) => e.type === "diagnostic" && e.severity === "error"), JSON.stringify(events.filter((e) => e.type === "diagnostic")));
    });

    it("a targeted run of one developer's component covers its children and nothing else", async () => {
        const m = addDeveloper(await driver.readConfig(), STACK, { name: "erin" });
        const snapshot = await driver.snapshotConfig();
        await driver.applyConfig(m.ops);
        try {
            const steps: string[] = [];
            const { EventCollector } = await import("../../portal/events");
            const c = new EventCollector();
            await driver.preview({ target: [driver.componentUrn("erin")], onEngineEvent: c.onEngineEvent });
            steps.push(...c.steps.map((s) => s.name));
            assert.ok(steps.includes("erin") && steps.includes("erin-namespace") && steps.includes("erin-deployment"), steps.join(", "));
            const others = c.steps.filter((s) => !s.name.startsWith("erin") && !s.resourceType.startsWith("pulumi:providers:"));
            assert.deepStrictEqual(others, [], "only erin's resources (and providers)");
            const full = new EventCollector();
            await driver.preview({ onEngineEvent: full.onEngineEvent });
            assert.ok(full.steps.some((s) => s.name === "bob-deployment"), "a full run covers every developer");
            console.log(`      targeted preview: ${c.steps.length} steps; full preview: ${full.steps.length} steps`);
        } finally {
            await driver.restoreConfig(snapshot);
        }
    });

    it("HTTP over the real library: 401, 400 with field paths, 404, a dry run's diff", async () => {
        const served = await serve(portal);
        try {
            const G = `/teams/${ref.team}/envs/${ref.env}/gitspaces`;
            assert.strictEqual((await served.request("GET", G, undefined, { authorization: "" })).status, 401);
            const list = await served.request("GET", G);
            assert.strictEqual(list.status, 200, list.text);
            assert.deepStrictEqual(list.body.gitspaces.map((g: any) => [g.name, g.status]), [["bob", "pending"], ["carol", "pending"]]);
            const bad = await served.request("POST", G, { name: "zed", ide: "vscod", repos: [{ url: "https://user:pw@git.example.com/a.git" }] });
            assert.strictEqual(bad.status, 400, bad.text);
            assert.deepStrictEqual(bad.body.problems.map((p: any) => p.path).sort(), ["gitspace:developers[2].ide", "gitspace:developers[2].repos[0].url"]);
            assert.ok(!bad.text.includes("pw@"), "credentials in a URL are never echoed");
            assert.strictEqual((await served.request("GET", `/teams/${ref.team}/envs/nope/gitspaces`)).status, 404);
            assert.strictEqual((await served.request("POST", `${G}/zoe/stop`)).status, 404);
            const dry = await served.request("POST", `${G}/bob/start?dryRun=1`);
            assert.strictEqual(dry.status, 200, dry.text);
            assert.ok(dry.body.steps.some((s: any) => s.name === "bob-deployment"), dry.text.slice(0, 2000));
            assert.strictEqual((await served.request("GET", `${G}/bob`)).body.running, false, "a dry run changes nothing");
        } finally {
            await served.close();
        }
    });

    it("an update racing a CLI `pulumi up` is retried while the stack is locked, then runs", async () => {
        const cli = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK], { cwd: project.dir, env: { ...process.env, ...project.env } });
        let cliOut = "";
        cli.stdout.on("data", (d) => (cliOut += d));
        cli.stderr.on("data", (d) => (cliOut += d));
        const cliDone = new Promise<number>((r) => cli.on("exit", (code) => r(code ?? -1)));
        // Wait for the CLI to hold the stack lock (diy backend: .pulumi/locks/…).
        const locks = path.join(project.dir, ".state", ".pulumi", "locks");
        const t0 = Date.now();
        while (!(fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json")))) {
            if (Date.now() - t0 > 60000) throw new Error(`the CLI never locked the stack:\n${cliOut}`);
            await new Promise((r) => setTimeout(r, 200));
        }
        const events: PortalEvent[] = [];
        const started = Date.now();
        const outcome = await portal.stop(ref, "bob", { onEvent: (e) => events.push(e) }).then((r) => r, (e) => e);
        const cliCode = await cliDone;
        const retries = events.filter((e) => e.type === "retry");
        console.log(`      CLI up exit ${cliCode}; portal: ${retries.length} busy retries, then ${outcome instanceof Error ? outcome.name : "success"} after ${Date.now() - started} ms`);
        assert.ok(retries.length >= 1, "the portal met the lock and retried");
        if (outcome instanceof UpdateFailedError) {
            // Without a cluster the update itself fails: the portal names the resources and the reason.
            assert.ok(outcome.failures.length > 0 && outcome.failures.some((f) => f.urn && f.message), `${outcome.message}\n${JSON.stringify(outcome.failures)}\nCLI:\n${cliOut.slice(-3000)}`);
            console.log(`      the update failed as expected without a cluster: ${outcome.failures.slice(0, 2).map((f) => `${f.type} ${f.name}: ${f.message.slice(0, 120)}`).join(" | ")}`);
            const bob = await portal.get(ref, "bob");
            assert.strictEqual(bob.status, "failed");
        } else {
            assert.ok(!(outcome instanceof Error), String(outcome));
        }
    });

    it("a checkpoint read while another process writes it is read again (outputs, preview), not reported as a failure", async () => {
        driver ??= (await portal.driver(ref)) as AutomationStackDriver;
        const stacks = path.join(project.dir, ".state", ".pulumi", "stacks");
        const file = path.join(stacks, fs.readdirSync(stacks, { recursive: true }).map(String).find((f) => f.endsWith(`${STACK}.json`))!);
        const whole = fs.readFileSync(file);
        const tear = () => fs.writeFileSync(file, whole.subarray(0, whole.length >> 1));
        try {
            // The state a racing CLI leaves for an instant, held: the CLI itself fails on it, with the error the portal retries.
            tear();
            const direct = spawnSync("pulumi", ["stack", "output", "--json", "--stack", STACK, "--non-interactive"], { cwd: project.dir, env: { ...process.env, ...project.env }, encoding: "utf8" });
            assert.notStrictEqual(direct.status, 0, direct.stdout);
            assert.ok(isTornStateRead(Object.assign(new Error("CLI"), { commandResult: { stderr: direct.stderr } })), direct.stderr);
            for (const [what, run] of [
                ["outputs", () => driver.outputs()],
                ["preview", () => driver.preview({ onEngineEvent: () => undefined })],
            ] as const) {
                tear();
                const started = Date.now();
                const written = new Promise<void>((r) => setTimeout(() => { fs.writeFileSync(file, whole); r(); }, 700));
                const result = await run();
                await written;
                assert.ok(Date.now() - started >= 700, `${what} returned before the checkpoint was whole again`);
                if (what === "outputs") assert.ok("gitspaces" in (result as object), JSON.stringify(result).slice(0, 300));
                console.log(`      ${what}: torn for 700 ms, done after ${Date.now() - started} ms`);
            }
        } finally {
            fs.writeFileSync(file, whole);
        }
    });

    it("the SDK's debug messages: sent to the engine by the inline program unless quieted (as main.ts does), then none", async () => {
        driver ??= (await portal.driver(ref)) as AutomationStackDriver;
        const debugEvents = async () => {
            let n = 0, all = 0;
            await driver.preview({ onEngineEvent: (e) => { all++; if (e.diagnosticEvent?.severity === "debug") n++; } });
            return { n, all };
        };
        const sent = await debugEvents();
        assert.ok(sent.n > 20, `the SDK's runtime sends debug messages per registration: ${JSON.stringify(sent)}`);
        const restore = quietSdkDebugLogs();
        try {
            const quiet = await debugEvents();
            assert.strictEqual(quiet.n, 0, JSON.stringify(quiet));
            assert.ok(quiet.all > 0 && quiet.all === sent.all - sent.n, `every other event is still there: ${JSON.stringify({ sent, quiet })}`);
            console.log(`      preview: ${sent.all} engine events, ${sent.n} of them SDK debug messages; quieted: ${quiet.all}`);
        } finally {
            restore();
        }
    });

    it("config read while another process rewrites the stack file in place (as `pulumi config set` does): never a torn config", async () => {
        driver ??= (await portal.driver(ref)) as AutomationStackDriver;
        const whole = fs.readFileSync(configFile());
        const expected = (await driver.readConfig()).values;
        assert.ok(Object.keys(expected).length > 3, JSON.stringify(expected));
        // The writer: truncate, then write the same bytes 100 ms later, over and over (os.WriteFile, slowed down).
        let writing = true;
        const writer = (async () => {
            while (writing) {
                fs.writeFileSync(configFile(), "");
                await new Promise((r) => setTimeout(r, 100));
                fs.writeFileSync(configFile(), whole);
                await new Promise((r) => setTimeout(r, 100));
            }
        })();
        const reads: number[] = [];
        try {
            for (let i = 0; i < 12; i++) {
                const got = (await driver.readConfig()).values;
                reads.push(Object.keys(got).length);
                assert.deepStrictEqual(got, expected, `read ${i + 1}: a config torn by the rewrite`);
                await new Promise((r) => setTimeout(r, 37 * (i % 4)));
            }
        } finally {
            writing = false;
            await writer;
            fs.writeFileSync(configFile(), whole);
        }
        console.log(`      12 config reads during in-place rewrites: all whole (${reads[0]} keys each)`);
    });
});
