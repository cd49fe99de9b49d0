/**
 * The route table: the server registers exactly these routes, with these schemas, and @fastify/swagger documents
 * exactly these (plus HEAD for every GET and OPTIONS for every path, which are answered but not listed).
 */
import { z } from "zod";
import * as s from "./schemas";

export type RouteId =
    | "listGitspaces" | "addGitspace" | "getGitspace" | "updateGitspace" | "removeGitspace"
    | "stopGitspace" | "startGitspace" | "watchGitspaces" | "listOperations" | "cancelOperation" | "listStacks" | "createStack" | "deleteStack"
    | "openapi" | "webPage" | "health";

export interface Route {
    id: RouteId;
    method: "GET" | "POST" | "PATCH" | "DELETE";
    /** OpenAPI path template. */
    path: string;
    summary: string;
    auth: boolean;
    /** Mutating operations: `?stream=1` (server-sent events), `?dryRun=1` (preview), `?targeting=never`. */
    operation?: boolean;
    body?: "Developer" | "DeveloperPatch" | "TeamConfig";
    /** Request body limit of this route, when not the service's. */
    bodyLimit?: number;
    success: number;
    params?: z.ZodType;
    query: z.ZodType;
}

const G = "/teams/{team}/envs/{env}/gitspaces";
const O = "/teams/{team}/envs/{env}/operations";
const S = "/teams/{team}/envs/{env}";

export const ROUTES: Route[] = [
    { id: "listGitspaces", method: "GET", path: G, summary: "List the team's gitspaces with status and URLs", auth: true, success: 200, params: s.stackParams, query: s.noQuery },
    { id: "addGitspace", method: "POST", path: G, summary: "Add a developer (a gitspace:developers[i] entry) and update the stack", auth: true, operation: true, body: "Developer", success: 201, params: s.stackParams, query: s.operationQuery },
    { id: "getGitspace", method: "GET", path: `${G}/{developer}`, summary: "One developer's gitspace (`?showSecrets=1` includes the web IDE password)", auth: true, success: 200, params: s.developerParams, query: s.getQuery },
    { id: "updateGitspace", method: "PATCH", path: `${G}/{developer}`, summary: "Change a developer (JSON merge patch of its entry) and update", auth: true, operation: true, body: "DeveloperPatch", success: 200, params: s.developerParams, query: s.operationQuery },
    { id: "removeGitspace", method: "DELETE", path: `${G}/{developer}`, summary: "Remove a developer; home data is kept unless `?purge=1`", auth: true, operation: true, success: 200, params: s.developerParams, query: s.removeQuery },
    { id: "stopGitspace", method: "POST", path: `${G}/{developer}/stop`, summary: "Stop (running: false → 0 replicas, everything kept)", auth: true, operation: true, success: 200, params: s.developerParams, query: s.operationQuery },
    { id: "startGitspace", method: "POST", path: `${G}/{developer}/start`, summary: "Start (running: true)", auth: true, operation: true, success: 200, params: s.developerParams, query: s.operationQuery },
    { id: "watchGitspaces", method: "GET", path: `/teams/{team}/envs/{env}/live`, summary: "Live status from the cluster as server-sent events: one `status` event per developer, then one on every change (stopped, pending with a reason, initializing with the init step, starting, ready since when with the URL that works now, failed with the lines that matter). 404 `live_unavailable` when the portal has no cluster", auth: true, success: 200, params: s.stackParams, query: s.noQuery },
    { id: "listOperations", method: "GET", path: O, summary: "The requests queued or running on the stack (running first, then in arrival order); an operation's id is the request id of the request that made it (`x-request-id`, and `operationId` in its `queued`/`started` events)", auth: true, success: 200, params: s.stackParams, query: s.noQuery },
    { id: "cancelOperation", method: "DELETE", path: `${O}/{operationId}`, summary: "Cancel a queued request: it never runs, and its caller gets 409 `cancelled`. 409 `operation_running` once its update started; 404 when it is not queued (finished, or unknown)", auth: true, success: 200, params: s.operationParams, query: s.noQuery },
    { id: "listStacks", method: "GET", path: "/stacks", summary: "The team stacks of the backend (`<team>-<env>`; other stacks are not listed)", auth: true, success: 200, query: s.noQuery },
    { id: "createStack", method: "POST", path: S, summary: "Create the team stack `<team>-<env>` from a team config (the `gitspace:` values), validated by the program's schema; the registry password and git tokens are stored as secrets. Nothing is deployed until the first change (or `pulumi up`)", auth: true, body: "TeamConfig", bodyLimit: 2 << 20, success: 201, params: s.stackParams, query: s.noQuery },
    { id: "deleteStack", method: "DELETE", path: S, summary: "Delete the team stack after the requests queued before it: `pulumi destroy` (homes — Namespaces and PVCs of developers with `retainHome` — stay in the cluster), then `pulumi stack rm`. `?purge=1` deletes the homes too", auth: true, success: 200, params: s.stackParams, query: s.deleteStackQuery },
    { id: "openapi", method: "GET", path: "/openapi.json", summary: "This document", auth: false, success: 200, query: s.noQuery },
    { id: "webPage", method: "GET", path: "/", summary: "The web page (the data calls need the token)", auth: false, success: 200, query: z.object({}).catchall(z.string()).describe("`?team=…&env=…` prefill the form") },
    { id: "health", method: "GET", path: "/healthz", summary: "Liveness", auth: false, success: 200, query: s.noQuery },
];

/** Fastify's path syntax: `{team}` → `:team`. */
export const fastifyPath = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

/** The methods a path answers (HEAD with GET, OPTIONS always), for `Allow`. */
export function allowedMethods(path: string): string[] {
    const methods = new Set(ROUTES.filter((r) => r.path === path).map((r) => r.method as string));
    if (methods.has("GET")) methods.add("HEAD");
    methods.add("OPTIONS");
    return ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"].filter((m) => methods.has(m));
}

const templates = [...new Set(ROUTES.map((r) => r.path))].map((path) => ({
    path,
    re: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, "[^/]+")}/?$`),
}));

/** The route template a request path (without query) belongs to, whatever the method. */
export function templateOf(pathname: string): string | undefined {
    return templates.find((t) => t.re.test(pathname))?.path;
}
