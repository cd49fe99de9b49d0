/**
 * Errors of the portal library. Each carries the HTTP status the service maps it to (`status`) and a stable `code`.
 */
import { ConfigProblem } from "../components/config";

export abstract class PortalError extends Error {
    abstract readonly status: number;
    abstract readonly code: string;
    /** JSON body the HTTP service returns. */
    toJSON(): Record<string, unknown> {
        return { error: this.code, message: this.message };
    }
}

/** The would-be stack config (or a request body) fails the stack's own schema; `problems` name every bad field. */
export class ValidationError extends PortalError {
    readonly status = 400;
    readonly code = "invalid_config";
    constructor(readonly problems: ConfigProblem[], summary = "invalid gitspace configuration") {
        super(`${summary} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
            problems.map((p) => `  ${p.path}: ${p.message}`).join("\n"));
        this.name = "ValidationError";
    }
    toJSON() {
        return { error: this.code, message: this.message, problems: this.problems };
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
        return { error: this.code, message: this.message, failures: this.failures };
    }
}

function lastLines(text: string, n = 8): string {
    return text.trim().split("\n").slice(-n).join("\n");
}
