/**
 * The reaper's cluster access (@kubernetes/client-node 1.4.0), with the portal's own credentials: list a
 * developer's pods, and run the activity script in a pod's IDE container through the exec API (RBAC: `create` and
 * `get` on `pods/exec` in the gitspace namespaces). The pods themselves never get API access.
 */
import { Writable } from "stream";
import type { V1Pod } from "@kubernetes/client-node";
import { IDE_CONTAINER } from "../live/status";
import { MAX_ACTIVITY_OUTPUT } from "./decide";
import { ACTIVITY_COMMAND, IdleCluster } from "./reaper";

/** How long one activity read may take before it counts as failed (and the gitspace is kept). */
export const EXEC_TIMEOUT_MS = 15_000;

/** A Writable that keeps at most `max` bytes (the rest is dropped and flagged). */
export class BoundedSink extends Writable {
    private readonly chunks: Buffer[] = [];
    private size = 0;
    overflow = false;

    constructor(private readonly max: number) {
        super();
    }

    override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
        const room = this.max - this.size;
        if (chunk.length > room) this.overflow = true;
        if (room > 0) {
            const part = chunk.subarray(0, room);
            this.chunks.push(part);
            this.size += part.length;
        }
        done();
    }

    text(): string {
        return Buffer.concat(this.chunks).toString("utf8");
    }
}

/**
 * An Error from whatever the client rejected with: the WebSocket layer rejects with an ErrorEvent (`message`,
 * `error`), not an Error.
 */
export function asError(e: unknown): Error {
    if (e instanceof Error) return e;
    if (typeof e === "object" && e !== null) {
        const o = e as { message?: unknown; error?: unknown };
        if (o.error instanceof Error) return o.error;
        if (typeof o.message === "string" && o.message) return new Error(o.message);
    }
    return new Error(typeof e === "string" && e ? e : "the exec request failed");
}

/** The kubeconfig's cluster (a file, else the default: KUBECONFIG, ~/.kube/config or the in-cluster service account). */
export async function kubeIdleCluster(kubeconfigFile?: string): Promise<IdleCluster> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    if (kubeconfigFile) kc.loadFromFile(kubeconfigFile); else kc.loadFromDefault();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const exec = new k8s.Exec(kc);
    return {
        async pods(namespace, labelSelector): Promise<V1Pod[]> {
            return (await core.listNamespacedPod({ namespace, labelSelector })).items;
        },
        activity(namespace, pod) {
            const stdout = new BoundedSink(MAX_ACTIVITY_OUTPUT + 1);
            const stderr = new BoundedSink(2048);
            return new Promise<string>((resolve, reject) => {
                let socket: { close(): void } | undefined;
                let settled = false;
                const finish = (e?: Error) => {
                    if (settled) return;
                    settled = true;
                    clearTimeout(timer);
                    try { socket?.close(); } catch { /* already closed */ }
                    if (e) reject(e); else resolve(stdout.text());
                };
                const timer = setTimeout(() => finish(new Error(`no answer within ${EXEC_TIMEOUT_MS / 1000} s`)), EXEC_TIMEOUT_MS);
                exec.exec(namespace, pod, IDE_CONTAINER, ACTIVITY_COMMAND, stdout, stderr, null, false, (status) => {
                    if (status.status === "Success") return finish();
                    const why = stderr.text().trim().split("\n").pop() || status.message || status.reason || "failed";
                    finish(new Error(`${ACTIVITY_COMMAND[0]}: ${why}`));
                }).then((ws) => {
                    socket = ws;
                    if (settled) ws.close();
                    // A connection closed without a status (pod gone, API server restarted) is a failure too.
                    ws.on("close", () => setTimeout(() => finish(new Error("the exec connection closed without a status")), 100));
                }, (e: unknown) => finish(asError(e)));
            });
        },
    };
}
