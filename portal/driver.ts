/**
 * The engine side of the portal, behind a small interface (`StackDriver`) so the orchestration in
 * `GitspacePortal` runs the same against the Pulumi Automation API (`automationDriverFactory`) and against an
 * in-memory stack (`memory.ts`).
 */
import * as fs from "fs";
import * as path from "path";
import {
    CommandError, ConfigMap, EngineEvent, LocalWorkspace, LocalWorkspaceOptions, OutputMap, PulumiCommand, Stack,
    StackNotFoundError as AutoStackNotFoundError,
} from "@pulumi/pulumi/automation";
import * as lockfile from "proper-lockfile";
import { CONFIG_KEYS } from "../components/config";
import { TEAM_NAMESPACE_RESOURCE_NAME, gitspaceResourceName } from "../components/team";
import { TYPE_TOKENS } from "../components/tokens";
import { StackBusyError, StackNotFoundError } from "./errors";
import { ConfigOp, RawConfig, rawConfigFromConfigMap } from "./mutations";

/** The type token of a developer's Gitspace component (defined once in components/tokens.ts). */
export const GITSPACE_COMPONENT_TYPE = TYPE_TOKENS.gitspace;

export interface EngineRunOptions {
    /** URNs (or globs) to target; with them, their dependents and children too. Undefined: the whole stack. */
    target?: string[];
    /** `--continue-on-error`: resources that do not depend on a failed one are still updated. */
    continueOnError?: boolean;
    onEngineEvent: (event: EngineEvent) => void;
}

export interface StackDriver {
    readonly stackName: string;
    readConfig(): Promise<RawConfig>;
    /** Applies path-based config ops in order (`pulumi config set/rm --path`, secrets with `--secret`). */
    applyConfig(ops: ConfigOp[]): Promise<void>;
    /** An opaque copy of the stack's config (encrypted as stored) to restore after a preview or a busy stack. */
    snapshotConfig(): Promise<unknown>;
    restoreConfig(snapshot: unknown): Promise<void>;
    /**
     * The `gitspace:` config the last successful update ran with (undefined before the first one): a targeted
     * update is safe only while the team-level keys are still what was deployed.
     */
    lastDeployedConfig(): Promise<RawConfig | undefined>;
    /** Stack outputs, secrets decrypted (`{}` before the first update). */
    outputs(): Promise<OutputMap>;
    up(opts: EngineRunOptions): Promise<{ changes: Record<string, number>; outputs: OutputMap }>;
    preview(opts: EngineRunOptions): Promise<{ changes: Record<string, number> }>;
    /** `pulumi destroy`: resources with `retainOnDelete` (kept homes) stay in the cluster. */
    destroy(opts: EngineRunOptions): Promise<{ changes: Record<string, number> }>;
    /** `pulumi stack rm` (its config file too); the stack must be empty. */
    removeStack(): Promise<void>;
    /**
     * Takes the stack's cross-process lock (other portal processes sharing the program directory wait for it) and
     * returns its release. Optional: an engine of one process needs none.
     */
    lock?(): Promise<() => Promise<void>>;
    /** URN of a developer's Gitspace component. */
    componentUrn(developer: string): string;
    /** The URN of the team stack's shared namespace component (layout `shared`): its quota covers every developer. */
    teamNamespaceUrn(): string;
}

export type StackDriverFactory = (stackName: string) => Promise<StackDriver>;

export interface AutomationOptions {
    /** The Pulumi program: this repository by default. Stack config files (`Pulumi.<stack>.yaml`) live here. */
    workDir?: string;
    /** `file:///…`, `s3://…`, `https://api.pulumi.com`, …; default: PULUMI_BACKEND_URL or the CLI's login. */
    backendUrl?: string;
    /** Extra environment for the CLI (PULUMI_CONFIG_PASSPHRASE(_FILE) is read from the process environment). */
    envVars?: Record<string, string>;
    pulumiCommand?: PulumiCommand;
    /** Create a missing stack instead of reporting StackNotFoundError. Default false. */
    createStacks?: boolean;
    /** Engine parallelism. */
    parallel?: number;
    /** The cross-process stack lock (`StackDriver.lock`). */
    lock?: LockOptions;
    /**
     * Type-check the program on every engine run (the language host's ts-node default). Defaults to false: the
     * portal runs a program that `npm test` (tsc) already checked, and checking it again costs about 11 s per run
     * of a 50-developer team here (`tests/portal/transpile.bench.ts`). Sets PULUMI_NODEJS_TRANSPILE_ONLY=true
     * unless `envVars` sets it.
     */
    typeCheck?: boolean;
}

