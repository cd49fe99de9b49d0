/**
 * The engine side of the portal, behind a small interface (`StackDriver`) so the orchestration in
 * `GitspacePortal` runs the same against the Pulumi Automation API (`automationDriverFactory`) and against an
 * in-memory stack (`memory.ts`).
 */
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    CommandError, ConfigMap, EngineEvent, LocalWorkspace, LocalWorkspaceOptions, OutputMap, PulumiCommand, PulumiFn, Stack,
    StackNotFoundError as AutoStackNotFoundError,
} from "@pulumi/pulumi/automation";
import * as pulumi from "@pulumi/pulumi";
import * as lockfile from "proper-lockfile";
import { CONFIG_KEYS } from "../components/config";
import { gitspaceResourceName, teamQuotaResource } from "../components/team";
import { TYPE_TOKENS } from "../components/tokens";
import { StackBusyError, StackNotFoundError } from "./errors";
import { ConfigOp, RawConfig, rawConfigFromConfigMap } from "./mutations";
import { withStateReadRetry } from "./retry";

/** The type token of a developer's Gitspace component (defined once in components/tokens.ts). */
export const GITSPACE_COMPONENT_TYPE = TYPE_TOKENS.gitspace;

export interface EngineRunOptions {
    /** URNs (or globs) to target; with them, their dependents and children too. Undefined: the whole stack. */
    target?: string[];
    /** `--continue-on-error`: resources that do not depend on a failed one are still updated. */
    continueOnError?: boolean;
    onEngineEvent: (event: EngineEvent) => void;
    /**
     * With `target` set to exactly these developers' components (plus, in the shared layout, the shared namespace's
     * quota: nothing whose dependents reach other developers): the program may register these developers alone and
     * carry the others' `gitspaces` outputs (index.ts, components/team.ts PartialRun). Used by the inline program;
     * the language host runs the whole program.
     */
    partial?: { developers: string[] };
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
    /**
     * The URN of the shared namespace's ResourceQuota (layout `shared`): it covers every developer, so a targeted
     * run that adds, removes or resizes one updates it too. Nothing depends on it (unlike the Namespace itself).
     */
    teamQuotaUrn(): string;
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
    /**
     * Engine parallelism of updates (`--parallel`): how many resource operations run at once. Defaults to
     * DEFAULT_PARALLEL (64) rather than the CLI's (4 per CPU: 8 here): a batch of starts updates one Deployment per
     * developer and each waits for its pod to be Ready, so with 8 at a time 20 starts ran in three waves.
     */
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
    /**
     * Run the program in the portal's own process (Automation API inline program: the CLI calls back into this
     * process instead of starting the Node.js language host, which loads and compiles the program and its
     * dependencies on every run). Defaults to true unless `typeCheck` is set or `envVars` holds a variable the
     * program could read (anything but `PULUMI_*`): an inline program sees the portal's environment, not `envVars`.
     * Only for this repository's program (`isThisProgram`); any other program directory runs in the language host.
     * The program module is loaded once, so a changed program needs a portal restart.
     * Inline runs of one process are serialized (`inlineLock`).
     */
    inline?: boolean;
}

/** Whether engine runs use the inline program (see AutomationOptions.inline). */
export function usesInlineProgram(opts: AutomationOptions): boolean {
    if (opts.inline !== undefined) return opts.inline;
    return !opts.typeCheck && Object.keys(opts.envVars ?? {}).every((k) => k.startsWith("PULUMI_"));
}

/**
 * Whether a program directory's entry is this repository's program (index.ts, after symlinks): the one whose export
 * is `main(reader?, partial?)` and whose code is the portal's own. Any other program (another checkout, a test's
 * stand-in, a script-style program registering resources at load) runs in the CLI's language host.
 */
export function isThisProgram(workDir: string, main?: string): boolean {
    try {
        // Not require.resolve: it caches resolutions by path, and a program directory's files can change.
        let entry = path.resolve(workDir, main ?? ".");
        if (fs.statSync(entry).isDirectory()) entry = path.join(entry, "index.ts");
        return fs.realpathSync(entry) === fs.realpathSync(path.join(REPO_DIR, "index.ts"));
    } catch {
        return false;
    }
}

