import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cheapSdkPromiseStacks, isSdkPromiseStack, plainStack } from "../../portal/sdk-stacks";

const MARK = "<formatted by the installed formatter>";

describe("portal: the SDK's promise stacks skip the source-map formatter", () => {
    let saved: typeof Error.prepareStackTrace;
    let calls: number;
    beforeEach(() => {
        saved = Error.prepareStackTrace;
        calls = 0;
        Error.prepareStackTrace = () => { calls++; return MARK; };
    });
    afterEach(() => { Error.prepareStackTrace = saved; });

    /** A module at `dir/<rel>` whose `stack()` reads `new Error(message).stack` there (its first frame). */
    function stackFrom(rel: string, message = "m"): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-stacks-"));
        const file = path.join(dir, ...rel.split("/"));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, "exports.stack = (m) => new Error(m).stack;\n");
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            return require(file).stack(message);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    it("formats the real debuggablePromise's stack plainly and every other error with the installed formatter", () => {
        assert.strictEqual(cheapSdkPromiseStacks(), true);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable");
        const input = Promise.resolve(1);
        debuggablePromise(input, "ctx"); // records the stack on the promise it is given
        assert.strictEqual(calls, 0, "the SDK's stack did not go through the installed formatter");
        assert.match((input as unknown as { _debugStackTrace: string })._debugStackTrace, /^Error\n {4}at debuggablePromise \(.*[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]debuggable\.js:\d+:\d+\)/);
        assert.strictEqual(new Error("x").stack, MARK);
        assert.strictEqual(calls, 1);
    });

    it("is installed once, and not at all without a formatter (compiled JavaScript)", () => {
        assert.strictEqual(cheapSdkPromiseStacks(), true);
        const wrapped = Error.prepareStackTrace;
        assert.strictEqual(cheapSdkPromiseStacks(), false);
        assert.strictEqual(Error.prepareStackTrace, wrapped);
        assert.strictEqual(new Error("x").stack, MARK);
        assert.strictEqual(calls, 1, "not wrapped twice");
        Error.prepareStackTrace = undefined;
        assert.strictEqual(cheapSdkPromiseStacks(), false);
        assert.strictEqual(Error.prepareStackTrace, undefined);
    });

    it("only a first frame in @pulumi/pulumi/runtime/debuggable.js counts: look-alike files keep the formatter", () => {
        cheapSdkPromiseStacks();
        for (const rel of ["debuggable.js", "runtime/debuggable.js", "pulumi/runtime/debuggable.js", "@pulumi/pulumi/runtime/debuggable.js.bak.js",
            "@pulumi/pulumi/runtime/xdebuggable.js", "@pulumi/pulumi/runtime/debuggable.js/index.js", "@pulumi/pulumi-x/runtime/debuggable.js"]) {
            const before = calls;
            assert.strictEqual(stackFrom(rel), MARK, rel);
            assert.strictEqual(calls, before + 1, rel);
        }
        const sdk = stackFrom("node_modules/@pulumi/pulumi/runtime/debuggable.js", "line1\nline2\u0000\u001b[31m");
        assert.match(sdk, /^Error: line1\nline2\u0000\u001b\[31m\n {4}at /, "the message as given, as V8 prints it");
    });

    it("plainStack and isSdkPromiseStack on frames without a file name (native, eval)", () => {
        const frames = [{ getFileName: () => undefined, toString: () => "native" }] as unknown as NodeJS.CallSite[];
        assert.strictEqual(isSdkPromiseStack(frames), false);
        assert.strictEqual(isSdkPromiseStack([]), false);
        const e = new TypeError("bad");
        assert.strictEqual(plainStack(e, frames), "TypeError: bad\n    at native");
        assert.strictEqual(plainStack(e, []), "TypeError: bad");
    });
});
