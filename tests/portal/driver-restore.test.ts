import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { AutomationStackDriver } from "../../portal/driver";

/** restoreConfig on real files, with a reader in another process reading the stack file all along. */
describe("portal: the driver puts a stack file back whole (restoreConfig)", () => {
    let dir: string;
    let driver: AutomationStackDriver;
    const file = () => path.join(dir, "Pulumi.team-dev.yaml");
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "restore-config-"));
        const stack = { name: "team-dev", workspace: { envVars: {} } } as unknown as Stack;
        driver = new AutomationStackDriver(stack, "gitspace", dir);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("restores the bytes and the file's mode, leaves no temporary file, and removes a file that did not exist", async () => {
        const before = Buffer.from("encryptionsalt: v1:abc\nconfig:\n  gitspace:team: acme\n");
        fs.writeFileSync(file(), before, { mode: 0o600 });
        fs.chmodSync(file(), 0o600);
        const snapshot = await driver.snapshotConfig();
        fs.writeFileSync(file(), "config:\n  gitspace:team: changed\n");
        await driver.restoreConfig(snapshot);
        assert.deepStrictEqual(fs.readFileSync(file()), before);
        assert.strictEqual(fs.statSync(file()).mode & 0o777, 0o600);
        assert.deepStrictEqual(fs.readdirSync(dir), ["Pulumi.team-dev.yaml"]);
        fs.rmSync(file());
        await driver.restoreConfig(snapshot);
        assert.deepStrictEqual(fs.readFileSync(file()), before, "a file removed meanwhile is written back");
        const none = { file: file(), content: undefined };
        await driver.restoreConfig(none);
        assert.deepStrictEqual(fs.readdirSync(dir), []);
    });

    it("a reader in another process never sees the file empty or partial while it is put back 300 times", async () => {
        const a = Buffer.from(`encryptionsalt: v1:abc\nconfig:\n${"  gitspace:x: " + "a".repeat(30000)}\n`);
        const b = Buffer.from(`encryptionsalt: v1:abc\nconfig:\n${"  gitspace:x: " + "b".repeat(20000)}\n`);
        fs.writeFileSync(file(), a);
        const snapA = await driver.snapshotConfig();
        fs.writeFileSync(file(), b);
        const snapB = await driver.snapshotConfig();
        // The reader prints every size it sees, until told to stop.
        const stop = path.join(dir, "stop");
        const reader = spawn("bash", ["-c", 'while [[ ! -e "$2" ]]; do s=$(wc -c <"$1" 2>/dev/null || echo missing); echo "$s"; done', "bash", file(), stop]);
        let out = "";
        reader.stdout.on("data", (d) => (out += d));
        const done = new Promise((r) => reader.on("exit", r));
        for (let i = 0; i < 300; i++) {
            await driver.restoreConfig(i % 2 ? snapB : snapA);
            if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        fs.writeFileSync(stop, "");
        await done;
        const sizes = new Set(out.trim().split("\n"));
        assert.ok(sizes.size > 0);
        assert.deepStrictEqual([...sizes].filter((s) => s !== String(a.length) && s !== String(b.length)), [], `sizes seen: ${[...sizes].join(", ")}`);
        assert.ok(out.trim().split("\n").length > 20, "the reader read the file many times");
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["Pulumi.team-dev.yaml", "stop"]);
    });
});
