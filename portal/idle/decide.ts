/**
 * Idle auto-stop, the pure part: what the activity script printed (scripts/common/gitspace-activity.sh, run in the
 * IDE container) and when the pod became Ready, turned into "keep" or "stop". Plain functions of their inputs
 * (the clock included), so every case is tested directly. Fail safe: anything unknown or unreadable keeps the
 * gitspace running.
 */
import { z } from "zod";

/** What the activity script reports (one JSON line). */
export interface ActivityReport {
    /** The container's clock, epoch seconds. */
    now: number;
    /** code-server's last heartbeat (epoch seconds, the container's clock); null without one. */
    lastActivity: number | null;
    /** Established connections to the IDE port (SSH sessions, browser connections). */
    sessions: number;
}

/** Largest accepted script output: one short JSON line. */
export const MAX_ACTIVITY_OUTPUT = 1024;
/** A heartbeat this far ahead of the container's own clock is not code-server's (it writes "now"): ignored. */
export const FUTURE_TOLERANCE_S = 60;

const epoch = z.number().int().positive().max(32503680000); // before the year 3000
const reportSchema = z.strictObject({
    now: epoch,
    lastActivity: epoch.nullable(),
    sessions: z.number().int().min(0).max(1_000_000),
});

/** The script's stdout, checked: exactly one JSON object line of the expected shape; an error message otherwise. */
export function parseActivity(stdout: string): { report: ActivityReport } | { error: string } {
    if (typeof stdout !== "string") return { error: "no output" };
    if (stdout.length > MAX_ACTIVITY_OUTPUT) return { error: `output longer than ${MAX_ACTIVITY_OUTPUT} bytes` };
    const lines = stdout.split("\n").filter((l) => l.trim() !== "");
    if (lines.length !== 1) return { error: lines.length === 0 ? "no output" : `expected one line, got ${lines.length}` };
    let value: unknown;
    try {
        value = JSON.parse(lines[0]);
    } catch {
        return { error: "output is not JSON" };
    }
    const parsed = reportSchema.safeParse(value);
    if (!parsed.success) {
        return { error: `unexpected output: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ").slice(0, 200)}` };
    }
    return { report: parsed.data };
}

export interface IdleInput {
    /** The portal's clock, epoch ms. */
    now: number;
    /** The developer's idleTimeout, in minutes (> 0). */
    timeoutMinutes: number;
    /** When the reaper first saw this pod (the portal's clock, epoch ms). */
    firstSeenAt: number;
    /**
     * When the reaper last saw a session open on this pod (the portal's clock, epoch ms): a session leaves no trace
     * once closed, so a developer who disconnects gets the whole timeout from then, not from the pod's start.
     */
    lastSessionAt?: number;
    /** The pod: whether it is Ready, and since when (the Ready condition), else its start time (epoch ms). */
    pod: { ready: boolean; readyAt?: number; startedAt?: number } | undefined;
    /** The activity script's result: its stdout, or why it could not run. */
    activity: { stdout: string } | { error: string };
}

export type IdleDecision =
    | { action: "keep"; reason: "no-pod" | "not-ready" | "activity-unknown" | "sessions" | "active"; idleMs?: number; detail?: string }
    | { action: "stop"; idleMs: number; since: number; detail: string };

/**
 * Keep or stop. Idle time is measured from the latest of: the last heartbeat (its age on the container's own clock,
 * so node/portal clock skew does not count), the pod's Ready time (else start time), when the reaper first saw the
 * pod, and when it last saw a session open. An open session means active now. No pod, a pod not Ready, or activity that cannot be read: keep.
 */
export function decideIdle(input: IdleInput): IdleDecision {
    const { now, pod } = input;
    if (!pod) return { action: "keep", reason: "no-pod" };
    if (!pod.ready) return { action: "keep", reason: "not-ready" };
    if ("error" in input.activity) return { action: "keep", reason: "activity-unknown", detail: input.activity.error };
    const parsed = parseActivity(input.activity.stdout);
    if ("error" in parsed) return { action: "keep", reason: "activity-unknown", detail: parsed.error };
    const report = parsed.report;
    if (report.sessions > 0) return { action: "keep", reason: "sessions", idleMs: 0, detail: `${report.sessions} open session(s)` };

    const marks: Array<[string, number]> = [["first seen", input.firstSeenAt]];
    if (input.lastSessionAt !== undefined && Number.isFinite(input.lastSessionAt)) marks.push(["last session", Math.min(input.lastSessionAt, now)]);
    const podSince = pod.readyAt ?? pod.startedAt;
    if (podSince !== undefined && Number.isFinite(podSince)) marks.push(["pod ready", Math.min(podSince, now)]);
    let note = "";
    if (report.lastActivity !== null) {
        const ageS = report.now - report.lastActivity;
        if (ageS < -FUTURE_TOLERANCE_S) note = " (a heartbeat in the future was ignored)";
        else marks.push(["last heartbeat", now - Math.max(0, ageS) * 1000]);
    }
    const [what, since] = marks.reduce((a, b) => (b[1] > a[1] ? b : a));
    const idleMs = Math.max(0, now - since);
    const timeoutMs = input.timeoutMinutes * 60_000;
    if (!(timeoutMs > 0) || idleMs < timeoutMs) return { action: "keep", reason: "active", idleMs, detail: `idle since ${what}${note}` };
    return { action: "stop", idleMs, since, detail: `no activity for ${Math.round(idleMs / 1000)} s (since ${what})${note}; idleTimeout ${input.timeoutMinutes}m` };
}
