/**
 * No debug messages from the Pulumi SDK in the portal process.
 *
 * The SDK's runtime logs several debug messages for every resource an inline program registers ("Registering
 * resource", "RegisterResource RPC prepared/finished", ...) through `@pulumi/pulumi/log`'s `debug`. Each one is a
 * gRPC call to the engine, which turns it into an engine event that the CLI writes to the event log and the
 * Automation API reads back and parses: 852 of the 1,383 events of a 20-developer no-op update. The portal never
 * runs the engine with `--debug` and shows no debug event (EventCollector drops them), so they are pure cost.
 * After `quietSdkDebugLogs()`, `debug` of the SDK's log module (which the runtime and a program's `pulumi.log.debug`
 * both call) returns at once, in this process only: info, warnings and errors are untouched, and a program run by
 * the CLI's language host (another process) logs as before. Measured in `npm run bench:portal` (test "SDK's cost").
 */
type LogModule = { debug: (...args: unknown[]) => Promise<void> };

const QUIET = Symbol.for("gitspace.portal.quietSdkDebugLogs");

/** The SDK's log module object: the one its runtime reads `debug` from at every call. */
export function sdkLogModule(): LogModule {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@pulumi/pulumi/log") as LogModule;
}

/** Whether the SDK's debug logging is switched off in this process. */
export function sdkDebugLogsQuiet(): boolean {
    return (sdkLogModule().debug as { [QUIET]?: true })[QUIET] === true;
}

/**
 * Replaces the SDK's `log.debug` with one that sends nothing; returns a function that puts the original back (for
 * the benchmark's comparison). Calling it again while quiet changes nothing.
 */
export function quietSdkDebugLogs(): () => void {
    const log = sdkLogModule();
    if (sdkDebugLogsQuiet()) return () => undefined;
    const original = log.debug;
    log.debug = Object.assign(() => Promise.resolve(), { [QUIET]: true as const });
    return () => {
        log.debug = original;
    };
}
