/**
 * The idle reaper: every interval, for every running gitspace whose developer has an `idleTimeout`, reads its
 * activity in the IDE container (scripts/common/gitspace-activity.sh, through the Kubernetes exec API: the pods
 * themselves get no API access) and stops the idle ones through the portal's own queue (`stopIdle`: `running:
 * false`, `stoppedReason: idle`), so Pulumi stays the one source of truth. Fail safe: a stack, pod or activity that
 * cannot be read is logged and left running.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { currentPod, IDE_CONTAINER } from "../live/status";
import { gitspacesOf } from "../gitspaces";
import { validate } from "../mutations";
import type { StackRef, TeamStackInfo } from "../types";
import { decideIdle, IdleDecision, MAX_ACTIVITY_OUTPUT } from "./decide";

/** Where the activity script is in every runtime image (images/lib/install-scripts.sh). */
export const ACTIVITY_COMMAND = ["/usr/local/gitspace/scripts/common/gitspace-activity.sh"];

/** A running gitspace with an idle timeout. */
export interface IdleCandidate {
    ref: StackRef;
    developer: string;
    namespace: string;
    timeoutMinutes: number;
}

/** The gitspaces to watch and how to stop one: the portal (`portalIdleSource`) or a test's fake. */
export interface IdleSource {
    /** Every candidate of every stack; a stack that cannot be read is reported through `onError` and skipped. */
    candidates(onError: (ref: StackRef | undefined, e: unknown) => void): Promise<IdleCandidate[]>;
    stop(ref: StackRef, developer: string): Promise<unknown>;
}

/** The cluster: the developer's pods, and the activity script's stdout in a pod's IDE container. */
export interface IdleCluster {
    pods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
    activity(namespace: string, pod: string): Promise<string>;
}

export interface IdleReaperOptions {
    source: IdleSource;
    cluster: IdleCluster;
    /** Sweep period. Default 60 s. */
    intervalMs?: number;
    /** One JSON-able record per event worth a log line (stops, errors). */
    log?: (record: Record<string, unknown>) => void;
    /** The clock (epoch ms). */
    now?: () => number;
}

export interface SweepResult {
    ref: StackRef;
    developer: string;
    decision: IdleDecision;
    /** Set when a stop was attempted and failed. */
    stopError?: string;
}

/** The portal's part of the reaper: its stacks (read-only) and its `stopIdle`. */
export interface IdlePortal {
    listStacks(): Promise<TeamStackInfo[]>;
    driver(ref: StackRef): Promise<{ stackName: string; readConfig(): Promise<import("../mutations").RawConfig>; outputs(): Promise<import("@pulumi/pulumi/automation").OutputMap> }>;
    stopIdle(ref: StackRef, developer: string): Promise<unknown>;
}

/** The candidates of every team stack of a portal: running, deployed, with an idleTimeout, in a known namespace. */
export function portalIdleSource(portal: IdlePortal): IdleSource {
    return {
        async candidates(onError) {
            const out: IdleCandidate[] = [];
            let stacks: TeamStackInfo[];
            try {
                stacks = await portal.listStacks();
            } catch (e) {
                onError(undefined, e);
                return out;
            }
            for (const info of stacks) {
                const ref = { team: info.team, env: info.env };
                try {
                    const driver = await portal.driver(ref);
                    const [raw, outputs] = await Promise.all([driver.readConfig(), driver.outputs()]);
                    const team = validate(raw, driver.stackName);
                    const deployed = new Map(gitspacesOf(raw, outputs).map((g) => [g.name, g]));
                    for (const d of team.developers) {
                        const g = deployed.get(d.name);
                        if (d.idleTimeoutMinutes === undefined || !d.running || !g?.deployed || !g.namespace) continue;
                        out.push({ ref, developer: d.name, namespace: g.namespace, timeoutMinutes: d.idleTimeoutMinutes });
                    }
                } catch (e) {
                    onError(ref, e);
                }
            }
            return out;
        },
        stop: (ref, developer) => portal.stopIdle(ref, developer),
    };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);
const ms = (v: unknown): number | undefined => {
    const t = v instanceof Date ? v.getTime() : typeof v === "string" ? Date.parse(v) : NaN;
    return Number.isFinite(t) ? t : undefined;
};

/** Ready (and since when) from a pod's conditions; its start time. */
export function podReadiness(pod: V1Pod): { ready: boolean; readyAt?: number; startedAt?: number } {
    const conditions = Array.isArray(pod.status?.conditions) ? pod.status!.conditions : [];
    const ready = conditions.find((c) => c?.type === "Ready");
    const isReady = ready?.status === "True" && !pod.metadata?.deletionTimestamp;
    const readyAt = isReady ? ms(ready?.lastTransitionTime) : undefined;
    const startedAt = ms(pod.status?.startTime);
    return { ready: isReady, ...(readyAt !== undefined ? { readyAt } : {}), ...(startedAt !== undefined ? { startedAt } : {}) };
}

