/**
 * The per-stack request line with group commit: requests on one stack wait in arrival order; when the stack is
 * free, the queue hands the runner every batchable request at the head of the line (up to `maxBatch`) at once, so
 * the requests that arrived while an update ran are applied together by the next one. A request that must run
 * alone (a dry run, a multi-step purge) is a batch of its own and ends the batch before it: arrival order is kept.
 * A queued request can be cancelled until its batch starts. Different stacks run in parallel.
 */

export interface QueuedItem {
    /** Unique among the queued and running items of its key. */
    readonly id: string;
    /** May run in one batch with its neighbours. */
    readonly batchable: boolean;
}

export interface QueueEntry<I> {
    item: I;
    state: "queued" | "running";
    /** Queued: how many requests are ahead of it (the running batch counts as one per request). */
    position: number;
}

/** Runs one batch; it settles every item itself and should not throw (a throw is reported to `onCrash`). */
export type BatchRunner<I> = (key: string, items: I[]) => Promise<void>;

interface Line<I> {
    pending: I[];
    running: I[];
    draining: boolean;
}

export class BatchQueue<I extends QueuedItem> {
    private readonly lines = new Map<string, Line<I>>();

    constructor(
        private readonly runner: BatchRunner<I>,
        /** At most this many requests in one batch. Default 100. */
        readonly maxBatch = 100,
        private readonly onCrash: (key: string, items: I[], error: unknown) => void = () => undefined,
        /**
         * How long an idle line waits after its first request before the batch starts, so that requests sent
         * together (a burst of starts) share one update. Default 0: the next turn of the event loop.
         */
        readonly windowMs = 0,
    ) {
        if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
        if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`windowMs must be a non-negative number, got ${windowMs}`);
    }

    /** Requests queued or running on `key`. */
    size(key: string): number {
        const line = this.lines.get(key);
        return line ? line.pending.length + line.running.length : 0;
    }

    /**
     * Adds a request. `onQueued(position)` is called synchronously when it has to wait behind a running batch
     * (with the number of requests ahead of it); a request that joins the batch about to start is not "queued".
     */
    enqueue(key: string, item: I, onQueued?: (position: number) => void): void {
        const line = this.line(key);
        if (this.find(line, item.id)) throw new Error(`operation id ${item.id} is already queued or running on ${key}`);
        line.pending.push(item);
        if (line.draining && line.running.length > 0) onQueued?.(line.running.length + line.pending.length - 1);
        if (!line.draining) {
            line.draining = true;
            // Start on the next turn of the event loop (or after the window): requests arriving until then share the
            // first batch.
            if (this.windowMs > 0) setTimeout(() => void this.drain(key, line), this.windowMs);
            else setImmediate(() => void this.drain(key, line));
        }
    }

    /** The queued and running requests of `key`, running first, then in arrival order. */
    list(key: string): QueueEntry<I>[] {
        const line = this.lines.get(key);
        if (!line) return [];
        return [
            ...line.running.map((item) => ({ item, state: "running" as const, position: 0 })),
            ...line.pending.map((item, i) => ({ item, state: "queued" as const, position: line.running.length + i })),
        ];
    }

    /**
     * Takes a queued request out of the line: it never runs. Returns the item, `"running"` when its batch already
     * started (too late), or undefined when no such request is queued or running.
     */
    cancel(key: string, id: string): I | "running" | undefined {
        const line = this.lines.get(key);
        if (!line) return undefined;
        if (line.running.some((i) => i.id === id)) return "running";
        const index = line.pending.findIndex((i) => i.id === id);
        if (index < 0) return undefined;
        const [item] = line.pending.splice(index, 1);
        return item;
    }

    /** The next batch: the head alone when it is not batchable, else the batchable requests at the head. */
    static take<I extends QueuedItem>(pending: I[], maxBatch: number): I[] {
        if (pending.length === 0) return [];
        if (!pending[0].batchable) return pending.splice(0, 1);
        let n = 0;
        while (n < pending.length && n < maxBatch && pending[n].batchable) n++;
        return pending.splice(0, n);
    }

    private line(key: string): Line<I> {
        let line = this.lines.get(key);
        if (!line) {
            line = { pending: [], running: [], draining: false };
            this.lines.set(key, line);
        }
        return line;
    }

    private find(line: Line<I>, id: string) {
        return line.pending.some((i) => i.id === id) || line.running.some((i) => i.id === id);
    }

    private async drain(key: string, line: Line<I>) {
        while (line.pending.length > 0) {
            line.running = BatchQueue.take(line.pending, this.maxBatch);
            try {
                await this.runner(key, line.running);
            } catch (e) {
                this.onCrash(key, line.running, e);
            }
            line.running = [];
        }
        line.draining = false;
        if (this.lines.get(key) === line && line.pending.length === 0) this.lines.delete(key);
    }
}
