/**
 * An in-memory team stack (config + "deployed" state + outputs) behind the StackDriver interface, and
 * `createInMemoryPortal`: the GitspaceOperations implementation the HTTP tests, the web page test and
 * `npm run portal -- --demo` use. The "program" is the real `parseTeamConfig`; the "engine" updates one record
 * per developer component and emits engine-shaped events. Knobs simulate a busy stack, slow updates and failures.
 */
import { CommandError, ConcurrentUpdateError, EngineEvent, OutputMap } from "@pulumi/pulumi/automation";
import { ConfigError, CONFIG_KEYS, parseTeamConfig, TeamConfig } from "../components/config";
import { ideSpec } from "../components/catalog";
import { gitspaceUrl, identifier, namespaceName, teamNamespaceName } from "../components/names";
import { teamQuotaResource } from "../components/team";
import { TYPE_TOKENS } from "../components/tokens";
import type { V1Pod } from "@kubernetes/client-node";
import { EngineRunOptions, GITSPACE_COMPONENT_TYPE, StackDriver } from "./driver";
import type { LiveBackend } from "./live/watch";
import { StackNotFoundError } from "./errors";
import { StackExistsError } from "./stacks";
import { GitspacePortal, PortalOptions } from "./gitspaces";
import { applyOps, ConfigOp, RawConfig } from "./mutations";

export interface MemoryStackOptions {
    /** The next N engine runs fail with ConcurrentUpdateError (another process holds the stack). */
    busyRuns?: number;
    /** Once this many `up` runs succeeded, every later run fails with ConcurrentUpdateError (a lock taken mid-operation). */
    busyAfterUps?: number;
    /** Each engine run takes this long. */
    delayMs?: number;
    /** A developer whose Deployment fails to update, with this message. */
    failDeveloper?: { name: string; message: string };
}

// The Automation API's CommandResult (exported at runtime, not in the typings): the argument of its error classes.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CommandResult } = require("@pulumi/pulumi/automation/cmd") as {
    CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => ConstructorParameters<typeof CommandError>[0];
};

type Deployed = Record<string, { ide: string; running: boolean; entry: string }>;

export class MemoryStackDriver implements StackDriver {
    values: Record<string, unknown>;
    /** Config paths stored as secrets. */
    readonly secretPaths = new Set<string>();
    readonly runs: Array<{ kind: "up" | "preview" | "destroy"; target?: string[]; continueOnError?: boolean; partial?: string[] }> = [];
    private deployed?: { team: TeamConfig; devs: Deployed };
    private deployedValues?: Record<string, unknown>;
    private seq = 0;
    /** Successful `up` runs so far (the initial deploy included). */
    ups = 0;

    constructor(readonly stackName: string, values: Record<string, unknown>, public options: MemoryStackOptions = {}) {
        this.values = structuredClone(values);
    }

    teamQuotaUrn() {
        const quota = teamQuotaResource();
        return `urn:pulumi:${this.stackName}::gitspace::${TYPE_TOKENS.teamNamespace}$${quota.type}::${quota.name}`;
    }

    componentUrn(developer: string) {
        return `urn:pulumi:${this.stackName}::gitspace::${GITSPACE_COMPONENT_TYPE}::${developer}`;
    }

    async readConfig(): Promise<RawConfig> {
        const unknownKeys = Object.keys(this.values).filter((k) => !(CONFIG_KEYS as string[]).includes(k));
        return { values: structuredClone(this.values), unknownKeys };
    }

    async applyConfig(ops: ConfigOp[]) {
        this.values = applyOps(this.values, ops);
        for (const op of ops) if (op.op === "set" && op.secret) this.secretPaths.add(op.path);
    }

    async snapshotConfig() {
        return structuredClone(this.values);
    }

    async restoreConfig(snapshot: unknown) {
        this.values = structuredClone(snapshot as Record<string, unknown>);
    }

    async lastDeployedConfig(): Promise<RawConfig | undefined> {
        return this.deployedValues ? { values: structuredClone(this.deployedValues), unknownKeys: [] } : undefined;
    }