export class IdleReaper {
    /** When each pod (by uid) was first seen: idle time never counts from before the reaper could see it. */
    private readonly firstSeen = new Map<string, number>();
    /** When a session was last seen open on each pod (by uid). */
    private readonly lastSession = new Map<string, number>();
    /** The last activity error logged per gitspace: the same error is logged once, not every sweep. */
    private readonly lastError = new Map<string, string>();
    /** The stacks that could not be read in the last sweep, and why: logged when that changes. */
    private stackErrors = new Map<string, string>();
    private timer?: NodeJS.Timeout;
    private running?: Promise<SweepResult[]>;
    private readonly now: () => number;
    private readonly log: (record: Record<string, unknown>) => void;

    constructor(private readonly options: IdleReaperOptions) {
        this.now = options.now ?? Date.now;
        this.log = options.log ?? (() => undefined);
    }

    /** Sweeps now, then every interval; a sweep still running makes the next one wait. */
    start(): void {
        if (this.timer) return;
        this.timer = setInterval(() => { if (!this.running) void this.sweep(); }, this.options.intervalMs ?? 60_000);
        this.timer.unref();
        void this.sweep();
    }

    async stop(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        await this.running?.catch(() => undefined);
    }

    /** One pass over every candidate; idle ones are stopped (together: the portal applies them as one update). */
    sweep(): Promise<SweepResult[]> {
        if (this.running) return this.running;
        this.running = this.pass().finally(() => { this.running = undefined; });
        return this.running;
    }

    private async pass(): Promise<SweepResult[]> {
        const stackErrors = new Map<string, string>();
        const candidates = await this.options.source.candidates((ref, e) => {
            const stack = ref ? `${ref.team}-${ref.env}` : "";
            const error = errorText(e);
            stackErrors.set(stack, error);
            if (this.stackErrors.get(stack) !== error) this.log({ event: "stack-unreadable", ...(ref ? { stack } : {}), error });
        });
        this.stackErrors = stackErrors;
        const seen = new Set<string>();
        const results: SweepResult[] = [];
        for (const c of candidates) results.push(await this.inspect(c, seen));
        for (const key of [...this.firstSeen.keys()]) if (!seen.has(key)) { this.firstSeen.delete(key); this.lastSession.delete(key); }
        const current = new Set(candidates.map((c) => `${c.ref.team}-${c.ref.env}/${c.developer}`));
        for (const key of [...this.lastError.keys()]) if (!current.has(key)) this.lastError.delete(key);
        const stops = results.filter((r) => r.decision.action === "stop");
        await Promise.all(stops.map(async (r) => {
            const stack = `${r.ref.team}-${r.ref.env}`;
            this.log({ event: "stop", stack, developer: r.developer, detail: (r.decision as { detail: string }).detail });
            try {
                await this.options.source.stop(r.ref, r.developer);
            } catch (e) {
                r.stopError = errorText(e);
                this.log({ event: "stop-failed", stack, developer: r.developer, error: r.stopError });
            }
        }));
        return results;
    }

    private async inspect(c: IdleCandidate, seen: Set<string>): Promise<SweepResult> {
        const stack = `${c.ref.team}-${c.ref.env}`;
        const result = (decision: IdleDecision): SweepResult => {
            const key = `${stack}/${c.developer}`;
            if (decision.action === "keep" && decision.reason === "activity-unknown") {
                if (this.lastError.get(key) !== decision.detail) {
                    this.log({ event: "activity-unknown", stack, developer: c.developer, error: decision.detail });
                    this.lastError.set(key, decision.detail ?? "");
                }
            } else {
                this.lastError.delete(key);
            }
            return { ref: c.ref, developer: c.developer, decision };
        };
        let pods: V1Pod[];
        try {
            pods = await this.options.cluster.pods(c.namespace, `gitspace.io/team=${c.ref.team},gitspace.io/developer=${c.developer}`);
        } catch (e) {
            return result({ action: "keep", reason: "activity-unknown", detail: `pods: ${errorText(e)}` });
        }
        const pod = currentPod(pods.filter((p) => !p.metadata?.deletionTimestamp));
        const name = pod?.metadata?.name;
        if (!pod || !name) return result({ action: "keep", reason: "no-pod" });
        const key = `${c.namespace}/${pod.metadata?.uid ?? name}`;
        seen.add(key);
        const now = this.now();
        if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
        const readiness = podReadiness(pod);
        const activity = readiness.ready
            ? await this.options.cluster.activity(c.namespace, name).then((stdout) => ({ stdout }), (e) => ({ error: `exec: ${errorText(e)}` }))
            : { error: "not ready" };
        const decision = decideIdle({ now, timeoutMinutes: c.timeoutMinutes, firstSeenAt: this.firstSeen.get(key)!, lastSessionAt: this.lastSession.get(key), pod: readiness, activity });
        if (decision.action === "keep" && decision.reason === "sessions") this.lastSession.set(key, now);
        return result(decision);
    }
}

export { IDE_CONTAINER, MAX_ACTIVITY_OUTPUT };
