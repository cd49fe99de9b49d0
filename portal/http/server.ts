/**
 * The portal's HTTP service on Fastify. Fastify enforces the body limit, validates path parameters and query
 * strings with the zod schemas of `schemas.ts` (strict booleans, no unknown parameters), answers HEAD for every
 * GET, and @fastify/swagger generates `/openapi.json` from the same schemas. The service is written against
 * `GitspaceOperations`, so it serves the real library or the in-memory implementation alike.
 */
import { randomUUID } from "crypto";
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { LiveUnavailableError, OperationNotFoundError, StackNotFoundError, ValidationError } from "../errors";
import { GitspaceOperations, OperationOptions, OperationResult, PortalEvent, RemoveOptions, StackRef, stackName } from "../types";
import { auditLine, errorReply, lingeringClose, methodNotAllowed, notFound, requestLine, sendError } from "./replies";
import { registerOpenApi, routeDocumentation } from "./openapi";
import { readPage } from "./page";
import { allowedMethods, fastifyPath, Route, ROUTES, templateOf } from "./routes";
import { checkBearer, MIN_TOKEN_LENGTH, resolvePortalToken } from "./token";

export { resolvePortalToken, portalTokenFromEnv, MIN_TOKEN_LENGTH } from "./token";

export interface PortalServerOptions {
    ops: GitspaceOperations;
    /** The bearer token clients must send: trimmed, at least MIN_TOKEN_LENGTH characters, else this throws. */
    token: string;
    /** Log lines (JSON after a tag; no bodies, no tokens): `request`, `audit` (one per mutation), `error`. */
    log?: (line: string) => void;
    /** Request body limit in bytes. Default DEFAULT_MAX_BODY_BYTES (128 KiB: a developer entry is a few KiB). */
    maxBodyBytes?: number;
}

/**
 * A developer entry is a few KiB (an RSA-16384 public key is 2.8 KiB); 128 KiB leaves room and keeps parsing any
 * accepted body to a few milliseconds.
 */
export const DEFAULT_MAX_BODY_BYTES = 128 << 10;

/** Headers on every reply. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
};

interface RouteConfig {
    route: Route;
}

/** What the handlers need. */
interface Context {
    app: FastifyInstance;
    ops: GitspaceOperations;
    log: (line: string) => void;
}

/**
 * Builds the service (routes are registered when it is started: `await app.listen({ port, host })` or
 * `await app.ready()`). Throws at once without a usable token.
 */
export function createPortalServer(options: PortalServerOptions): FastifyInstance {
    const token = resolvePortalToken(options.token);
    const log = options.log ?? (() => undefined);
    const app = Fastify({
        logger: false,
        bodyLimit: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        // A request (headers and body, at most 128 KiB) must arrive within 30 s: a client trickling bytes does not
        // hold a connection for ever. Replies (server-sent events of a long update) are not limited by it.
        requestTimeout: 30_000,
        genReqId: () => randomUUID(),
        requestIdHeader: false,
        routerOptions: { ignoreTrailingSlash: true },
        // Malformed percent-escapes in the path and the like: a 400 in our shape, before routing (and so before auth).
        frameworkErrors: (error, request, reply) => sendError(request, reply, error, log),
        clientErrorHandler,
    });
    app.setValidatorCompiler((req) => req.httpPart === "body"
        // Bodies are validated by the library, with the stack's own schema, after they are merged into the config.
        ? (data: unknown) => ({ value: data })
        : validatorCompiler(req as Parameters<typeof validatorCompiler>[0]));
    app.setSerializerCompiler(serializerCompiler);
    registerJsonParser(app);
    app.setErrorHandler((error, request, reply) => sendError(request, reply, error, log));
    app.setNotFoundHandler((request, reply) => {
        const template = templateOf(request.url.split("?")[0]);
        return template ? methodNotAllowed(reply, request.method, allowedMethods(template)) : notFound(reply, request.url);
    });
    app.addHook("onRequest", async (request, reply) => {
        reply.headers(COMMON_HEADERS);
        reply.header("x-request-id", request.id);
        const config = request.routeOptions.config as Partial<RouteConfig>;
        if (config.route?.auth && !checkBearer(request.raw.rawHeaders, token)) {
            return reply.code(401).header("www-authenticate", "Bearer").send({ error: "unauthorized", message: "missing or wrong bearer token" });
        }
    });
    app.addHook("onResponse", async (request, reply) => {
        log(requestLine(request, reply));
        if (!request.raw.complete) lingeringClose(request.raw.socket);
    });
    registerOpenApi(app);
    app.register(async (scope) => registerRoutes(scope, { app, ops: options.ops, log }));
    return app;
}

