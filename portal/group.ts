/**
 * Engine events of one batched update, split by developer: every resource event goes to the callers whose
 * developer owns the resource (its Gitspace component or a descendant of it), events of the stack itself
 * (summary, program diagnostics) to every caller. Failures are attributed the same way, so one developer's failing
 * Deployment fails only that developer's callers (the update runs with `--continue-on-error`).
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { ResourceFailure } from "./errors";
import { EventCollector, parseUrn, stripColor } from "./events";
import type { PortalEvent } from "./types";

/** The URN an engine event is about, if any. */
export function eventUrn(e: EngineEvent): string | undefined {
    return e.resourcePreEvent?.metadata.urn ?? e.resOutputsEvent?.metadata.urn ?? e.resOpFailedEvent?.metadata.urn
        ?? e.diagnosticEvent?.urn ?? e.policyEvent?.resourceUrn;
}

/** The parent an engine event names for its resource (the engine's step metadata), if any. */
function eventParent(e: EngineEvent): string | undefined {
    const m = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
    return m?.new?.parent || m?.old?.parent || undefined;
}

/**
 * Which developer's resource a URN is: the developer whose Gitspace component it is or descends from (by the
 * parents the engine reported), else by name (children are named `<developer>-<role>`, the longest developer name
 * that fits wins). Undefined for the stack, the team namespace, images and providers.
 */
export class ResourceOwners {
    private readonly parents = new Map<string, string>();
    private readonly byComponent = new Map<string, string>();
    private readonly names: string[];

    constructor(developers: Iterable<string>, componentUrn: (developer: string) => string, private readonly componentType: string) {
        this.names = [...new Set(developers)].sort((a, b) => b.length - a.length);
        for (const d of this.names) this.byComponent.set(componentUrn(d), d);
    }

    observe(e: EngineEvent) {
        const urn = eventUrn(e);
        const parent = eventParent(e);
        if (urn && parent && urn !== parent) this.parents.set(urn, parent);
    }

    owner(urn: string): string | undefined {
        const seen = new Set<string>();
        for (let u: string | undefined = urn; u && !seen.has(u); u = this.parents.get(u)) {
            seen.add(u);
            const d = this.byComponent.get(u);
            if (d !== undefined) return d;
        }
        // No parent chain (an event before its resource's step, or an engine without parents): by type and name.
        const typeChain = urn.split("::")[2] ?? "";
        if (!typeChain.split("$").includes(this.componentType)) return undefined;
        const { name } = parseUrn(urn);
        return this.names.find((d) => name === d || name.startsWith(`${d}-`));
    }
}

/** One caller of a batch: its developer, its own events and collector. */
export interface BatchMember {
    developer: string;
    emit: (e: PortalEvent) => void;
    onEngineEvent?: (e: EngineEvent) => void;
}

export class BatchEvents {
    readonly collectors: EventCollector[];
    /** Resource counts by operation, per member (its developer's resources, unchanged ones included). */
    readonly counts: Array<Record<string, number>>;
    /** Failures no developer owns (the program, the stack, a provider): they fail every member. */
    readonly shared: ResourceFailure[] = [];
    /** A resource of a developer outside the batch failed (a full update): that does not fail the batch's members. */
    othersFailed = false;

    constructor(private readonly members: BatchMember[], private readonly owners: ResourceOwners) {
        this.collectors = members.map((m) => new EventCollector(m.emit));
        this.counts = members.map(() => ({}));
    }

    readonly onEngineEvent = (e: EngineEvent): void => {
        this.owners.observe(e);
        const urn = eventUrn(e);
        const owner = urn !== undefined ? this.owners.owner(urn) : undefined;
        const stackLevel = owner === undefined;
        if (stackLevel && e.diagnosticEvent?.severity === "error") this.noteShared(e);
        const failing = !!e.resOpFailedEvent || e.diagnosticEvent?.severity === "error";
        if (failing && owner !== undefined && !this.members.some((m) => m.developer === owner)) this.othersFailed = true;
        for (const [i, m] of this.members.entries()) {
            if (!stackLevel && owner !== m.developer) continue;
            // A stack-level resource (team namespace, images) is reported to everyone; its steps too.
            this.collectors[i].onEngineEvent(e);
            try { m.onEngineEvent?.(e); } catch { /* a listener's failure is not the operation's */ }
            const pre = e.resOutputsEvent?.metadata;
            if (pre && !stackLevel) this.counts[i][pre.op] = (this.counts[i][pre.op] ?? 0) + 1;
        }
        const failed = e.resOpFailedEvent?.metadata;
        if (failed && stackLevel && parseUrn(failed.urn).type !== "pulumi:pulumi:Stack") {
            this.shared.push({ urn: failed.urn, ...parseUrn(failed.urn), message: `${failed.op} failed` });
        }
    };

    private noteShared(e: EngineEvent) {
        const d = e.diagnosticEvent!;
        const message = stripColor(d.message).trim();
        if (d.urn && parseUrn(d.urn).type === "pulumi:pulumi:Stack" && /^update failed$/i.test(message)) return;
        if (!this.shared.some((f) => f.message === message)) this.shared.push({ message });
    }

    /** A member's own failures (resources of its developer). */
    failuresOf(i: number): ResourceFailure[] {
        return this.collectors[i].failures.filter((f) => f.urn !== undefined && this.owners.owner(f.urn) === this.members[i].developer);
    }
}
