import * as assert from "assert";
import { KeyedQueue } from "../../portal";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("portal: per-stack queue", () => {
    it("runs operations on one stack one at a time, in arrival order", async () => {
        const q = new KeyedQueue();
        const log: string[] = [];
        let running = 0, maxRunning = 0;
        const op = (name: string, ms: number) => q.run("team-dev", async () => {
            running++; maxRunning = Math.max(maxRunning, running);
            log.push(`start ${name}`);
            await tick(ms);
            log.push(`end ${name}`);
            running--;
            return name;
        });
        const results = await Promise.all([op("a", 30), op("b", 5), op("c", 10)]);
        assert.deepStrictEqual(results, ["a", "b", "c"]);
        assert.strictEqual(maxRunning, 1);
        assert.deepStrictEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
        assert.strictEqual(q.size("team-dev"), 0);
    });

    it("runs operations on different stacks in parallel", async () => {
        const q = new KeyedQueue();
        let running = 0, maxRunning = 0;
        const op = (key: string) => q.run(key, async () => {
            running++; maxRunning = Math.max(maxRunning, running);
            await tick(40);
            running--;
        });
        const started = Date.now();
        await Promise.all([op("a-dev"), op("b-dev"), op("c-dev")]);
        assert.strictEqual(maxRunning, 3);
        assert.ok(Date.now() - started < 110, "three 40 ms operations on three stacks overlap");
    });

    it("a failed operation does not block the next one, and reports the queue position", async () => {
        const q = new KeyedQueue();
        const positions: number[] = [];
        const first = q.run("s", async () => { await tick(5); throw new Error("boom"); });
        const second = q.run("s", async () => "ok", (p) => positions.push(p));
        const third = q.run("s", async () => "ok too", (p) => positions.push(p));
        await assert.rejects(first, /boom/);
        assert.strictEqual(await second, "ok");
        assert.strictEqual(await third, "ok too");
        assert.deepStrictEqual(positions, [1, 2]);
    });
});
