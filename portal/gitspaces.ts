/**
 * GitspacePortal: the operations on a team stack, serialized per stack in-process, retried while another process
 * holds the stack, targeted at the developer's component when that is safe, with progress events.
 */
import { randomUUID } from "crypto";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { z } from "zod";
import type { TeamConfig } from "../components/config";
import { sharedNamespaceHeldChanges } from "../components/team";
import { BatchQueue, QueuedItem } from "./batch";
import {
    DeveloperNotFoundError, LiveUnavailableError, OperationCancelledError, OperationNotFoundError, OperationRunningError, PortalError,
    StackBusyError, StackNotFoundError, UpdateFailedError, ValidationError,
} from "./errors";
import { BatchEvents, ResourceOwners } from "./group";
import { automationCatalog, checkTeamConfig, StackCatalog, teamStacks } from "./stacks";
import { LiveBackend, LiveHub } from "./live/watch";
import type { LiveStatus } from "./live/status";
import { automationDriverFactory, AutomationOptions, GITSPACE_COMPONENT_TYPE, isCommandError, StackDriver, StackDriverFactory } from "./driver";
import { EventCollector } from "./events";
import {
    addDeveloper, deepEqual, developerEntries, isPlainObject, Mutation, RawConfig, redactEntry, removeDeveloper, setRunning,
    stopForIdle, updateDeveloper, validate,
} from "./mutations";
import { RetryOptions, withBusyRetry } from "./retry";
import { checkStackRef } from "./stackref";
import {
    Gitspace, GitspaceOperations, OperationKind, OperationOptions, OperationQueue, OperationResult, PortalEvent,
    QueuedOperation, RemoveOptions, StackDeletion, StackRef, stackName, TeamStackInfo, TeamStacks,
} from "./types";