/** The program function a program directory exports (index.ts: `main(reader?, partial?)`). */
export type ProgramMain = (reader?: undefined, partial?: { developers: string[]; gitspaces: Record<string, unknown> }) => ReturnType<PulumiFn>;

/**
 * A program directory's entry for inline runs: the module Pulumi.yaml's `main` names (else the directory's package
 * `main`; here index.ts, whose export is the program function), required once into this process (the portal runs
 * under ts-node).
 */
export function inlineProgram(workDir: string, main?: string): () => ProgramMain {
    let fn: ProgramMain | undefined;
    return () => {
        if (!fn) {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const loaded = require(require.resolve(path.resolve(workDir, main ?? "."))) as unknown;
            const exported = typeof loaded === "function" ? loaded : (loaded as { default?: unknown })?.default;
            if (typeof exported !== "function") throw new Error(`the program ${workDir} does not export a function (export = main)`);
            fn = exported as ProgramMain;
        }
        return fn;
    };
}

/**
 * One inline engine run at a time in this process. The Automation API's language server keeps each run's SDK state
 * apart (AsyncLocalStorage), but installs process-wide uncaughtException/unhandledRejection handlers per run: an
 * unhandled error of one stack's program would fail every run in flight. Runs of one stack are serial anyway (the
 * stack's queue); this serializes runs of different stacks, which on a shared few-core machine cost CPU, not wall.
 */
let inlineTail: Promise<unknown> = Promise.resolve();
export function inlineLock<T>(run: () => Promise<T>): Promise<T> {
    const result = inlineTail.then(run, run);
    inlineTail = result.catch(() => undefined);
    return result;
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

/** See AutomationOptions.parallel. */
export const DEFAULT_PARALLEL = 64;

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
            stack = await withStateReadRetry(() => opts.createStacks
                ? LocalWorkspace.createOrSelectStack({ stackName, workDir }, wsOpts)
                : LocalWorkspace.selectStack({ stackName, workDir }, wsOpts));
        } catch (e) {
            if (e instanceof AutoStackNotFoundError) throw new StackNotFoundError(stackName);
            throw e;
        }
        const settings = await stack.workspace.projectSettings();
        const program = usesInlineProgram(opts) && isThisProgram(workDir, settings.main) ? programs(workDir, settings.main) : undefined;
        return new AutomationStackDriver(stack, settings.name, workDir, opts.parallel ?? DEFAULT_PARALLEL, opts.lock, program);
    };
}

const inlinePrograms = new Map<string, () => ProgramMain>();
/** One inline program per program directory, shared by its stacks (loaded once). */
const programs = (workDir: string, main?: string) => {
    const key = path.resolve(workDir, main ?? ".");
    let p = inlinePrograms.get(key);
    if (!p) inlinePrograms.set(key, (p = inlineProgram(workDir, main)));
    return p;
};

export class AutomationStackDriver implements StackDriver {
    constructor(
        readonly stack: Stack, readonly project: string, readonly workDir: string, readonly parallel?: number, readonly lockOptions: LockOptions = {},
        /** The inline program's entry, or undefined: the CLI's language host runs `workDir`. */
        readonly program?: () => ProgramMain,
    ) {
        this.leanStack();
    }

    /** Parsed config by the bytes it was read from, and the outputs and last deployed config by the state's token. */
    private readonly cache: {
        config?: { key: string; raw: RawConfig };
        outputs?: { token: string; outputs: OutputMap };
        /** From `stack history`, or (after this driver's own update) the key of the config files it ran with. */
        deployed?: { token: string; config: RawConfig | undefined } | { token: string; configKey: string };
    } = {};

    /**
     * `Stack.up` ends with `outputs()` (two CLI calls, masked and plain) and `info()` (`stack history`), `destroy`
     * with `info()`: each a CLI run that reads the whole state (3.6 MB for 50 developers). The driver reads outputs
     * with one call (`outputs()`) and takes the change summary from the engine's summary event (`summarize`), so
     * those are replaced on its own Stack object.
     */
    private leanStack() {
        Object.assign(this.stack, { outputs: () => this.outputsAfterRun(), info: async () => undefined });
    }

