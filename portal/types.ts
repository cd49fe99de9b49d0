/**
 * The portal's public types and the operations interface the HTTP service is written against. The real
 * implementation (`GitspacePortal` over the Automation API) and the in-memory one (`createInMemoryPortal`) both
 * implement `GitspaceOperations`.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { ResourceFailure } from "./errors";
import type { LiveStatus } from "./live/status";

export type { LiveStatus, LivePhase } from "./live/status";

/** A team stack: `<team>-<env>`. */
export interface StackRef {
    team: string;
    env: string;
}

export const stackName = (ref: StackRef) => `${ref.team}-${ref.env}`;

/**
 * `running` / `stopped`: deployed and the desired replica count is 1 / 0. `pending`: in config, not deployed yet.
 * `updating`: an operation on this developer is queued or running. `failed`: the last operation on it failed
 * (`lastError`). `removing`: still deployed, no longer in config.
 */
export type GitspaceStatus = "running" | "stopped" | "pending" | "updating" | "failed" | "removing";

export interface Gitspace {
    name: string;
    status: GitspaceStatus;
    /** Desired state from config (`running`). */
    running: boolean;
    /** Stopped by the portal itself: `idle` (the idle reaper, after `idleTimeout` without activity). Start clears it. */
    stoppedReason?: "idle";
    ide?: string;
    /** IDE URL (web IDEs) or routing URL, from the stack outputs. */
    url?: string;
    namespace?: string;
    image?: string;
    /** How to connect for SSH IDEs. */
    ssh?: string;
    /** Web IDE password: only with `showSecrets`. */
    password?: string;
    deployed: boolean;
    /** The developer's config entry as stored (secrets redacted as "[secret]"). */
    config?: Record<string, unknown>;
    lastError?: string;
}

export type OperationKind = "add" | "update" | "stop" | "start" | "remove" | "purge" | "deleteStack";

/** Progress of an operation, in order. Engine events are condensed into `resource`/`diagnostic`/`summary`. */
export type PortalEvent =
    | { type: "queued"; stack: string; position: number; operationId: string }
    | {
        type: "started"; stack: string; operation: OperationKind; developer: string; dryRun: boolean; targeted: boolean; targets?: string[]; reason?: string;
        operationId: string;
        /** How many requests this update applies together (group commit); 1 when it runs alone. */
        batch: number;
    }
    | { type: "config"; stack: string; set: string[]; removed: string[] }
    | { type: "retry"; stack: string; attempt: number; delayMs: number; reason: string }
    | { type: "resource"; phase: "started" | "done" | "failed"; op: string; urn: string; resourceType: string; name: string; message?: string }
    | { type: "diagnostic"; severity: string; message: string; urn?: string }
    | { type: "summary"; changes: Record<string, number>; durationSeconds?: number };

export interface OperationOptions {
    /** Progress events (condensed). */
    onEvent?: (event: PortalEvent) => void;
    /** Raw Automation API engine events. */
    onEngineEvent?: (event: EngineEvent) => void;
    /** Preview the change and return the diff; the stack config is restored afterwards. */
    dryRun?: boolean;
    /** `auto` (default): a targeted update of the developer's component when safe; `never`: a full update. */
    targeting?: "auto" | "never";
    /** The id to queue this operation under (for `cancel`); default a random UUID. The HTTP service uses the request id. */
    operationId?: string;
}

export interface RemoveOptions extends OperationOptions {
    /** Also delete the Namespace and home PVC (sets `retainHome: false`, updates, then removes). */
    purge?: boolean;
}

export interface ResourceStep {
    op: string;
    urn: string;
    resourceType: string;
    name: string;
    /** Changed input properties (updates). */
    diffs?: string[];
}

export interface OperationResult {
    operation: OperationKind;
    stack: string;
    developer: string;
    dryRun: boolean;
    targeted: boolean;
    /** Resource counts by operation (`create`, `update`, `delete`, `same`, …). */
    changes: Record<string, number>;
    /** Every step that changes something (the diff of a preview). */
    steps: ResourceStep[];
    durationMs: number;
    /** The developer afterwards (absent after remove). */
    gitspace?: Gitspace;
}

/** A request queued or running on a stack. */
export interface QueuedOperation {
    id: string;
    operation: OperationKind;
    /** The developer named by the request (an `add` names it in its body). */
    developer?: string;
    state: "queued" | "running";
    /** Requests ahead of it (0 when running). */
    position: number;
    dryRun: boolean;
    queuedAt: string;
}

/** Queue management: a library that batches requests offers these (the HTTP service answers 404 without them). */
export interface OperationQueue {
    operations(ref: StackRef): Promise<QueuedOperation[]>;
    /** Takes a queued request out of the line; it never runs and its caller gets OperationCancelledError. */
    cancel(ref: StackRef, operationId: string): Promise<QueuedOperation>;
}

export interface GitspaceOperations {
    list(ref: StackRef): Promise<Gitspace[]>;
    get(ref: StackRef, developer: string, opts?: { showSecrets?: boolean }): Promise<Gitspace>;
    /** Adds a developer: `entry` is a `gitspace:developers[i]` entry, validated with the stack's schema. */
    add(ref: StackRef, entry: unknown, opts?: OperationOptions): Promise<OperationResult>;
    /** Applies a JSON merge patch (RFC 7386) to the developer's entry. */
    update(ref: StackRef, developer: string, patch: unknown, opts?: OperationOptions): Promise<OperationResult>;
    stop(ref: StackRef, developer: string, opts?: OperationOptions): Promise<OperationResult>;
    start(ref: StackRef, developer: string, opts?: OperationOptions): Promise<OperationResult>;
    remove(ref: StackRef, developer: string, opts?: RemoveOptions): Promise<OperationResult>;
    operations?: OperationQueue["operations"];
    cancel?: OperationQueue["cancel"];
    /**
     * Live status from the cluster: `listener` gets every developer's status, then each change, until the returned
     * function is called. Absent (or rejecting with LiveUnavailableError) without a cluster.
     */
    watch?(ref: StackRef, listener: (status: LiveStatus) => void): Promise<() => void>;
    listStacks?: TeamStacks["listStacks"];
    createStack?: TeamStacks["createStack"];
    deleteStack?: TeamStacks["deleteStack"];
}

/** A team stack as listed: `<team>-<env>`. */
export interface TeamStackInfo {
    name: string;
    team: string;
    env: string;
    lastUpdate?: string;
    resourceCount?: number;
    updateInProgress?: boolean;
}

export interface StackDeletion {
    stack: string;
    /** The homes (Namespaces, PVCs) were deleted too. */
    purged: boolean;
    /** Resource counts of the destroy (and of the purge's update). */
    changes: Record<string, number>;
    durationMs: number;
}

/** Team stacks of the backend. */
export interface TeamStacks {
    listStacks(): Promise<TeamStackInfo[]>;
    /** Creates `<team>-<env>` from a team config (the `gitspace:` values), validated by the program's schema. Not deployed yet. */
    createStack(ref: StackRef, config: unknown): Promise<TeamStackInfo>;
    /** `pulumi destroy` and `pulumi stack rm`, in the stack's queue; homes are kept unless `purge`. */
    deleteStack(ref: StackRef, opts?: { purge?: boolean; onEvent?: (e: PortalEvent) => void; operationId?: string }): Promise<StackDeletion>;
}

export type { ResourceFailure };