export interface PortalOptions {
    /** How to reach a stack's engine. Default: the Automation API over this repository (`automation`). */
    driver?: StackDriverFactory;
    automation?: AutomationOptions;
    retry?: RetryOptions;
    /** Default targeting for every operation. */
    targeting?: "auto" | "never";
    /**
     * Group commit: at most this many requests that waited for a stack are applied by one update. Default 100;
     * 1 runs every request alone (as before batching).
     */
    maxBatch?: number;
    /**
     * How long a stack's idle line waits after a request before its update starts, so that requests sent together
     * (a burst of starts at 9 a.m.) share one update instead of the first running alone. Default 100 ms (an update
     * takes seconds); 0 starts on the next turn of the event loop.
     */
    batchWindowMs?: number;
    /** The backend's stacks (list, create). Default: over the Automation API (`automation`); none with a custom `driver`. */
    catalog?: StackCatalog;
    /** The cluster to watch for live status (`kubeLiveBackend()`); without it `watch` is unavailable. */
    live?: LiveBackend;
    /** Errors of the live watch (a lost connection; the watch restarts by itself). */
    onLiveError?: (e: unknown) => void;
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
            ...(entry && !running && entry.stoppedReason === "idle" ? { stoppedReason: "idle" as const } : {}),
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

/**
 * Developers of a config that are not deployed (not in the stack's `gitspaces` output), other than `changing`.
 * A targeted update must not run while there are any: the program imports such a developer's kept Namespace and
 * home PVC (components/adoption.ts), and the engine runs that import even outside `--target` while it skips the
 * developer's untargeted component, which leaves the state with a child whose parent is missing ("snapshot
 * integrity failure"; the stack then needs repair). A full update deploys (and adopts) them.
 */
export function pendingDevelopers(config: RawConfig, outputs: OutputMap, changing: readonly string[]): string[] {
    const deployed = isPlainObject(outputs.gitspaces?.value) ? outputs.gitspaces.value as Record<string, unknown> : {};
    return developerNames(config).filter((d) => !changing.includes(d) && !Object.prototype.hasOwnProperty.call(deployed, d));
}

/**
 * A targeted run lets the program register the targeted developers alone (EngineRunOptions.partial) once the stack
 * has a `gitspaces` output to carry the others' entries from. The targets (`targetsOf`) never have another
 * developer's objects as dependents; in the shared layout, `sharedNamespaceReason` sends a change that the shared
 * namespace's untargeted objects would have to follow to a full run.
 */
export function partialRun(target: string[] | undefined, outputs: OutputMap, developers: string[]): { partial?: { developers: string[] } } {
    if (!target || !isPlainObject(outputs.gitspaces?.value)) return {};
    return { partial: { developers } };
}

/**
 * The targets of a targeted run: the developers' components (with their children, `--target-dependents`) and, in
 * the shared layout (the stack has a `namespace` output), the shared namespace's quota, which sums every developer.
 */
export function targetsOf(driver: Pick<StackDriver, "componentUrn" | "teamQuotaUrn">, developers: string[], outputs: OutputMap): string[] {
    return [...developers.map((d) => driver.componentUrn(d)), ...(outputs.namespace !== undefined ? [driver.teamQuotaUrn()] : [])];
}

/**
 * Why a change needs a full run because of the shared namespace, or undefined: its LimitRange or retention would
 * change (components/team.ts `sharedNamespaceHeldChanges`) between a config the state may hold them from (`deployed`:
 * the last successful update's and the current one) and `next`.
 */
export function sharedNamespaceReason(stack: string, deployed: RawConfig[], next: RawConfig): string | undefined {
    let configs: TeamConfig[];
    let want: TeamConfig;
    try {
        configs = deployed.filter((c, i) => deployed.findIndex((d) => deepEqual(d.values, c.values)) === i).map((c) => validate(c, stack));
        want = validate(next, stack);
    } catch (e) {
        if (e instanceof ValidationError) return "the last deployed config does not validate any more";
        throw e;
    }
    const held = sharedNamespaceHeldChanges(configs, want);
    if (held.length === 0) return undefined;
    return `the shared namespace's ${held.join(" and ")} changes: every gitspace depends on it, so only a full update changes it`;
}

/** Team-level `gitspace:` keys (everything but `developers`) whose value differs between two configs. */
export function teamLevelChanges(a: RawConfig, b: RawConfig): string[] {
    const keys = new Set([...Object.keys(a.values), ...Object.keys(b.values)]);
    keys.delete("developers");
    return [...keys].filter((k) => !deepEqual(a.values[k], b.values[k])).sort();
}

export class GitspacePortal implements GitspaceOperations, OperationQueue, TeamStacks {
    private readonly catalog?: StackCatalog;
    private readonly hub?: LiveHub;
    /** Drivers of stacks this portal deleted: requests that were queued behind the deletion find no stack. */
    private readonly removed = new WeakSet<StackDriver>();
    private readonly queue: BatchQueue<Request>;
    private readonly drivers = new Map<string, Promise<StackDriver>>();
    private readonly inflight = new Map<string, Map<string, number>>();
    private readonly lastErrors = new Map<string, Map<string, string>>();
    private readonly factory: StackDriverFactory;

    constructor(private readonly options: PortalOptions = {}) {
        this.factory = options.driver ?? automationDriverFactory(options.automation);
        this.hub = options.live ? new LiveHub(options.live, (ref) => this.desiredState(ref), options.onLiveError) : undefined;
        this.catalog = options.catalog ?? (options.driver ? undefined
            : automationCatalog(options.automation, async (name, ops) => (await this.factory(name)).applyConfig(ops)));
        this.queue = new BatchQueue<Request>((_stack, items) => this.runBatch(items), options.maxBatch ?? 100,
            (_stack, items, e) => items.forEach((i) => i.reject(e)), options.batchWindowMs ?? 100);
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
        return this.operate(ref, "add", isPlainObject(entry) && typeof entry.name === "string" ? entry.name : undefined, opts, { label: "add", mutate: (raw, stack) => addDeveloper(raw, stack, entry) });
    }

    update(ref: StackRef, developer: string, patch: unknown, opts: OperationOptions = {}) {
        return this.operate(ref, "update", developer, opts, { label: "update", mutate: (raw, stack) => updateDeveloper(raw, stack, developer, patch) });
    }

