/**
 * The route table (the router is built from it, so the OpenAPI document lists exactly what is served) and the
 * OpenAPI 3.1 document.
 */
import { IDE_TYPES } from "../../components/catalog";

export type RouteId =
    | "listGitspaces" | "addGitspace" | "getGitspace" | "updateGitspace" | "removeGitspace"
    | "stopGitspace" | "startGitspace" | "openapi" | "webPage" | "health";

export interface Route {
    id: RouteId;
    method: "GET" | "POST" | "PATCH" | "DELETE";
    /** OpenAPI path template. */
    path: string;
    summary: string;
    auth: boolean;
    /** Mutating operations: `?stream=1` (server-sent events), `?dryRun=1` (preview), `?targeting=never`. */
    operation?: boolean;
    body?: "Developer" | "DeveloperPatch";
    success: number;
}

const G = "/teams/{team}/envs/{env}/gitspaces";

export const ROUTES: Route[] = [
    { id: "listGitspaces", method: "GET", path: G, summary: "List the team's gitspaces with status and URLs", auth: true, success: 200 },
    { id: "addGitspace", method: "POST", path: G, summary: "Add a developer (a gitspace:developers[i] entry) and update the stack", auth: true, operation: true, body: "Developer", success: 201 },
    { id: "getGitspace", method: "GET", path: `${G}/{developer}`, summary: "One developer's gitspace (`?showSecrets=1` includes the web IDE password)", auth: true, success: 200 },
    { id: "updateGitspace", method: "PATCH", path: `${G}/{developer}`, summary: "Change a developer (JSON merge patch of its entry) and update", auth: true, operation: true, body: "DeveloperPatch", success: 200 },
    { id: "removeGitspace", method: "DELETE", path: `${G}/{developer}`, summary: "Remove a developer; home data is kept unless `?purge=1`", auth: true, operation: true, success: 200 },
    { id: "stopGitspace", method: "POST", path: `${G}/{developer}/stop`, summary: "Stop (running: false → 0 replicas, everything kept)", auth: true, operation: true, success: 200 },
    { id: "startGitspace", method: "POST", path: `${G}/{developer}/start`, summary: "Start (running: true)", auth: true, operation: true, success: 200 },
    { id: "openapi", method: "GET", path: "/openapi.json", summary: "This document", auth: false, success: 200 },
    { id: "webPage", method: "GET", path: "/", summary: "The web page (the data calls need the token)", auth: false, success: 200 },
    { id: "health", method: "GET", path: "/healthz", summary: "Liveness", auth: false, success: 200 },
];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const err = (description: string) => ({ description, content: json(ref("Error")) });

const stringMap = { type: "object", additionalProperties: { type: "string" } };
const resourceList = { type: "object", properties: { cpu: { type: "string" }, memory: { type: "string" } }, additionalProperties: false };

const developerProperties = {
    name: { type: "string", description: "DNS label, unique in the team" },
    ide: { type: "string", enum: [...IDE_TYPES] },
    repos: { type: "array", items: { type: "object", required: ["url"], additionalProperties: false, properties: { url: { type: "string" }, branch: { type: "string" }, name: { type: "string" } } } },
    storage: { type: "string", examples: ["10Gi"] },
    user: { type: "object", additionalProperties: false, properties: { name: { type: "string" }, uid: { type: "integer" }, gid: { type: "integer" } } },
    running: { type: "boolean" },
    sshPublicKeys: { type: "array", items: { type: "string" } },
    git: { type: "object", additionalProperties: false, properties: { username: { type: "string" }, token: { type: "string", description: "stored as a Pulumi secret", writeOnly: true } } },
    resources: { type: "object", additionalProperties: false, properties: { requests: resourceList, limits: resourceList } },
    migrateLegacyWorkspaces: { type: "boolean" },
    retainHome: { type: "boolean" },
};

