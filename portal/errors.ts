/**
 * Errors of the portal library. Each carries the HTTP status the service maps it to (`status`) and a stable `code`.
 */
import { ConfigProblem } from "../components/config";

/**
 * What a multi-step operation (purge: `retainHome: false` + update, then remove + update) had already deployed
 * when a later step failed. Nothing of a completed step is rolled back: the engine already applied it.
 */
export interface PartialResult {
    /** Steps whose config change was deployed, in order (e.g. `set retainHome: false`). */
    completed: string[];
    /** The step that failed and the steps after it, not applied. */
    notApplied: string[];
}

export abstract class PortalError extends Error {
    abstract readonly status: number;
    abstract readonly code: string;
    /** Set when an earlier step of the same operation was deployed before this error. */
    partial?: PartialResult;
    /** JSON body the HTTP service returns. */
    toJSON(): Record<string, unknown> {
        return { error: this.code, message: this.message, ...this.partialJson() };
    }
    protected partialJson() {
        return this.partial ? { partial: this.partial } : {};
    }
}

/** At most this many problems are kept (the total is reported), each message at most MAX_PROBLEM_MESSAGE characters. */
export const MAX_PROBLEMS = 20;
export const MAX_PROBLEM_MESSAGE = 300;
const MAX_PROBLEM_PATH = 200;

/** Cuts a string that echoes user input to `max` characters, saying how much was cut. */
export function truncate(text: string, max: number): string {
    return text.length <= max ? text : `${text.substring(0, max)}… (${text.length - max} more characters)`;
}

/** The would-be stack config (or a request) fails the stack's own schema; `problems` name the bad fields. */
export class ValidationError extends PortalError {
    readonly status = 400;
    readonly problems: ConfigProblem[];
    /** How many problems there were; only the first MAX_PROBLEMS are kept in `problems`. */
    readonly total: number;
    constructor(problems: ConfigProblem[], summary = "invalid gitspace configuration", readonly code = "invalid_config") {
        const kept = problems.slice(0, MAX_PROBLEMS).map((p) => ({
            path: truncate(p.path, MAX_PROBLEM_PATH), message: truncate(p.message, MAX_PROBLEM_MESSAGE),
        }));
        const more = problems.length - kept.length;
        super(`${summary} (${problems.length} problem${problems.length === 1 ? "" : "s"}${more ? `, the first ${kept.length} shown` : ""}):\n` +
            kept.map((p) => `  ${p.path}: ${p.message}`).join("\n"));
        this.name = "ValidationError";
        this.problems = kept;
        this.total = problems.length;
    }
    toJSON() {
        return { error: this.code, message: this.message, problems: this.problems, total: this.total };
    }
}

export class StackNotFoundError extends PortalError {
    readonly status = 404;
    readonly code = "stack_not_found";
    constructor(readonly stack: string) {
        super(`stack "${stack}" does not exist; the platform team creates it (pulumi stack init ${stack}) with the team config`);
        this.name = "StackNotFoundError";
    }
}

export class DeveloperNotFoundError extends PortalError {
    readonly status = 404;
    readonly code = "developer_not_found";
    constructor(readonly stack: string, readonly developer: string) {
        super(`no developer "${developer}" in stack "${stack}"`);
        this.name = "DeveloperNotFoundError";
    }
}

export class DeveloperExistsError extends PortalError {
    readonly status = 409;
    readonly code = "developer_exists";
    constructor(readonly stack: string, readonly developer: string) {
        super(`developer "${developer}" already exists in stack "${stack}"; use PATCH to change it`);
        this.name = "DeveloperExistsError";
    }
}

/** Another update holds the stack (another process or a CLI `pulumi up`) and kept holding it through every retry. */
export class StackBusyError extends PortalError {
    readonly status = 409;
    readonly code = "stack_busy";
    constructor(readonly stack: string, readonly attempts: number, readonly cause?: unknown) {
        super(`stack "${stack}" is busy: another update is in progress (still locked after ${attempts} attempt${attempts === 1 ? "" : "s"}); try again later`);
        this.name = "StackBusyError";
    }
}

/** The request was cancelled while it waited in the stack's queue: nothing of it ran. */
export class OperationCancelledError extends PortalError {
    readonly status = 409;
    readonly code = "cancelled";
    constructor(readonly stack: string, readonly operationId: string) {
        super(`operation ${operationId} on stack "${stack}" was cancelled before it ran; nothing was changed`);
        this.name = "OperationCancelledError";
    }
}

/** No such queued or running operation (it may have finished already). */
export class OperationNotFoundError extends PortalError {
    readonly status = 404;
    readonly code = "operation_not_found";
    constructor(readonly stack: string, readonly operationId: string) {
        super(`no queued or running operation ${JSON.stringify(truncate(operationId, 80))} on stack "${stack}" (finished operations cannot be cancelled)`);
        this.name = "OperationNotFoundError";
    }
}

/** The operation's update already started: it can no longer be cancelled. */
export class OperationRunningError extends PortalError {
    readonly status = 409;
    readonly code = "operation_running";
    constructor(readonly stack: string, readonly operationId: string) {
        super(`operation ${operationId} on stack "${stack}" is already running and cannot be cancelled`);
        this.name = "OperationRunningError";
    }
}

/** The portal has no cluster to watch (no kubeconfig). */
export class LiveUnavailableError extends PortalError {
    readonly status = 404;
    readonly code = "live_unavailable";
    constructor() {
        super("live status is not available: the portal has no cluster to watch (set KUBECONFIG or PORTAL_KUBECONFIG)");
        this.name = "LiveUnavailableError";
    }
}

export interface ResourceFailure {
    /** URN of the failed resource; undefined for a failure of the program itself. */
    urn?: string;
    type?: string;
    name?: string;
    message: string;
}

/** The engine ran and failed; `failures` say which resource failed and why. Config changes are kept. */
export class UpdateFailedError extends PortalError {
    readonly status = 502;
    readonly code = "update_failed";
    constructor(readonly stack: string, readonly failures: ResourceFailure[], readonly output?: string) {
        super(`update of stack "${stack}" failed: ` + (failures.length === 0
            ? lastLines(output ?? "unknown error")
            : failures.map((f) => f.urn ? `${f.type} "${f.name}": ${f.message}` : f.message).join("; ")));
        this.name = "UpdateFailedError";
    }
    toJSON() {
        return { error: this.code, message: this.message, failures: this.failures, ...this.partialJson() };
    }
}

function lastLines(text: string, n = 8): string {
    return text.trim().split("\n").slice(-n).join("\n");
}