    stop(ref: StackRef, developer: string, opts: OperationOptions = {}) {
        return this.operate(ref, "stop", developer, opts, { label: "stop", mutate: (raw, stack) => setRunning(raw, stack, developer, false) });
    }

    /** The idle reaper's stop (portal/idle): as `stop`, recording `stoppedReason: idle`; nothing if no longer running. */
    stopIdle(ref: StackRef, developer: string, opts: OperationOptions = {}) {
        return this.operate(ref, "stop", developer, opts, { label: "stop (idle)", mutate: (raw, stack) => stopForIdle(raw, stack, developer) });
    }

    start(ref: StackRef, developer: string, opts: OperationOptions = {}) {
        return this.operate(ref, "start", developer, opts, { label: "start", mutate: (raw, stack) => setRunning(raw, stack, developer, true) });
    }

    remove(ref: StackRef, developer: string, opts: RemoveOptions = {}) {
        const remove: Step = { label: "remove the developer and update", mutate: (raw, stack) => removeDeveloper(raw, stack, developer) };
        if (!opts.purge) return this.operate(ref, "remove", developer, opts, remove);
        // Purge: record the deletion policy first (retainHome: false) and deploy it, then remove.
        return this.operate(ref, "purge", developer, opts, {
            label: "set retainHome: false and update",
            mutate: (raw, stack) => {
                const entry = developerEntries(raw).find((e) => isPlainObject(e) && e.name === developer);
                if (isPlainObject(entry) && entry.retainHome !== false) return updateDeveloper(raw, stack, developer, { retainHome: false });
                return undefined;
            },
        }, remove);
    }

    async watch(ref: StackRef, listener: (status: LiveStatus) => void): Promise<() => void> {
        if (!this.hub) throw new LiveUnavailableError();
        await this.driver(ref);
        return this.hub.subscribe(ref, listener);
    }

    /** Stops every live watch. */
    async close(): Promise<void> {
        await this.hub?.close();
    }

    /** What live status compares the cluster with: the gitspaces (running, namespace, URL) and the shared namespace. */
    private async desiredState(ref: StackRef) {
        const driver = await this.driver(ref);
        const [raw, outputs] = await Promise.all([driver.readConfig(), driver.outputs()]);
        const ns = outputs.namespace?.value;
        return { gitspaces: gitspacesOf(raw, outputs, {}), ...(typeof ns === "string" ? { sharedNamespace: ns } : {}) };
    }

    async listStacks(): Promise<TeamStackInfo[]> {
        return teamStacks(await this.requireCatalog().list());
    }

    async createStack(ref: StackRef, config: unknown): Promise<TeamStackInfo> {
        checkStackRef(ref);
        const name = stackName(ref);
        const { ops } = checkTeamConfig(ref, config);
        await this.requireCatalog().create(name, ops);
        this.drivers.delete(name);
        return { name, ...ref };
    }

    /**
     * Deletes a team stack in its queue (after the requests before it): with `purge`, every developer's
     * `retainHome` is set to false and deployed first; then `pulumi destroy` (kept homes stay in the cluster) and
     * `pulumi stack rm`. A request queued behind it finds no stack (404).
     */
    async deleteStack(ref: StackRef, opts: { purge?: boolean; onEvent?: (e: PortalEvent) => void; operationId?: string } = {}): Promise<StackDeletion> {
        const driver = await this.driver(ref);
        const stack = driver.stackName;
        const emit = (e: PortalEvent) => { try { opts.onEvent?.(e); } catch { /* the listener's problem */ } };
        const id = opts.operationId ?? randomUUID();
        return new Promise<StackDeletion>((resolve, reject) => {
            const request: Request = {
                id, batchable: false, driver, kind: "deleteStack", opts: {}, steps: [], emit, queuedAt: new Date().toISOString(),
                resolve: resolve as never, reject,
                run: () => this.destroyStack(driver, !!opts.purge, emit).then(resolve, reject),
            };
            this.queue.enqueue(stack, request, (position) => emit({ type: "queued", stack, position, operationId: id }));
        });
    }