/** The environment of the portal's CLI runs: the backend, transpile-only unless asked to type-check, the caller's. */
export function automationEnv(opts: AutomationOptions): Record<string, string> {
    const backendUrl = opts.backendUrl ?? process.env.PULUMI_BACKEND_URL;
    return {
        ...(backendUrl ? { PULUMI_BACKEND_URL: backendUrl } : {}),
        ...(opts.typeCheck ? {} : { PULUMI_NODEJS_TRANSPILE_ONLY: "true" }),
        ...opts.envVars,
    };
}

export interface LockOptions {
    /** How long a request waits for another portal process's lock before it fails with 409 `stack_busy`. Default 600 s. */
    waitMs?: number;
    /** A lock whose holder stopped refreshing it this long ago (a crashed process) is taken over. Default 30 s. */
    staleMs?: number;
    /** Told when a held lock was lost (its file removed or refreshed by someone else); the update in flight goes on. */
    onCompromised?: (error: Error) => void;
}

export const DEFAULT_LOCK: Required<Omit<LockOptions, "onCompromised">> = { waitMs: 600_000, staleMs: 30_000 };

/**
 * The cross-process lock of a stack's config file: a directory `<config file>.portal-lock` made with `mkdir`
 * (atomic on local file systems and NFS) by proper-lockfile, refreshed every staleMs/3 while held, taken over when
 * its holder stopped refreshing it (a crashed process). Every portal process that shares the program directory
 * (`workDir`, where `Pulumi.<stack>.yaml` lives) serialises its read-change-update-restore turns on it.
 */
export async function lockConfigFile(configFile: string, opts: LockOptions = {}, stack = path.basename(configFile)): Promise<() => Promise<void>> {
    const o = { ...DEFAULT_LOCK, ...opts };
    const deadline = Date.now() + o.waitMs;
    let attempt = 0;
    for (;;) {
        try {
            return await lockfile.lock(configFile, {
                realpath: false, lockfilePath: `${configFile}.portal-lock`, stale: o.staleMs, update: Math.max(1000, Math.floor(o.staleMs / 3)),
                onCompromised: (e) => opts.onCompromised?.(e),
            });
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
            attempt++;
            const left = deadline - Date.now();
            if (left <= 0) throw new StackBusyError(stack, attempt, e);
            // 100 ms, doubling to 2 s, ±25 %: a waiting process notices the release quickly without spinning.
            const delay = Math.min(left, Math.min(2000, 100 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() / 2));
            await new Promise((r) => setTimeout(r, delay));
        }
    }
}

export const REPO_DIR = path.resolve(__dirname, "..");

/** Strings that `pulumi config set --path` would turn into a bool or a number unless told `--type string`. */
export const needsStringType = (v: string) => /^(true|false)$/.test(v) || /^[-+]?[0-9]+$/.test(v);

export function automationDriverFactory(opts: AutomationOptions = {}): StackDriverFactory {
    const workDir = opts.workDir ?? REPO_DIR;
    return async (stackName: string) => {
        const wsOpts: LocalWorkspaceOptions = {
            workDir,
            envVars: automationEnv(opts),
            ...(opts.pulumiCommand ? { pulumiCommand: opts.pulumiCommand } : {}),
        };
        let stack: Stack;
        try {
            stack = opts.createStacks
                ? await LocalWorkspace.createOrSelectStack({ stackName, workDir }, wsOpts)
                : await LocalWorkspace.selectStack({ stackName, workDir }, wsOpts);
        } catch (e) {
            if (e instanceof AutoStackNotFoundError) throw new StackNotFoundError(stackName);
            throw e;
        }
        const project = (await stack.workspace.projectSettings()).name;
        return new AutomationStackDriver(stack, project, workDir, opts.parallel, opts.lock);
    };
}

export class AutomationStackDriver implements StackDriver {
    constructor(readonly stack: Stack, readonly project: string, readonly workDir: string, readonly parallel?: number, readonly lockOptions: LockOptions = {}) {}

    lock(): Promise<() => Promise<void>> {
        return lockConfigFile(this.configFile(), this.lockOptions, this.stackName);
    }

    get stackName() {
        return this.stack.name;
    }

    private get ws(): LocalWorkspace {
        return this.stack.workspace as LocalWorkspace;
    }

    componentUrn(developer: string): string {
        return this.urn(GITSPACE_COMPONENT_TYPE, gitspaceResourceName(developer));
    }

    teamNamespaceUrn(): string {
        return this.urn(TYPE_TOKENS.teamNamespace, TEAM_NAMESPACE_RESOURCE_NAME);
    }

    private urn(type: string, name: string): string {
        const short = this.stackName.substring(this.stackName.lastIndexOf("/") + 1);
        return `urn:pulumi:${short}::${this.project}::${type}::${name}`;
    }

