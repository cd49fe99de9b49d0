import * as assert from "assert";
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import { backoffDelay, isTornStateRead, StackBusyError, withBusyRetry, withStateReadRetry } from "../../portal";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CommandResult } = require("@pulumi/pulumi/automation/cmd");
const cliError = (stderr: string) => Object.assign(new Error(`Command failed with exit code 255\n${stderr}`), { name: "CommandError", commandResult: new CommandResult("", stderr, 255) });
const torn = () => cliError("error: failed to load checkpoint: EOF\n");
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

describe("portal: a checkpoint read while another process writes it (DIY backend) is run again", () => {
    it("recognises the CLI's own final error line, in the forms the CLI prints", () => {
        for (const stderr of [
            "error: failed to load checkpoint: EOF",
            "error: failed to load checkpoint: EOF\n",
            "error: failed to load checkpoint: unexpected EOF\r\n",
            "error: failed to load checkpoint: place 1: unexpected end of JSON input",
            "warning: something\nerror: failed to load checkpoint: place 12: unexpected end of JSON input\n",
        ]) assert.ok(isTornStateRead(cliError(stderr)), JSON.stringify(stderr));
    });

    it("nothing else: other checkpoint errors, look-alikes, resource messages, other error shapes", () => {
        for (const stderr of [
            "error: failed to load checkpoint: open /state/.pulumi/stacks/p/s.json: permission denied",
            "error: failed to load checkpoint: invalid character 'x' looking for beginning of value",
            "error: failed to load checkpoint: EOFX",
            "error: failed to load checkpoint: EOF; and more",
            "error: failed to load checkpoint: place one: unexpected EOF",
            "  error: failed to load checkpoint: EOF",
            "error:  failed to load checkpoint: EOF",
            "Error: failed to load checkpoint: EOF",
            "kubernetes:apps/v1:Deployment bob: error: failed to load checkpoint: EOF",
            "error: failed to load checkpoint: EOF\u0000",
            "error: failed to load checkpoint: \u0045OF\u200b",
            "error: the stack is currently locked by 1 lock(s)",
            "",
        ]) assert.ok(!isTornStateRead(cliError(stderr)), JSON.stringify(stderr));
        assert.ok(!isTornStateRead(new Error("error: failed to load checkpoint: EOF")), "the message alone (not the CLI's stderr) is not enough");
        assert.ok(!isTornStateRead("error: failed to load checkpoint: EOF"));
        assert.ok(!isTornStateRead(undefined));
        assert.ok(!isTornStateRead(Object.assign(new Error("x"), { commandResult: { stderr: ["error: failed to load checkpoint: EOF"] } })));
        assert.ok(!isTornStateRead(Object.assign(new Error("x"), { commandResult: null })));
    });

    it("runs the command again with growing delays, then returns its result", async () => {
        const delays: number[] = [];
        let calls = 0;
        const result = await withStateReadRetry(async () => {
            if (++calls <= 2) throw torn();
            return "outputs";
        }, { delayMs: 10, sleep: async (ms) => { delays.push(ms); } });
        assert.strictEqual(result, "outputs");
        assert.strictEqual(calls, 3);
        assert.deepStrictEqual(delays, [10, 20]);
    });

    it("after the last attempt the torn read itself is thrown (not a busy stack), and other errors at once", async () => {
        let calls = 0;
        const err = await withStateReadRetry(async () => { calls++; throw torn(); }, { attempts: 3, sleep: async () => undefined }).catch((e) => e);
        assert.strictEqual(calls, 3);
        assert.ok(isTornStateRead(err) && !(err instanceof StackBusyError));
        calls = 0;
        await assert.rejects(withStateReadRetry(async () => { calls++; throw busy(); }, { sleep: async () => undefined }), ConcurrentUpdateError);
        assert.strictEqual(calls, 1, "a locked stack is withBusyRetry's to handle, with its own backoff");
        calls = 0;
        await assert.rejects(withStateReadRetry(async () => { calls++; throw cliError("error: update failed"); }, { sleep: async () => undefined }), /update failed/);
        assert.strictEqual(calls, 1);
    });

    it("inside withBusyRetry: a torn read then a locked stack then success", async () => {
        const seen: string[] = [];
        let calls = 0;
        const result = await withBusyRetry("s", () => withStateReadRetry(async () => {
            calls++;
            if (calls === 1) { seen.push("torn"); throw torn(); }
            if (calls === 2) { seen.push("busy"); throw busy(); }
            seen.push("ran");
            return 42;
        }, { sleep: async () => undefined }), { sleep: async () => undefined });
        assert.strictEqual(result, 42);
        assert.deepStrictEqual(seen, ["torn", "busy", "ran"]);
    });
});