    private async destroyStack(driver: StackDriver, purge: boolean, emit: (e: PortalEvent) => void): Promise<StackDeletion> {
        const stack = driver.stackName;
        const started = Date.now();
        const collector = new EventCollector(emit);
        const onRetry = (r: { attempt: number; delayMs: number }) => emit({ type: "retry", stack, attempt: r.attempt, delayMs: r.delayMs, reason: "another update is in progress" });
        const engine = { onEngineEvent: collector.onEngineEvent };
        const changes: Record<string, number> = {};
        const add = (c: Record<string, number>) => { for (const [k, n] of Object.entries(c)) changes[k] = (changes[k] ?? 0) + n; };
        try {
            if (purge) {
                let raw = await driver.readConfig();
                const ops: Mutation["ops"] = [];
                for (const name of developerNames(raw)) {
                    const entry = developerEntries(raw).find((e) => isPlainObject(e) && e.name === name) as Record<string, unknown>;
                    if (entry.retainHome === false) continue;
                    const m = updateDeveloper(raw, stack, name, { retainHome: false });
                    ops.push(...m.ops);
                    raw = m.next;
                }
                if (ops.length) {
                    await driver.applyConfig(ops);
                    emit({ type: "config", stack, ...opPaths(ops) });
                    add((await withBusyRetry(stack, () => driver.up(engine), this.options.retry, onRetry)).changes);
                }
            }
            add((await withBusyRetry(stack, () => driver.destroy(engine), this.options.retry, onRetry)).changes);
            await driver.removeStack();
            this.removed.add(driver);
        } catch (e) {
            if (isCommandError(e)) throw new UpdateFailedError(stack, collector.failures, (e as unknown as { commandResult?: { stderr?: string } }).commandResult?.stderr);
            throw e;
        }
        this.drivers.delete(stack);
        this.lastErrors.delete(stack);
        return { stack, purged: purge, changes, durationMs: Date.now() - started };
    }

    private requireCatalog(): StackCatalog {
        if (!this.catalog) throw new Error("this portal has no stack catalog (PortalOptions.catalog)");
        return this.catalog;
    }

