/**
 * Team stacks: list the `<team>-<env>` stacks of the backend, create one from a validated team config (the
 * registry password and git tokens stored as secrets), delete one (`pulumi destroy`, then `pulumi stack rm`; the
 * homes — Namespace and PVC, `retainOnDelete` while `retainHome` — are kept unless purged).
 */
import { LocalWorkspace, LocalWorkspaceOptions, StackAlreadyExistsError } from "@pulumi/pulumi/automation";
import { CONFIG_KEYS } from "../components/config";
import { AutomationOptions, automationEnv, REPO_DIR } from "./driver";
import { PortalError, ValidationError } from "./errors";
import { checkUntrustedJson, TEAM_JSON_LIMITS } from "./limits";
import { ConfigOp, isPlainObject, RawConfig, teamConfigOps, validate } from "./mutations";
import { withStateReadRetry } from "./retry";
import { envNameSchema, teamNameSchema } from "./stackref";
import { StackRef } from "./types";

/** A stack of the backend as the catalog reports it. */
export interface StackListing {
    name: string;
    lastUpdate?: string;
    resourceCount?: number;
    updateInProgress?: boolean;
}

/** A team stack. */
export interface TeamStack extends StackListing {
    team: string;
    env: string;
}

/** The backend's stacks: list, create (with its config). Deleting goes through the stack's driver and queue. */
export interface StackCatalog {
    list(): Promise<StackListing[]>;
    /** Creates the stack and writes its config; StackExistsError when it exists. */
    create(name: string, ops: ConfigOp[]): Promise<void>;
}

export class StackExistsError extends PortalError {
    readonly status = 409;
    readonly code = "stack_exists";
    constructor(readonly stack: string) {
        super(`stack "${stack}" already exists`);
        this.name = "StackExistsError";
    }
}

/** `<team>-<env>` → the pair, or undefined for a stack that is not a team stack (split at the last `-`). */
export function parseStackName(name: string): StackRef | undefined {
    const short = name.substring(name.lastIndexOf("/") + 1);
    const i = short.lastIndexOf("-");
    if (i <= 0) return undefined;
    const ref = { team: short.substring(0, i), env: short.substring(i + 1) };
    return teamNameSchema.safeParse(ref.team).success && envNameSchema.safeParse(ref.env).success ? ref : undefined;
}

export function teamStacks(listing: StackListing[]): TeamStack[] {
    return listing.flatMap((s) => {
        const ref = parseStackName(s.name);
        return ref ? [{ ...s, name: s.name.substring(s.name.lastIndexOf("/") + 1), ...ref }] : [];
    }).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A new stack's team config, untrusted: plain JSON within TEAM_JSON_LIMITS, `team` (defaulted from the path)
 * and `environment` (if given) matching the stack, then the program's own schema. Returns the values to write.
 */
export function checkTeamConfig(ref: StackRef, body: unknown): { values: Record<string, unknown>; ops: ConfigOp[] } {
    checkUntrustedJson(body, "gitspace", TEAM_JSON_LIMITS);
    if (!isPlainObject(body)) {
        throw new ValidationError([{ path: "gitspace", message: "must be an object: the `gitspace:` values of the team (team, domain, images, developers, …)" }], "invalid request body");
    }
    const values: Record<string, unknown> = { ...body };
    if (values.team === undefined) values.team = ref.team;
    const problems = [];
    if (values.team !== ref.team) problems.push({ path: "gitspace:team", message: `must be "${ref.team}" (the stack is ${ref.team}-${ref.env})` });
    if (values.environment !== undefined && values.environment !== ref.env) {
        problems.push({ path: "gitspace:environment", message: `must be "${ref.env}" or absent (the stack is ${ref.team}-${ref.env})` });
    }
    if (problems.length) throw new ValidationError(problems);
    const raw: RawConfig = { values, unknownKeys: Object.keys(values).filter((k) => !(CONFIG_KEYS as string[]).includes(k)) };
    validate(raw, `${ref.team}-${ref.env}`);
    return { values, ops: teamConfigOps(values) };
}

/** The catalog over the Automation API: the program directory and backend of `automationDriverFactory`. */
export function automationCatalog(opts: AutomationOptions = {}, apply: (stackName: string, ops: ConfigOp[]) => Promise<void>): StackCatalog {
    const workDir = opts.workDir ?? REPO_DIR;
    const wsOpts = (): LocalWorkspaceOptions => {
        return {
            workDir,
            envVars: automationEnv(opts),
            ...(opts.pulumiCommand ? { pulumiCommand: opts.pulumiCommand } : {}),
        };
    };
    return {
        async list() {
            const ws = await LocalWorkspace.create(wsOpts());
            return (await withStateReadRetry(() => ws.listStacks({ all: false }))).map((s) => ({
                name: s.name, lastUpdate: s.lastUpdate, resourceCount: s.resourceCount, updateInProgress: s.updateInProgress,
            }));
        },
        async create(name, ops) {
            try {
                await withStateReadRetry(() => LocalWorkspace.createStack({ stackName: name, workDir }, wsOpts()));
            } catch (e) {
                if (e instanceof StackAlreadyExistsError || (e as Error).name === "StackAlreadyExistsError") throw new StackExistsError(name);
                throw e;
            }
            await apply(name, ops);
        },
    };
}
