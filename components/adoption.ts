/**
 * Re-adding a developer whose home was kept (`retainHome`): the Namespace and home PVC left in the cluster when the
 * developer was removed (or the stack destroyed) are adopted back with the `import` resource option, instead of
 * failing with AlreadyExists (pulumi-kubernetes >= 4.29 creates with a client-side create and no longer upserts).
 *
 * Why `import` and not the provider's `upsertExistingObjects`: an upsert takes over ANY object of that name; an
 * import is decided here, per object, only after the live object's labels prove it is this stack's: the gitspace
 * team, environment and (for a developer's objects) developer labels must all match. Anything else with that name
 * is never touched: the program stops with a message naming the object and the label that differs.
 * The engine ignores `import` for a resource already in the stack's state (same ID), so the option is harmless on
 * every later `up`; it matters only on the run that re-adds the developer. When the program's inputs differ from the
 * kept object (e.g. the developer comes back with another IDE, a label), the engine imports then updates
 * (pulumi/pulumi#16397; older engines refused such an import).
 *
 * The PVC's spec is immutable but for its storage request: the fields Kubernetes never lets change are in
 * `ignoreChanges` (HOME_CLAIM_IMMUTABLE), so neither an import nor a later config edit can turn into a replacement
 * (a new, empty home). A kept claim is never asked for less storage than it has (shrinking is refused by Kubernetes).
 *
 * The lookup is read-only (GET of one Namespace and one PVC per developer) with the same kubeconfig and context as
 * the default Kubernetes provider (`kubernetes:kubeconfig`, `kubernetes:context`, else KUBECONFIG / ~/.kube/config).
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { gitspaceLabels, teamLabels } from "./builders";
import { TeamConfig, quantityValue } from "./config";
import { NameScope, developerNamespaceName, objectNames, teamNamespaceName } from "./names";

/** What the lookup needs of a live object. */
export interface LiveObject {
    labels: Record<string, string>;
    /** The object has a deletionTimestamp (being deleted). */
    deleting: boolean;
    /** PVC only: `spec.resources.requests.storage`. */
    storage?: string;
}

/** Read-only access to the cluster: undefined when the object does not exist. */
export interface ClusterReader {
    namespace(name: string): Promise<LiveObject | undefined>;
    claim(namespace: string, name: string): Promise<LiveObject | undefined>;
}

/** How a developer's kept objects are adopted. Empty when nothing of theirs is in the cluster. */
export interface HomeAdoption {
    /** Import ID of the developer's own Namespace (layout per-developer). */
    namespace?: string;
    /** Import ID (`<namespace>/<name>`) of the home PVC. */
    claim?: string;
    /** The storage request to declare: the kept claim's when it is larger than the config's. */
    storage?: string;
}

export interface AdoptionPlan {
    /** Import ID of the team stack's shared namespace (layout shared). */
    teamNamespace?: string;
    developers: Record<string, HomeAdoption>;
}

export const NO_ADOPTION: AdoptionPlan = { developers: {} };

/** PVC spec fields Kubernetes never lets change: a change could only mean a replacement, i.e. a new empty home. */
export const HOME_CLAIM_IMMUTABLE = ["spec.accessModes", "spec.storageClassName", "spec.volumeName", "spec.volumeMode", "spec.selector"];

/** The labels that say whose an object is. */
const OWNER_LABELS = ["gitspace.io/team", "gitspace.io/environment", "gitspace.io/developer"] as const;

export class AdoptionError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "AdoptionError";
    }
}

/**
 * The import ID for a live object when it is ours, undefined when there is none; throws AdoptionError when it exists
 * but belongs to something else or is being deleted. `expected` are the labels the program gives the object.
 */
export function adoptionId(what: string, id: string, live: LiveObject | undefined, expected: Record<string, string>): string | undefined {
    if (live === undefined) return undefined;
    for (const key of OWNER_LABELS) {
        if (!(key in expected)) continue;
        const actual = live.labels[key];
        if (actual !== expected[key]) {
            throw new AdoptionError(`${what} ${id} already exists and is not this stack's (label ${key} is ` +
                `${actual === undefined ? "missing" : JSON.stringify(actual)}, expected ${JSON.stringify(expected[key])}): ` +
                `refusing to adopt it; rename or remove it, or choose another developer name`);
        }
    }
    if (live.deleting) throw new AdoptionError(`${what} ${id} is being deleted; run again once it is gone`);
    return id;
}

/** The storage to declare for a kept claim: never less than it has. */
export function keptStorage(configured: string, live: LiveObject | undefined): string | undefined {
    if (live?.storage === undefined) return undefined;
    try {
        return quantityValue(live.storage) > quantityValue(configured) ? live.storage : undefined;
    } catch {
        return undefined;
    }
}