    /**
     * Why this change needs a full update, or undefined when a targeted update of the developers' components (and
     * their children) is safe: the stack was deployed, the team-level config (images, domain, …) is what the last
     * successful update ran with, every other developer of the config is deployed (`pendingDevelopers`), so
     * nothing outside the change is pending, and (shared layout) the shared namespace's objects other than its
     * quota stay as they are (`sharedNamespaceReason`).
     */
    private async fullUpdateReason(
        driver: StackDriver, change: { raw: RawConfig; next: RawConfig; developers: string[] }, outputs: OutputMap, opts: OperationOptions,
    ): Promise<string | undefined> {
        if ((opts.targeting ?? this.options.targeting ?? "auto") === "never") return "targeting: never";
        if (outputs.gitspaces === undefined) return "the stack has not been deployed yet";
        const pending = pendingDevelopers(change.next, outputs, change.developers);
        if (pending.length) {
            return `developers in the config but not deployed (a home they kept is adopted only by a full update): ${pending.join(", ")}`;
        }
        const last = await driver.lastDeployedConfig();
        if (!last) return "no successful update in the stack's history";
        const changed = teamLevelChanges(last, change.raw);
        if (changed.length) return `team-level config changed since the last update: ${changed.map((k) => `gitspace:${k}`).join(", ")}`;
        return outputs.namespace !== undefined ? sharedNamespaceReason(driver.stackName, [last, change.raw], change.next) : undefined;
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
     * Queues one operation on its stack. It runs alone (a dry run, a multi-step purge) or together with the other
     * single-step requests that waited for the stack (group commit, `runBatch`).
     */
    private async operate(
        ref: StackRef, kind: OperationKind, name: string | undefined, opts: OperationOptions, ...steps: Step[]
    ): Promise<OperationResult> {
        const driver = await this.driver(ref);
        const stack = driver.stackName;
        const emit = (e: PortalEvent) => {
            try { opts.onEvent?.(e); } catch { /* a listener's failure is not the operation's */ }
        };
        const id = opts.operationId ?? randomUUID();
        // "updating" from the moment the request is queued.
        if (name) this.mark(stack, name, +1);
        return new Promise<OperationResult>((resolve, reject) => {
            const request: Request = {
                id, batchable: !opts.dryRun && steps.length === 1, driver, kind, name, opts, steps, emit, resolve, reject,
                queuedAt: new Date().toISOString(),
            };
            this.queue.enqueue(stack, request, (position) => emit({ type: "queued", stack, position, operationId: id }));
        }).finally(() => {
            if (name) this.mark(stack, name, -1);
            this.hub?.changed(ref);
        });
    }

    async operations(ref: StackRef): Promise<QueuedOperation[]> {
        const driver = await this.driver(ref);
        return this.queue.list(driver.stackName).map(({ item, state, position }) => describeRequest(item, state, position));
    }

    async cancel(ref: StackRef, operationId: string): Promise<QueuedOperation> {
        const driver = await this.driver(ref);
        const stack = driver.stackName;
        const position = this.queue.list(stack).find((e) => e.item.id === operationId)?.position ?? 0;
        const taken = this.queue.cancel(stack, operationId);
        if (taken === undefined) throw new OperationNotFoundError(stack, operationId);
        if (taken === "running") throw new OperationRunningError(stack, operationId);
        taken.reject(new OperationCancelledError(stack, operationId));
        return describeRequest(taken, "queued", position);
    }

    /**
     * One turn of the stack's line, under the stack's cross-process lock (another portal process on the same
     * backend waits for it): a request alone runs its steps as before; several single-step requests are applied by
     * one update (`runGroup`).
     */
    private async runBatch(items: Request[]): Promise<void> {
        const driver = items[0].driver;
        if (this.removed.has(driver)) {
            items.forEach((i) => i.reject(new StackNotFoundError(driver.stackName)));
            return;
        }
        let release: (() => Promise<void>) | undefined;
        try {
            release = await driver.lock?.();
        } catch (e) {
            items.forEach((i) => i.reject(e));
            return;
        }
        try {
            if (items.length === 1 && items[0].run) {
                await items[0].run();
            } else if (items.length === 1) {
                const r = items[0];
                await this.runSteps(driver, r.kind, r.name, { ...r.opts, operationId: r.id }, r.steps, r.emit).then(r.resolve, r.reject);
            } else {
                await this.runGroup(driver, items);
            }
        } catch (e) {
            items.forEach((i) => i.reject(e));
        } finally {
            await release?.().catch(() => undefined);
        }
    }

    /**
     * Group commit: each request's change is computed and validated on the config left by the ones before it (in
     * arrival order, so the last writer wins as before); an invalid one is refused alone. The valid changes are
     * written in that order and deployed by one update targeted at every developer involved, run with
     * `--continue-on-error`: a developer whose resources fail fails only its own callers.
     */
    private async runGroup(driver: StackDriver, items: Request[]): Promise<void> {
        const stack = driver.stackName;
        const started = Date.now();
        const raw0 = await driver.readConfig();
        const { members, ops, alone } = await planGroup(raw0, stack, items);
        try {
            if (members.length > 0) await this.runMembers(driver, raw0, members, ops, started);
        } finally {
            // Nothing to change for these (a no-op step): they run on their own, after the batch.
            for (const r of alone) await this.runSteps(driver, r.kind, r.name, { ...r.opts, operationId: r.id }, r.steps, r.emit).then(r.resolve, r.reject);
        }
    }

    private async runMembers(driver: StackDriver, raw0: RawConfig, members: GroupMember[], ops: Mutation["ops"], started: number) {
        const stack = driver.stackName;
        const before = await driver.outputs();
        const developers = [...new Set(members.map((m) => m.mutation.developer))];
        const reason = await this.fullUpdateReason(driver, { raw: raw0, next: members[members.length - 1].mutation.next, developers }, before,
            members.some((m) => m.request.opts.targeting === "never") ? { targeting: "never" } : {});
        const target = reason ? undefined : targetsOf(driver, developers, before);
        const everyone = [...developers, ...developerNames(raw0), ...developerNames(members[members.length - 1].mutation.next)];
        const events = new BatchEvents(
            members.map((m) => ({ developer: m.mutation.developer, emit: m.request.emit, onEngineEvent: m.request.opts.onEngineEvent })),
            new ResourceOwners(everyone, (d) => driver.componentUrn(d), GITSPACE_COMPONENT_TYPE),
        );
        for (const { request: r, mutation } of members) {
            r.emit({
                type: "started", stack, operation: r.kind, developer: mutation.developer, dryRun: false, targeted: !!target,
                ...(target ? { targets: target } : { reason }), operationId: r.id, batch: members.length,
            });
        }
        const snapshot = await driver.snapshotConfig();
        await driver.applyConfig(ops);
        for (const { request: r, mutation } of members) r.emit({ type: "config", stack, ...opPaths(mutation.ops) });
        const onRetry = (a: { attempt: number; delayMs: number }) => members.forEach((m) =>
            m.request.emit({ type: "retry", stack, attempt: a.attempt, delayMs: a.delayMs, reason: "another update is in progress" }));
        let outputs: OutputMap;
        let engineError: unknown;
        try {
            const run = { target, ...partialRun(target, before, developers), continueOnError: true, onEngineEvent: events.onEngineEvent };
            outputs = (await withBusyRetry(stack, () => driver.up(run), this.options.retry, onRetry)).outputs;
        } catch (e) {
            if (e instanceof StackBusyError) await driver.restoreConfig(snapshot);
            if (!isCommandError(e)) { members.forEach((m) => m.request.reject(e)); return; }
            engineError = e;
            outputs = await driver.outputs();
        }
        this.settleGroup(driver, members, events, { raw: await driver.readConfig(), outputs, engineError, targeted: !!target, started });
    }

    /** Every member's own result: failed when its developer's resources failed or nothing could be attributed. */
    private settleGroup(
        driver: StackDriver, members: GroupMember[], events: BatchEvents,
        run: { raw: RawConfig; outputs: OutputMap; engineError?: unknown; targeted: boolean; started: number },
    ) {
        const stack = driver.stackName;
        const perDeveloper = new Map<string, number>();
        for (const m of members) perDeveloper.set(m.mutation.developer, (perDeveloper.get(m.mutation.developer) ?? 0) + 1);
        for (const [i, { request: r, mutation }] of members.entries()) {
            const developer = mutation.developer;
            const own = events.failuresOf(i);
            const explained = events.othersFailed || events.collectors.some((_, j) => events.failuresOf(j).length > 0);
            if (run.engineError && (own.length > 0 || events.shared.length > 0 || !explained)) {
                const failures = own.length > 0 ? own : events.shared;
                const stderr = (run.engineError as { commandResult?: { stderr?: string } }).commandResult?.stderr;
                const failure = new UpdateFailedError(stack, failures, stderr);
                this.setError(stack, developer, failure.message);
                r.reject(failure);
                continue;
            }
            this.setError(stack, developer, undefined);
            const state = this.state(stack);
            if ((this.inflight.get(stack)?.get(developer) ?? 0) <= (perDeveloper.get(developer) ?? 0)) state.inflight.delete(developer);
            const gitspace = r.kind === "remove" ? undefined : gitspacesOf(run.raw, run.outputs, state).find((g) => g.name === developer);
            r.resolve({
                operation: r.kind, stack, developer, dryRun: false, targeted: run.targeted,
                changes: events.counts[i], steps: events.collectors[i].steps, durationMs: Date.now() - run.started,
                ...(gitspace ? { gitspace } : {}),
            });
        }
    }

    /**
     * The steps in order. Every step's mutation is validated before the first one runs (a later step that would
     * fail validation fails the operation before anything changes). A step whose update ran is never rolled back:
     * when a later step fails, the error carries `partial` (what was deployed, what was not).
     */
    private async runSteps(
        driver: StackDriver, kind: OperationKind, name: string | undefined, opts: OperationOptions, steps: Step[],
        emit: (e: PortalEvent) => void,
    ): Promise<OperationResult> {
        const stack = driver.stackName;
        const started = Date.now();
        const run: RunState = { developer: "", targeted: true, outputs: {}, raw: await driver.readConfig(), collector: new EventCollector(emit), emit };
        let planned = run.raw;
        for (const step of steps) planned = step.mutate(planned, stack)?.next ?? planned;
        const previewSnapshots: unknown[] = [];
        const completed: string[] = [];
        try {
            for (const [i, step] of steps.entries()) {
                try {
                    const mutation = step.mutate(run.raw, stack);
                    if (mutation) await this.runStep(driver, kind, mutation, opts, run, previewSnapshots);
                } catch (e) {
                    if (completed.length > 0 && !opts.dryRun && e instanceof PortalError) {
                        e.partial = { completed: [...completed], notApplied: steps.slice(i).map((s) => s.label) };
                    }
                    throw e;
                }
                completed.push(step.label);
            }
        } finally {
            if (opts.dryRun) for (const s of previewSnapshots.reverse()) await driver.restoreConfig(s);
        }
        const gitspace = kind === "remove" || kind === "purge"
            ? undefined
            : gitspacesOf(run.raw, run.outputs, this.stateAfter(stack, run.developer, name)).find((g) => g.name === run.developer);
        return {
            operation: kind, stack, developer: run.developer, dryRun: !!opts.dryRun, targeted: run.targeted,
            changes: run.collector.changes, steps: run.collector.steps, durationMs: Date.now() - started,
            ...(gitspace ? { gitspace } : {}),
        };
    }

    /** One step: apply its config change, then update (or preview). A busy stack puts this step's change back. */
    private async runStep(driver: StackDriver, kind: OperationKind, mutation: Mutation, opts: OperationOptions, run: RunState, previewSnapshots: unknown[]) {
        const stack = driver.stackName;
        const { collector, emit } = run;
        run.developer = mutation.developer;
        this.mark(stack, run.developer, +1);
        try {
            const before = await driver.outputs();
            const reason = await this.fullUpdateReason(driver, { raw: run.raw, next: mutation.next, developers: [mutation.developer] }, before, opts);
            const target = reason ? undefined : targetsOf(driver, [mutation.developer], before);
            run.targeted &&= target !== undefined;
            emit({
                type: "started", stack, operation: kind, developer: run.developer, dryRun: !!opts.dryRun, targeted: !!target,
                ...(target ? { targets: target } : { reason }), operationId: opts.operationId ?? "", batch: 1,
            });
            const snapshot = await driver.snapshotConfig();
            if (opts.dryRun) previewSnapshots.push(snapshot);
            await driver.applyConfig(mutation.ops);
            emit({
                type: "config", stack,
                set: mutation.ops.filter((o) => o.op === "set").map((o) => o.path),
                removed: mutation.ops.filter((o) => o.op === "remove").map((o) => o.path),
            });
            const engine = {
                target, ...partialRun(target, before, [mutation.developer]),
                onEngineEvent: (e: Parameters<typeof collector.onEngineEvent>[0]) => { collector.onEngineEvent(e); opts.onEngineEvent?.(e); },
            };
            const onRetry = (r: { attempt: number; delayMs: number }) =>
                emit({ type: "retry", stack, attempt: r.attempt, delayMs: r.delayMs, reason: "another update is in progress" });
            try {
                if (opts.dryRun) {
                    const p = await withBusyRetry(stack, () => driver.preview(engine), this.options.retry, onRetry);
                    if (Object.keys(collector.changes).length === 0) collector.changes = p.changes;
                    run.outputs = before;
                } else {
                    const u = await withBusyRetry(stack, () => driver.up(engine), this.options.retry, onRetry);
                    if (Object.keys(collector.changes).length === 0) collector.changes = u.changes;
                    run.outputs = u.outputs;
                }
            } catch (e) {
                throw await this.engineFailure(driver, run.developer, snapshot, opts, collector, e);
            }
            if (!opts.dryRun) this.setError(stack, run.developer, undefined);
            run.raw = opts.dryRun ? mutation.next : await driver.readConfig();
        } finally {
            this.mark(stack, run.developer, -1);
        }
    }

    /** The error to report for a failed engine run (and its side effects on the config and the developer's status). */
    private async engineFailure(driver: StackDriver, developer: string, snapshot: unknown, opts: OperationOptions, collector: EventCollector, e: unknown): Promise<unknown> {
        const stack = driver.stackName;
        if (e instanceof StackBusyError) {
            // This step's update never ran: put its config change back (earlier, deployed steps stay).
            if (!opts.dryRun) await driver.restoreConfig(snapshot);
            return e;
        }
        if (e instanceof PortalError) return e;
        if (isCommandError(e)) {
            const stderr = (e as unknown as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? e.message;
            const failure = new UpdateFailedError(stack, collector.failures, stderr);
            if (!opts.dryRun) this.setError(stack, developer, failure.message);
            return failure;
        }
        return e;
    }
}

/** One step of an operation: a label for reports, and the config change (undefined: nothing to do). */
interface Step {
    label: string;
    mutate: (raw: RawConfig, stack: string) => Mutation | undefined;
}

/** A request in a stack's line. */
interface Request extends QueuedItem {
    driver: StackDriver;
    kind: OperationKind;
    name?: string;
    opts: OperationOptions;
    steps: Step[];
    emit: (e: PortalEvent) => void;
    resolve: (r: OperationResult) => void;
    reject: (e: unknown) => void;
    queuedAt: string;
    /** A request that is not a config change (deleting the stack): runs alone and settles itself. */
    run?: () => Promise<void>;
}

interface GroupMember {
    request: Request;
    mutation: Mutation;
}

function describeRequest(r: Request, state: "queued" | "running", position: number): QueuedOperation {
    return {
        id: r.id, operation: r.kind, ...(r.name !== undefined ? { developer: r.name } : {}), state, position,
        dryRun: !!r.opts.dryRun, queuedAt: r.queuedAt,
    };
}

/**
 * The changes of a batch, in arrival order, each computed and validated on the config the ones before it leave:
 * a request whose change is refused (validation, unknown or duplicate developer) is rejected alone.
 */
export async function planGroup(raw: RawConfig, stack: string, items: Request[]): Promise<{ members: GroupMember[]; ops: Mutation["ops"]; alone: Request[] }> {
    const members: GroupMember[] = [];
    const alone: Request[] = [];
    const ops: Mutation["ops"] = [];
    let current = raw;
    for (const request of items) {
        // Each validation parses the whole team config (25 ms for 500 developers here): let other work in between.
        await new Promise((r) => setImmediate(r));
        let mutation: Mutation | undefined;
        try {
            mutation = request.steps[0].mutate(current, stack);
        } catch (e) {
            request.reject(e);
            continue;
        }
        if (!mutation) { alone.push(request); continue; }
        current = mutation.next;
        ops.push(...mutation.ops);
        members.push({ request, mutation });
    }
    return { members, ops, alone };
}

const developerNames = (raw: RawConfig) =>
    developerEntries(raw).flatMap((e) => isPlainObject(e) && typeof e.name === "string" ? [e.name] : []);

const opPaths = (ops: Mutation["ops"]) => ({
    set: ops.filter((o) => o.op === "set").map((o) => o.path),
    removed: ops.filter((o) => o.op === "remove").map((o) => o.path),
});

interface RunState {
    developer: string;
    targeted: boolean;
    outputs: OutputMap;
    raw: RawConfig;
    collector: EventCollector;
    emit: (e: PortalEvent) => void;
}
