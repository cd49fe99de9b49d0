/**
 * The portal's HTTP service on plain `node:http` (no framework: ten routes, a bearer check, JSON bodies and
 * server-sent events need no more than this, and every dependency added to a Pulumi program's package is one more
 * thing to keep patched). It is written against `GitspaceOperations`, so it serves the real library or the
 * in-memory implementation alike.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { PortalError, ValidationError } from "../errors";
import { GitspaceOperations, OperationOptions, OperationResult, PortalEvent, StackRef } from "../types";
import { openApiDocument, Route, ROUTES } from "./openapi";

export interface PortalServerOptions {
    ops: GitspaceOperations;
    /** The bearer token clients must send. Required: without one the server is not created. */
    token: string;
    /** Request log lines (no bodies, no tokens). */
    log?: (line: string) => void;
    maxBodyBytes?: number;
}

const STATIC_PAGE = path.join(__dirname, "..", "static", "index.html");

interface Matched {
    route: Route;
    params: Record<string, string>;
}

const compiled = ROUTES.map((route) => {
    const names: string[] = [];
    const source = route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{(\w+)\\?\}/g, (_m, n: string) => {
        names.push(n);
        return "([^/]+)";
    });
    return { route, names, re: new RegExp(`^${source}/?$`) };
});

function match(method: string, pathname: string): Matched | "method" | undefined {
    let pathMatched = false;
    for (const c of compiled) {
        const m = c.re.exec(pathname);
        if (!m) continue;
        pathMatched = true;
        if (c.route.method !== method) continue;
        const params: Record<string, string> = {};
        c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
        return { route: c.route, params };
    }
    return pathMatched ? "method" : undefined;
}

const truthy = (v: string | null) => v !== null && v !== "0" && v !== "false";

function tokenMatches(header: string | undefined, token: string): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
    if (!m) return false;
    const a = crypto.createHash("sha256").update(m[1].trim()).digest();
    const b = crypto.createHash("sha256").update(token).digest();
    return crypto.timingSafeEqual(a, b);
}

class HttpError extends Error {
    constructor(readonly status: number, readonly body: Record<string, unknown>) {
        super(String(body.message));
    }
}

function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (c: Buffer) => {
            size += c.length;
            if (size > limit) {
                reject(new HttpError(413, { error: "body_too_large", message: `request body over ${limit} bytes` }));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on("error", reject);
        req.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (text.trim() === "") return resolve(undefined);
            try {
                resolve(JSON.parse(text));
            } catch (e) {
                reject(new ValidationError([{ path: "body", message: `invalid JSON: ${(e as Error).message}` }], "invalid request body"));
            }
        });
    });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
    res.end(text);
}

function errorBody(e: unknown): { status: number; body: Record<string, unknown> } {
    if (e instanceof PortalError) return { status: e.status, body: e.toJSON() };
    if (e instanceof HttpError) return { status: e.status, body: e.body };
    return { status: 500, body: { error: "internal", message: e instanceof Error ? e.message : String(e) } };
}

