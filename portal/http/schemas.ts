/**
 * The zod schemas of the HTTP service: Fastify validates path parameters and query strings with them
 * (fastify-type-provider-zod), checks every JSON reply against them, and @fastify/swagger generates the OpenAPI
 * document from them. Request bodies are documented with the program's own developer-entry schema, which is what
 * the library validates them with (after merging them into the stack config, so problems carry config paths).
 */
import { z } from "zod";
import { DEVELOPER_ENTRY_SCHEMA, TOP_LEVEL_SCHEMAS } from "../../components/config";
import { envNameSchema, teamNameSchema } from "../stackref";

/**
 * The registry of schemas with an id (they appear in `components.schemas`): zod's global one, which also holds
 * the `.describe()` texts the document shows.
 */
export const portalSchemas = z.globalRegistry;

// ---------------------------------------------------------------------------------------------------------------
// Requests

/**
 * A boolean query parameter: exactly `true`, `false`, `1` or `0`. Anything else (`False`, `no`, `yes`, empty,
 * repeated) is a 400, so a client's spelling of "false" can never turn into true.
 */
export const queryBoolean = (description: string) =>
    z.enum(["true", "false", "1", "0"], {
        error: (iss) => Array.isArray(iss.input)
            ? "given more than once"
            : `must be true, false, 1 or 0 (got ${JSON.stringify(String(iss.input).substring(0, 32))})`,
    }).transform((v) => v === "true" || v === "1").optional().describe(description);

const developerParam = z.string().describe("Developer name (a `gitspace:developers[i].name`)");

export const stackParams = z.strictObject({ team: teamNameSchema.describe("Team (a DNS label)"), env: envNameSchema.describe("Environment: lowercase letters and digits, no `-`") });
export const developerParams = stackParams.extend({ developer: developerParam });

export const operationParams = stackParams.extend({
    operationId: z.string().min(1).max(100).describe("An operation id (the `x-request-id` of the request that queued it)"),
});

export const noQuery = z.strictObject({});
export const getQuery = z.strictObject({ showSecrets: queryBoolean("Include the web IDE password") });
export const operationQuery = z.strictObject({
    stream: queryBoolean("Progress as server-sent events (`progress` events, then `result` or `error`); also with `Accept: text/event-stream`"),
    dryRun: queryBoolean("Preview the change and return the diff; nothing is changed"),
    targeting: z.enum(["auto", "never"], { error: "must be auto or never" }).optional().describe("`never`: a full update instead of a targeted one"),
});
export const removeQuery = operationQuery.extend({
    purge: queryBoolean("Also delete the Namespace and home PVC (sets `retainHome: false` and updates, then removes)"),
});

export const deleteStackQuery = z.strictObject({
    purge: queryBoolean("Also delete every developer's home (sets `retainHome: false` for all and updates, then destroys)"),
});

type Shape = Record<string, z.ZodType>;

/**
 * The JSON merge patch (RFC 7386) of a schema: every field optional, `null` deletes it, objects patched field by
 * field, lists and scalars replaced whole.
 */
export function mergePatchOf(schema: z.ZodType): z.ZodType {
    let inner: z.ZodType = schema;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = (inner as z.ZodOptional<z.ZodType>).unwrap();
    if (inner instanceof z.ZodObject) {
        const shape = Object.fromEntries(Object.entries(inner.shape as Shape).map(([k, v]) => [k, mergePatchOf(v).nullable().optional()]));
        return z.strictObject(shape);
    }
    return inner;
}

export const developerBody = DEVELOPER_ENTRY_SCHEMA;
export const developerPatchBody = (mergePatchOf(DEVELOPER_ENTRY_SCHEMA) as z.ZodObject).extend({
    name: z.string().optional().describe("Only the developer's own name (a developer is not renamed)"),
});
portalSchemas.add(developerBody, {
    id: "Developer",
    description: "A `gitspace:developers[i]` entry, checked by the stack's own schema after it is added to the config (cross-field rules too: an SSH IDE needs sshPublicKeys, names are unique). `git.token` is stored as a Pulumi secret.",
});
portalSchemas.add(developerPatchBody, {
    id: "DeveloperPatch",
    description: "JSON merge patch (RFC 7386) of the developer entry: `null` deletes a field, objects are patched field by field, lists replaced whole. `name` cannot change.",
});

// `team` may be left out (it defaults to the path's); every other key is as the program's schema says.
export const teamConfigBody = z.strictObject({ ...(TOP_LEVEL_SCHEMAS as unknown as Shape) }).partial({ team: true });
portalSchemas.add(teamConfigBody, {
    id: "TeamConfig",
    description: "The `gitspace:` values of a team stack, as in `Pulumi.<team>-<env>.yaml` without the `gitspace:` prefix. `team` defaults to the path's team and must equal it; `environment`, if given, must equal the path's. Checked by the program's own schema (every bad field by config path). `images.password` and every `developers[i].git.token` are stored as Pulumi secrets.",
});

// ---------------------------------------------------------------------------------------------------------------
// Replies

