import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { lockConfigFile, StackBusyError } from "../../portal";
import { worker } from "./fixtures/run-worker";

describe("portal: the cross-process stack lock (two real OS processes)", function () {
    this.timeout(120_000);
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-lock-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("two processes doing read-change-write under the lock never lose an update", async () => {
        const file = path.join(dir, "Pulumi.platform-dev.yaml");
        fs.writeFileSync(`${file}.count`, "0");
        const rounds = 15;
        const both = Promise.all([worker(["counter", file, String(rounds)]), worker(["counter", file, String(rounds)])]);
        await new Promise((r) => setTimeout(r, 300));
        fs.writeFileSync(path.join(dir, "go"), "");
        await both;
        assert.strictEqual(Number(fs.readFileSync(`${file}.count`, "utf8")), 2 * rounds);
        assert.ok(!fs.existsSync(`${file}.portal-lock`), "released");
    });

    it("a held lock makes another holder wait, then fail with a clear 409 after waitMs; a stale lock is taken over", async () => {
        const file = path.join(dir, "Pulumi.platform-dev.yaml");
        const release = await lockConfigFile(file, { staleMs: 5000 });
        const t0 = Date.now();
        const err = await lockConfigFile(file, { waitMs: 400 }, "platform-dev").catch((e) => e);
        assert.ok(err instanceof StackBusyError, String(err));
        assert.strictEqual(err.status, 409);
        assert.ok(Date.now() - t0 >= 390);
        await release();
        const again = await lockConfigFile(file, { waitMs: 400 });
        await again();
        // A crashed holder: the lock directory exists and was last refreshed long ago.
        fs.mkdirSync(`${file}.portal-lock`);
        const old = new Date(Date.now() - 60_000);
        fs.utimesSync(`${file}.portal-lock`, old, old);
        const taken = await lockConfigFile(file, { waitMs: 2000, staleMs: 5000 });
        await taken();
    });
});
