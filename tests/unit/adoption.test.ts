import { strict as assert } from "assert";
import {
    AdoptionError, HOME_CLAIM_IMMUTABLE, LiveObject, adoptionForProgram, adoptionId, keptStorage, planAdoption,
} from "../../components/adoption";
import { gitspaceLabels, teamLabels } from "../../components/builders";
import { parseTeamConfig } from "../../components/config";
import { provisionTeam } from "../../components/team";
import { TYPES, byType, fakeCluster, one, rawConfig, runProgram } from "./harness";

const scope = { team: "platform", environment: "dev" };
const config = (overrides: Record<string, unknown> = {}) => parseTeamConfig(rawConfig({ router: { mode: "none" }, ...overrides }), [], { stack: "dev" });
const perDeveloper = () => config({ namespaceLayout: "per-developer" });
const shared = () => config({ namespaceLayout: "shared" });
const alice = () => perDeveloper().developers[0];
const live = (labels: Record<string, string>, extra: Partial<LiveObject> = {}): LiveObject => ({ labels, deleting: false, ...extra });
const NS = "gitspace--platform--dev--alice";
const TEAM_NS = "gitspace--platform--dev";

describe("adoption of kept homes (re-adding a removed developer)", () => {
    describe("adoptionId: only this stack's own objects", () => {
        const expected = gitspaceLabels(scope, alice());

        it("nothing there: no import", () => {
            assert.equal(adoptionId("Namespace", NS, undefined, expected), undefined);
        });

        it("ours (team, environment and developer labels match, other labels anything): import by name", () => {
            assert.equal(adoptionId("Namespace", NS, live({ ...expected, extra: "x", "gitspace.io/ide": "vs_code" }), expected), NS);
        });

        const hostile: Array<[string, Record<string, string>]> = [
            ["no labels at all", {}],
            ["another developer", { ...expected, "gitspace.io/developer": "bob" }],
            ["another team", { ...expected, "gitspace.io/team": "payments" }],
            ["another environment", { ...expected, "gitspace.io/environment": "prod" }],
            ["developer label missing", Object.fromEntries(Object.entries(expected).filter(([k]) => k !== "gitspace.io/developer"))],
            ["case look-alike", { ...expected, "gitspace.io/developer": "Alice" }],
            ["trailing space", { ...expected, "gitspace.io/team": "platform " }],
            ["unicode look-alike", { ...expected, "gitspace.io/team": "plаtform" }],
            ["empty value", { ...expected, "gitspace.io/environment": "" }],
            ["label key look-alike", { ...Object.fromEntries(Object.entries(expected).filter(([k]) => k !== "gitspace.io/team")), "gitspace.io/Team": "platform" }],
        ];
        for (const [what, labels] of hostile) {
            it(`refuses an object that is not ours: ${what}`, () => {
                assert.throws(() => adoptionId("Namespace", NS, live(labels), expected), (e: Error) =>
                    e instanceof AdoptionError && e.message.includes(NS) && e.message.includes("refusing to adopt"));
            });
        }

        it("refuses an object being deleted (a Terminating namespace)", () => {
            assert.throws(() => adoptionId("Namespace", NS, live(expected, { deleting: true }), expected), /being deleted/);
        });

        it("the team namespace is checked on team and environment only", () => {
            assert.equal(adoptionId("Namespace", TEAM_NS, live(teamLabels(scope)), teamLabels(scope)), TEAM_NS);
            assert.throws(() => adoptionId("Namespace", TEAM_NS, live({ ...teamLabels(scope), "gitspace.io/environment": "prod" }), teamLabels(scope)), AdoptionError);
        });
    });

    describe("keptStorage: a kept home never shrinks", () => {
        it("larger kept claim: its size", () => assert.equal(keptStorage("10Gi", live({}, { storage: "20Gi" })), "20Gi"));
        it("same or smaller: the config's (expansion goes through)", () => {
            assert.equal(keptStorage("10Gi", live({}, { storage: "10Gi" })), undefined);
            assert.equal(keptStorage("20Gi", live({}, { storage: "10737418240" })), undefined);
        });
        it("unit spellings compare by value", () => assert.equal(keptStorage("10G", live({}, { storage: "10Gi" })), "10Gi"));
        it("a garbage live value is ignored", () => assert.equal(keptStorage("10Gi", live({}, { storage: "lots" })), undefined));
        it("no claim: nothing", () => assert.equal(keptStorage("10Gi", undefined), undefined));
    });

    describe("planAdoption", () => {
        it("per-developer: the kept namespace and its home claim", async () => {
            const labels = gitspaceLabels(scope, alice());
            const cluster = fakeCluster({ [NS]: live(labels), [`${NS}/home`]: live(labels, { storage: "10Gi" }) });
            const plan = await planAdoption(perDeveloper(), cluster);
            assert.deepEqual(plan, { developers: { alice: { namespace: NS, claim: `${NS}/home` } } });
        });

        it("per-developer: a new developer looks up only the namespace", async () => {
            const cluster = fakeCluster();
            assert.deepEqual(await planAdoption(perDeveloper(), cluster), { developers: { alice: {} } });
            assert.deepEqual(cluster.reads, [NS]);
        });

        it("per-developer: a kept namespace whose claim was deleted by hand adopts the namespace only", async () => {
            const plan = await planAdoption(perDeveloper(), fakeCluster({ [NS]: live(gitspaceLabels(scope, alice())) }));
            assert.deepEqual(plan.developers.alice, { namespace: NS });
        });

        it("shared: the team namespace and the developer's claim in it", async () => {
            const labels = gitspaceLabels(scope, shared().developers[0]);
            const plan = await planAdoption(shared(), fakeCluster({
                [TEAM_NS]: live(teamLabels(scope)), [`${TEAM_NS}/home--alice`]: live(labels, { storage: "50Gi" }),
            }));
            assert.deepEqual(plan, { teamNamespace: TEAM_NS, developers: { alice: { claim: `${TEAM_NS}/home--alice`, storage: "50Gi" } } });
        });

        it("a claim of another developer under this developer's name is refused", async () => {
            const bobLabels = { ...gitspaceLabels(scope, alice()), "gitspace.io/developer": "bob" };
            await assert.rejects(planAdoption(shared(), fakeCluster({ [TEAM_NS]: live(teamLabels(scope)), [`${TEAM_NS}/home--alice`]: live(bobLabels) })),
                /PersistentVolumeClaim gitspace--platform--dev\/home--alice already exists and is not this stack's \(label gitspace.io\/developer is "bob"/);
        });
    });

    describe("adoptionForProgram", () => {
        it("an unreadable cluster means no adoption (create as before), never a failure", async () => {
            const plan = await adoptionForProgram(perDeveloper(), async () => { throw new Error("no kubeconfig"); });
            assert.deepEqual(plan, { developers: {} });
            const failing = { namespace: async () => { throw Object.assign(new Error("forbidden"), { code: 403 }); }, claim: async () => undefined };
            assert.deepEqual(await adoptionForProgram(perDeveloper(), async () => failing), { developers: {} });
        });

        it("an object that is not ours stops the program", async () => {
            await assert.rejects(adoptionForProgram(perDeveloper(), async () => fakeCluster({ [NS]: live({}) })), AdoptionError);
        });
    });

    describe("the registered resources", () => {
        it("re-added: the Namespace and PVC carry `import` with their IDs, the kept size, and keep retainOnDelete", async () => {
            const cfg = perDeveloper();
            const labels = gitspaceLabels(scope, cfg.developers[0]);
            const plan = await planAdoption(cfg, fakeCluster({ [NS]: live(labels), [`${NS}/home`]: live(labels, { storage: "20Gi" }) }));
            const { resources } = await runProgram((opts) => provisionTeam(cfg, opts, plan));
            const ns = one(resources, TYPES.namespace);
            assert.equal(ns.opts.import, NS);
            assert.equal(ns.opts.retainOnDelete, true);
            const pvc = one(resources, TYPES.pvc);
            assert.equal(pvc.opts.import, `${NS}/home`);
            assert.equal(pvc.opts.retainOnDelete, true);
            assert.equal(pvc.inputs.spec.resources.requests.storage, "20Gi");
            assert.deepEqual(pvc.opts.ignoreChanges, HOME_CLAIM_IMMUTABLE);
            // Everything else is created as usual (it was deleted with the developer).
            for (const r of resources.filter((r) => r !== ns && r !== pvc)) assert.equal(r.opts.import, undefined, r.name);
        });

        it("new developer: nothing imported; the immutable claim fields are still protected", async () => {
            const { resources } = await runProgram((opts) => provisionTeam(perDeveloper(), opts));
            for (const r of resources) assert.equal(r.opts.import, undefined, r.name);
            assert.deepEqual(one(resources, TYPES.pvc).opts.ignoreChanges, HOME_CLAIM_IMMUTABLE);
            assert.equal(one(resources, TYPES.pvc).inputs.spec.resources.requests.storage, "10Gi");
        });

        it("shared layout: the team namespace and the claim are imported", async () => {
            const cfg = shared();
            const plan = await planAdoption(cfg, fakeCluster({
                [TEAM_NS]: live(teamLabels(scope)), [`${TEAM_NS}/home--alice`]: live(gitspaceLabels(scope, cfg.developers[0])),
            }));
            const { resources } = await runProgram((opts) => provisionTeam(cfg, opts, plan));
            assert.equal(one(resources, TYPES.namespace).opts.import, TEAM_NS);
            assert.equal(one(resources, TYPES.pvc).opts.import, `${TEAM_NS}/home--alice`);
            assert.equal(byType(resources, TYPES.namespace).length, 1);
        });
    });
});

describe("kubeconfigReader against an HTTP API server on loopback", () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const http = require("http") as typeof import("http");
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const { kubeconfigReader } = require("../../components/adoption") as typeof import("../../components/adoption");
    let server: import("http").Server;
    let dir: string;
    const seen: string[] = [];

    before(async () => {
        server = http.createServer((req, res) => {
            seen.push(`${req.method} ${req.url}`);
            const send = (status: number, body: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
            if (req.url === `/api/v1/namespaces/${NS}`) {
                return send(200, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "gitspace.io/team": "platform" } } });
            }
            if (req.url === `/api/v1/namespaces/${NS}/persistentvolumeclaims/home`) {
                return send(200, { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "home", namespace: NS, labels: {}, deletionTimestamp: "2026-11-30T10:00:00Z" }, spec: { resources: { requests: { storage: "20Gi" } } } });
            }
            send(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as import("net").AddressInfo).port;
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-kubeconfig-"));
        fs.writeFileSync(path.join(dir, "config"), [
            "apiVersion: v1", "kind: Config", "current-context: other",
            "clusters:", `- name: local`, `  cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}`, `- name: nowhere`, `  cluster: {server: "http://127.0.0.1:9", insecure-skip-tls-verify: true}`,
            "users:", "- name: u", "  user: {token: not-a-secret}",
            "contexts:", "- name: local", "  context: {cluster: local, user: u}", "- name: other", "  context: {cluster: nowhere, user: u}",
        ].join("\n"));
    });
    after(() => {
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
        pulumi.runtime.setAllConfig({});
    });

    it("uses kubernetes:kubeconfig and kubernetes:context, reads labels, deletion and storage, and maps 404 to absent", async () => {
        pulumi.runtime.setAllConfig({ "kubernetes:kubeconfig": path.join(dir, "config"), "kubernetes:context": "local" });
        const reader = await kubeconfigReader();
        assert.deepEqual(await reader.namespace(NS), { labels: { "gitspace.io/team": "platform" }, deleting: false });
        assert.deepEqual(await reader.claim(NS, "home"), { labels: {}, deleting: true, storage: "20Gi" });
        assert.equal(await reader.namespace("gitspace--platform--dev--nobody"), undefined);
        assert.equal(await reader.claim(NS, "home--nobody"), undefined);
        assert.deepEqual(seen, [
            `GET /api/v1/namespaces/${NS}`, `GET /api/v1/namespaces/${NS}/persistentvolumeclaims/home`,
            "GET /api/v1/namespaces/gitspace--platform--dev--nobody", `GET /api/v1/namespaces/${NS}/persistentvolumeclaims/home--nobody`,
        ]);
    });

    it("a kubeconfig given as contents works too; an unreachable server is an error (no adoption), not 'absent'", async () => {
        const contents = fs.readFileSync(path.join(dir, "config"), "utf8");
        pulumi.runtime.setAllConfig({ "kubernetes:kubeconfig": contents });
        const reader = await kubeconfigReader();
        await assert.rejects(reader.namespace(NS));
    });
});
