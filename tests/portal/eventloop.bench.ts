/**
 * `npm run bench:portal:eventloop`: fires hostile requests at the portal service (in-memory engine) and prints,
 * for each, the longest the service's event loop was blocked while it handled it (perf_hooks
 * monitorEventLoopDelay). The client runs in a worker thread, so the figures are the server's alone.
 * Target: no request blocks the loop for more than 100 ms. It prints figures and asserts nothing.
 */
import { monitorEventLoopDelay } from "perf_hooks";
import { Worker } from "worker_threads";
import { memoryPortal, serve, TOKEN } from "./helpers";

const TARGET_MS = 100;
/** Each case runs this many times: the machine is shared, so the median says what the service does, the max what it met. */
const ROUNDS = Number(process.env.ROUNDS ?? 5);

/** The client (plain JS, run in a worker): each case is sent after `ready`, and reported when its reply is read. */
const CLIENT = String.raw`
const { parentPort, workerData } = require("worker_threads");
const net = require("net");
const { url, token, rounds } = workerData;
const G = "/teams/platform/envs/dev/gitspaces";
const auth = { authorization: "Bearer " + token };
const json = (b) => typeof b === "string" ? b : JSON.stringify(b);
function raw(head, body) {
    const u = new URL(url);
    return new Promise((resolve) => {
        const s = net.connect(Number(u.port), u.hostname);
        const chunks = [];
        s.on("data", (d) => chunks.push(d));
        s.on("error", () => undefined);
        const t = setTimeout(() => s.destroy(), 10000);
        s.on("close", () => { clearTimeout(t); const text = Buffer.concat(chunks).toString(); resolve({ status: Number((/^HTTP\/1\.1 (\d+)/.exec(text) || [])[1] || 0), bytes: text.length }); });
        s.write(head);
        if (body) s.write(body, () => undefined);
    });
}
async function http(method, path, body, headers = {}) {
    const res = await fetch(url + path, { method, headers: { ...auth, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers }, body: body === undefined ? undefined : json(body) });
    const text = await res.text();
    return { status: res.status, bytes: text.length };
}
const cases = [
    ["baseline: GET list", () => http("GET", G)],
    ["baseline: stop + start", async () => { await http("POST", G + "/alice/stop"); return http("POST", G + "/alice/start"); }],
    ["150,000-item list in a body", () => http("POST", G, { name: "zed", sshPublicKeys: Array(150000).fill("x") })],
    ["150,000 numbers as the body", () => http("POST", G, Array(150000).fill(0))],
    ["60,000 numbers (120 KB, within the body limit)", () => http("POST", G, Array(60000).fill(0))],
    ["11,000 keys in one object (within the limit)", () => http("PATCH", G + "/alice", Object.fromEntries(Array.from({ length: 11000 }, (_, i) => ["k" + i, 1])))],
    ["1,990 invalid ssh keys (1,990 problems)", () => http("POST", G, { name: "zed", sshPublicKeys: Array(1990).fill("not a key") })],
    ["60,000 keys in one object", () => http("PATCH", G + "/alice", Object.fromEntries(Array.from({ length: 60000 }, (_, i) => ["k" + i, 1])))],
    ["5,000-deep arrays", () => http("POST", G, "[".repeat(5000) + "]".repeat(5000))],
    ["5,000-deep objects", () => http("PATCH", G + "/alice", '{"a":'.repeat(5000) + "1" + "}".repeat(5000))],
    ["20,000-deep objects (within the limit)", () => http("PATCH", G + "/alice", '{"a":'.repeat(20000) + "1" + "}".repeat(20000))],
    ["100,000-deep objects", () => http("PATCH", G + "/alice", '{"a":'.repeat(100000) + "1" + "}".repeat(100000))],
    ["4,900 invalid ssh keys (4,900 problems)", () => http("POST", G, { name: "zed", sshPublicKeys: Array(4900).fill("not a key") })],
    ["300 invalid repos with long branches", () => http("POST", G, { name: "zed", repos: Array.from({ length: 300 }, (_, i) => ({ url: "ftp://h/" + i, branch: ".." + "b".repeat(300) })) })],
    ["7 branches of 16,000 characters (echoed values)", () => http("POST", G, { name: "zed", repos: Array.from({ length: 7 }, () => ({ url: "https://h/r.git", branch: ".." + "b".repeat(15990) })) })],
    ["120 KB name", () => http("POST", G, { name: "x".repeat(120000) })],
    ["900 KB name", () => http("POST", G, { name: "x".repeat(900000) })],
    ["__proto__ / constructor keys", () => http("PATCH", G + "/alice", '{"__proto__":{"running":false},"constructor":{"prototype":{}}}')],
    ["8 MB body (413), fetch", () => http("POST", G, '{"name":"' + "x".repeat(8 << 20) + '"}')],
    ["64 MB body (413), fetch", () => http("POST", G, '{"name":"' + "x".repeat(64 << 20) + '"}')],
    ["16 MB chunked body (413), raw", () => { const b = Buffer.alloc(16 << 20, 97); return raw("POST " + G + " HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + token + "\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n" + b.length.toString(16) + "\r\n", b); }],
    ["200 malformed percent-escape paths", async () => { let r; for (let i = 0; i < 200; i++) r = await raw("GET /teams/%E0%A4%Ax" + i + "/envs/dev/gitspaces HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"); return r; }],
    ["200 look-alike booleans (purge=False …)", async () => { let r; for (let i = 0; i < 200; i++) r = await http("DELETE", G + "/alice?purge=" + ["False", "no", "yes", "", "1%20"][i % 5]); return r; }],
    ["20 KB of headers (431)", () => raw("GET " + G + " HTTP/1.1\r\nhost: x\r\nx-big: " + "a".repeat(20000) + "\r\n\r\n")],
    ["OpenAPI document", () => http("GET", "/openapi.json")],
];
(async () => {
    for (let round = 0; round < rounds; round++) for (const [label, run] of cases) {
        parentPort.postMessage({ type: "start", label });
        await new Promise((r) => parentPort.once("message", r));
        const t0 = Date.now();
        let res;
        try { res = await run(); } catch (e) { res = { status: 0, bytes: 0, error: String(e && e.message || e) }; }
        parentPort.postMessage({ type: "end", label, ms: Date.now() - t0, ...res });
        await new Promise((r) => parentPort.once("message", r));
    }
    parentPort.postMessage({ type: "done" });
})();
`;

