/**
 * A kept home pending adoption does not break another developer's targeted change (real engine, local cluster).
 * Developer B is removed (Namespace and home PVC kept), then re-added through the config alone (no update): the
 * program now imports B's kept objects, which the engine refuses inside a run targeted at developer A (B's
 * component is an untargeted create). The portal sees the pending developer and runs a full update instead: A's
 * change is applied and B's home is adopted, the same PVC (same UID) with its data.
 */
import * as assert from "assert";
import { addDeveloper, GitspacePortal, PortalEvent } from "../../portal";
import { developerNamespaceName, objectNames } from "../../components/names";
import { e2eTeamValues, initStack, kubectl, makeProject, pulumi, pulumiAsync, randomSuffix, requireCli, requireCluster } from "./e2e-harness";

describe("portal e2e: a kept home pending adoption and a targeted change of another developer", function () {
    this.timeout(20 * 60 * 1000);

    it("falls back to a full update: A's change is applied, B's kept Namespace and PVC are adopted", async () => {
        requireCli();
        requireCluster();
        const team = `engad${randomSuffix()}`;
        const stack = `${team}-dev`;
        const ref = { team, env: "dev" };
        const scope = { team, environment: "dev" };
        const nsB = developerNamespaceName(scope, "bob");
        const claimB = objectNames("bob", "per-developer").homeClaim;
        const project = makeProject("portal-adopt-");
        try {
            initStack(project, stack, e2eTeamValues(team, [{ name: "alice", running: false }, { name: "bob", running: false }]));
            await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", stack]);
            const uid = kubectl("get", "pvc", "-n", nsB, claimB, "-o", "jsonpath={.metadata.uid}").trim();
            assert.ok(uid, "bob's home PVC exists");

            const portal = new GitspacePortal({ automation: { workDir: project.dir } });
            await portal.remove(ref, "bob");
            assert.strictEqual(kubectl("get", "pvc", "-n", nsB, claimB, "-o", "jsonpath={.metadata.uid}").trim(), uid, "removing bob kept his home");

            // Re-added through the config only (as a platform engineer's `pulumi config set` would): nothing deployed yet.
            const driver = await portal.driver(ref);
            await driver.applyConfig(addDeveloper(await driver.readConfig(), stack, { name: "bob", running: false }).ops);

            const events: PortalEvent[] = [];
            const r = await portal.update(ref, "alice", { migrateLegacyWorkspaces: true }, { onEvent: (e) => events.push(e) });
            const started = events.find((e) => e.type === "started");
            console.log(`      alice's change: targeted ${r.targeted}, ${started && "reason" in started ? started.reason : ""}, changes ${JSON.stringify(r.changes)}`);
            assert.strictEqual(r.targeted, false, "a full update");
            const state = pulumi(project, ["stack", "export", "--stack", stack]).stdout;
            assert.ok(state.includes(`"${nsB}/${claimB}"`) || state.includes(`${nsB}/${claimB}`), "bob's kept PVC is in the stack's state again");
            assert.strictEqual(kubectl("get", "pvc", "-n", nsB, claimB, "-o", "jsonpath={.metadata.uid}").trim(), uid, "the same PVC: adopted, not recreated");
            const list = await portal.list(ref);
            assert.deepStrictEqual(list.map((g) => [g.name, g.deployed]).sort(), [["alice", true], ["bob", true]]);
            const alice = JSON.parse(pulumi(project, ["config", "get", "gitspace:developers", "--stack", stack]).stdout)
                .find((d: { name: string }) => d.name === "alice");
            assert.strictEqual(alice.migrateLegacyWorkspaces, true);
        } finally {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", stack]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            for (const d of ["alice", "bob"]) {
                try { kubectl("delete", "namespace", developerNamespaceName(scope, d), "--ignore-not-found", "--wait=false"); } catch { /* cleanup */ }
            }
            project.cleanup();
        }
    });
});