    async readConfig(): Promise<RawConfig> {
        return rawConfigFromConfigMap(await this.stack.getAllConfig(), CONFIG_KEYS);
    }

    async applyConfig(ops: ConfigOp[]): Promise<void> {
        // Consecutive ops of one kind go in one CLI call; strings the CLI would retype go one by one with --type.
        let i = 0;
        while (i < ops.length) {
            const op = ops[i];
            if (op.op === "remove") {
                const paths: string[] = [];
                while (i < ops.length && ops[i].op === "remove") paths.push(ops[i++].path);
                await this.ws.removeAllConfig(this.stackName, paths, true);
                continue;
            }
            if (typeof op.value === "string" && needsStringType(op.value) && !op.secret) {
                // `--type` excludes `--secret`/`--plaintext`; a secret is stored encrypted as a string anyway.
                await this.runCli(["config", "set", "--path", op.path, "--type", "string",
                    "--stack", this.stackName, "--non-interactive", "--", op.value]);
                i++;
                continue;
            }
            const batch: ConfigMap = {};
            while (i < ops.length) {
                const o = ops[i];
                if (o.op !== "set" || (typeof o.value === "string" && needsStringType(o.value) && !o.secret) || o.path in batch) break;
                batch[o.path] = { value: String(o.value), secret: o.secret };
                i++;
            }
            await this.ws.setAllConfig(this.stackName, batch, true);
        }
    }

    private async runCli(args: string[]) {
        const ws = this.ws;
        const env: Record<string, string> = { ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}), ...ws.envVars };
        // PulumiCommand.run is the Automation API's own entry to the CLI (marked internal): used only for
        // `config set --type string`, which no public method exposes.
        const run = (ws.pulumiCommand as unknown as {
            run(args: string[], cwd: string, env: Record<string, string>): Promise<unknown>;
        }).run.bind(ws.pulumiCommand);
        await run(args, ws.workDir, env);
    }

    private configFile(): string {
        const short = this.stackName.substring(this.stackName.lastIndexOf("/") + 1);
        for (const ext of ["yaml", "yml", "json"]) {
            const file = path.join(this.workDir, `Pulumi.${short}.${ext}`);
            if (fs.existsSync(file)) return file;
        }
        return path.join(this.workDir, `Pulumi.${short}.yaml`);
    }

    async snapshotConfig(): Promise<unknown> {
        const file = this.configFile();
        return { file, content: fs.existsSync(file) ? fs.readFileSync(file) : undefined };
    }

    async restoreConfig(snapshot: unknown): Promise<void> {
        const { file, content } = snapshot as { file: string; content?: Buffer };
        if (content === undefined) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, content);
    }

    async lastDeployedConfig(): Promise<RawConfig | undefined> {
        const history = await this.stack.history(20, 1, true);
        const last = history.find((h) => h.kind === "update" && h.result === "succeeded");
        return last?.config ? rawConfigFromConfigMap(last.config, CONFIG_KEYS) : undefined;
    }

    async outputs(): Promise<OutputMap> {
        return this.stack.outputs();
    }

    async up(opts: EngineRunOptions) {
        const result = await this.stack.up({
            ...(opts.target ? { target: opts.target, targetDependents: true } : {}),
            ...(opts.continueOnError ? { continueOnError: true } : {}),
            onEvent: opts.onEngineEvent,
            color: "never",
            ...(this.parallel ? { parallel: this.parallel } : {}),
        });
        const changes: Record<string, number> = {};
        for (const [op, n] of Object.entries(result.summary.resourceChanges ?? {})) changes[op] = n as number;
        return { changes, outputs: result.outputs };
    }

    async destroy(opts: EngineRunOptions) {
        const result = await this.stack.destroy({ onEvent: opts.onEngineEvent, color: "never", ...(opts.continueOnError ? { continueOnError: true } : {}) });
        const changes: Record<string, number> = {};
        for (const [op, n] of Object.entries(result.summary.resourceChanges ?? {})) changes[op] = n as number;
        return { changes };
    }

    async removeStack() {
        await this.ws.removeStack(this.stackName);
    }

    async preview(opts: EngineRunOptions) {
        const result = await this.stack.preview({
            ...(opts.target ? { target: opts.target, targetDependents: true } : {}),
            onEvent: opts.onEngineEvent,
            color: "never",
        });
        const changes: Record<string, number> = {};
        for (const [op, n] of Object.entries(result.changeSummary ?? {})) changes[op] = n as number;
        return { changes };
    }
}

export const isCommandError = (e: unknown): e is CommandError =>
    e instanceof CommandError || (e instanceof Error && /Error$/.test(e.name) && "commandResult" in e);