export function createPortalServer(options: PortalServerOptions): http.Server {
    if (!options.token || options.token.trim().length === 0) {
        throw new Error("the portal needs a bearer token (PORTAL_TOKEN): refusing to serve without authentication");
    }
    const { ops, token } = options;
    const limit = options.maxBodyBytes ?? 1 << 20;
    const log = options.log ?? (() => undefined);
    const page = () => fs.readFileSync(STATIC_PAGE);

    return http.createServer((req, res) => {
        const started = Date.now();
        res.on("finish", () => log(`${req.method} ${req.url?.split("?")[0]} ${res.statusCode} ${Date.now() - started}ms`));
        handle(req, res).catch((e) => {
            const { status, body } = errorBody(e);
            if (!res.headersSent) sendJson(res, status, body);
            else res.end();
        });
    });

    async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
        const url = new URL(req.url ?? "/", "http://portal");
        const found = match(req.method ?? "GET", url.pathname);
        if (found === undefined) return sendJson(res, 404, { error: "not_found", message: `no route ${url.pathname}` });
        if (found === "method") return sendJson(res, 405, { error: "method_not_allowed", message: `${req.method} not allowed on ${url.pathname}` });
        const { route, params } = found;
        if (route.auth && !tokenMatches(req.headers.authorization, token)) {
            return sendJson(res, 401, { error: "unauthorized", message: "missing or wrong bearer token" }, { "www-authenticate": "Bearer" });
        }
        const ref: StackRef = { team: params.team, env: params.env };
        const q = url.searchParams;
        switch (route.id) {
            case "health": return sendJson(res, 200, { ok: true });
            case "openapi": return sendJson(res, 200, openApiDocument());
            case "webPage":
                res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
                return res.end(page());
            case "listGitspaces": {
                const gitspaces = await ops.list(ref);
                return sendJson(res, 200, { stack: `${ref.team}-${ref.env}`, gitspaces });
            }
            case "getGitspace":
                return sendJson(res, 200, await ops.get(ref, params.developer, { showSecrets: truthy(q.get("showSecrets")) }));
            default:
                break;
        }
        // Mutating operations.
        const body = route.body ? await readJson(req, limit) : undefined;
        if (route.body && body === undefined) {
            throw new ValidationError([{ path: "body", message: "required (a JSON object)" }], "invalid request body");
        }
        const targeting = q.get("targeting");
        if (targeting !== null && targeting !== "auto" && targeting !== "never") {
            throw new ValidationError([{ path: "targeting", message: `must be "auto" or "never"` }], "invalid query");
        }
        const base: OperationOptions = { dryRun: truthy(q.get("dryRun")), ...(targeting ? { targeting } : {}) };
        const run = (opts: OperationOptions): Promise<OperationResult> => {
            switch (route.id) {
                case "addGitspace": return ops.add(ref, body, opts);
                case "updateGitspace": return ops.update(ref, params.developer, body, opts);
                case "removeGitspace": return ops.remove(ref, params.developer, { ...opts, purge: truthy(q.get("purge")) });
                case "stopGitspace": return ops.stop(ref, params.developer, opts);
                case "startGitspace": return ops.start(ref, params.developer, opts);
                default: throw new Error(`unhandled route ${route.id}`);
            }
        };
        const success = base.dryRun ? 200 : route.success;
        const location = route.id === "addGitspace" ? (r: OperationResult) => ({ location: `${url.pathname.replace(/\/$/, "")}/${encodeURIComponent(r.developer)}` }) : () => ({});
        const wantsStream = truthy(q.get("stream")) || (req.headers.accept ?? "").includes("text/event-stream");
        if (!wantsStream) {
            const result = await run(base);
            return sendJson(res, success, result, base.dryRun ? {} : location(result));
        }
        await streamOperation(res, req, (onEvent) => run({ ...base, onEvent }), success);
    }
}

/**
 * Server-sent events: `progress` events while the operation runs, then one `result` ({status, body}) or `error`
 * ({status, error, message, …}). An error before the first event (validation, unknown developer) is a plain JSON
 * response with its status code.
 */
async function streamOperation(
    res: http.ServerResponse, req: http.IncomingMessage,
    start: (onEvent: (e: PortalEvent) => void) => Promise<OperationResult>, success: number,
) {
    let open = false;
    let closed = false;
    req.on("close", () => (closed = true));
    const send = (event: string, data: unknown) => {
        if (closed) return;
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const begin = () => {
        if (open) return;
        open = true;
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
        res.flushHeaders();
    };
    const heartbeat = setInterval(() => { if (open && !closed) res.write(": keep-alive\n\n"); }, 15000);
    try {
        const result = await start((e) => { begin(); send("progress", e); });
        begin();
        send("result", { status: success, body: result });
    } catch (e) {
        const { status, body } = errorBody(e);
        if (!open) return sendJson(res, status, body);
        send("error", { status, ...body });
    } finally {
        clearInterval(heartbeat);
    }
    res.end();
}
