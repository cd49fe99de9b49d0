import * as assert from "assert";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { EventCollector, parseUrn, PortalEvent } from "../../portal";

const STACK = "urn:pulumi:acme-dev::gitspace::pulumi:pulumi:Stack::gitspace-acme-dev";
const NS = "urn:pulumi:acme-dev::gitspace::gitspace:gitspace:Gitspace$kubernetes:core/v1:Namespace::bob-namespace";
const ev = (e: Partial<EngineEvent>, i: number) => ({ sequence: i, timestamp: 0, ...e }) as EngineEvent;

describe("portal: engine events", () => {
    it("parses URNs with a parent type chain", () => {
        assert.deepStrictEqual(parseUrn(NS), { type: "kubernetes:core/v1:Namespace", name: "bob-namespace" });
        assert.deepStrictEqual(parseUrn(STACK), { type: "pulumi:pulumi:Stack", name: "gitspace-acme-dev" });
    });

    it("a failed update: the failed resource and the engine's reason, not the stack's summary line", () => {
        const out: PortalEvent[] = [];
        const c = new EventCollector((e) => out.push(e));
        const meta = { op: "create", urn: NS, type: "kubernetes:core/v1:Namespace", provider: "" };
        [
            { resourcePreEvent: { metadata: meta } },
            { diagnosticEvent: { severity: "debug", message: "Registering resource", color: "never" } },
            { diagnosticEvent: { urn: NS, severity: "error", message: "\u001b[31mconfigured Kubernetes cluster is unreachable: no kubeconfig\u001b[0m\n", color: "never" } },
            { resOpFailedEvent: { metadata: meta, status: 1, steps: 1 } },
            { diagnosticEvent: { urn: STACK, severity: "error", message: "update failed", color: "never" } },
            { summaryEvent: { maybeCorrupt: false, durationSeconds: 3, resourceChanges: { create: 0 }, policyPacks: {} } },
        ].forEach((e, i) => c.onEngineEvent(ev(e as Partial<EngineEvent>, i)));
        assert.deepStrictEqual(c.failures, [{ urn: NS, type: "kubernetes:core/v1:Namespace", name: "bob-namespace", message: "configured Kubernetes cluster is unreachable: no kubeconfig" }]);
        assert.deepStrictEqual(c.steps.map((s) => `${s.op} ${s.name}`), ["create bob-namespace"]);
        assert.deepStrictEqual(out.map((e) => e.type === "resource" ? `resource ${e.phase}` : e.type),
            ["resource started", "diagnostic", "resource failed", "diagnostic", "summary"], "no debug diagnostics");
    });

    it("a program error (bad config) is a failure without a URN", () => {
        const c = new EventCollector();
        c.onEngineEvent(ev({ diagnosticEvent: { severity: "error", message: "invalid gitspace stack configuration (1 problem):\n  gitspace:developers[0].ide: unknown IDE", color: "never" } }, 0));
        c.onEngineEvent(ev({ diagnosticEvent: { urn: STACK, severity: "error", message: "update failed", color: "never" } }, 1));
        assert.deepStrictEqual(c.failures, [{ message: "invalid gitspace stack configuration (1 problem):\n  gitspace:developers[0].ide: unknown IDE" }]);
    });
});