export const gitspaceSchema = z.object({
    name: z.string(),
    status: z.enum(["running", "stopped", "pending", "updating", "failed", "removing"]),
    running: z.boolean(),
    stoppedReason: z.enum(["idle"]).optional().describe("Stopped by the portal: `idle` (no IDE activity for the developer's idleTimeout); Start clears it"),
    deployed: z.boolean(),
    ide: z.string().optional(),
    url: z.string().optional(),
    namespace: z.string().optional(),
    image: z.string().optional(),
    ssh: z.string().optional(),
    password: z.string().optional().describe("Only with `showSecrets`"),
    config: z.record(z.string(), z.unknown()).optional().describe("The developer's entry as stored, secrets shown as \"[secret]\""),
    lastError: z.string().optional(),
});
portalSchemas.add(gitspaceSchema, { id: "Gitspace" });

export const gitspaceListSchema = z.object({ stack: z.string(), gitspaces: z.array(gitspaceSchema) });

export const operationResultSchema = z.object({
    operation: z.enum(["add", "update", "stop", "start", "remove", "purge"]),
    stack: z.string(),
    developer: z.string(),
    dryRun: z.boolean(),
    targeted: z.boolean(),
    changes: z.record(z.string(), z.number().int()),
    steps: z.array(z.object({
        op: z.string(), urn: z.string(), resourceType: z.string(), name: z.string(), diffs: z.array(z.string()).optional(),
    })),
    durationMs: z.number().int(),
    gitspace: gitspaceSchema.optional(),
});
portalSchemas.add(operationResultSchema, { id: "OperationResult" });

export const queuedOperationSchema = z.object({
    id: z.string(),
    operation: z.enum(["add", "update", "stop", "start", "remove", "purge", "deleteStack"]),
    developer: z.string().optional(),
    state: z.enum(["queued", "running"]),
    position: z.number().int().describe("Requests ahead of it (0: running)"),
    dryRun: z.boolean(),
    queuedAt: z.string(),
});
portalSchemas.add(queuedOperationSchema, { id: "QueuedOperation" });
export const operationListSchema = z.object({ stack: z.string(), operations: z.array(queuedOperationSchema) });

export const liveStatusSchema = z.object({
    developer: z.string(),
    phase: z.enum(["stopped", "pending", "initializing", "starting", "ready", "failed"]),
    reason: z.string().optional().describe("`idle` (stopped: stopped by the idle reaper), `unschedulable`, `pvc-pending`, `image-pull`, `container-creating`, `no-pod`, `CrashLoopBackOff`, `ImagePullBackOff`, `init-failed`, … (a reason the portal does not know is passed on)"),
    message: z.string().optional().describe("The cluster's words: control characters escaped as \\uXXXX, at most 500 characters"),
    step: z.string().optional().describe("The init step running (or failed)"),
    since: z.string().optional(),
    url: z.string().optional().describe("Only when ready"),
    lines: z.array(z.string()).optional().describe("The log lines that matter (at most 12)"),
    pod: z.string().optional(),
});
portalSchemas.add(liveStatusSchema, { id: "LiveStatus" });

export const teamStackSchema = z.object({
    name: z.string(), team: z.string(), env: z.string(),
    lastUpdate: z.string().optional(), resourceCount: z.number().int().optional(), updateInProgress: z.boolean().optional(),
});
portalSchemas.add(teamStackSchema, { id: "TeamStack" });
export const teamStackListSchema = z.object({ stacks: z.array(teamStackSchema) });
export const stackDeletionSchema = z.object({
    stack: z.string(), purged: z.boolean(), changes: z.record(z.string(), z.number().int()), durationMs: z.number().int(),
});
portalSchemas.add(stackDeletionSchema, { id: "StackDeletion" });

const partialSchema = z.object({
    completed: z.array(z.string()).describe("Steps deployed before the failure (never rolled back)"),
    notApplied: z.array(z.string()),
}).optional().describe("Only when an earlier step of the operation was deployed");

export const errorSchema = z.object({
    error: z.string(),
    message: z.string(),
    requestId: z.string().optional().describe("500: the id under which the service logged the detail"),
    partial: partialSchema,
});
portalSchemas.add(errorSchema, { id: "Error" });

export const validationErrorSchema = z.object({
    error: z.string(),
    message: z.string(),
    problems: z.array(z.object({ path: z.string().meta({ examples: ["gitspace:developers[4].ide"] }), message: z.string() }))
        .describe("The first 20 problems"),
    total: z.number().int().describe("How many problems there were"),
});
portalSchemas.add(validationErrorSchema, { id: "ValidationError" });

export const updateFailedSchema = z.object({
    error: z.string(),
    message: z.string(),
    failures: z.array(z.object({ urn: z.string().optional(), type: z.string().optional(), name: z.string().optional(), message: z.string() })),
    partial: partialSchema,
});
portalSchemas.add(updateFailedSchema, { id: "UpdateFailed" });

export const healthSchema = z.object({ ok: z.literal(true) });
export const documentSchema = z.record(z.string(), z.unknown());
