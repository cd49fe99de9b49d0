/**
 * `npm run portal`: the HTTP service over the real library (Automation API on this repository).
 *
 * Environment: PORTAL_TOKEN or PORTAL_TOKEN_FILE (required: at least 32 characters after trimming, e.g.
 * `openssl rand -hex 24`), PORTAL_PORT (8080), PORTAL_HOST (127.0.0.1), PULUMI_BACKEND_URL (e.g.
 * file:///var/lib/gitspace/state), PULUMI_CONFIG_PASSPHRASE(_FILE), PORTAL_WORKDIR (the program; default this
 * repository), PORTAL_KUBECONFIG or KUBECONFIG (live status; in a pod, the service account), PORTAL_TYPECHECK=true
 * (type-check the program on every engine run; off by default, `npm test` checks it), PORTAL_IDLE_INTERVAL_SECONDS
 * (60: how often the idle reaper looks for gitspaces idle longer than their idleTimeout; it runs when a cluster is
 * configured). `--demo`: serve an in-memory team `demo-dev` instead (no engine, no cluster).
 */
import * as fs from "fs";
import { GitspacePortal } from "./gitspaces";
import { idleIntervalMs, startIdleReaper } from "./idle";
import { createPortalServer, portalTokenFromEnv } from "./http/server";
import { kubeLiveBackend } from "./live/watch";
import { createInMemoryPortal, exampleTeamValues, MemoryLiveBackend } from "./memory";
import { quietSdkDebugLogs } from "./sdk-logs";
import { cheapSdkPromiseStacks } from "./sdk-stacks";
import { GitspaceOperations } from "./types";

async function main() {
    cheapSdkPromiseStacks();
    quietSdkDebugLogs();
    let token: string;
    try {
        token = portalTokenFromEnv(process.env, (file) => fs.readFileSync(file, "utf8"));
    } catch (e) {
        console.error(`[portal] ${e instanceof Error ? e.message : String(e)}`);
        process.exit(2);
    }
    let idleInterval: number;
    try {
        idleInterval = idleIntervalMs(process.env.PORTAL_IDLE_INTERVAL_SECONDS);
    } catch (e) {
        console.error(`[portal] ${e instanceof Error ? e.message : String(e)}`);
        process.exit(2);
    }
    let ops: GitspaceOperations;
    let stopReaper = async () => undefined as void;
    if (process.argv.includes("--demo")) {
        const live = new MemoryLiveBackend();
        const mem = createInMemoryPortal({ live });
        live.mirror(await mem.addStack("demo-dev", exampleTeamValues("demo", [{ name: "alice" }, { name: "bob", running: false }])));
        ops = mem.portal;
    } else {
        // Live status needs a cluster: PORTAL_KUBECONFIG, else KUBECONFIG, else the in-cluster service account.
        const kubeconfig = process.env.PORTAL_KUBECONFIG || process.env.KUBECONFIG || undefined;
        const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
        const live = kubeconfig || inCluster ? await kubeLiveBackend(kubeconfig) : undefined;
        if (!live) console.log("[portal] no kubeconfig: live status (GET …/live) is off");
        ops = new GitspacePortal({
            automation: { workDir: process.env.PORTAL_WORKDIR || undefined, typeCheck: process.env.PORTAL_TYPECHECK === "true" },
            live,
            onLiveError: (e) => console.log(`[portal] live ${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}`),
        });
        // Idle auto-stop: with the same cluster credentials as live status (pods/exec in the gitspace namespaces).
        if (live) {
            const reaper = await startIdleReaper(ops as GitspacePortal, kubeconfig, idleInterval, (r) => console.log(`[portal] idle ${JSON.stringify(r)}`));
            stopReaper = () => reaper.stop();
            console.log(`[portal] idle reaper: every ${idleInterval / 1000} s`);
        }
    }
    const app = createPortalServer({ ops, token, log: (l) => console.log(`[portal] ${l}`) });
    const port = Number(process.env.PORTAL_PORT ?? 8080);
    const host = process.env.PORTAL_HOST ?? "127.0.0.1";
    await app.listen({ port, host });
    console.log(`[portal] listening on http://${host}:${port}/ (OpenAPI: /openapi.json)`);
    const stop = () => { Promise.all([stopReaper(), app.close()]).then(() => process.exit(0), () => process.exit(1)); };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
}

main().catch((e) => {
    console.error(`[portal] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
});
