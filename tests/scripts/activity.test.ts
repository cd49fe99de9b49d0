/**
 * gitspace-activity.sh for real: a real heartbeat file (its mtime set), real TCP sockets on loopback (listening,
 * established, closed) read from this machine's /proc/net/tcp{,6}, run as an unprivileged uid as in the pod; its
 * output goes through the portal's own parser (the contract between the script and the reaper).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { parseActivity } from "../../portal/idle/decide";
import { DEV_UID, baseEnv, rmrf, run, script, tmpDir } from "./helpers";

const ACTIVITY = script("common/gitspace-activity.sh");

interface Listener { port: number; server: net.Server; sockets: net.Socket[]; close(): Promise<void> }

async function listen(host: string): Promise<Listener> {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => { sockets.push(s); s.on("error", () => undefined); });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(0, host, resolve); });
    return {
        port: (server.address() as net.AddressInfo).port, server, sockets,
        close: () => new Promise<void>((resolve) => { sockets.forEach((s) => s.destroy()); server.close(() => resolve()); }),
    };
}

async function connect(host: string, port: number): Promise<net.Socket> {
    const c = net.connect(port, host);
    c.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => { c.once("connect", resolve); c.once("error", reject); });
    return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("scripts: gitspace-activity.sh (the idle reaper's activity report)", () => {
    let dir: string;
    let home: string;
    const open: Array<{ close(): unknown }> = [];

    beforeEach(() => {
        dir = tmpDir("gs-activity-");
        home = path.join(dir, "home");
        fs.mkdirSync(path.join(home, ".local", "share", "code-server"), { recursive: true });
        fs.chmodSync(dir, 0o755);
    });
    afterEach(async () => {
        for (const o of open.splice(0)) await o.close();
        rmrf(dir);
    });

    const activity = async (port: number, extra: Record<string, string | undefined> = {}, asUid?: number) => {
        const r = await run(ACTIVITY, [], { env: baseEnv({ HOME: home, GITSPACE_IDE_PORT: String(port), ...extra }), asUid });
        return r;
    };
    const report = async (port: number, extra: Record<string, string | undefined> = {}, asUid?: number) => {
        const r = await activity(port, extra, asUid);
        assert.equal(r.code, 0, r.stderr);
        const parsed = parseActivity(r.stdout);
        assert.ok("report" in parsed, `the portal refuses the output ${JSON.stringify(r.stdout)}: ${JSON.stringify(parsed)}`);
        return parsed.report;
    };

    it("no heartbeat, nobody connected: lastActivity null, 0 sessions, the container's clock as now", async () => {
        const l = await listen("127.0.0.1");
        open.push(l);
        const before = Math.floor(Date.now() / 1000);
        const r = await report(l.port);
        assert.equal(r.lastActivity, null);
        assert.equal(r.sessions, 0, "a listening socket is not a session");
        assert.ok(r.now >= before && r.now <= before + 5, `now ${r.now}`);
    });

    it("lastActivity is the heartbeat file's mtime (code-server touches it while a browser is connected)", async () => {
        const hb = path.join(home, ".local", "share", "code-server", "heartbeat");
        fs.writeFileSync(hb, "");
        const when = Math.floor(Date.now() / 1000) - 1234;
        fs.utimesSync(hb, when, when);
        assert.equal((await report(1)).lastActivity, when);
        // A path of its own (tests, another layout).
        const other = path.join(dir, "beat");
        fs.writeFileSync(other, "");
        fs.utimesSync(other, 1700000000, 1700000000);
        assert.equal((await report(1, { GITSPACE_HEARTBEAT_FILE: other })).lastActivity, 1700000000);
    });

    it("a heartbeat that is a symlink or a directory is not a heartbeat", async () => {
        const hb = path.join(home, ".local", "share", "code-server", "heartbeat");
        const target = path.join(dir, "elsewhere");
        fs.writeFileSync(target, "");
        fs.symlinkSync(target, hb);
        assert.equal((await report(1)).lastActivity, null);
        fs.unlinkSync(hb);
        fs.mkdirSync(hb);
        assert.equal((await report(1)).lastActivity, null);
    });

    it("counts established connections to the IDE port only: not listeners, not other ports, not the client's end", async () => {
        const ide = await listen("127.0.0.1");
        const other = await listen("127.0.0.1");
        open.push(ide, other);
        const c1 = await connect("127.0.0.1", ide.port);
        open.push({ close: () => c1.destroy() });
        const c2 = await connect("127.0.0.1", other.port);
        open.push({ close: () => c2.destroy() });
        await sleep(100);
        assert.equal((await report(ide.port)).sessions, 1, "one session: the server's end (the client's end has it as remote port)");
        const c3 = await connect("127.0.0.1", ide.port);
        open.push({ close: () => c3.destroy() });
        await sleep(100);
        assert.equal((await report(ide.port)).sessions, 2);
        const idle = await listen("127.0.0.1");
        open.push(idle);
        assert.equal((await report(idle.port)).sessions, 0, "a port nobody is connected to");
    });

    it("a closed session stops counting", async () => {
        const ide = await listen("127.0.0.1");
        open.push(ide);
        const c = await connect("127.0.0.1", ide.port);
        await sleep(100);
        assert.equal((await report(ide.port)).sessions, 1);
        c.destroy();
        ide.sockets.forEach((s) => s.destroy());
        await sleep(200);
        assert.equal((await report(ide.port)).sessions, 0);
    });

    it("IPv6 sessions count (tcp6)", async () => {
        const ide = await listen("::1");
        open.push(ide);
        const c = await connect("::1", ide.port);
        open.push({ close: () => c.destroy() });
        await sleep(100);
        assert.equal((await report(ide.port)).sessions, 1);
    });

    it("runs as the developer (an unprivileged uid, as in the pod)", async () => {
        const ide = await listen("127.0.0.1");
        open.push(ide);
        const c = await connect("127.0.0.1", ide.port);
        open.push({ close: () => c.destroy() });
        await sleep(100);
        const r = await report(ide.port, {}, DEV_UID);
        assert.equal(r.sessions, 1);
    });

    it("reads socket tables given by GITSPACE_PROC_NET_DIR: states other than ESTABLISHED and hostile lines do not count", async () => {
        const net = path.join(dir, "net");
        fs.mkdirSync(net);
        const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        fs.writeFileSync(path.join(net, "tcp"), header + [
            "   0: 00000000:1F98 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1",      // LISTEN
            "   1: 0A000005:1F98 0A000001:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 2 1",      // ESTABLISHED
            "   2: 0A000005:1F98 0A000001:D2F2 06 00000000:00000000 00:00000000 00000000  1000        0 3 1",      // TIME_WAIT
            "   3: 0A000005:1F98 0A000001:D2F4 08 00000000:00000000 00:00000000 00000000  1000        0 4 1",      // CLOSE_WAIT
            "   4: 0A000001:D2F6 0A000005:1F98 01 00000000:00000000 00:00000000 00000000  1000        0 5 1",      // client end
            "   5: 0A000005:1F99 0A000001:D2F8 01 00000000:00000000 00:00000000 00000000  1000        0 6 1",      // other port
            "garbage line with $(touch /tmp/pwned) and `id`",
            "   6: 0A000005:1f98 0A000001:D2FA 01",                                                                 // lower-case hex
            "",
        ].join("\n"));
        fs.writeFileSync(path.join(net, "tcp6"), header +
            "   0: 00000000000000000000000001000000:1F98 00000000000000000000000001000000:A000 01 00000000:00000000 00:00000000 00000000  1000 0 7 1\n");
        const r = await report(8088, { GITSPACE_PROC_NET_DIR: net });
        assert.equal(r.sessions, 3, "the ESTABLISHED server ends on 8088: one IPv4, the lower-case one, one IPv6");
        assert.equal(fs.existsSync("/tmp/pwned"), false);
    });

    it("fails (exit 1, nothing on stdout, a [gitspace] error) when no socket table can be read; needs GITSPACE_IDE_PORT", async () => {
        const r = await activity(8088, { GITSPACE_PROC_NET_DIR: path.join(dir, "missing") });
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /^\[gitspace\] ERROR: activity: cannot read .*missing\/tcp/m);
        const noPort = await run(ACTIVITY, [], { env: baseEnv({ HOME: home }) });
        assert.notEqual(noPort.code, 0);
        assert.equal(noPort.stdout, "");
        assert.match(noPort.stderr, /GITSPACE_IDE_PORT is not set/);
    });

    it("changes nothing in HOME", async () => {
        const before = fs.readdirSync(home, { recursive: true }).sort();
        await report(1);
        assert.deepEqual(fs.readdirSync(home, { recursive: true }).sort(), before);
    });
});