/** A request whose headers exceed Node's limit (431) or that does not parse (400): answered on the socket. */
function clientErrorHandler(err: Error, socket: import("net").Socket) {
    if ((err as NodeJS.ErrnoException).code === "ECONNRESET" || !socket.writable) return;
    const tooLarge = (err as NodeJS.ErrnoException).code === "HPE_HEADER_OVERFLOW";
    const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request";
    const body = JSON.stringify(tooLarge
        ? { error: "headers_too_large", message: "request headers too large" }
        : { error: "bad_request", message: "malformed HTTP request", problems: [{ path: "request", message: "malformed HTTP request" }], total: 1 });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`);
}

function registerRoutes(scope: FastifyInstance, ctx: Context) {
    const page = readPage();
    for (const route of ROUTES) {
        scope.route({
            method: route.method, url: fastifyPath(route.path), config: { route } satisfies RouteConfig,
            ...(route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}),
            schema: routeDocumentation(route),
            handler: async (request, reply) => {
                try {
                    return await handle(ctx, route, request, reply, page);
                } catch (e) {
                    return sendError(request, reply, e, ctx.log);
                }
            },
        });
    }
    for (const path of new Set(ROUTES.map((r) => r.path))) {
        scope.options(fastifyPath(path), { schema: { hide: true } }, async (_request, reply) =>
            reply.code(204).header("allow", allowedMethods(path).join(", ")).send());
    }
}

async function handle(ctx: Context, route: Route, request: FastifyRequest, reply: FastifyReply, page: ReturnType<typeof readPage>) {
    const params = (request.params ?? {}) as Record<string, string>;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const ref: StackRef = { team: params.team, env: params.env };
    switch (route.id) {
        case "health": return reply.send({ ok: true });
        case "openapi": return reply.send(ctx.app.swagger());
        case "webPage": return reply.headers(page.headers).type("text/html; charset=utf-8").send(page.html);
        case "listGitspaces":
            return reply.send({ stack: stackName(ref), gitspaces: await ctx.ops.list(ref) });
        case "getGitspace":
            return reply.send(await ctx.ops.get(ref, params.developer, { showSecrets: query.showSecrets === true }));
        case "listOperations":
            return reply.send({ stack: stackName(ref), operations: ctx.ops.operations ? await ctx.ops.operations(ref) : [] });
        case "watchGitspaces":
            return watchStream(ctx, request, reply, ref);
        case "listStacks":
            return reply.send({ stacks: ctx.ops.listStacks ? await ctx.ops.listStacks() : [] });
        case "createStack":
        case "deleteStack":
            return stackOperation(ctx, route, request, reply, ref, query);
        case "cancelOperation":
            if (!ctx.ops.cancel) throw new OperationNotFoundError(stackName(ref), params.operationId);
            return reply.send(await ctx.ops.cancel(ref, params.operationId));
        default:
            return operation(ctx, route, request, reply, { ref, developer: params.developer, query });
    }
}

/** A mutating route: audited (one log line with the outcome, even when the client is gone), JSON or SSE. */
async function operation(
    ctx: Context, route: Route, request: FastifyRequest, reply: FastifyReply,
    { ref, developer, query }: { ref: StackRef; developer: string; query: Record<string, unknown> },
) {
    const body = request.body;
    if (route.body && body === undefined) {
        throw new ValidationError([{ path: "body", message: "required (a JSON object)" }], "invalid request body", "invalid_request");
    }
    const base: RemoveOptions = {
        // The request id names the operation in the stack's queue (GET …/operations, DELETE …/operations/{id}).
        operationId: request.id,
        dryRun: query.dryRun === true,
        ...(query.targeting ? { targeting: query.targeting as "auto" | "never" } : {}),
        ...(route.id === "removeGitspace" ? { purge: query.purge === true } : {}),
    };
    const success = base.dryRun ? 200 : route.success;
    let clientGone = false;
    reply.raw.on("close", () => { if (!reply.raw.writableFinished) clientGone = true; });
    const run = async (opts: OperationOptions): Promise<OperationResult> => {
        const started = Date.now();
        const audit = { request, route, ref, opts: base, started };
        try {
            const result = await dispatch(ctx.ops, route, ref, developer, body, { ...base, ...opts });
            ctx.log(auditLine({ ...audit, developer: result.developer, clientGone, status: success }));
            return result;
        } catch (e) {
            const { status, body: error } = errorReply(e, request.id);
            const named = developer ?? (typeof (body as { name?: unknown } | undefined)?.name === "string" ? (body as { name: string }).name : undefined);
            ctx.log(auditLine({ ...audit, developer: named, clientGone, status, error }));
            throw e;
        }
    };
    const location = (r: OperationResult) => `${request.url.split("?")[0].replace(/\/$/, "")}/${encodeURIComponent(r.developer)}`;
    const wantsStream = query.stream === true || (request.headers.accept ?? "").includes("text/event-stream");
    if (!wantsStream) {
        const result = await run({});
        if (success === 201) reply.header("location", location(result));
        return reply.code(success).send(result);
    }
    return streamOperation(ctx, request, reply, (onEvent) => run({ onEvent }), success, success === 201 ? location : undefined);
}

/** Live status as server-sent events until the client goes away. */
async function watchStream(ctx: Context, request: FastifyRequest, reply: FastifyReply, ref: StackRef) {
    if (!ctx.ops.watch) throw new LiveUnavailableError();
    const headers = { ...COMMON_HEADERS, "x-request-id": request.id, "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" };
    if (request.method === "HEAD") return reply.headers(headers).send();
    const res = reply.raw;
    const buffered: string[] = [];
    let open = false;
    const write = (chunk: string) => { if (!res.destroyed && !res.writableEnded) res.write(chunk); };
    // Statuses that arrive before the subscription is confirmed are sent right after the headers.
    const stop = await ctx.ops.watch(ref, (status) => {
        const chunk = `event: status\ndata: ${JSON.stringify(status)}\n\n`;
        if (open) write(chunk); else buffered.push(chunk);
    });
    reply.hijack();
    res.writeHead(200, headers);
    open = true;
    for (const chunk of buffered) write(chunk);
    const heartbeat = setInterval(() => write(": keep-alive\n\n"), 15000);
    await new Promise<void>((resolve) => {
        res.on("close", () => resolve());
        res.on("error", () => resolve());
    });
    clearInterval(heartbeat);
    stop();
    return reply;
}

/** Create or delete a team stack: audited like every mutation. */
async function stackOperation(ctx: Context, route: Route, request: FastifyRequest, reply: FastifyReply, ref: StackRef, query: Record<string, unknown>) {
    const started = Date.now();
    const purge = query.purge === true;
    const audit = { request, route, ref, opts: { purge }, started, clientGone: false };
    try {
        if (!ctx.ops.createStack || !ctx.ops.deleteStack) throw new StackNotFoundError(stackName(ref));
        if (route.id === "createStack") {
            if (request.body === undefined) throw new ValidationError([{ path: "body", message: "required (a team config)" }], "invalid request body", "invalid_request");
            const created = await ctx.ops.createStack(ref, request.body);
            ctx.log(auditLine({ ...audit, status: 201 }));
            return reply.code(201).header("location", `/teams/${encodeURIComponent(ref.team)}/envs/${encodeURIComponent(ref.env)}/gitspaces`).send(created);
        }
        const deleted = await ctx.ops.deleteStack(ref, { purge, operationId: request.id });
        ctx.log(auditLine({ ...audit, status: 200 }));
        return reply.send(deleted);
    } catch (e) {
        const { status, body } = errorReply(e, request.id);
        ctx.log(auditLine({ ...audit, status, error: body }));
        throw e;
    }
}

function dispatch(ops: GitspaceOperations, route: Route, ref: StackRef, developer: string, body: unknown, opts: RemoveOptions): Promise<OperationResult> {
    switch (route.id) {
        case "addGitspace": return ops.add(ref, body, opts);
        case "updateGitspace": return ops.update(ref, developer, body, opts);
        case "removeGitspace": return ops.remove(ref, developer, opts);
        case "stopGitspace": return ops.stop(ref, developer, opts);
        case "startGitspace": return ops.start(ref, developer, opts);
        default: throw new Error(`unhandled route ${route.id}`);
    }
}

/**
 * Server-sent events: `progress` events while the operation runs, then one `result` ({status, location?, body})
 * or `error` ({status, error, message, …}). An error before the first event (validation, unknown developer) is
 * a plain JSON reply with its status code.
 */
async function streamOperation(
    ctx: Context, request: FastifyRequest, reply: FastifyReply, start: (onEvent: (e: PortalEvent) => void) => Promise<OperationResult>,
    success: number, location?: (r: OperationResult) => string,
) {
    const res = reply.raw;
    let open = false;
    res.on("error", () => undefined);
    const writable = () => !res.destroyed && !res.writableEnded;
    const send = (event: string, data: unknown) => { if (writable()) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
    const begin = () => {
        if (open) return;
        open = true;
        reply.hijack();
        res.writeHead(200, {
            ...COMMON_HEADERS, "x-request-id": request.id,
            "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no",
        });
    };
    const heartbeat = setInterval(() => { if (open && writable()) res.write(": keep-alive\n\n"); }, 15000);
    try {
        const result = await start((e) => { begin(); send("progress", e); });
        begin();
        send("result", { status: success, ...(location ? { location: location(result) } : {}), body: result });
    } catch (e) {
        if (!open) throw e;
        const { status, body } = errorReply(e, request.id, ctx.log);
        send("error", { status, ...body });
    } finally {
        clearInterval(heartbeat);
    }
    if (writable()) res.end();
    return reply;
}

/** JSON bodies only (`application/json`, and `application/merge-patch+json` for PATCH); anything else is a 415. */
function registerJsonParser(app: FastifyInstance) {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(["application/json", "application/merge-patch+json"], { parseAs: "string" }, (_req, text, done) => {
        const body = text as string;
        if (body.trim() === "") return done(null, undefined);
        try {
            done(null, JSON.parse(body));
        } catch (e) {
            done(new ValidationError([{ path: "body", message: `invalid JSON: ${e instanceof Error ? e.message : "parse error"}` }], "invalid request body", "invalid_request"));
        }
    });
}

/** The OpenAPI document the service serves (built from a server that is never started). */
export async function openApiDocument(): Promise<Record<string, unknown>> {
    const app = createPortalServer({ ops: {} as GitspaceOperations, token: "x".repeat(MIN_TOKEN_LENGTH) });
    await app.ready();
    try {
        return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>;
    } finally {
        await app.close();
    }
}
