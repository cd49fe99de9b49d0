/**
 * The portal's targeted runs in the shared layout (one namespace for the whole team, the default with the caddy2-k8s
 * router), against the real engine and the local cluster. The inline program registers only the targeted
 * developers plus the team-level objects (computed from the whole config); the targets are the developers'
 * components and the shared namespace's quota. Checked after each run: the portal asked the engine for the partial
 * program and no other developer's object changed, the state has the same URNs and IDs, every other developer's
 * outputs are kept, the quota and the objects in the cluster are what the whole program describes (a started
 * developer's pod is admitted and Ready), and a full `pulumi preview
 * --expect-no-changes` of the whole program (CLI language host) passes. A change the shared LimitRange or the
 * namespace's retention must follow, and a team-level setting change, run in full, with the reason.
 */
import * as assert from "assert";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { GitspacePortal, PortalEvent } from "../../portal";
import type { EngineRunOptions } from "../../portal/driver";
import { teamNamespaceName } from "../../components/names";
import { e2eTeamValues, initStack, kubectl, makeProject, pulumi, pulumiAsync, randomSuffix, requireCli, requireCluster, requireImage } from "./e2e-harness";

interface StateResource { urn: string; id?: string; retainOnDelete?: boolean; dependencies?: string[]; propertyDependencies?: Record<string, string[]> }

