/**
 * Two portal processes on one file backend and one program directory add developers to the same stack at once:
 * every add ends applied, or refused with a clear 409; no config write is lost. Real Pulumi CLI, real file
 * backend, real `pulumi config set` and `pulumi up` (of a program without resources: the config path is what is
 * tested; the engine lock is the CLI's own).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { exampleTeamValues, GitspacePortal } from "../../portal";
import { REPO, requireCli } from "./e2e-harness";
import { worker } from "./fixtures/run-worker";

/** Makes DIR a project with an empty program and a file backend of its own; returns the backend URL. */
function emptyProject(dir: string): string {
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: gitspace\nruntime: nodejs\nmain: program.js\n");
    fs.writeFileSync(path.join(dir, "program.js"), "module.exports = {};\n");
    fs.mkdirSync(path.join(dir, ".state"));
    return `file://${path.join(dir, ".state")}`;
}

describe("portal e2e: two portal processes, one stack, no lost config write", function () {
    this.timeout(600_000);

    it("process A adds ann1..ann3 while process B adds ben1..ben3: all six end in the stack config", async () => {
        requireCli();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-2proc-"));
        try {
            const backendUrl = emptyProject(dir);
            const env = { ...process.env, PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: "portal-2proc" };
            const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
            const stack = await LocalWorkspace.createStack({ stackName: "platform-dev", workDir: dir }, { envVars: { PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: "portal-2proc" } });
            // The team config as structured YAML, as the platform team writes it (objects, not JSON strings).
            const values = exampleTeamValues("platform", [{ name: "alice" }]);
            const file = path.join(dir, "Pulumi.platform-dev.yaml");
            const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
            doc.config = Object.fromEntries(Object.entries(values).map(([k, v]) => [`gitspace:${k}`, v]));
            fs.writeFileSync(file, YAML.stringify(doc));
            const t0 = Date.now();
            const runs = Promise.all([
                worker(["portal", dir, backendUrl, "ann1", "ann2", "ann3"], env),
                worker(["portal", dir, backendUrl, "ben1", "ben2", "ben3"], env),
            ]);
            await new Promise((r) => setTimeout(r, 4000)); // both processes loaded and waiting
            fs.writeFileSync(path.join(dir, "go"), "");
            const [a, b] = await runs;
            const results = [...a.results, ...b.results];
            console.log(`      two processes, 6 adds: ${((Date.now() - t0) / 1000).toFixed(1)} s; ${JSON.stringify(results.map((r: any) => `${r.name}:${r.ok ? "ok" : r.status}`))}`);
            for (const r of results) assert.ok(r.ok || r.status === 409, JSON.stringify(r));
            const config = await stack.getAllConfig();
            const names = (JSON.parse(config["gitspace:developers"].value) as Array<{ name: string }>).map((d) => d.name);
            const applied = results.filter((r: any) => r.ok).map((r: any) => r.name).sort();
            assert.deepStrictEqual(names.filter((n) => n !== "alice").sort(), applied, "exactly the successful adds are in the config");
            assert.strictEqual(applied.length, 6, "with a 10-minute lock wait, nobody gives up");
            assert.ok(!fs.existsSync(path.join(dir, "Pulumi.platform-dev.yaml.portal-lock")), "lock released");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("team stacks over the real CLI: create (secrets encrypted in Pulumi.<stack>.yaml), list, delete", async () => {
        requireCli();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-stacks-"));
        try {
            const backendUrl = emptyProject(dir);
            process.env.PULUMI_CONFIG_PASSPHRASE = "portal-stacks";
            const portal = new GitspacePortal({ automation: { workDir: dir, backendUrl } });
            const web = { team: "web", env: "dev" };
            const values = exampleTeamValues("web", [{ name: "wendy", git: { username: "wendy", token: "tok-wendy-123" } }]);
            (values.images as Record<string, unknown>).username = "ci";
            (values.images as Record<string, unknown>).password = "registry-pw-456";
            await portal.createStack(web, values);
            const file = fs.readFileSync(path.join(dir, "Pulumi.web-dev.yaml"), "utf8");
            assert.ok(!file.includes("tok-wendy-123") && !file.includes("registry-pw-456"), file);
            assert.strictEqual((file.match(/secure:/g) ?? []).length, 2, file);
            await assert.rejects(portal.createStack(web, values), (e: any) => e.status === 409);
            assert.deepStrictEqual((await portal.listStacks()).map((x) => x.name), ["web-dev"]);
            const listed = await portal.list(web);
            assert.deepStrictEqual(listed.map((g) => [g.name, g.status, (g.config as any).git.token]), [["wendy", "pending", "[secret]"]]);
            await portal.start(web, "wendy");
            const del = await portal.deleteStack(web);
            assert.strictEqual(del.purged, false);
            assert.deepStrictEqual(await portal.listStacks(), []);
            assert.ok(!fs.existsSync(path.join(dir, "Pulumi.web-dev.yaml")));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