    async outputs(): Promise<OutputMap> {
        if (!this.deployed) return {};
        const { team, devs } = this.deployed;
        const gitspaces: Record<string, unknown> = {};
        for (const [name, d] of Object.entries(devs)) {
            const spec = ideSpec(d.ide as never);
            const scope = { team: team.team, environment: team.environment };
            const namespace = namespaceName(scope, name, team.namespaceLayout);
            const web = spec.access === "web";
            gitspaces[name] = {
                namespace,
                ide: d.ide,
                ...(web && team.router.mode !== "none" ? { url: gitspaceUrl(scope, team.domain, name) } : {}),
                image: `${team.images.registry}:${spec.flavor}-${team.images.tag}`,
                ...(web ? { password: `pw-${name}` } : { ssh: `ssh -p ${spec.port} vscode@${identifier(scope, name)}` }),
            };
        }
        const outputs: OutputMap = { gitspaces: { value: gitspaces, secret: true } };
        if (team.namespaceLayout === "shared") {
            outputs.namespace = { value: teamNamespaceName({ team: team.team, environment: team.environment }), secret: false };
        }
        return outputs;
    }

    private event(e: Partial<EngineEvent>): EngineEvent {
        return { sequence: this.seq++, timestamp: Math.floor(Date.now() / 1000), ...e } as EngineEvent;
    }

    private async run(kind: "up" | "preview", opts: EngineRunOptions) {
        this.runs.push({
            kind, ...(opts.target ? { target: opts.target } : {}), ...(opts.continueOnError ? { continueOnError: true } : {}),
            ...(opts.partial ? { partial: opts.partial.developers } : {}),
        });
        if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
        const lockedNow = this.options.busyAfterUps !== undefined && this.ups >= this.options.busyAfterUps;
        if ((this.options.busyRuns ?? 0) > 0 || lockedNow) {
            if (!lockedNow) this.options.busyRuns!--;
            throw new ConcurrentUpdateError(new CommandResult("", `error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.`, 255));
        }
        let team: TeamConfig;
        try {
            team = parseTeamConfig(this.values, Object.keys(this.values).filter((k) => !(CONFIG_KEYS as string[]).includes(k)), { stack: this.stackName });
        } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            opts.onEngineEvent(this.event({ diagnosticEvent: { message: e.message, color: "never", severity: "error" } }));
            throw new CommandError(new CommandResult("", e.message, 255));
        }
        const previous = this.deployed?.devs ?? {};
        const next: Deployed = {};
        const changes: Record<string, number> = {};
        const count = (op: string) => { changes[op] = (changes[op] ?? 0) + 1; };
        const targeted = (name: string) => !opts.target || opts.target.includes(this.componentUrn(name));

