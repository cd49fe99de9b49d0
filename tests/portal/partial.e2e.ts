/**
 * The portal's targeted runs with the inline program registering only the targeted developers (index.ts,
 * PartialRun), against the real engine and the local cluster: the state after them is exactly what the whole
 * program describes (a full `pulumi preview` of the CLI, whole program, shows no change), no other developer's
 * resource is touched or lost, and the `gitspaces` output keeps every developer with its values.
 */
import * as assert from "assert";
import { GitspacePortal, PortalEvent } from "../../portal";
import { developerNamespaceName } from "../../components/names";
import { e2eTeamValues, initStack, kubectl, makeProject, pulumi, pulumiAsync, randomSuffix, requireCli, requireCluster } from "./e2e-harness";

describe("portal e2e: targeted runs register only the targeted developers (inline program)", function () {
    this.timeout(30 * 60 * 1000);

    it("update, add and remove of one developer leave the rest of the state as the whole program describes it", async () => {
        requireCli();
        requireCluster();
        const team = `engpt${randomSuffix()}`;
        const stack = `${team}-dev`;
        const ref = { team, env: "dev" };
        const project = makeProject("portal-partial-");
        const state = () => JSON.parse(pulumi(project, ["stack", "export", "--stack", stack]).stdout).deployment.resources as Array<{ urn: string; id?: string }>;
        const outputs = () => JSON.parse(pulumi(project, ["stack", "output", "--json", "--show-secrets", "--stack", stack]).stdout) as { gitspaces: Record<string, { password?: string; namespace: string }> };
        /** The whole program (CLI language host) against the state: no change may be pending. */
        const noDrift = (when: string) => {
            const r = pulumi(project, ["preview", "--expect-no-changes", "--stack", stack], { allowFail: true });
            assert.strictEqual(r.status, 0, `${when}: a full preview of the whole program shows changes:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
        };
        try {
            initStack(project, stack, e2eTeamValues(team, ["alice", "bob", "carol"].map((name) => ({ name, running: false }))));
            await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", stack]);
            const before = state();
            const outs0 = outputs();
            assert.deepStrictEqual(Object.keys(outs0.gitspaces).sort(), ["alice", "bob", "carol"]);

            const portal = new GitspacePortal({ automation: { workDir: project.dir } });
            const events: PortalEvent[] = [];
            const r = await portal.update(ref, "alice", { migrateLegacyWorkspaces: true }, { onEvent: (e) => events.push(e) });
            assert.strictEqual(r.targeted, true);
            const touched = events.flatMap((e) => (e.type === "resource" ? [e.name] : []));
            assert.ok(touched.length > 0 && touched.every((n) => n.startsWith("alice")), touched.join(", "));
            assert.deepStrictEqual(state().map((s) => `${s.urn} ${s.id ?? ""}`).sort(), before.map((s) => `${s.urn} ${s.id ?? ""}`).sort(), "same resources, same IDs");
            assert.deepStrictEqual(outputs(), outs0, "every developer's outputs kept (passwords too)");
            // The portal's view after the update (the outputs its inline program returned) is the stack's.
            for (const g of await portal.list(ref)) assert.strictEqual(g.namespace, outs0.gitspaces[g.name].namespace, g.name);
            assert.strictEqual((await portal.get(ref, "carol", { showSecrets: true })).password, outs0.gitspaces.carol.password);
            noDrift("after alice's update");

            // A dry run of a targeted change previews the same way: only carol's steps, nothing changed.
            const dry = await portal.start(ref, "carol", { dryRun: true });
            assert.strictEqual(dry.targeted, true);
            assert.ok(dry.steps.length > 0 && dry.steps.every((st) => st.name.startsWith("carol")), JSON.stringify(dry.steps.map((st) => st.name)));
            assert.deepStrictEqual(outputs(), outs0);

            const add = await portal.add(ref, { name: "dave", running: false });
            assert.strictEqual(add.targeted, true);
            assert.ok(add.gitspace?.deployed);
            const outs1 = outputs();
            assert.deepStrictEqual(Object.keys(outs1.gitspaces).sort(), ["alice", "bob", "carol", "dave"]);
            for (const d of ["alice", "bob", "carol"]) assert.deepStrictEqual(outs1.gitspaces[d], outs0.gitspaces[d], d);
            noDrift("after adding dave");

            const rm = await portal.remove(ref, "bob");
            assert.strictEqual(rm.targeted, true);
            const urns = state().map((s) => s.urn);
            assert.ok(!urns.some((u) => u.endsWith("::bob") || u.includes("::bob-")), "bob's resources are gone from the state");
            for (const d of ["alice", "carol", "dave"]) assert.ok(urns.some((u) => u.endsWith(`::${d}-deployment`)), `${d} kept`);
            assert.deepStrictEqual(Object.keys(outputs().gitspaces).sort(), ["alice", "carol", "dave"]);
            noDrift("after removing bob");
            await portal.close();
        } finally {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", stack]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            for (const d of ["alice", "bob", "carol", "dave"]) {
                try { kubectl("delete", "namespace", developerNamespaceName({ team, environment: "dev" }, d), "--ignore-not-found", "--wait=false"); } catch { /* cleanup */ }
            }
            project.cleanup();
        }
    });
});
