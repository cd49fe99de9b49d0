/**
 * Group commit splits engine events by developer. This checks the attribution against the real engine's events:
 * a preview (nothing is created) of a three-developer team whose names are prefixes of each other.
 */
import * as assert from "assert";
import { EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { GITSPACE_COMPONENT_TYPE, ResourceOwners } from "../../portal";
import { e2eTeamValues, initStack, makeProject, requireCli, requireCluster } from "./e2e-harness";

describe("portal e2e: engine events attributed to developers (real preview)", function () {
    this.timeout(600_000);

    it("every resource under a developer's Gitspace component is that developer's; team resources are nobody's", async () => {
        requireCli();
        requireCluster();
        const project = makeProject("portal-owners-");
        try {
            const names = ["ann", "ann-b", "bob"];
            initStack(project, "owners-dev", e2eTeamValues("owners", names.map((name) => ({ name, running: false }))));
            const stack = await LocalWorkspace.selectStack({ stackName: "owners-dev", workDir: project.dir }, { envVars: { ...project.env, PULUMI_NODEJS_TRANSPILE_ONLY: "true" } });
            const short = "owners-dev";
            const owners = new ResourceOwners(names, (d) => `urn:pulumi:${short}::gitspace::${GITSPACE_COMPONENT_TYPE}::${d}`, GITSPACE_COMPONENT_TYPE);
            const events: EngineEvent[] = [];
            await stack.preview({ color: "never", onEvent: (e) => { owners.observe(e); events.push(e); } });
            const urns = [...new Set(events.flatMap((e) => e.resourcePreEvent ? [e.resourcePreEvent.metadata.urn] : []))];
            const byOwner: Record<string, string[]> = {};
            for (const urn of urns) (byOwner[owners.owner(urn) ?? "(team)"] ??= []).push(urn.split("::").slice(2).join("::"));
            for (const d of names) {
                assert.ok((byOwner[d] ?? []).length >= 5, `${d}: ${JSON.stringify(byOwner[d])}`);
                for (const u of byOwner[d]) assert.ok(u.includes(GITSPACE_COMPONENT_TYPE), `${d} owns ${u}`);
            }
            assert.strictEqual(byOwner.ann.length, byOwner["ann-b"].length, "a prefix name does not take the other's resources");
            for (const u of byOwner["(team)"] ?? []) assert.ok(!u.startsWith(`${GITSPACE_COMPONENT_TYPE}::`) && !u.includes(`${GITSPACE_COMPONENT_TYPE}$`), `unattributed ${u}`);
            console.log(`      ${urns.length} resources: ${Object.entries(byOwner).map(([k, v]) => `${k} ${v.length}`).join(", ")}`);
        } finally {
            project.cleanup();
        }
    });
});
