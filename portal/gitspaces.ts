/**
 * GitspacePortal: the operations on a team stack, serialized per stack in-process, retried while another process
 * holds the stack, targeted at the developer's component when that is safe, with progress events.
 */
import type { OutputMap } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { DeveloperNotFoundError, PortalError, StackBusyError, UpdateFailedError, ValidationError } from "./errors";
import { automationDriverFactory, AutomationOptions, isCommandError, StackDriver, StackDriverFactory } from "./driver";
import { EventCollector } from "./events";
import {
    addDeveloper, deepEqual, developerEntries, isPlainObject, Mutation, RawConfig, redactEntry, removeDeveloper, setRunning,
    updateDeveloper,
} from "./mutations";
import { KeyedQueue } from "./queue";
import { RetryOptions, withBusyRetry } from "./retry";
import {
    Gitspace, GitspaceOperations, OperationKind, OperationOptions, OperationResult, PortalEvent, RemoveOptions,
    StackRef, stackName,
} from "./types";

export interface PortalOptions {
    /** How to reach a stack's engine. Default: the Automation API over this repository (`automation`). */
    driver?: StackDriverFactory;
    automation?: AutomationOptions;
    retry?: RetryOptions;
    /** Default targeting for every operation. */
    targeting?: "auto" | "never";
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Team and environment must be DNS labels (they name the stack and Kubernetes namespaces). */
export function checkStackRef(ref: StackRef): void {
    const problems = (["team", "env"] as const)
        .filter((k) => typeof ref[k] !== "string" || ref[k].length > 63 || !DNS_LABEL.test(ref[k]))
        .map((k) => ({ path: k, message: `invalid ${k} ${JSON.stringify(ref[k])}; must be a DNS label` }));
    if (problems.length) throw new ValidationError(problems, "invalid stack reference");
}

const gitspaceOutput = z.object({
    namespace: z.string().optional(), ide: z.string().optional(), url: z.string().optional(),
    image: z.string().optional(), password: z.string().optional(), ssh: z.string().optional(),
}).passthrough();

/** Developers from config + outputs, with status. Exported for the in-memory implementation and tests. */
export function gitspacesOf(
    raw: RawConfig, outputs: OutputMap,
    state: { inflight?: ReadonlySet<string>; lastErrors?: ReadonlyMap<string, string>; showSecrets?: boolean } = {},
): Gitspace[] {
    const deployed = isPlainObject(outputs.gitspaces?.value) ? outputs.gitspaces.value as Record<string, unknown> : {};
    const out = (name: string) => {
        const parsed = gitspaceOutput.safeParse(deployed[name]);
        return parsed.success ? parsed.data : undefined;
    };
    const view = (name: string, entry: Record<string, unknown> | undefined): Gitspace => {
        const o = out(name);
        const running = entry ? entry.running !== false && !(entry.running === undefined && defaultsRunning(raw) === false) : false;
        let status: Gitspace["status"] = !entry ? "removing" : !o ? "pending" : running ? "running" : "stopped";
        const lastError = state.lastErrors?.get(name);
        if (lastError) status = "failed";
        if (state.inflight?.has(name)) status = "updating";
        return {
            name, status, running, deployed: !!o,
            ide: o?.ide ?? (entry?.ide as string | undefined),
            ...(o?.url ? { url: o.url } : {}),
            ...(o?.namespace ? { namespace: o.namespace } : {}),
            ...(o?.image ? { image: o.image } : {}),
            ...(o?.ssh ? { ssh: o.ssh } : {}),
            ...(state.showSecrets && o?.password ? { password: o.password } : {}),
            ...(entry ? { config: redactEntry(entry) } : {}),
            ...(lastError ? { lastError } : {}),
        };
    };
    const result: Gitspace[] = [];
    const seen = new Set<string>();
    for (const entry of developerEntries(raw)) {
        if (!isPlainObject(entry) || typeof entry.name !== "string") continue;
        seen.add(entry.name);
        result.push(view(entry.name, entry));
    }
    for (const name of Object.keys(deployed)) if (!seen.has(name)) result.push(view(name, undefined));
    return result;
}

function defaultsRunning(raw: RawConfig): boolean | undefined {
    const d = raw.values.defaults;
    return isPlainObject(d) && typeof d.running === "boolean" ? d.running : undefined;
}

/** Team-level `gitspace:` keys (everything but `developers`) whose value differs between two configs. */
export function teamLevelChanges(a: RawConfig, b: RawConfig): string[] {
    const keys = new Set([...Object.keys(a.values), ...Object.keys(b.values)]);
    keys.delete("developers");
    return [...keys].filter((k) => !deepEqual(a.values[k], b.values[k])).sort();
}

export class GitspacePortal implements GitspaceOperations {
    private readonly queue = new KeyedQueue();
    private readonly drivers = new Map<string, Promise<StackDriver>>();
    private readonly inflight = new Map<string, Map<string, number>>();
    private readonly lastErrors = new Map<string, Map<string, string>>();
    private readonly factory: StackDriverFactory;

