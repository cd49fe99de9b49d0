import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { quietSdkDebugLogs, sdkDebugLogsQuiet, sdkLogModule } from "../../portal/sdk-logs";

describe("portal: no SDK debug messages (quietSdkDebugLogs)", () => {
    let original: ReturnType<typeof sdkLogModule>["debug"];
    before(() => { original = sdkLogModule().debug; });
    afterEach(() => { sdkLogModule().debug = original; });

    it("is the log module the SDK's runtime and a program's pulumi.log both call", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        assert.strictEqual(require("@pulumi/pulumi").log, sdkLogModule());
        assert.strictEqual(pulumi.log.debug, original);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const runtime = require("fs").readFileSync(require.resolve("@pulumi/pulumi/runtime/resource.js"), "utf8") as string;
        assert.match(runtime, /const log = __importStar\(require\("\.\.\/log"\)\)/, "the runtime reads debug off the module object at each call");
        assert.ok((runtime.match(/\blog\.debug\(/g) ?? []).length >= 5, "and calls log.debug for registrations");
    });

    it("replaces debug only, returns a restore, and a second call while quiet changes nothing", async () => {
        const { info, warn, error } = sdkLogModule() as unknown as Record<string, unknown>;
        assert.strictEqual(sdkDebugLogsQuiet(), false);
        const restore = quietSdkDebugLogs();
        assert.strictEqual(sdkDebugLogsQuiet(), true);
        assert.notStrictEqual(pulumi.log.debug, original);
        assert.strictEqual(await pulumi.log.debug("registering"), undefined);
        const m = sdkLogModule() as unknown as Record<string, unknown>;
        assert.deepStrictEqual([m.info, m.warn, m.error], [info, warn, error], "info, warnings and errors untouched");
        const quiet = pulumi.log.debug;
        const again = quietSdkDebugLogs();
        assert.strictEqual(pulumi.log.debug, quiet);
        again();
        assert.strictEqual(pulumi.log.debug, quiet, "the second caller's restore does not undo the first");
        restore();
        assert.strictEqual(pulumi.log.debug, original);
        assert.strictEqual(sdkDebugLogsQuiet(), false);
    });
});
