/**
 * Progress as an async iterator: `const op = streamOperation((onEvent) => portal.stop(ref, "bob", { onEvent }))`,
 * then `for await (const event of op.events) …` and `await op.result`.
 */
import type { PortalEvent } from "./types";

export interface StreamedOperation<T> {
    events: AsyncIterable<PortalEvent>;
    result: Promise<T>;
}

export function streamOperation<T>(start: (onEvent: (e: PortalEvent) => void) => Promise<T>): StreamedOperation<T> {
    const buffer: PortalEvent[] = [];
    let done = false;
    let wake: (() => void) | undefined;
    const onEvent = (e: PortalEvent) => {
        buffer.push(e);
        wake?.();
    };
    const result = start(onEvent);
    const finish = () => {
        done = true;
        wake?.();
    };
    result.then(finish, finish);
    const events: AsyncIterable<PortalEvent> = {
        async *[Symbol.asyncIterator]() {
            for (;;) {
                if (buffer.length) {
                    yield buffer.shift()!;
                    continue;
                }
                if (done) return;
                await new Promise<void>((r) => (wake = r));
                wake = undefined;
            }
        },
    };
    return { events, result };
}
