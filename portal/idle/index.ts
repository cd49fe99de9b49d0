/**
 * Idle auto-stop (issue 10): `npm run portal` starts the reaper when a cluster is configured. See portal/README.md,
 * "Idle auto-stop".
 */
import { IdleReaper, IdlePortal, portalIdleSource } from "./reaper";
import { kubeIdleCluster } from "./kube";

export { decideIdle, parseActivity, IdleDecision, IdleInput, ActivityReport, MAX_ACTIVITY_OUTPUT, FUTURE_TOLERANCE_S } from "./decide";
export { IdleReaper, IdleReaperOptions, IdleSource, IdleCluster, IdleCandidate, IdlePortal, SweepResult, portalIdleSource, podReadiness, ACTIVITY_COMMAND } from "./reaper";
export { kubeIdleCluster, BoundedSink, EXEC_TIMEOUT_MS, asError } from "./kube";

export const DEFAULT_IDLE_INTERVAL_S = 60;
export const MIN_IDLE_INTERVAL_S = 5;
export const MAX_IDLE_INTERVAL_S = 3600;

/**
 * PORTAL_IDLE_INTERVAL_SECONDS: how often the reaper sweeps, whole seconds from 5 to 3600 (default 60). Anything
 * else (a unit, a sign, a fraction, spaces) is refused with the reason: the portal does not start.
 */
export function idleIntervalMs(value: string | undefined): number {
    if (value === undefined || value === "") return DEFAULT_IDLE_INTERVAL_S * 1000;
    const n = /^[1-9][0-9]{0,4}$/.test(value) ? Number(value) : NaN;
    if (!(n >= MIN_IDLE_INTERVAL_S && n <= MAX_IDLE_INTERVAL_S)) {
        throw new Error(`PORTAL_IDLE_INTERVAL_SECONDS must be whole seconds from ${MIN_IDLE_INTERVAL_S} to ${MAX_IDLE_INTERVAL_S} (got ${JSON.stringify(value.slice(0, 40))})`);
    }
    return n * 1000;
}

/** The reaper over a portal and a cluster (a kubeconfig file, else the default), started. */
export async function startIdleReaper(
    portal: IdlePortal, kubeconfigFile: string | undefined, intervalMs: number, log: (record: Record<string, unknown>) => void,
): Promise<IdleReaper> {
    const reaper = new IdleReaper({ source: portalIdleSource(portal), cluster: await kubeIdleCluster(kubeconfigFile), intervalMs, log });
    reaper.start();
    return reaper;
}