    constructor(private readonly options: PortalOptions = {}) {
        this.factory = options.driver ?? automationDriverFactory(options.automation);
    }

    /** The driver of a stack (cached; a failed lookup is not cached). */
    driver(ref: StackRef): Promise<StackDriver> {
        checkStackRef(ref);
        const name = stackName(ref);
        let d = this.drivers.get(name);
        if (!d) {
            d = this.factory(name);
            this.drivers.set(name, d);
            d.catch(() => this.drivers.delete(name));
        }
        return d;
    }

    async list(ref: StackRef): Promise<Gitspace[]> {
        const driver = await this.driver(ref);
        const [raw, outputs] = await Promise.all([driver.readConfig(), driver.outputs()]);
        return gitspacesOf(raw, outputs, this.state(driver.stackName));
    }

    async get(ref: StackRef, developer: string, opts: { showSecrets?: boolean } = {}): Promise<Gitspace> {
        const driver = await this.driver(ref);
        const [raw, outputs] = await Promise.all([driver.readConfig(), driver.outputs()]);
        const found = gitspacesOf(raw, outputs, { ...this.state(driver.stackName), showSecrets: opts.showSecrets })
            .find((g) => g.name === developer);
        if (!found) throw new DeveloperNotFoundError(driver.stackName, developer);
        return found;
    }

    add(ref: StackRef, entry: unknown, opts: OperationOptions = {}) {
        return this.operate(ref, "add", isPlainObject(entry) && typeof entry.name === "string" ? entry.name : undefined, opts, (raw, stack) => addDeveloper(raw, stack, entry));
    }

    update(ref: StackRef, developer: string, patch: unknown, opts: OperationOptions = {}) {
        return this.operate(ref, "update", developer, opts, (raw, stack) => updateDeveloper(raw, stack, developer, patch));
    }

    stop(ref: StackRef, developer: string, opts: OperationOptions = {}) {
        return this.operate(ref, "stop", developer, opts, (raw, stack) => setRunning(raw, stack, developer, false));
    }

    start(ref: StackRef, developer: string, opts: OperationOptions = {}) {
        return this.operate(ref, "start", developer, opts, (raw, stack) => setRunning(raw, stack, developer, true));
    }

    remove(ref: StackRef, developer: string, opts: RemoveOptions = {}) {
        if (!opts.purge) return this.operate(ref, "remove", developer, opts, (raw, stack) => removeDeveloper(raw, stack, developer));
        // Purge: record the deletion policy first (retainHome: false), then remove.
        return this.operate(ref, "purge", developer, opts, (raw, stack) => {
            const entry = developerEntries(raw).find((e) => isPlainObject(e) && e.name === developer);
            if (isPlainObject(entry) && entry.retainHome !== false) return updateDeveloper(raw, stack, developer, { retainHome: false });
            return undefined;
        }, (raw, stack) => removeDeveloper(raw, stack, developer));
    }

    /**
     * Why this change needs a full update, or undefined when a targeted update of the developer's component (and
     * its children) is safe: the stack was deployed, and the team-level config (images, domain, …) is what the last
     * successful update ran with, so nothing outside the developer is pending.
     */
    private async fullUpdateReason(driver: StackDriver, raw: RawConfig, outputs: OutputMap, opts: OperationOptions): Promise<string | undefined> {
        if ((opts.targeting ?? this.options.targeting ?? "auto") === "never") return "targeting: never";
        if (outputs.gitspaces === undefined) return "the stack has not been deployed yet";
        const last = await driver.lastDeployedConfig();
        if (!last) return "no successful update in the stack's history";
        const changed = teamLevelChanges(last, raw);
        if (changed.length) return `team-level config changed since the last update: ${changed.map((k) => `gitspace:${k}`).join(", ")}`;
        return undefined;
    }

    private state(stack: string) {
        return {
            inflight: new Set(this.inflight.get(stack)?.keys() ?? []),
            lastErrors: this.lastErrors.get(stack) ?? new Map<string, string>(),
        };
    }

    /** The state for this operation's result: its own (outer) mark does not make the developer "updating". */
    private stateAfter(stack: string, developer: string, marked: string | undefined) {
        const state = this.state(stack);
        const own = marked === developer ? 1 : 0;
        if ((this.inflight.get(stack)?.get(developer) ?? 0) <= own) state.inflight.delete(developer);
        return state;
    }

    private mark(stack: string, developer: string, delta: number) {
        const m = this.inflight.get(stack) ?? new Map<string, number>();
        const n = (m.get(developer) ?? 0) + delta;
        if (n > 0) m.set(developer, n); else m.delete(developer);
        this.inflight.set(stack, m);
    }

