/**
 * Error replies and log lines. Every thrown value (an Error or not, even one whose every property access throws)
 * becomes a reply: PortalErrors with their status and body, Fastify's own 4xx errors with a short body, and
 * anything else a 500 with a generic message and the request id, the detail going to the log only.
 */
import { inspect } from "util";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { PortalError, truncate, ValidationError } from "../errors";
import { OperationOptions, StackRef, stackName } from "../types";
import type { Route } from "./routes";

/** Fastify's own error codes with a stable `error` code of ours. */
const FRAMEWORK_CODES: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
    FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad_request",
    FST_ERR_CTP_EMPTY_JSON_BODY: "bad_request",
    FST_ERR_BAD_URL: "bad_url",
    FST_ERR_ASYNC_CONSTRAINT: "bad_request",
};

/** A description of any thrown value for the log; never throws. */
export function describeThrown(e: unknown): string {
    try {
        if (e instanceof Error) return truncate(e.stack ?? `${e.name}: ${e.message}`, 4000);
        return truncate(`non-Error thrown: ${inspect(e, { depth: 2, breakLength: Infinity })}`, 4000);
    } catch {
        return "non-Error thrown (not printable)";
    }
}

function classify(e: unknown): { status: number; body: Record<string, unknown> } | undefined {
    if (e instanceof PortalError) return { status: e.status, body: e.toJSON() };
    if (hasZodFastifySchemaValidationErrors(e)) {
        const where = ({ params: "path parameter", querystring: "query parameter", headers: "header" } as Record<string, string>)[e.validationContext ?? ""] ?? "request";
        const problems = e.validation.flatMap((v) => {
            const keys = (v.params as { keys?: unknown }).keys;
            const base = v.instancePath.replace(/^\//, "").replace(/\//g, ".");
            if (v.keyword === "unrecognized_keys" && Array.isArray(keys)) {
                return keys.map((k) => ({ path: truncate(String(k), 64), message: `unknown ${where}` }));
            }
            return [{ path: base || where, message: v.message ?? "invalid" }];
        });
        return { status: 400, body: new ValidationError(problems, `invalid ${where}s`, "invalid_request").toJSON() };
    }
    if (e instanceof Error) {
        const status = (e as { statusCode?: unknown }).statusCode;
        const code = (e as { code?: unknown }).code;
        if (typeof status === "number" && status >= 400 && status < 500) {
            const error = (typeof code === "string" && FRAMEWORK_CODES[code]) || "bad_request";
            const message = truncate(e.message, 300);
            // Every 400 has the ValidationError shape (problems), whoever found the problem.
            if (status === 400) return { status, body: new ValidationError([{ path: error === "bad_url" ? "url" : "request", message }], "bad request", error).toJSON() };
            return { status, body: { error, message } };
        }
    }
    return undefined;
}

/**
 * The status and body for a thrown value. A 500's body says only that it failed and under which request id;
 * with `log`, the detail is logged under that id.
 */
export function errorReply(e: unknown, requestId: string, log?: (line: string) => void): { status: number; body: Record<string, unknown> } {
    let known: ReturnType<typeof classify>;
    try {
        known = classify(e);
    } catch {
        known = undefined;
    }
    if (known) return known;
    log?.(`error ${JSON.stringify({ id: requestId, detail: describeThrown(e) })}`);
    return { status: 500, body: { error: "internal", message: `internal error; the service log has the detail under request id ${requestId}`, requestId } };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, e: unknown, log: (line: string) => void) {
    const { status, body } = errorReply(e, request.id, log);
    if (reply.sent || reply.raw.headersSent) return reply;
    if (status === 401) reply.header("www-authenticate", "Bearer");
    // The body was not read (413, 415, …): Fastify asks for `connection: close`, which makes Node destroy the
    // socket right after the reply while the client is still sending, so the client gets a reset instead of the
    // reply. Reply without it; the onResponse hook then closes the connection gracefully (lingeringClose).
    if (!request.raw.complete) reply.removeHeader("connection");
    return reply.code(status).send(body);
}

export function methodNotAllowed(reply: FastifyReply, method: string, allow: string[]) {
    return reply.code(405).header("allow", allow.join(", "))
        .send({ error: "method_not_allowed", message: `${truncate(method, 16)} is not allowed here; allowed: ${allow.join(", ")}` });
}

export function notFound(reply: FastifyReply, url: string) {
    return reply.code(404).send({ error: "not_found", message: `no route ${truncate(url.split("?")[0], 200)}` });
}

/** One line per request (path without query string: a query never holds a secret here, but keep logs small). */
export function requestLine(request: FastifyRequest, reply: FastifyReply): string {
    return `request ${JSON.stringify({
        id: request.id, method: request.method, path: truncate(request.url.split("?")[0], 300), status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
    })}`;
}

/** One line per mutation with its outcome, written when the operation settles (whether or not the client is still there). */
export function auditLine(a: {
    request: FastifyRequest; route: Route; ref: StackRef; developer?: string; opts: OperationOptions & { purge?: boolean };
    started: number; clientGone: boolean; status: number; error?: Record<string, unknown>;
}): string {
    return `audit ${JSON.stringify({
        id: a.request.id, operation: a.route.id, stack: stackName(a.ref),
        developer: a.developer === undefined ? undefined : truncate(a.developer, 100),
        dryRun: !!a.opts.dryRun, ...(a.opts.purge ? { purge: true } : {}),
        outcome: a.error ? "failed" : "ok", status: a.status,
        ...(a.error ? { error: a.error.error, ...(a.error.partial ? { partial: a.error.partial } : {}) } : {}),
        client: a.clientGone ? "disconnected" : "connected", ms: Date.now() - a.started,
    })}`;
}

/** How long a connection may go on sending an unwanted request body after its reply, before it is cut. */
export const LINGER_MS = 5000;

/**
 * Closes a connection whose request body was not read, as web servers do ("lingering close"): our side is
 * half-closed after the reply (FIN), the rest of the body is read and discarded until the client closes, and the
 * socket is destroyed after LINGER_MS at the latest. Destroying it at once would reset the connection with unread
 * data, and the client would lose the reply.
 */
export function lingeringClose(socket: import("net").Socket | null | undefined) {
    if (!socket || socket.destroyed) return;
    socket.end();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
}