        let failed: string | undefined;
        for (const dev of team.developers) {
            const entry = JSON.stringify(dev);
            const old = previous[dev.name];
            if (!targeted(dev.name) && !old && this.retainedHomes.includes(dev.name)) {
                // What the real engine does (tests/portal/adoption.e2e.ts): the program imports the kept home even
                // outside --target while the developer's component is a skipped create; the state is left invalid.
                const nsUrn = `${this.componentUrn(dev.name)}$kubernetes:core/v1:Namespace::${dev.name}-namespace`;
                const message = `post-step event returned an error: failed to save snapshot: snapshot integrity failure: child resource ${nsUrn} refers to missing parent ${this.componentUrn(dev.name)}`;
                opts.onEngineEvent(this.event({ diagnosticEvent: { urn: nsUrn, message, color: "never", severity: "error" } }));
                throw new CommandError(new CommandResult("", `error: ${message}`, 255));
            }
            // Without --continue-on-error the engine stops at the first failure: later developers keep their state.
            if (!targeted(dev.name) || (failed && !opts.continueOnError)) {
                if (old) next[dev.name] = old;
                continue;
            }
            const op = !old ? "create" : old.entry === entry ? "same" : "update";
            const urn = this.componentUrn(dev.name);
            const metadata = { op, urn, type: GITSPACE_COMPONENT_TYPE, provider: "" } as never;
            opts.onEngineEvent(this.event({ resourcePreEvent: { metadata } }));
            if (kind === "up" && this.options.failDeveloper?.name === dev.name && op !== "same") {
                const depUrn = `urn:pulumi:${this.stackName}::gitspace::${GITSPACE_COMPONENT_TYPE}$kubernetes:apps/v1:Deployment::${dev.name}-deployment`;
                opts.onEngineEvent(this.event({ diagnosticEvent: { urn: depUrn, message: this.options.failDeveloper.message, color: "never", severity: "error" } }));
                opts.onEngineEvent(this.event({ resOpFailedEvent: { metadata: { op, urn: depUrn, type: "kubernetes:apps/v1:Deployment", provider: "" }, status: 1, steps: 1 } as never }));
                failed = dev.name;
                if (old) next[dev.name] = old;
                continue;
            }
            count(op);
            opts.onEngineEvent(this.event({ resOutputsEvent: { metadata } }));
            next[dev.name] = { ide: dev.ide, running: dev.running, entry };
            // A kept home is adopted (imported) by the developer's create.
            if (kind === "up" && op === "create" && this.retainedHomes.includes(dev.name)) {
                this.retainedHomes.splice(this.retainedHomes.indexOf(dev.name), 1);
                this.adoptedHomes.push(dev.name);
            }
        }
        for (const name of Object.keys(previous)) {
            if (next[name] || team.developers.some((d) => d.name === name)) continue;
            if (!targeted(name)) { next[name] = previous[name]; continue; }
            const metadata = { op: "delete", urn: this.componentUrn(name), type: GITSPACE_COMPONENT_TYPE, provider: "" } as never;
            opts.onEngineEvent(this.event({ resourcePreEvent: { metadata } }));
            opts.onEngineEvent(this.event({ resOutputsEvent: { metadata } }));
            count("delete");
            if (kind === "up" && JSON.parse(previous[name].entry).retainHome !== false) this.retainedHomes.push(name);
        }
        opts.onEngineEvent(this.event({ summaryEvent: { maybeCorrupt: false, durationSeconds: 0, resourceChanges: changes, policyPacks: {} } as never }));
        if (kind === "up") this.deployed = { team, devs: next };
        if (kind === "up" && !failed) this.ups++;
        if (kind === "up" && !failed) this.deployedValues = structuredClone(this.values);
        if (failed) throw new CommandError(new CommandResult("", "error: update failed", 255));
        return changes;
    }

    /** Called after each `up` (the live mirror). */
    afterUp?: () => void;

    async up(opts: EngineRunOptions) {
        const changes = await this.run("up", opts).finally(() => this.afterUp?.());
        return { changes, outputs: await this.outputs() };
    }

    async preview(opts: EngineRunOptions) {
        return { changes: await this.run("preview", opts) };
    }

    /** Removed by `removeStack` (the in-memory catalog forgets it). */
    onRemove?: () => void;

    async destroy(opts: EngineRunOptions) {
        this.runs.push({ kind: "destroy" });
        if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
        const changes: Record<string, number> = {};
        for (const name of Object.keys(this.deployed?.devs ?? {})) {
            const metadata = { op: "delete", urn: this.componentUrn(name), type: GITSPACE_COMPONENT_TYPE, provider: "" } as never;
            opts.onEngineEvent(this.event({ resourcePreEvent: { metadata } }));
            opts.onEngineEvent(this.event({ resOutputsEvent: { metadata } }));
            changes.delete = (changes.delete ?? 0) + 1;
            // What a real destroy leaves in the cluster: the homes of developers that keep them.
            if (this.deployed!.devs[name] && JSON.parse(this.deployed!.devs[name].entry).retainHome !== false) this.retainedHomes.push(name);
        }
        opts.onEngineEvent(this.event({ summaryEvent: { maybeCorrupt: false, durationSeconds: 0, resourceChanges: changes, policyPacks: {} } as never }));
        this.deployed = undefined;
        this.deployedValues = undefined;
        return { changes };
    }

    /** Deployed components (for the catalog's listing). */
    resourceCount(): number {
        return Object.keys(this.deployed?.devs ?? {}).length;
    }

    /** Homes a destroy or a developer's removal left behind (retainOnDelete). */
    readonly retainedHomes: string[] = [];
    /** Kept homes a later update adopted (the developer came back). */
    readonly adoptedHomes: string[] = [];

    async removeStack() {
        if (this.deployed) throw new Error(`stack ${this.stackName} still has resources`);
        this.onRemove?.();
    }
}

/**
 * Pods for live status without a cluster (tests, `--demo`): set them by hand (`setPods`, `setLog`), or mirror a
 * memory stack (`mirror`): a running deployed developer gets a ready pod, a stopped one none.
 */
export class MemoryLiveBackend implements LiveBackend {
    private pods: V1Pod[] = [];
    private readonly logs = new Map<string, string>();
    private readonly watchers = new Set<() => void>();
    readonly scopes: Array<{ namespace?: string; labelSelector: string }> = [];
    logReads = 0;

    setPods(pods: V1Pod[]) {
        this.pods = pods;
        for (const w of this.watchers) w();
    }

