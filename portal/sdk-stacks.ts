/**
 * Cheaper stack traces for the Pulumi SDK's promise bookkeeping, in the portal process.
 *
 * The SDK's `debuggablePromise` (`@pulumi/pulumi/runtime/debuggable.js`) reads `new Error().stack` for every output
 * promise an inline program makes, only for its promise-leak report. Under ts-node (`npm run portal`) each read is
 * formatted through source maps (@cspotcode/source-map-support): 1.9 of the portal's 8.8 CPU seconds in a
 * 20-developer batch (portal/README.md, "storm"). After `cheapSdkPromiseStacks()`, a stack whose first frame is in
 * that file gets V8's plain call-site format, no source map; every other error keeps the installed formatter.
 */
import * as path from "path";

type Formatter = (error: Error, frames: NodeJS.CallSite[]) => unknown;

const DEBUGGABLE = ["", "@pulumi", "pulumi", "runtime", "debuggable.js"].join(path.sep);
const INSTALLED = Symbol.for("gitspace.portal.cheapSdkPromiseStacks");

/** True when the stack was captured by the SDK's `debuggablePromise` (its first frame is in debuggable.js). */
export function isSdkPromiseStack(frames: readonly NodeJS.CallSite[]): boolean {
    return frames[0]?.getFileName()?.endsWith(DEBUGGABLE) ?? false;
}

/** `Error: message` and one `    at <call site>` line per frame, as V8 formats a stack without a formatter. */
export function plainStack(error: Error, frames: readonly NodeJS.CallSite[]): string {
    return `${Error.prototype.toString.call(error)}${frames.map((f) => `\n    at ${f.toString()}`).join("")}`;
}

/**
 * Wraps the installed `Error.prepareStackTrace` (ts-node's source-map formatter) so that the SDK's promise stacks
 * skip it. Does nothing without an installed formatter (compiled JavaScript: V8's own format is already plain) or
 * when already done. Returns whether it wrapped one.
 */
export function cheapSdkPromiseStacks(): boolean {
    const current = Error.prepareStackTrace as (Formatter & { [INSTALLED]?: true }) | undefined;
    if (!current || current[INSTALLED]) return false;
    const wrapped: Formatter & { [INSTALLED]?: true } = (error, frames) =>
        isSdkPromiseStack(frames) ? plainStack(error, frames) : current(error, frames);
    wrapped[INSTALLED] = true;
    Error.prepareStackTrace = wrapped;
    return true;
}
