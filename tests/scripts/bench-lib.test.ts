import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, run, tmpDir, rmrf } from "./helpers";

/** tests/bench/lib.sh, sourced for real: the image benches' work directory is theirs alone to remove. */
describe("scripts: the image benches' work directory (tests/bench/lib.sh)", () => {
    const lib = path.join(REPO_ROOT, "tests", "bench", "lib.sh");
    const bench = (parent: string | undefined, body: string) =>
        run("bash", ["-c", `set -euo pipefail; . "$1"; bench_work gitspace-test-bench; ${body}`, "bash", lib],
            { env: { ...process.env, ...(parent === undefined ? {} : { GITSPACE_BENCH_WORKDIR: parent }) } });

    it("makes its own directory inside GITSPACE_BENCH_WORKDIR and removes only that one at exit", async () => {
        const parent = tmpDir("bench-parent-");
        try {
            fs.writeFileSync(path.join(parent, "keep.txt"), "the user's file");
            const r = await bench(parent, `touch "$BENCH_WORK/log"; printf '%s\\n' "$BENCH_WORK"`);
            assert.equal(r.code, 0, r.stderr);
            const work = r.stdout.trim();
            assert.equal(path.dirname(work), parent);
            assert.match(path.basename(work), /^gitspace-test-bench\.[A-Za-z0-9]{6}$/);
            assert.ok(!fs.existsSync(work), "its own directory is removed");
            assert.deepEqual(fs.readdirSync(parent), ["keep.txt"], "the parent and what was in it stay");
            // Failing half-way removes the same, and nothing more.
            const failed = await bench(parent, `touch "$BENCH_WORK/x"; gs_die "half-way"`);
            assert.equal(failed.code, 1);
            assert.match(failed.stderr, /\[gitspace\] ERROR: half-way/);
            assert.deepEqual(fs.readdirSync(parent), ["keep.txt"]);
        } finally {
            rmrf(parent);
        }
    });

    it("refuses a GITSPACE_BENCH_WORKDIR that is not a directory, and touches nothing", async () => {
        const parent = tmpDir("bench-parent-");
        try {
            const file = path.join(parent, "a-file");
            fs.writeFileSync(file, "data");
            for (const bad of [file, path.join(parent, "missing"), path.join(file, "sub")]) {
                const r = await bench(bad, "true");
                assert.equal(r.code, 1, `${JSON.stringify(bad)}: ${r.stderr}`);
                assert.match(r.stderr, /GITSPACE_BENCH_WORKDIR: .* is not a directory/);
            }
            assert.equal(fs.readFileSync(file, "utf8"), "data");
            assert.deepEqual(fs.readdirSync(parent), ["a-file"]);
            // Empty is unset: the default parent, /var/tmp.
            const empty = await bench("", `printf '%s\n' "$BENCH_WORK"`);
            assert.equal(empty.code, 0, empty.stderr);
            assert.equal(path.dirname(empty.stdout.trim()), "/var/tmp");
            assert.ok(!fs.existsSync(empty.stdout.trim()));
        } finally {
            rmrf(parent);
        }
    });
});
