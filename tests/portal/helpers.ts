import type { FastifyInstance } from "fastify";
import { AddressInfo, connect, Socket } from "net";
import { createInMemoryPortal, createPortalServer, exampleTeamValues, GitspaceOperations, PortalServerOptions } from "../../portal";

/** At least MIN_TOKEN_LENGTH (32) characters. */
export const TOKEN = "test-token-0123456789-abcdefghijklmnop";
export const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILBnWtMOv3aGYXbnQQymtuvknoE5TTc20B8fZwt9HcBu bob@laptop";

export const teamValues = () => exampleTeamValues("platform", [
    { name: "alice", repos: [{ url: "https://git.example.com/acme/api.git" }] },
    { name: "bob", ide: "vs_code", sshPublicKeys: [SSH_KEY], git: { username: "bob", token: "s3cret-bob" } },
    { name: "carol", running: false },
]);

export async function memoryPortal(opts: Parameters<typeof createInMemoryPortal>[0] = {}) {
    const mem = createInMemoryPortal(opts);
    const stack = await mem.addStack("platform-dev", teamValues());
    return { ...mem, stack };
}

export interface Served {
    url: string;
    app: FastifyInstance;
    /** Log lines of the service. */
    logs: string[];
    close(): Promise<void>;
    request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
}

export async function serve(ops: GitspaceOperations, token = TOKEN, options: Partial<PortalServerOptions> = {}): Promise<Served> {
    const logs: string[] = [];
    const app = createPortalServer({ ops, token, log: (l) => logs.push(l), ...options });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return {
        url, app, logs,
        close: async () => { app.server.closeAllConnections(); await app.close(); },
        async request(method, path, body, headers = {}) {
            const res = await fetch(url + path, {
                method,
                headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
                body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
            });
            const text = await res.text();
            let parsed: unknown;
            try { parsed = JSON.parse(text); } catch { parsed = undefined; }
            return { status: res.status, body: parsed, text, headers: res.headers };
        },
    };
}

/** Parses a text/event-stream body into [event, data] pairs. */
export function parseSse(text: string): Array<{ event: string; data: any }> {
    return text.split("\n\n").filter((b) => b.trim() && !b.startsWith(":")).map((block) => {
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.substring(6)).join("\n");
        return { event, data: JSON.parse(data) };
    });
}

/**
 * Sends `head` (and `body`) on a plain socket and returns everything the server sent until it closed (or
 * `timeoutMs`): for requests fetch will not send (repeated headers, TRACE, bad escapes, bodies bigger than the limit).
 */
export function rawRequest(url: string, head: string, body?: Buffer, timeoutMs = 5000): Promise<{ text: string; status: number; error?: string }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
        const sock: Socket = connect(Number(port), hostname);
        const chunks: Buffer[] = [];
        let error: string | undefined;
        sock.on("data", (d: Buffer) => chunks.push(d));
        sock.on("error", (e: Error) => { error = e.message; });
        const timer = setTimeout(() => sock.destroy(), timeoutMs);
        sock.on("close", () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), ...(error ? { error } : {}) });
        });
        sock.write(head);
        if (body) sock.write(body, () => undefined);
    });
}

/** The JSON body of a raw HTTP/1.1 response (content-length framed). */
export function rawJson(text: string): any {
    const i = text.indexOf("\r\n\r\n");
    return JSON.parse(text.substring(i + 4));
}
