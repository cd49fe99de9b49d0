/**
 * Condenses Automation API engine events into portal progress events, and collects what a result needs: the
 * resource steps (the diff), the change summary and the failures (which resource failed and why).
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { ResourceFailure } from "./errors";
import type { PortalEvent, ResourceStep } from "./types";

/** `urn:pulumi:stack::project::parent$type::name` → { type, name } */
export function parseUrn(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    const typeChain = parts[2] ?? "";
    return { type: typeChain.substring(typeChain.lastIndexOf("$") + 1), name: parts.slice(3).join("::") };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m|<\{%[^%]*%\}>/g;
export const stripColor = (s: string) => s.replace(ANSI, "");

export class EventCollector {
    readonly steps: ResourceStep[] = [];
    readonly failures: ResourceFailure[] = [];
    changes: Record<string, number> = {};
    durationSeconds?: number;

    constructor(private readonly emit: (e: PortalEvent) => void = () => undefined) {}

    /** Feed one engine event. */
    readonly onEngineEvent = (event: EngineEvent): void => {
        if (event.resourcePreEvent) {
            const m = event.resourcePreEvent.metadata;
            const { type, name } = parseUrn(m.urn);
            if (m.op !== "same" && m.op !== "read" && type !== "pulumi:pulumi:Stack") {
                this.steps.push({ op: m.op, urn: m.urn, resourceType: type, name, ...(m.diffs && m.diffs.length ? { diffs: m.diffs } : {}) });
            }
            if (m.op !== "same") this.emit({ type: "resource", phase: "started", op: m.op, urn: m.urn, resourceType: type, name });
        } else if (event.resOutputsEvent) {
            const m = event.resOutputsEvent.metadata;
            if (m.op !== "same") {
                const { type, name } = parseUrn(m.urn);
                this.emit({ type: "resource", phase: "done", op: m.op, urn: m.urn, resourceType: type, name });
            }
        } else if (event.resOpFailedEvent) {
            const m = event.resOpFailedEvent.metadata;
            const { type, name } = parseUrn(m.urn);
            const message = this.failures.find((f) => f.urn === m.urn)?.message ?? `${m.op} failed`;
            if (!this.failures.some((f) => f.urn === m.urn)) this.failures.push({ urn: m.urn, type, name, message });
            this.emit({ type: "resource", phase: "failed", op: m.op, urn: m.urn, resourceType: type, name, message });
        } else if (event.diagnosticEvent) {
            const d = event.diagnosticEvent;
            const message = stripColor(d.message).trim();
            if (d.severity === "error") this.addFailure(d.urn, message);
            if (message && (d.severity as string) !== "debug") {
                this.emit({ type: "diagnostic", severity: d.severity, message, ...(d.urn ? { urn: d.urn } : {}) });
            }
        } else if (event.summaryEvent) {
            const changes: Record<string, number> = {};
            for (const [op, n] of Object.entries(event.summaryEvent.resourceChanges ?? {})) changes[op] = n as number;
            this.changes = changes;
            this.durationSeconds = event.summaryEvent.durationSeconds;
            this.emit({ type: "summary", changes, durationSeconds: event.summaryEvent.durationSeconds });
        }
    };

    private addFailure(urn: string | undefined, message: string) {
        // The stack resource's "update failed" line repeats what the resources said.
        if (urn && parseUrn(urn).type === "pulumi:pulumi:Stack") {
            if (this.failures.length > 0 || /^update failed$/i.test(message)) return;
            this.failures.push({ message });
            return;
        }
        if (!urn) {
            if (!this.failures.some((f) => f.message === message)) this.failures.push({ message });
            return;
        }
        const existing = this.failures.find((f) => f.urn === urn);
        if (existing) {
            if (existing.message.endsWith(" failed")) existing.message = message;
            else if (!existing.message.includes(message)) existing.message += `; ${message}`;
            return;
        }
        const { type, name } = parseUrn(urn);
        this.failures.push({ urn, type, name, message });
    }
}
