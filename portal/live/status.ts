/**
 * Live status of a gitspace from what the cluster says: a pure function of the developer's pods (as the API
 * server returns them, any field possibly missing), the tail of the init container's log and the desired state.
 * Every string that reaches a client (reasons, messages, log lines) is cleaned: ANSI sequences dropped, other
 * control characters shown as `\uXXXX`, length bounded.
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

export const INIT_CONTAINER = "gitspace-init";
export const IDE_CONTAINER = "ide";

export type LivePhase = "stopped" | "pending" | "initializing" | "starting" | "ready" | "failed";

export interface LiveStatus {
    developer: string;
    phase: LivePhase;
    /** Short machine-friendly reason: `unschedulable`, `pvc-pending`, `image-pull`, `CrashLoopBackOff`, `ImagePullBackOff`, `init-failed`, … */
    reason?: string;
    /** The cluster's words (cleaned, at most MAX_MESSAGE characters). */
    message?: string;
    /** Initializing: the init step running now (from `[gitspace] step: <name>` lines). */
    step?: string;
    /** Ready: since when (the Ready condition's transition time). Other phases: since when the pod was created. */
    since?: string;
    /** The URL that works now: only when ready. */
    url?: string;
    /** Failed (and initializing): the log lines that matter, oldest first. */
    lines?: string[];
    pod?: string;
}

export interface StatusInput {
    developer: string;
    /** The desired state from the config (`running`). */
    running: boolean;
    /** The developer's pods (any namespace), as listed or watched. */
    pods: readonly V1Pod[];
    /** Tail of the init container's log of the chosen pod, if read. */
    initLog?: string;
    /** The gitspace's URL (stack outputs): reported only when ready. */
    url?: string;
    /** Why it is stopped, when the portal stopped it (`idle`): the reason of a `stopped` status. */
    stoppedReason?: string;
}

export const MAX_MESSAGE = 500;
export const MAX_LINE = 300;
export const MAX_LINES = 12;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A string from the cluster, safe to show: no ANSI, controls (and bidi overrides) escaped, tabs/newlines as spaces. */
export function cleanText(value: unknown, max = MAX_MESSAGE): string | undefined {
    if (typeof value !== "string") return undefined;
    const text = value.slice(0, max * 4).replace(ANSI, "").replace(/[\t\n\r]+/g, " ")
        .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).trim();
    if (!text) return undefined;
    return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** The step running now: the last `[gitspace] step: NAME` line not followed by its `done`/`failed`/`skipped` line. */
export function currentStep(log: string | undefined): { step?: string; failed?: string } {
    if (!log) return {};
    let step: string | undefined;
    let failed: string | undefined;
    for (const raw of log.split("\n")) {
        const line = raw.replace(ANSI, "");
        const m = /^\[gitspace\] step: (\S{1,100})(?: (done|failed|skipped)\b)?/.exec(line);
        if (!m) continue;
        const name = cleanText(m[1], 100);
        if (!m[2]) { step = name; failed = undefined; }
        else if (m[2] === "failed") { failed = name; step = undefined; }
        else if (step === name) step = undefined;
    }
    return { step, failed };
}