async function main() {
    const mem = await memoryPortal();
    const served = await serve(mem.portal);
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    const rows: Array<{ label: string; status: number; bytes: number; ms: number; blockMs: number; error?: string }> = [];
    const worker = new Worker(CLIENT, { eval: true, workerData: { url: served.url, token: TOKEN, rounds: ROUNDS } });
    await new Promise<void>((resolve, reject) => {
        worker.on("error", reject);
        worker.on("message", (m: { type: string; label: string; status: number; bytes: number; ms: number; error?: string }) => {
            if (m.type === "start") {
                histogram.reset();
                worker.postMessage("go");
            } else if (m.type === "end") {
                // Let a last timer tick record a block that ended with the reply.
                setTimeout(() => {
                    rows.push({ label: m.label, status: m.status, bytes: m.bytes, ms: m.ms, blockMs: histogram.max / 1e6, ...(m.error ? { error: m.error } : {}) });
                    worker.postMessage("next");
                }, 10);
            } else if (m.type === "done") {
                resolve();
            }
        });
    });
    await worker.terminate();
    histogram.disable();
    await served.close();
    const labels = [...new Set(rows.map((r) => r.label))];
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const width = Math.max(...labels.map((l) => l.length));
    console.log(`${ROUNDS} rounds; event-loop block = the longest delay monitorEventLoopDelay saw while the request was handled\n`);
    console.log(`${"request".padEnd(width)}  status    reply B  client ms (median)  loop block ms: median     max`);
    const summary = labels.map((label) => {
        const rs = rows.filter((r) => r.label === label);
        const s = { label, status: [...new Set(rs.map((r) => r.status))].join("/"), bytes: Math.max(...rs.map((r) => r.bytes)), ms: median(rs.map((r) => r.ms)),
            med: median(rs.map((r) => r.blockMs)), max: Math.max(...rs.map((r) => r.blockMs)), error: rs.find((r) => r.error)?.error };
        console.log(`${label.padEnd(width)}  ${s.status.padStart(6)}  ${String(s.bytes).padStart(9)}  ${String(s.ms).padStart(18)}  ${s.med.toFixed(1).padStart(20)}  ${s.max.toFixed(1).padStart(6)}${s.error ? `  (${s.error})` : ""}`);
        return s;
    });
    const worst = summary.reduce((a, b) => (b.med > a.med ? b : a));
    const peak = summary.reduce((a, b) => (b.max > a.max ? b : a));
    console.log(`\nworst median block: ${worst.med.toFixed(1)} ms (${worst.label}); highest single block: ${peak.max.toFixed(1)} ms (${peak.label})`);
    console.log(`target, no request blocks the event loop for more than ${TARGET_MS} ms: ${worst.med <= TARGET_MS ? "met" : "NOT met"} by the medians, ${peak.max <= TARGET_MS ? "met" : "not met"} by every single run`);
    console.log(`status 500 replies: ${rows.filter((r) => r.status === 500).length}`);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