    setLog(namespace: string, pod: string, text: string) {
        this.logs.set(`${namespace}/${pod}`, text);
    }

    /** Keeps the pods in step with a memory stack's deployed developers (after each update). */
    mirror(stack: MemoryStackDriver) {
        const sync = async () => {
            const outputs = await stack.outputs();
            const gitspaces = (outputs.gitspaces?.value ?? {}) as Record<string, { namespace: string }>;
            const running = new Set(((stack.values.developers ?? []) as Array<{ name: string; running?: boolean }>).filter((d) => d.running !== false).map((d) => d.name));
            this.setPods(Object.entries(gitspaces).filter(([name]) => running.has(name)).map(([name, g]) => readyPod(name, g.namespace)));
        };
        stack.afterUp = () => void sync();
        void sync();
    }

    async watchPods(scope: { namespace?: string; labelSelector: string }, onChange: () => void) {
        this.scopes.push(scope);
        this.watchers.add(onChange);
        const team = /^gitspace\.io\/team=(.+)$/.exec(scope.labelSelector)?.[1];
        return {
            pods: () => this.pods.filter((p) => (!scope.namespace || p.metadata?.namespace === scope.namespace) && p.metadata?.labels?.["gitspace.io/team"] === team),
            stop: async () => { this.watchers.delete(onChange); },
        };
    }

    async logTail(namespace: string, pod: string) {
        this.logReads++;
        return this.logs.get(`${namespace}/${pod}`);
    }
}

/** A ready gitspace pod (the shape the API server returns). */
export function readyPod(developer: string, namespace: string, team = namespace.split("--")[1] ?? ""): V1Pod {
    const t = new Date(Date.now() - 60_000).toISOString();
    return {
        metadata: { name: `${developer}-demo`, namespace, creationTimestamp: t as never, labels: { "gitspace.io/team": team, "gitspace.io/developer": developer, app: "gitspace" } },
        status: {
            phase: "Running",
            conditions: [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "True", lastTransitionTime: t as never }],
            initContainerStatuses: [{ name: "gitspace-init", ready: true, restartCount: 0, image: "", imageID: "", state: { terminated: { exitCode: 0, reason: "Completed" } } }],
            containerStatuses: [{ name: "ide", ready: true, restartCount: 0, image: "", imageID: "", state: { running: { startedAt: t as never } } }],
        },
    } as V1Pod;
}

/** A valid example team config (`gitspace:` values) for team `team`. */
export function exampleTeamValues(team: string, developers: unknown[]): Record<string, unknown> {
    return {
        team,
        domain: "gitspace.localtest.me",
        images: { registry: "127.0.0.1:5000/gitspace-runtime", tag: "dev", platforms: ["linux/amd64"], build: false },
        developers,
    };
}

export interface InMemoryPortal {
    portal: GitspacePortal;
    /** The stacks by name (`<team>-<env>`); add more with `addStack`. */
    stacks: Map<string, MemoryStackDriver>;
    addStack(name: string, values: Record<string, unknown>, opts?: MemoryStackOptions & { deploy?: boolean }): Promise<MemoryStackDriver>;
}

/** An in-memory GitspaceOperations: real orchestration (queue, retry, mutations, validation), fake engine. */
export function createInMemoryPortal(opts: Omit<PortalOptions, "driver"> = {}): InMemoryPortal {
    const stacks = new Map<string, MemoryStackDriver>();
    const addStack = async (name: string, values: Record<string, unknown>, o: MemoryStackOptions & { deploy?: boolean } = {}) => {
        const driver = new MemoryStackDriver(name, values, o);
        driver.onRemove = () => { if (stacks.get(name) === driver) stacks.delete(name); };
        stacks.set(name, driver);
        if (o.deploy !== false) await driver.up({ onEngineEvent: () => undefined });
        return driver;
    };
    const portal = new GitspacePortal({
        retry: { attempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
        catalog: {
            list: async () => [...stacks.values()].map((s) => ({ name: s.stackName, resourceCount: s.resourceCount(), updateInProgress: false })),
            create: async (name, ops) => {
                if (stacks.has(name)) throw new StackExistsError(name);
                await (await addStack(name, {}, { deploy: false })).applyConfig(ops);
            },
        },
        ...opts,
        driver: async (name) => {
            const s = stacks.get(name);
            if (!s) throw new StackNotFoundError(name);
            return s;
        },
    });
    return { portal, stacks, addStack };
}