/** The log lines that matter: errors and warnings, the step lines, and the last lines; cleaned, at most MAX_LINES. */
export function importantLines(log: string | undefined): string[] | undefined {
    if (!log) return undefined;
    const lines = log.split("\n").map((l) => cleanText(l, MAX_LINE)).filter((l): l is string => !!l);
    if (lines.length === 0) return undefined;
    const matters = (l: string) => /\b(error|fatal|failed|denied|not found|refused|timed? ?out|warning)\b/i.test(l);
    const picked = new Set<number>();
    for (let i = lines.length - 1; i >= 0 && picked.size < MAX_LINES - 3; i--) if (matters(lines[i])) picked.add(i);
    for (let i = Math.max(0, lines.length - 3); i < lines.length; i++) picked.add(i);
    return [...picked].sort((a, b) => a - b).slice(-MAX_LINES).map((i) => lines[i]);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const time = (v: unknown): string | undefined => {
    if (v instanceof Date && !Number.isNaN(v.getTime())) return v.toISOString();
    if (typeof v === "string" && !Number.isNaN(Date.parse(v))) return new Date(v).toISOString();
    return undefined;
};
const created = (p: V1Pod) => Date.parse(String(time(p.metadata?.creationTimestamp) ?? "")) || 0;

/** The pod that tells the status: the newest one not being deleted, else the newest. */
export function currentPod(pods: readonly unknown[]): V1Pod | undefined {
    const valid = pods.filter((p): p is V1Pod => isObject(p) && isObject((p as V1Pod).metadata));
    const live = valid.filter((p) => !p.metadata?.deletionTimestamp);
    const pool = live.length ? live : valid;
    return [...pool].sort((a, b) => created(b) - created(a))[0];
}

const containerStatus = (list: unknown, name: string): V1ContainerStatus | undefined =>
    Array.isArray(list) ? list.find((c): c is V1ContainerStatus => isObject(c) && c.name === name) : undefined;

const PULL_WAITING = new Set(["ErrImagePull", "ImageInspectError", "RegistryUnavailable"]);
const FAILED_WAITING = new Set(["CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ErrImageNeverPull"]);

/** Derives the live status. Never throws, whatever the input. */
export function deriveStatus(input: StatusInput): LiveStatus {
    const developer = input.developer;
    const pods = Array.isArray(input.pods) ? input.pods : [];
    const pod = currentPod(pods);
    if (!pod) return input.running ? { developer, phase: "pending", reason: "no-pod", message: "waiting for the Deployment to create a pod" } : stopped(input);
    const base = { developer, pod: cleanText(pod.metadata?.name, 253), since: time(pod.metadata?.creationTimestamp) };
    if (pod.metadata?.deletionTimestamp && !input.running) return { developer, phase: "stopped", reason: "terminating", pod: base.pod };
    const status = isObject(pod.status) ? pod.status : {};
    if (status.phase === "Failed") return { ...base, phase: "failed", reason: cleanText(status.reason, 100) ?? "pod-failed", message: cleanText(status.message) ?? "the pod failed", ...lines(input.initLog) };
    const scheduled = Array.isArray(status.conditions) ? status.conditions.find((c) => isObject(c) && c.type === "PodScheduled") : undefined;
    if (scheduled && scheduled.status === "False") {
        const message = cleanText(scheduled.message);
        const pvc = /persistentvolumeclaim|volume binding|unbound/i.test(message ?? "");
        return { ...base, phase: "pending", reason: pvc ? "pvc-pending" : scheduled.reason === "Unschedulable" ? "unschedulable" : cleanText(scheduled.reason, 100) ?? "unschedulable", ...(message ? { message } : {}) };
    }
    const init = containerStatus(status.initContainerStatuses, INIT_CONTAINER);
    const initDone = init?.state?.terminated?.exitCode === 0;
    if (init && !initDone) return initStatus(base, init, input.initLog);
    const ide = containerStatus(status.containerStatuses, IDE_CONTAINER);
    if (!ide) return { ...base, phase: init ? "starting" : "pending", ...(init ? {} : { reason: "scheduling" }) };
    return ideStatus(base, ide, pod, input);
}

type Base = { developer: string; pod?: string; since?: string };

const stopped = (input: StatusInput): LiveStatus =>
    input.stoppedReason === "idle" ? { developer: input.developer, phase: "stopped", reason: "idle" } : { developer: input.developer, phase: "stopped" };

const lines = (log: string | undefined) => {
    const l = importantLines(log);
    return l ? { lines: l } : {};
};

function waitingStatus(base: Base, c: V1ContainerStatus, log: string | undefined, initializing: boolean): LiveStatus | undefined {
    const waiting = c.state?.waiting;
    if (!isObject(waiting)) return undefined;
    const reason = cleanText(waiting.reason, 100);
    const message = cleanText(waiting.message);
    const msg = message ? { message } : {};
    if (reason && PULL_WAITING.has(reason)) return { ...base, phase: "pending", reason: "image-pull", ...msg };
    if (reason === "CrashLoopBackOff" && initializing) {
        const last = c.lastState?.terminated;
        return { ...base, phase: "failed", reason: "init-failed", message: message ?? `${INIT_CONTAINER} exited ${last?.exitCode ?? "with an error"}; restarting`, ...stepOf(log), ...lines(log) };
    }
    if (reason && FAILED_WAITING.has(reason)) return { ...base, phase: "failed", reason, ...msg, ...lines(initializing ? log : undefined), ...lastTermination(c) };
    if (reason === "ContainerCreating" || reason === "PodInitializing" || !reason) return undefined;
    // A reason this portal does not know: shown as it is, as still pending.
    return { ...base, phase: "pending", reason, ...msg };
}

function stepOf(log: string | undefined) {
    const { step, failed } = currentStep(log);
    return failed ? { step: failed } : step ? { step } : {};
}

function lastTermination(c: V1ContainerStatus) {
    const t = c.lastState?.terminated;
    if (!isObject(t)) return {};
    const text = cleanText([t.reason, t.exitCode !== undefined ? `exit ${t.exitCode}` : undefined, t.message].filter((x) => x !== undefined && x !== "").join(": "));
    return text ? { lines: [text] } : {};
}

function initStatus(base: Base, init: V1ContainerStatus, log: string | undefined): LiveStatus {
    const waiting = waitingStatus(base, init, log, true);
    if (waiting) return waiting;
    const term = init.state?.terminated;
    if (isObject(term)) {
        const { failed } = currentStep(log);
        return {
            ...base, phase: "failed", reason: "init-failed",
            message: cleanText(term.message) ?? `${INIT_CONTAINER} exited ${term.exitCode ?? "?"}${failed ? ` in step ${failed}` : ""}`,
            ...(failed ? { step: failed } : {}), ...lines(log),
        };
    }
    if (isObject(init.state?.running)) {
        const { step } = currentStep(log);
        return { ...base, phase: "initializing", ...(step ? { step } : {}), since: time(init.state?.running?.startedAt) ?? base.since };
    }
    return { ...base, phase: "pending", reason: "container-creating" };
}

function ideStatus(base: Base, ide: V1ContainerStatus, pod: V1Pod, input: StatusInput): LiveStatus {
    const waiting = waitingStatus(base, ide, undefined, false);
    if (waiting) return waiting;
    const running = ide.state?.running;
    if (isObject(running)) {
        const ready = Array.isArray(pod.status?.conditions) ? pod.status!.conditions.find((c) => isObject(c) && c.type === "Ready") : undefined;
        if (ide.ready === true && (!ready || ready.status === "True")) {
            const url = cleanText(input.url, 2000);
            return { ...base, phase: "ready", since: time(ready?.lastTransitionTime) ?? time(running.startedAt) ?? base.since, ...(url ? { url } : {}) };
        }
        return { ...base, phase: "starting", since: time(running.startedAt) ?? base.since, ...((ide.restartCount ?? 0) > 0 ? lastTermination(ide) : {}) };
    }
    const term = ide.state?.terminated;
    if (isObject(term)) {
        return { ...base, phase: "failed", reason: cleanText(term.reason, 100) ?? "exited", message: cleanText(term.message) ?? `${IDE_CONTAINER} exited ${term.exitCode ?? "?"}` };
    }
    return { ...base, phase: "starting" };
}