    private setError(stack: string, developer: string, error?: string) {
        const m = this.lastErrors.get(stack) ?? new Map<string, string>();
        if (error) m.set(developer, error); else m.delete(developer);
        this.lastErrors.set(stack, m);
    }

    /**
     * Runs the steps of one operation in the stack's queue: each step mutates the config (validated) and runs
     * an update (or a preview with `dryRun`, after which the config is restored).
     */
    private async operate(
        ref: StackRef, kind: OperationKind, name: string | undefined, opts: OperationOptions,
        ...steps: Array<(raw: RawConfig, stack: string) => Mutation | undefined>
    ): Promise<OperationResult> {
        const driver = await this.driver(ref);
        const stack = driver.stackName;
        const emit = (e: PortalEvent) => {
            try { opts.onEvent?.(e); } catch { /* a listener's failure is not the operation's */ }
        };
        // "updating" from the moment the request is queued.
        if (name) this.mark(stack, name, +1);
        return this.queue.run(stack, async () => {
            const started = Date.now();
            const collector = new EventCollector(emit);
            let developer = "";
            let targeted = true;
            let outputs: OutputMap = {};
            let raw: RawConfig = await driver.readConfig();
            const snapshots: unknown[] = [];
            try {
                for (const step of steps) {
                    const mutation = step(raw, stack);
                    if (!mutation) continue;
                    developer = mutation.developer;
                    this.mark(stack, developer, +1);
                    try {
                        const before = await driver.outputs();
                        const reason = await this.fullUpdateReason(driver, raw, before, opts);
                        const target = reason ? undefined : [driver.componentUrn(mutation.developer)];
                        targeted &&= target !== undefined;
                        emit({
                            type: "started", stack, operation: kind, developer, dryRun: !!opts.dryRun, targeted: !!target,
                            ...(target ? { targets: target } : { reason }),
                        });
                        const snapshot = await driver.snapshotConfig();
                        snapshots.push(snapshot);
                        await driver.applyConfig(mutation.ops);
                        emit({
                            type: "config", stack,
                            set: mutation.ops.filter((o) => o.op === "set").map((o) => o.path),
                            removed: mutation.ops.filter((o) => o.op === "remove").map((o) => o.path),
                        });
                        const run = { target, onEngineEvent: (e: Parameters<typeof collector.onEngineEvent>[0]) => { collector.onEngineEvent(e); opts.onEngineEvent?.(e); } };
                        const onRetry = (r: { attempt: number; delayMs: number }) =>
                            emit({ type: "retry", stack, attempt: r.attempt, delayMs: r.delayMs, reason: "another update is in progress" });
                        try {
                            if (opts.dryRun) {
                                const p = await withBusyRetry(stack, () => driver.preview(run), this.options.retry, onRetry);
                                if (Object.keys(collector.changes).length === 0) collector.changes = p.changes;
                                outputs = before;
                            } else {
                                const u = await withBusyRetry(stack, () => driver.up(run), this.options.retry, onRetry);
                                if (Object.keys(collector.changes).length === 0) collector.changes = u.changes;
                                outputs = u.outputs;
                            }
                        } catch (e) {
                            if (e instanceof StackBusyError) {
                                // Nothing ran: put the config back as it was before this operation.
                                for (const s of snapshots.reverse()) await driver.restoreConfig(s);
                                snapshots.length = 0;
                                throw e;
                            }
                            if (e instanceof PortalError) throw e;
                            if (isCommandError(e)) {
                                const stderr = (e as unknown as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? e.message;
                                const failure = new UpdateFailedError(stack, collector.failures, stderr);
                                if (!opts.dryRun) this.setError(stack, developer, failure.message);
                                throw failure;
                            }
                            throw e;
                        }
                        if (!opts.dryRun) this.setError(stack, developer, undefined);
                        raw = opts.dryRun ? mutation.next : await driver.readConfig();
                    } finally {
                        this.mark(stack, developer, -1);
                    }
                }
            } finally {
                if (opts.dryRun) for (const s of snapshots.reverse()) await driver.restoreConfig(s);
            }
            const gitspace = kind === "remove" || kind === "purge"
                ? undefined
                : gitspacesOf(raw, outputs, this.stateAfter(stack, developer, name)).find((g) => g.name === developer);
            return {
                operation: kind, stack, developer, dryRun: !!opts.dryRun, targeted,
                changes: collector.changes, steps: collector.steps, durationMs: Date.now() - started,
                ...(gitspace ? { gitspace } : {}),
            };
        }, (position) => emit({ type: "queued", stack, position })).finally(() => {
            if (name) this.mark(stack, name, -1);
        });
    }
}