export function openApiDocument(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of ROUTES) {
        const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
        const query: unknown[] = [];
        if (r.operation) {
            query.push(
                { name: "stream", in: "query", schema: { type: "boolean" }, description: "Progress as server-sent events (`progress` events, then `result` or `error`)" },
                { name: "dryRun", in: "query", schema: { type: "boolean" }, description: "Preview the change and return the diff; nothing is changed" },
                { name: "targeting", in: "query", schema: { type: "string", enum: ["auto", "never"] }, description: "`never`: a full update instead of a targeted one" },
            );
        }
        if (r.id === "removeGitspace") query.push({ name: "purge", in: "query", schema: { type: "boolean" }, description: "Also delete the Namespace and home PVC" });
        if (r.id === "getGitspace") query.push({ name: "showSecrets", in: "query", schema: { type: "boolean" } });
        const responses: Record<string, unknown> = {};
        if (r.id === "webPage") responses["200"] = { description: "HTML", content: { "text/html": {} } };
        else if (r.id === "openapi") responses["200"] = { description: "OpenAPI document", content: json({ type: "object" }) };
        else if (r.id === "health") responses["200"] = { description: "ok", content: json({ type: "object" }) };
        else if (r.id === "listGitspaces") responses["200"] = { description: "Gitspaces", content: json({ type: "object", properties: { stack: { type: "string" }, gitspaces: { type: "array", items: ref("Gitspace") } } }) };
        else if (r.id === "getGitspace") responses["200"] = { description: "Gitspace", content: json(ref("Gitspace")) };
        else {
            responses[String(r.success)] = {
                description: "Operation result (or with `?stream=1`: `text/event-stream`)",
                content: { ...json(ref("OperationResult")), "text/event-stream": { schema: { type: "string" } } },
            };
            if (r.success !== 200) responses["200"] = { description: "Dry run result", content: json(ref("OperationResult")) };
            responses["409"] = err("Developer exists (add) or the stack is busy (another update kept the lock through every retry)");
            responses["502"] = { description: "The update failed: which resources failed and why", content: json(ref("UpdateFailed")) };
        }
        if (r.auth) {
            responses["400"] = { description: "Validation failed: every bad field by config path", content: json(ref("ValidationError")) };
            responses["401"] = err("Missing or wrong bearer token");
            responses["404"] = err("Unknown stack or developer");
        }
        const op: Record<string, unknown> = {
            operationId: r.id, summary: r.summary, responses,
            ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
            ...(r.auth ? {} : { security: [] }),
        };
        if (r.body) op.requestBody = { required: true, content: json(ref(r.body)) };
        paths[r.path] = { ...(paths[r.path] ?? {}), [r.method.toLowerCase()]: op };
    }
    return {
        openapi: "3.1.0",
        info: { title: "gitspace portal", version: "0.1.0", description: "Self-service gitspaces: one Pulumi stack per team and environment (`<team>-<env>`)." },
        security: [{ bearer: [] }],
        paths,
        components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "PORTAL_TOKEN of the service" } },
            schemas: {
                Developer: { type: "object", required: ["name"], additionalProperties: false, properties: developerProperties },
                DeveloperPatch: { type: "object", description: "JSON merge patch (RFC 7386) of the developer entry; null deletes a field", properties: developerProperties },
                Gitspace: {
                    type: "object", required: ["name", "status", "running", "deployed"],
                    properties: {
                        name: { type: "string" }, status: { type: "string", enum: ["running", "stopped", "pending", "updating", "failed", "removing"] },
                        running: { type: "boolean" }, deployed: { type: "boolean" }, ide: { type: "string" }, url: { type: "string" },
                        namespace: { type: "string" }, image: { type: "string" }, ssh: { type: "string" }, password: { type: "string" },
                        config: { type: "object" }, lastError: { type: "string" },
                    },
                },
                OperationResult: {
                    type: "object",
                    properties: {
                        operation: { type: "string" }, stack: { type: "string" }, developer: { type: "string" }, dryRun: { type: "boolean" },
                        targeted: { type: "boolean" }, changes: { type: "object", additionalProperties: { type: "integer" } },
                        steps: { type: "array", items: { type: "object", properties: { op: { type: "string" }, urn: { type: "string" }, resourceType: { type: "string" }, name: { type: "string" }, diffs: { type: "array", items: { type: "string" } } } } },
                        durationMs: { type: "integer" }, gitspace: ref("Gitspace"),
                    },
                },
                Error: { type: "object", required: ["error", "message"], properties: { error: { type: "string" }, message: { type: "string" } } },
                ValidationError: {
                    type: "object",
                    properties: { error: { type: "string" }, message: { type: "string" }, problems: { type: "array", items: { type: "object", properties: { path: { type: "string", examples: ["gitspace:developers[4].ide"] }, message: { type: "string" } } } } },
                },
                UpdateFailed: {
                    type: "object",
                    properties: { error: { type: "string" }, message: { type: "string" }, failures: { type: "array", items: { type: "object", properties: { urn: { type: "string" }, type: { type: "string" }, name: { type: "string" }, message: { type: "string" } } } } },
                },
                Labels: stringMap,
            },
        },
    };
}