/** Looks up every object the config would create and that may have been kept; pure but for the reader. */
export async function planAdoption(config: TeamConfig, reader: ClusterReader): Promise<AdoptionPlan> {
    const scope: NameScope = { team: config.team, environment: config.environment };
    const shared = config.namespaceLayout === "shared";
    const plan: AdoptionPlan = { developers: {} };
    if (shared) {
        const name = teamNamespaceName(scope);
        plan.teamNamespace = adoptionId("Namespace", name, await reader.namespace(name), teamLabels(scope));
    }
    await Promise.all(config.developers.map(async (developer) => {
        const labels = gitspaceLabels(scope, developer);
        const namespace = shared ? teamNamespaceName(scope) : developerNamespaceName(scope, developer.name);
        const adoption: HomeAdoption = {};
        if (!shared) {
            const ns = adoptionId("Namespace", namespace, await reader.namespace(namespace), labels);
            if (ns !== undefined) adoption.namespace = ns;
            // No namespace of ours: no claim in it either.
            if (ns === undefined) {
                plan.developers[developer.name] = adoption;
                return;
            }
        } else if (plan.teamNamespace === undefined) {
            plan.developers[developer.name] = adoption;
            return;
        }
        const claimName = objectNames(developer.name, shared ? "shared" : "per-developer").homeClaim;
        const live = await reader.claim(namespace, claimName);
        const claim = adoptionId("PersistentVolumeClaim", `${namespace}/${claimName}`, live, labels);
        if (claim !== undefined) adoption.claim = claim;
        const storage = keptStorage(developer.storage, live);
        if (storage !== undefined) adoption.storage = storage;
        plan.developers[developer.name] = adoption;
    }));
    return plan;
}

/**
 * The reader of the cluster the default Kubernetes provider uses. Loaded lazily: only `pulumi up`/`preview` of the
 * real program need it.
 */
export async function kubeconfigReader(): Promise<ClusterReader> {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const k8s: typeof import("@kubernetes/client-node") = require("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    const settings = new pulumi.Config("kubernetes");
    const kubeconfig = settings.get("kubeconfig");
    if (kubeconfig === undefined) kc.loadFromDefault();
    // As the provider reads it: a path when such a file exists, else the kubeconfig's contents.
    else if (fs.existsSync(kubeconfig)) kc.loadFromFile(kubeconfig);
    else kc.loadFromString(kubeconfig);
    const context = settings.get("context");
    if (context !== undefined) kc.setCurrentContext(context);
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const toLive = (o: { metadata?: { labels?: Record<string, string>; deletionTimestamp?: Date }; spec?: any }): LiveObject => ({
        labels: o.metadata?.labels ?? {},
        deleting: o.metadata?.deletionTimestamp !== undefined && o.metadata?.deletionTimestamp !== null,
        ...(o.spec?.resources?.requests?.storage !== undefined ? { storage: String(o.spec.resources.requests.storage) } : {}),
    });
    const notFound = (e: unknown) => (e as { code?: number })?.code === 404;
    return {
        async namespace(name) {
            try {
                return toLive(await api.readNamespace({ name }));
            } catch (e) {
                if (notFound(e)) return undefined;
                throw e;
            }
        },
        async claim(namespace, name) {
            try {
                return toLive(await api.readNamespacedPersistentVolumeClaim({ namespace, name }));
            } catch (e) {
                if (notFound(e)) return undefined;
                throw e;
            }
        },
    };
}

/**
 * The adoption plan of the running program. A cluster that cannot be read (no kubeconfig, no permission to GET a
 * namespace) means no adoption, with a warning: a kept object then fails its create with AlreadyExists, as before,
 * and nothing is touched. An object that is not ours always stops the program (AdoptionError).
 */
export async function adoptionForProgram(config: TeamConfig, reader: () => Promise<ClusterReader> = kubeconfigReader): Promise<AdoptionPlan> {
    let r: ClusterReader;
    try {
        r = await reader();
    } catch (e) {
        pulumi.log.warn(`kept homes: cannot read the cluster (${(e as Error).message}); a kept Namespace or home PVC will not be re-adopted`);
        return NO_ADOPTION;
    }
    try {
        return await planAdoption(config, r);
    } catch (e) {
        if (e instanceof AdoptionError) throw e;
        pulumi.log.warn(`kept homes: cannot look up kept objects (${(e as Error).message}); a kept Namespace or home PVC will not be re-adopted`);
        return NO_ADOPTION;
    }
}
