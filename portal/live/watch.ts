/**
 * Live status per developer, pushed as it changes: one pod informer (list + watch, @kubernetes/client-node) per
 * team stack that has subscribers — on the team's shared namespace (layout `shared`) or, per-developer namespaces,
 * cluster-wide with the label selector `gitspace.io/team=<team>` — the init container's log tail read (throttled)
 * while a pod initializes or after its init failed, and `deriveStatus` per developer. Subscribers get every
 * developer's status once, then each change.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { Gitspace, StackRef } from "../types";
import { deriveStatus, INIT_CONTAINER, LiveStatus } from "./status";

/** Where the pods come from: the cluster (`kubeLiveBackend`) or a test's fake. */
export interface LiveBackend {
    /** Starts watching pods; `onChange` after every add/update/delete (and re-list). */
    watchPods(scope: { namespace?: string; labelSelector: string }, onChange: () => void, onError: (e: unknown) => void): Promise<PodWatch>;
    /** The last lines of a container's log (at most 64 KiB), or undefined when it cannot be read. */
    logTail(namespace: string, pod: string, container: string): Promise<string | undefined>;
}

export interface PodWatch {
    pods(): readonly V1Pod[];
    stop(): Promise<void>;
}

/** The kubeconfig's cluster (KUBECONFIG, ~/.kube/config or the in-cluster service account). */
export async function kubeLiveBackend(kubeconfigFile?: string): Promise<LiveBackend> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    if (kubeconfigFile) kc.loadFromFile(kubeconfigFile); else kc.loadFromDefault();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    return {
        async watchPods({ namespace, labelSelector }, onChange, onError) {
            const path = namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : "/api/v1/pods";
            const list = () => namespace
                ? core.listNamespacedPod({ namespace, labelSelector })
                : core.listPodForAllNamespaces({ labelSelector });
            const informer = k8s.makeInformer<V1Pod>(kc, path, list, labelSelector);
            let stopped = false;
            let restart: NodeJS.Timeout | undefined;
            for (const verb of ["add", "update", "delete"] as const) informer.on(verb, () => onChange());
            informer.on("error", (e) => {
                // stop() aborts the open watch request, which the informer reports as an error: that one is ours.
                // Restarting then (start() clears the informer's own stopped flag) would open a new watch that
                // nobody stops, and keep the process alive.
                if (stopped) return;
                onError(e);
                // The informer stops on an error: start it again after a pause (it re-lists).
                restart = setTimeout(() => { if (!stopped) informer.start().catch(onError); }, 5000);
                restart.unref();
            });
            await informer.start();
            return {
                pods: () => informer.list(),
                stop: async () => {
                    stopped = true;
                    if (restart) clearTimeout(restart);
                    await informer.stop();
                },
            };
        },
        async logTail(namespace, pod, container) {
            try {
                return await core.readNamespacedPodLog({ name: pod, namespace, container, tailLines: 200, limitBytes: 64 << 10 });
            } catch {
                return undefined;
            }
        },
    };
}

export type StatusListener = (status: LiveStatus) => void;

/** How often the desired state (config + outputs: running, namespace, URL) is re-read while watched. */
export const DESIRED_REFRESH_MS = 30_000;
/** A pod's init log is read at most this often. */
export const LOG_INTERVAL_MS = 2_000;

/** The live status of one team stack while it has subscribers. */
export class StackLive {
    private readonly listeners = new Set<StatusListener>();
    private readonly last = new Map<string, string>();
    private readonly statuses = new Map<string, LiveStatus>();
    private readonly logs = new Map<string, { at: number; text?: string }>();
    private desired: Gitspace[] = [];
    private watch?: PodWatch;
    private timer?: NodeJS.Timeout;
    private pending = false;
    private running?: Promise<void>;
    stopped = false;

    constructor(
        readonly ref: StackRef,
        private readonly backend: LiveBackend,
        private readonly gitspaces: () => Promise<{ gitspaces: Gitspace[]; sharedNamespace?: string }>,
        private readonly onError: (e: unknown) => void = () => undefined,
    ) {}

    async start(): Promise<void> {
        const { gitspaces, sharedNamespace } = await this.gitspaces();
        this.desired = gitspaces;
        this.watch = await this.backend.watchPods(
            { ...(sharedNamespace ? { namespace: sharedNamespace } : {}), labelSelector: `gitspace.io/team=${this.ref.team}` },
            () => this.schedule(), this.onError);
        this.timer = setInterval(() => void this.refreshDesired(), DESIRED_REFRESH_MS);
        this.timer.unref();
        await this.recompute();
    }