    /** The outputs an inline program returned in the run that just ended (set by `programOf`), taken once. */
    private programOutputs?: OutputMap;

    /**
     * Stack.up's read of the outputs after its run: what the inline program returned (the values the engine stored
     * as the stack's outputs, secrets unwrapped in this process), cached for the new state; else `outputs()`.
     */
    private async outputsAfterRun(): Promise<OutputMap> {
        const outputs = this.programOutputs;
        this.programOutputs = undefined;
        if (!outputs) return this.outputs();
        const token = this.stateToken();
        if (token !== undefined) this.cache.outputs = { token, outputs: structuredClone(outputs) };
        return outputs;
    }

    /** Runs an engine operation: inline ones one at a time in this process. */
    private engine<T>(run: () => Promise<T>): Promise<T> {
        return this.program ? inlineLock(run) : run();
    }

    /**
     * The inline program of one run (`partial` only with targets), or nothing (the language host). It keeps the
     * outputs it returns, once they are all known (an update's, not a preview's), for `outputsAfterRun`.
     */
    private programOf(opts: EngineRunOptions): { program?: PulumiFn } {
        const entry = this.program;
        if (!entry) return {};
        const partial = opts.target ? opts.partial : undefined;
        this.programOutputs = undefined;
        return {
            program: async () => {
                // The outputs to carry are read now, while this update holds the stack's lock: nobody changes them
                // until it ends (cached: no CLI call unless the state changed). None (never deployed): the whole
                // program, which is always right.
                const current = partial ? (await this.outputs()).gitspaces?.value : undefined;
                const carry = partial && current && typeof current === "object" && !Array.isArray(current)
                    ? { developers: partial.developers, gitspaces: current as Record<string, unknown> } : undefined;
                const result = await entry()(undefined, carry);
                if (result && typeof result === "object") {
                    pulumi.output(result as Record<string, unknown>).apply((values) => {
                        this.programOutputs = Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value, secret: true }]));
                    });
                }
                return result;
            },
        };
    }

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

    teamQuotaUrn(): string {
        const quota = teamQuotaResource();
        return this.urn(`${TYPE_TOKENS.teamNamespace}$${quota.type}`, quota.name);
    }

    private urn(type: string, name: string): string {
        const short = this.stackName.substring(this.stackName.lastIndexOf("/") + 1);
        return `urn:pulumi:${short}::${this.project}::${type}::${name}`;
    }

    /**
     * The stack's config (`pulumi config --json --show-secrets`), parsed once per content of the files it comes
     * from: `Pulumi.<stack>.yaml` and `Pulumi.yaml` (project config). Not cached when the stack file imports an ESC
     * environment (its values can change without the file). The CLI parses a private copy of exactly the bytes the
     * cache key is made of (`--config-file`): `pulumi config set` rewrites the stack file in place (truncate, then
     * write), so the file itself may hold other bytes, or none, by the time the CLI reads it.
     */
    async readConfig(): Promise<RawConfig> {
        const stackFile = await this.stackFileBytes();
        const key = this.configKeyOf(stackFile);
        if (key !== undefined && this.cache.config?.key === key) return structuredClone(this.cache.config.raw);
        const map = stackFile === undefined
            ? await withStateReadRetry(() => this.stack.getAllConfig())
            : await this.configOf(stackFile);
        const raw = rawConfigFromConfigMap(map, CONFIG_KEYS);
        if (key !== undefined) this.cache.config = { key, raw: structuredClone(raw) };
        return raw;
    }

    /**
     * The stack file's bytes (undefined: there is none). An empty file is one caught between the truncate and the
     * write of an in-place rewrite (a stack's file is never empty: it holds at least its encryption salt): it is read
     * again, every 50 ms for up to a second.
     */
    private async stackFileBytes(): Promise<Buffer | undefined> {
        const file = this.configFile();
        for (let attempt = 1; ; attempt++) {
            let bytes: Buffer;
            try {
                bytes = fs.readFileSync(file);
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
                throw e;
            }
            if (bytes.length > 0 || attempt >= 20) return bytes;
            await new Promise((r) => setTimeout(r, 50));
        }
    }

    /** `pulumi config --json --show-secrets` over a private copy (0600, removed after) of these stack file bytes. */
    private async configOf(stackFile: Buffer): Promise<ConfigMap> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-portal-config-"));
        try {
            const copy = path.join(dir, path.basename(this.configFile()));
            fs.writeFileSync(copy, stackFile, { mode: 0o600 });
            const result = await this.runCli(["config", "--show-secrets", "--json", "--stack", this.stackName, "--config-file", copy, "--non-interactive"]);
            return JSON.parse(result.stdout) as ConfigMap;
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    private configKey(): string | undefined {
        const file = this.configFile();
        return this.configKeyOf(fs.existsSync(file) ? fs.readFileSync(file) : undefined);
    }

    private configKeyOf(stackFile: Buffer | undefined): string | undefined {
        const bytes = stackFile ?? Buffer.alloc(0);
        if (/^environment:/m.test(bytes.toString("utf8"))) return undefined;
        const project = path.join(this.workDir, "Pulumi.yaml");
        return createHash("sha256").update(bytes).update("\0").update(fs.existsSync(project) ? fs.readFileSync(project) : Buffer.alloc(0)).digest("hex");
    }

    /**
     * A token that changes whenever the stack's state is written, when the backend is a local directory
     * (`file://`, the DIY backend writes `.pulumi/stacks/<project>/<stack>.json[.gz|.zst]` anew each time: inode,
     * size and mtime); undefined for other backends (nothing is cached then).
     */
    stateToken(): string | undefined {
        const url = this.ws.envVars.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL;
        if (!url?.startsWith("file://") || this.stackName.includes("/")) return undefined;
        const root = url.slice("file://".length).replace(/^~(?=\/|$)/, process.env.HOME ?? "~");
        for (const ext of [".json", ".json.gz", ".json.zst"]) {
            const file = path.join(root, ".pulumi", "stacks", this.project, `${this.stackName}${ext}`);
            try {
                const st = fs.statSync(file, { bigint: true });
                return `${file}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
            } catch {
                continue;
            }
        }
        return undefined;
    }

    async applyConfig(ops: ConfigOp[]): Promise<void> {
        // Consecutive ops of one kind go in one CLI call; strings the CLI would retype go one by one with --type.
        let i = 0;
        while (i < ops.length) {
            const op = ops[i];
            if (op.op === "remove") {
                const paths: string[] = [];
                while (i < ops.length && ops[i].op === "remove") paths.push(ops[i++].path);
                await withStateReadRetry(() => this.ws.removeAllConfig(this.stackName, paths, true));
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
            await withStateReadRetry(() => this.ws.setAllConfig(this.stackName, batch, true));
        }
    }

    private async runCli(args: string[]): Promise<{ stdout: string }> {
        const ws = this.ws;
        const env: Record<string, string> = { ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}), ...ws.envVars };
        // PulumiCommand.run is the Automation API's own entry to the CLI (marked internal): used only for what no
        // public method does: `config set --type string`, `config --config-file` and `stack output --show-secrets` alone.
        const run = (ws.pulumiCommand as unknown as {
            run(args: string[], cwd: string, env: Record<string, string>): Promise<{ stdout: string }>;
        }).run.bind(ws.pulumiCommand);
        return withStateReadRetry(() => run(args, ws.workDir, env));
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

    /** Puts the stack file back as it was: written beside it and renamed over it, so no reader sees it half-written. */
    async restoreConfig(snapshot: unknown): Promise<void> {
        const { file, content } = snapshot as { file: string; content?: Buffer };
        if (content === undefined) {
            fs.rmSync(file, { force: true });
            return;
        }
        const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
        let mode: number | undefined;
        try {
            mode = fs.statSync(file).mode & 0o7777;
        } catch {
            mode = undefined;
        }
        try {
            fs.writeFileSync(temp, content, { flag: "wx" });
            if (mode !== undefined) fs.chmodSync(temp, mode); // the file keeps its permissions (e.g. 0600)
            fs.renameSync(temp, file);
        } finally {
            fs.rmSync(temp, { force: true });
        }
    }

    /**
     * After a successful update: the config it ran with is the last deployed one, when the config files are what
     * they were when it started and were parsed by `readConfig` (as `stack history` would report it).
     */
    private noteDeployed(configKey: string | undefined) {
        const token = this.stateToken();
        if (token === undefined || configKey === undefined || this.configKey() !== configKey) return;
        this.cache.deployed = { token, configKey };
    }

    /** From the stack's history (`pulumi stack history`), once per state (`stateToken`). */
    async lastDeployedConfig(): Promise<RawConfig | undefined> {
        const token = this.stateToken();
        const deployed = this.cache.deployed;
        if (token !== undefined && deployed?.token === token) {
            if ("config" in deployed) return structuredClone(deployed.config);
            if (this.cache.config?.key === deployed.configKey) return structuredClone(this.cache.config.raw);
        }
        const history = await withStateReadRetry(() => this.stack.history(20, 1, true));
        const last = history.find((h) => h.kind === "update" && h.result === "succeeded");
        const config = last?.config ? rawConfigFromConfigMap(last.config, CONFIG_KEYS) : undefined;
        if (token !== undefined) this.cache.deployed = { token, config: structuredClone(config) };
        return config;
    }

    /**
     * The stack outputs, secrets in plain text (`pulumi stack output --json --show-secrets`: one CLI call where the
     * Automation API makes two), once per state (`stateToken`). Every output is flagged `secret`: a single call
     * cannot tell which ones are, and the portal decides what to show by field, not by this flag.
     */
    async outputs(): Promise<OutputMap> {
        const token = this.stateToken();
        if (token !== undefined && this.cache.outputs?.token === token) return structuredClone(this.cache.outputs.outputs);
        const result = await this.runCli(["stack", "output", "--json", "--show-secrets", "--stack", this.stackName, "--non-interactive"]);
        const outputs: OutputMap = {};
        for (const [key, value] of Object.entries(JSON.parse(result.stdout || "{}") as Record<string, unknown>)) outputs[key] = { value, secret: true };
        if (token !== undefined) this.cache.outputs = { token, outputs: structuredClone(outputs) };
        return outputs;
    }

    async up(opts: EngineRunOptions) {
        const { changes, onEvent } = summarize(opts.onEngineEvent);
        const configKey = this.configKey();
        const result = await this.engine(() => withStateReadRetry(() => this.stack.up({
            ...this.programOf(opts),
            ...(opts.target ? { target: opts.target, targetDependents: true } : {}),
            ...(opts.continueOnError ? { continueOnError: true } : {}),
            onEvent,
            color: "never",
            ...(this.parallel ? { parallel: this.parallel } : {}),
        })));
        this.noteDeployed(configKey);
        return { changes, outputs: result.outputs };
    }

    async destroy(opts: EngineRunOptions) {
        const { changes, onEvent } = summarize(opts.onEngineEvent);
        await withStateReadRetry(() => this.stack.destroy({ onEvent, color: "never", ...(opts.continueOnError ? { continueOnError: true } : {}) }));
        return { changes };
    }

    async removeStack() {
        await withStateReadRetry(() => this.ws.removeStack(this.stackName));
    }

    async preview(opts: EngineRunOptions) {
        const result = await this.engine(() => withStateReadRetry(() => this.stack.preview({
            ...this.programOf(opts),
            ...(opts.target ? { target: opts.target, targetDependents: true } : {}),
            onEvent: opts.onEngineEvent,
            color: "never",
        })));
        const changes: Record<string, number> = {};
        for (const [op, n] of Object.entries(result.changeSummary ?? {})) changes[op] = n as number;
        return { changes };
    }
}

/** The change counts of a run, from the engine's summary event (the driver's Stack does not read `stack history`). */
function summarize(onEngineEvent: (e: EngineEvent) => void): { changes: Record<string, number>; onEvent: (e: EngineEvent) => void } {
    const changes: Record<string, number> = {};
    return {
        changes,
        onEvent: (e) => {
            if (e.summaryEvent) for (const [op, n] of Object.entries(e.summaryEvent.resourceChanges ?? {})) changes[op] = n as number;
            onEngineEvent(e);
        },
    };
}

export const isCommandError = (e: unknown): e is CommandError =>
    e instanceof CommandError || (e instanceof Error && /Error$/.test(e.name) && "commandResult" in e);
