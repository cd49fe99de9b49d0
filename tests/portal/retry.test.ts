import * as assert from "assert";
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import { backoffDelay, StackBusyError, withBusyRetry } from "../../portal";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CommandResult } = require("@pulumi/pulumi/automation/cmd");
const busy = () => new ConcurrentUpdateError(new CommandResult("", "error: the stack is currently locked by 1 lock(s)", 255));

describe("portal: busy retry with backoff", () => {
    it("retries ConcurrentUpdateError with exponential backoff, then succeeds", async () => {
        const delays: number[] = [];
        let calls = 0;
        const retries: number[] = [];
        const result = await withBusyRetry("team-dev", async () => {
            if (++calls <= 3) throw busy();
            return "done";
        }, { initialDelayMs: 100, factor: 2, maxDelayMs: 300, jitter: 0, sleep: async (ms) => { delays.push(ms); } }, (r) => retries.push(r.attempt));
        assert.strictEqual(result, "done");
        assert.strictEqual(calls, 4);
        assert.deepStrictEqual(delays, [100, 200, 300], "doubling, capped at maxDelayMs");
        assert.deepStrictEqual(retries, [1, 2, 3]);
    });

    it("gives up after `attempts` with a clear StackBusyError (409)", async () => {
        let calls = 0;
        const err = await withBusyRetry("team-dev", async () => { calls++; throw busy(); },
            { attempts: 4, sleep: async () => undefined }).catch((e) => e);
        assert.ok(err instanceof StackBusyError, String(err));
        assert.strictEqual(calls, 4);
        assert.strictEqual(err.status, 409);
        assert.strictEqual(err.code, "stack_busy");
        assert.match(err.message, /stack "team-dev" is busy: another update is in progress \(still locked after 4 attempts\)/);
        assert.ok(err.cause instanceof ConcurrentUpdateError);
    });

    it("does not retry other errors", async () => {
        let calls = 0;
        await assert.rejects(withBusyRetry("s", async () => { calls++; throw new Error("resource failed"); }, { sleep: async () => undefined }), /resource failed/);
        assert.strictEqual(calls, 1);
    });

    it("delays: base doubles up to the cap, jitter spreads them ±jitter", async () => {
        assert.strictEqual(backoffDelay(1), 1000);
        assert.strictEqual(backoffDelay(3), 4000);
        assert.strictEqual(backoffDelay(10), 15000);
        for (const [r, expected] of [[0, 800], [1, 1200]] as const) {
            const delays: number[] = [];
            let calls = 0;
            await withBusyRetry("s", async () => { if (++calls === 1) throw busy(); return 1; },
                { random: () => r, sleep: async (ms) => { delays.push(ms); } });
            assert.deepStrictEqual(delays, [expected]);
        }
    });
});