    /** Re-reads the desired state now (after an operation changed it). */
    async refreshDesired(): Promise<void> {
        try {
            this.desired = (await this.gitspaces()).gitspaces;
            this.schedule();
        } catch (e) {
            this.onError(e);
        }
    }

    subscribe(listener: StatusListener): () => void {
        this.listeners.add(listener);
        for (const s of this.statuses.values()) listener(s);
        return () => { this.listeners.delete(listener); };
    }

    get subscribers(): number {
        return this.listeners.size;
    }

    snapshot(): LiveStatus[] {
        return [...this.statuses.values()];
    }

    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearInterval(this.timer);
        await this.watch?.stop().catch(() => undefined);
    }

    /** Coalesces bursts of watch events into one recomputation at a time. */
    private schedule() {
        if (this.stopped) return;
        if (this.running) { this.pending = true; return; }
        this.running = this.recompute().catch(this.onError).finally(() => {
            this.running = undefined;
            if (this.pending) { this.pending = false; this.schedule(); }
        });
    }

    private async recompute(): Promise<void> {
        const pods = this.watch?.pods() ?? [];
        const seen = new Set<string>();
        for (const g of this.desired) {
            seen.add(g.name);
            const mine = pods.filter((p) => p.metadata?.labels?.["gitspace.io/developer"] === g.name && (!g.namespace || p.metadata?.namespace === g.namespace));
            const first = deriveStatus({ developer: g.name, running: g.running, pods: mine, url: g.url, stoppedReason: g.stoppedReason });
            const needsLog = first.pod && (first.phase === "initializing" || first.reason === "init-failed");
            const status = needsLog
                ? deriveStatus({ developer: g.name, running: g.running, pods: mine, url: g.url, stoppedReason: g.stoppedReason, initLog: await this.initLog(mine, first.pod!) })
                : first;
            this.publish(status);
        }
        for (const name of [...this.statuses.keys()]) {
            if (!seen.has(name)) { this.statuses.delete(name); this.last.delete(name); }
        }
    }

    private async initLog(pods: readonly V1Pod[], podName: string): Promise<string | undefined> {
        const pod = pods.find((p) => p.metadata?.name === podName);
        const namespace = pod?.metadata?.namespace;
        if (!namespace) return undefined;
        const key = `${namespace}/${podName}`;
        const cached = this.logs.get(key);
        if (cached && Date.now() - cached.at < LOG_INTERVAL_MS) {
            // Read again once the interval is over, even if no pod event comes.
            setTimeout(() => this.schedule(), LOG_INTERVAL_MS).unref();
            return cached.text;
        }
        const text = await this.backend.logTail(namespace, podName, INIT_CONTAINER);
        this.logs.set(key, { at: Date.now(), text });
        if (this.logs.size > 1000) this.logs.delete(this.logs.keys().next().value!);
        return text;
    }

    private publish(status: LiveStatus) {
        const json = JSON.stringify(status);
        if (this.last.get(status.developer) === json) return;
        this.last.set(status.developer, json);
        this.statuses.set(status.developer, status);
        for (const l of this.listeners) {
            try { l(status); } catch { /* a listener's failure is its own */ }
        }
    }
}

/**
 * The live statuses of every watched stack: a stack's watch starts with its first subscriber and stops with its
 * last one.
 */
export class LiveHub {
    private readonly stacks = new Map<string, Promise<StackLive>>();

    constructor(
        private readonly backend: LiveBackend,
        private readonly gitspaces: (ref: StackRef) => Promise<{ gitspaces: Gitspace[]; sharedNamespace?: string }>,
        private readonly onError: (e: unknown) => void = () => undefined,
    ) {}

    async subscribe(ref: StackRef, listener: StatusListener): Promise<() => void> {
        const key = `${ref.team}-${ref.env}`;
        let entry = this.stacks.get(key);
        if (!entry) {
            const live = new StackLive(ref, this.backend, () => this.gitspaces(ref), this.onError);
            entry = live.start().then(() => live);
            this.stacks.set(key, entry);
            entry.catch(() => this.stacks.delete(key));
        }
        const live = await entry;
        const off = live.subscribe(listener);
        return () => {
            off();
            if (live.subscribers === 0 && this.stacks.get(key) === entry) {
                this.stacks.delete(key);
                void live.stop();
            }
        };
    }

    /** Tells a watched stack that its desired state changed (an operation finished). */
    changed(ref: StackRef): void {
        void this.stacks.get(`${ref.team}-${ref.env}`)?.then((l) => l.refreshDesired(), () => undefined);
    }

    async close(): Promise<void> {
        const all = [...this.stacks.values()];
        this.stacks.clear();
        await Promise.all(all.map((p) => p.then((l) => l.stop(), () => undefined)));
    }
}