describe("portal e2e: targeted runs in the shared layout register only the targeted developers (inline program)", function () {
    this.timeout(30 * 60 * 1000);

    it("update, batch, dry run, start, stop, add and remove stay targeted; the quota follows; LimitRange, retention and team-level changes run in full", async () => {
        requireCli();
        requireCluster();
        const team = `shared${randomSuffix()}`;
        const stack = `${team}-dev`;
        const ref = { team, env: "dev" };
        const namespace = teamNamespaceName({ team, environment: "dev" });
        const project = makeProject("portal-partial-shared-");
        const state = () => JSON.parse(pulumi(project, ["stack", "export", "--stack", stack]).stdout).deployment.resources as StateResource[];
        const ids = (rs: StateResource[]) => rs.map((s) => `${s.urn} ${s.id ?? ""}`).sort();
        const outputs = () => JSON.parse(pulumi(project, ["stack", "output", "--json", "--show-secrets", "--stack", stack]).stdout) as {
            gitspaces: Record<string, { password?: string; namespace: string }>; namespace: string;
        };
        const noDrift = (when: string) => {
            const r = pulumi(project, ["preview", "--expect-no-changes", "--stack", stack], { allowFail: true });
            assert.strictEqual(r.status, 0, `${when}: a full preview of the whole program shows changes:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
        };
        const live = (kind: string, name: string) => JSON.parse(kubectl("-n", namespace, "get", kind, name, "-o", "json"));
        const quotaPods = () => live("resourcequota", "gitspace").spec.hard.pods as string;
        const teamNamespaceRetained = () => state().find((s) => s.urn.endsWith("$kubernetes:core/v1:Namespace::team-namespace"))?.retainOnDelete ?? false;
        /** The developer a Gitspace component or one of its children belongs to (names here have no `-`). */
        const developerOf = (urn: string) => /::gitspace:gitspace:Gitspace(?:\$[^:]+(?::[^:]+)*)?::([^-]+)(?:-.*)?$/.exec(urn)?.[1];
        /** What the portal asked the engine for: the targets and the developers the inline program registers alone. */
        const asked: Array<{ target?: string[]; partial?: string[] }> = [];
        /**
         * Runs one portal operation: its result, its portal events, the URNs of the engine's non-"same" steps and what
         * the portal asked the engine for. (The engine also reports a "same" step for every kept resource, registered
         * or not, so "same" steps say nothing about what the program registered.)
         */
        const run = async <T>(op: (o: { onEvent: (e: PortalEvent) => void; onEngineEvent: (e: EngineEvent) => void }) => Promise<T>) => {
            const events: PortalEvent[] = [];
            const changed = new Set<string>();
            const from = asked.length;
            const result = await op({
                onEvent: (e) => events.push(e),
                onEngineEvent: (e) => { if (e.resourcePreEvent && e.resourcePreEvent.metadata.op !== "same") changed.add(e.resourcePreEvent.metadata.urn); },
            });
            const started = events.filter((e): e is Extract<PortalEvent, { type: "started" }> => e.type === "started");
            return { result, events, changed: [...changed], asked: asked.slice(from), reason: started.at(-1)?.reason };
        };
        /** The run let the program register these developers alone, and no other developer's object changed. */
        const onlyDevelopers = (r: { changed: string[]; asked: Array<{ partial?: string[] }> }, devs: string[]) => {
            assert.deepStrictEqual(r.asked.map((a) => [...(a.partial ?? [])].sort()), [[...devs].sort()], "one engine run, registering these developers alone");
            assert.deepStrictEqual(r.changed.filter((u) => { const d = developerOf(u); return d !== undefined && !devs.includes(d); }), [], "no other developer's object changed");
        };
        try {
            initStack(project, stack, {
                ...e2eTeamValues(team, ["alice", "bob", "carol"].map((name) => ({ name, running: false, retainHome: false }))),
                router: { mode: "caddy2-k8s", serviceAccount: { name: "caddy", namespace: "caddy-system" } },
            });
            await pulumiAsync(project, ["up", "--yes", "--skip-preview", "--stack", stack]);
            const before = state();
            const outs0 = outputs();
            assert.strictEqual(outs0.namespace, namespace);
            assert.deepStrictEqual(Object.keys(outs0.gitspaces).sort(), ["alice", "bob", "carol"]);
            assert.strictEqual(quotaPods(), "6");
            assert.strictEqual(teamNamespaceRetained(), false);
            // The gitspaces wait for the quota's step without depending on it (else it could not be targeted alone).
            const onQuota = before.filter((s) => [...(s.dependencies ?? []), ...Object.values(s.propertyDependencies ?? {}).flat()].some((d) => d.endsWith("::team-quota")));
            assert.deepStrictEqual(onQuota.map((s) => s.urn), []);

            const portal = new GitspacePortal({ automation: { workDir: project.dir } });
            const driver = await portal.driver(ref);
            for (const kind of ["up", "preview"] as const) {
                const real = driver[kind].bind(driver);
                driver[kind] = ((opts: EngineRunOptions) => {
                    asked.push({ ...(opts.target ? { target: opts.target } : {}), ...(opts.partial ? { partial: opts.partial.developers } : {}) });
                    return real(opts);
                }) as never;
            }
            // One developer's change: targeted, partial, nothing else touched or lost.
            const upd = await run((o) => portal.update(ref, "alice", { migrateLegacyWorkspaces: true }, o));
            assert.strictEqual(upd.result.targeted, true, upd.reason);
            onlyDevelopers(upd, ["alice"]);
            assert.ok(upd.asked[0].target?.some((u) => u.endsWith("$kubernetes:core/v1:ResourceQuota::team-quota")), "the quota is a target");
            const touched = upd.events.flatMap((e) => (e.type === "resource" ? [e.name] : []));
            assert.ok(touched.length > 0 && touched.every((n) => n.startsWith("alice")), touched.join(", "));
            assert.deepStrictEqual(ids(state()), ids(before), "same resources, same IDs");
            assert.deepStrictEqual(outputs(), outs0, "every developer's outputs kept (passwords too), the namespace output too");
            assert.strictEqual((await portal.get(ref, "carol", { showSecrets: true })).password, outs0.gitspaces.carol.password);
            noDrift("after alice's update");

            // Two requests together: one update (group commit), both developers alone.
            const [a, c] = await Promise.all([
                run((o) => portal.update(ref, "alice", { migrateLegacyWorkspaces: false }, o)),
                run((o) => portal.update(ref, "carol", { migrateLegacyWorkspaces: true }, o)),
            ]);
            assert.ok(a.result.targeted && c.result.targeted);
            // Together (one batch) or one after the other, each run registered only its own developers.
            const both = [...a.asked, ...c.asked].filter((x, i, xs) => xs.indexOf(x) === i);
            onlyDevelopers({ changed: [...a.changed, ...c.changed], asked: both.length === 1 ? both : [{ partial: both.flatMap((x) => x.partial ?? []) }] }, ["alice", "carol"]);
            assert.deepStrictEqual(ids(state()), ids(before));
            assert.deepStrictEqual(outputs().gitspaces.bob, outs0.gitspaces.bob);
            noDrift("after the batch");

            // A dry run previews the same way: carol's steps only, nothing changed.
            const dry = await run((o) => portal.start(ref, "carol", { dryRun: true, ...o }));
            assert.strictEqual(dry.result.targeted, true);
            onlyDevelopers(dry, ["carol"]);
            assert.ok(dry.result.steps.length > 0 && dry.result.steps.every((st) => st.name.startsWith("carol")), JSON.stringify(dry.result.steps.map((st) => st.name)));
            assert.deepStrictEqual(ids(state()), ids(before));

            // A real start and stop in the shared namespace: targeted; the pod is admitted under the shared quota and
            // LimitRange and becomes Ready (the update awaits the rollout).
            const images = e2eTeamValues("x", []).images as { registry: string; tag: string };
            await requireImage(images.registry, "vscode", images.tag);
            const start = await run((o) => portal.start(ref, "alice", o));
            assert.strictEqual(start.result.targeted, true, start.reason);
            onlyDevelopers(start, ["alice"]);
            const pods = JSON.parse(kubectl("-n", namespace, "get", "pods", "-l", "gitspace.io/developer=alice", "-o", "json")).items;
            assert.strictEqual(pods.length, 1);
            assert.ok(pods[0].status.conditions.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"), "alice's pod is Ready");
            noDrift("after alice's start");
            const stop = await run((o) => portal.stop(ref, "alice", o));
            assert.strictEqual(stop.result.targeted, true, stop.reason);
            onlyDevelopers(stop, ["alice"]);
            assert.deepStrictEqual(ids(state()), ids(before));

            // Adding a developer of the same size: targeted; the quota (every developer's sum) grows with it.
            const add = await run((o) => portal.add(ref, { name: "dave", running: false, retainHome: false }, o));
            assert.strictEqual(add.result.targeted, true, add.reason);
            onlyDevelopers(add, ["dave"]);
            assert.ok(add.result.steps.some((st) => st.op === "update" && st.name === "team-quota"), JSON.stringify(add.result.steps.map((st) => `${st.op} ${st.name}`)));
            assert.strictEqual(quotaPods(), "8");
            const outs1 = outputs();
            assert.deepStrictEqual(Object.keys(outs1.gitspaces).sort(), ["alice", "bob", "carol", "dave"]);
            for (const d of ["alice", "bob", "carol"]) assert.deepStrictEqual(outs1.gitspaces[d].password, outs0.gitspaces[d].password, d);
            noDrift("after adding dave");

            // Larger limits than anyone's: the LimitRange (which every gitspace depends on) must follow: a full run.
            const big = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "2", memory: "2Gi" } };
            const erin = await run((o) => portal.add(ref, { name: "erin", running: false, retainHome: false, resources: big }, o));
            assert.strictEqual(erin.result.targeted, false);
            assert.match(erin.reason ?? "", /^the shared namespace's LimitRange \(the largest developer's resources\) changes/);
            assert.strictEqual(live("limitrange", "gitspace").spec.limits[0].max.cpu, "2");
            assert.strictEqual(quotaPods(), "10");
            noDrift("after adding erin (full run)");

            // The first developer who keeps a home: the Namespace must be kept on delete from now on (full run), and
            // no longer once nobody keeps one.
            const frank = await run((o) => portal.add(ref, { name: "frank", running: false }, o));
            assert.strictEqual(frank.result.targeted, false);
            assert.match(frank.reason ?? "", /retention \(whether any developer keeps a home\)/);
            assert.strictEqual(teamNamespaceRetained(), true, "the state keeps the namespace on delete");
            noDrift("after adding frank (full run)");
            const frankOff = await run((o) => portal.update(ref, "frank", { retainHome: false }, o));
            assert.strictEqual(frankOff.result.targeted, false);
            assert.strictEqual(teamNamespaceRetained(), false);
            noDrift("after frank's retainHome: false (full run)");

            // Removing a developer: targeted; the quota shrinks; bob's objects are gone from the state and the cluster.
            const rm = await run((o) => portal.remove(ref, "bob", o));
            assert.strictEqual(rm.result.targeted, true, rm.reason);
            onlyDevelopers(rm, ["bob"]);
            const urns = state().map((s) => s.urn);
            assert.ok(!urns.some((u) => u.endsWith("::bob") || u.includes("::bob-")), "bob's resources are gone from the state");
            for (const d of ["alice", "carol", "dave", "erin", "frank"]) assert.ok(urns.some((u) => u.endsWith(`::${d}-deployment`)), `${d} kept`);
            assert.strictEqual(quotaPods(), "10");
            assert.ok(!kubectl("-n", namespace, "get", "deployments,persistentvolumeclaims,secrets", "-o", "name").includes("bob"), "bob's objects are gone from the cluster");
            assert.deepStrictEqual(Object.keys(outputs().gitspaces).sort(), ["alice", "carol", "dave", "erin", "frank"]);
            noDrift("after removing bob");

            // A team-level setting changed outside the portal: the next change is a full run, as before.
            pulumi(project, ["config", "set", "--stack", stack, "gitspace:domain", "gitspace2.localtest.me"]);
            const teamLevel = await run((o) => portal.update(ref, "alice", { migrateLegacyWorkspaces: true }, o));
            assert.strictEqual(teamLevel.result.targeted, false);
            assert.strictEqual(teamLevel.reason, "team-level config changed since the last update: gitspace:domain");
            noDrift("after the team-level change (full run)");
            // And targeted again afterwards.
            const again = await run((o) => portal.update(ref, "carol", { migrateLegacyWorkspaces: false }, o));
            assert.strictEqual(again.result.targeted, true, again.reason);
            onlyDevelopers(again, ["carol"]);
            noDrift("after carol's update");
            await portal.close();
        } finally {
            await pulumiAsync(project, ["destroy", "--yes", "--skip-preview", "--stack", stack]).catch((e) => console.log(`      cleanup: ${String(e).slice(0, 300)}`));
            // The namespace is this test's own (kept only if a failure left its retention on).
            try { kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false"); } catch { /* cleanup */ }
            await pulumiAsync(project, ["stack", "rm", "--force", "--yes", "--stack", stack]).catch(() => undefined);
            project.cleanup();
        }
    });
});
