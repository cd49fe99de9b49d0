/**
 * The shared helpers of lib.sh that every start runs, called for real in bash: the one-call JSON readers
 * (gs_repos_read, gs_json_fields, gs_records) on hostile values, gs_write_if_changed (rewrites nothing that did not
 * change, never writes through a symlink, keeps NUL bytes), gs_script_dir, and the way every script finds lib.sh.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { COMMON, baseEnv, rmrf, tmpDir } from "./helpers";

const LIB = path.join(COMMON, "lib.sh");

/** Runs `code` in bash with lib.sh sourced (set -euo pipefail, as the scripts), `args` as $1...; returns stdout. */
function bash(code: string, args: string[] = [], opts: { cwd?: string; input?: string } = {}): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", ["-c", `set -euo pipefail; . "$LIB"; ${code}`, "_", ...args], {
        env: baseEnv({ LIB }), encoding: "utf8", cwd: opts.cwd, input: opts.input,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** gs_repos_read JSON, then one JSON line per entry: each field's value, or null when the field was left unset. */
function readRepos(json: string): { ok: boolean; entries: (string | null)[][] } {
    const r = bash(`
        if ! gs_repos_read "$1"; then echo FAIL; exit 0; fi
        for ((i = 0; i < GS_REPO_COUNT; i++)); do
            for a in NAME URL BRANCH; do
                v="GS_REPO_$a[i]"
                if [[ -v "$v" ]]; then printf '%s\\0' "s\${!v}"; else printf 'x\\0'; fi
            done
            printf 'E\\0'
        done`, [json]);
    assert.equal(r.code, 0, r.stderr);
    if (r.stdout === "FAIL\n") return { ok: false, entries: [] };
    const entries: (string | null)[][] = [];
    let cur: (string | null)[] = [];
    for (const rec of r.stdout.split("\0").slice(0, -1)) {
        if (rec === "E") {
            entries.push(cur);
            cur = [];
        } else cur.push(rec.startsWith("s") ? rec.slice(1) : null);
    }
    return { ok: true, entries };
}

describe("scripts: lib.sh helpers of the start path", () => {
    it("gs_repos_read: one jq call reads every field exactly, with the per-field rules of the program's list", () => {
        const tricky = "a b\tc\n\"quoted\" $(x) `y` \\ ;|& * ? [z] 💥 é";
        const r = readRepos(JSON.stringify([
            { name: "api", url: "https://git.example.com/acme/api.git", branch: "main" },
            { name: tricky, url: "-n", branch: "--args" },
            { name: "trail\n\n", url: "u" },
            { name: "nul\u0000inside", url: "u", branch: null },
            { name: 1, url: ["x"], branch: { a: 1 } },
            "a string",
            null,
            42,
            { name: "x", url: "u", branch: false },
            { name: "", url: "" },
        ]));
        assert.ok(r.ok);
        assert.deepEqual(r.entries, [
            ["api", "https://git.example.com/acme/api.git", "main"],
            [tricky, "-n", "--args"],
            ["trail\n\n", "u", ""],
            ["nulinside", "u", ""], // a NUL cannot live in a bash value: dropped, as $(...) drops it
            [null, null, null],
            [null, null, null],
            ["", "", ""],
            [null, null, null],
            ["x", "u", ""], // `false // ""` is "" (jq's alternative operator), as before
            ["", "", ""],
        ]);
    });

    it("gs_repos_read: anything but one JSON array fails with no entry", () => {
        for (const bad of ["{}", '"[]"', "[] []", "[", "", "null", "1", "[1]x", "[]\n[]"]) {
            assert.deepEqual(readRepos(bad), { ok: false, entries: [] }, JSON.stringify(bad));
        }
        assert.deepEqual(readRepos("[]"), { ok: true, entries: [] });
        assert.deepEqual(readRepos(" [ ] "), { ok: true, entries: [] });
    });

    it("gs_repos_read: a list of 500 repositories in one call, in order", () => {
        const list = Array.from({ length: 500 }, (_, i) => ({ name: `r${i}`, url: `https://h/${i}.git`, branch: i % 2 ? `b${i}` : undefined }));
        const r = readRepos(JSON.stringify(list));
        assert.equal(r.entries.length, 500);
        assert.deepEqual(r.entries[499], ["r499", "https://h/499.git", "b499"]);
        assert.deepEqual(r.entries[0], ["r0", "https://h/0.git", ""]);
    });

    it("gs_json_fields: the string fields of one object; non-strings unset; anything but one object fails", () => {
        const show = `if gs_json_fields "$1" url installCommand branch; then for k in url installCommand branch; do
            if [[ -v "GS_FIELD[$k]" ]]; then printf '%s=%s\\0' "$k" "\${GS_FIELD[$k]}"; else printf '%s!\\0' "$k"; fi; done; else echo FAIL; fi`;
        const fields = (json: string) => bash(show, [json]).stdout;
        assert.equal(fields('{"url":"https://h/d.git","installCommand":"-x y"}'), "url=https://h/d.git\0installCommand=-x y\0branch=\0");
        assert.equal(fields('{"url":"u\\n","installCommand":3,"branch":null}'), "url=u\n\0installCommand!\0branch=\0");
        for (const bad of ["[]", '{"url":"a"} {"url":"b"}', "nope", ""]) assert.equal(fields(bad), "FAIL\n", bad);
    });

    it("gs_records: fails, with no record, when jq fails or stops before its end record", () => {
        const r = bash(`
            gs_records a '"x\\u0000", "end\\u0000"' <<<'null' && echo "ok \${#a[@]} \${a[0]}"
            gs_records b '"x\\u0000", error("boom")' <<<'null' 2>/dev/null || echo "failed \${#b[@]}"
            gs_records c '"x\\u0000"' <<<'null' || echo "failed \${#c[@]}"
            gs_records d '.' <<<'not json' 2>/dev/null || echo "failed \${#d[@]}"`);
        assert.equal(r.stdout, "ok 1 x\nfailed 0\nfailed 0\nfailed 0\n", r.stderr);
    });

    describe("gs_write_if_changed", () => {
        let dir: string;
        beforeEach(() => (dir = tmpDir()));
        afterEach(() => rmrf(dir));
        const write = (file: string, input: string, mode = "0644") => bash(`gs_write_if_changed "$1" "$2"`, [file, mode], { input });

        it("writes exactly stdin (trailing newlines, no newline, empty) with the mode, and keeps the file when unchanged", () => {
            const f = path.join(dir, "f.json");
            for (const content of ["a\nb\n\n\n", "no newline", "", "é 💥\r\n\t\\x"]) {
                assert.equal(write(f, content, "0600").code, 0);
                assert.equal(fs.readFileSync(f, "utf8"), content);
                assert.equal(fs.statSync(f).mode & 0o777, 0o600);
                const ino = fs.statSync(f).ino;
                assert.equal(write(f, content, "0644").code, 0);
                assert.equal(fs.statSync(f).ino, ino, "same content: not rewritten");
            }
            assert.deepEqual(fs.readdirSync(dir), ["f.json"], "no temp file left");
        });

        it("content with NUL bytes is written and compared as it is", () => {
            const f = path.join(dir, "bin");
            const content = "x\0y\0\0z\n";
            assert.equal(write(f, content).code, 0);
            assert.equal(fs.readFileSync(f, "latin1"), content);
            const ino = fs.statSync(f).ino;
            assert.equal(write(f, content).code, 0);
            assert.equal(fs.statSync(f).ino, ino);
            assert.equal(write(f, "x\0y\0\0w\n").code, 0);
            assert.equal(fs.readFileSync(f, "latin1"), "x\0y\0\0w\n");
            assert.deepEqual(fs.readdirSync(dir), ["bin"]);
        });

        it("a symlink at FILE is replaced by a regular file, even with the same content; its target is untouched", () => {
            const target = path.join(dir, "target");
            fs.writeFileSync(target, "same\n");
            const link = path.join(dir, "link");
            fs.symlinkSync(target, link);
            assert.equal(write(link, "same\n").code, 0);
            assert.ok(fs.lstatSync(link).isFile());
            assert.equal(fs.readFileSync(target, "utf8"), "same\n");
            // A symlink to a file with other content: the same.
            fs.rmSync(link);
            fs.symlinkSync(target, link);
            assert.equal(write(link, "other\n").code, 0);
            assert.ok(fs.lstatSync(link).isFile());
            assert.equal(fs.readFileSync(target, "utf8"), "same\n");
        });
    });

    it("gs_script_dir and the lib.sh lookup: absolute, relative, with .. and run as `bash script.sh` from its directory", () => {
        const dir = tmpDir();
        try {
            const sub = path.join(dir, "scripts", "common");
            fs.mkdirSync(sub, { recursive: true });
            fs.copyFileSync(LIB, path.join(sub, "lib.sh"));
            fs.mkdirSync(path.join(dir, "scripts", "vscode"));
            const body = `#!/usr/bin/env bash
set -euo pipefail
# shellcheck source=lib.sh
case "\${BASH_SOURCE[0]}" in */*) . "\${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac
declare here
gs_script_dir here
printf '%s\\n' "$here"
`;
            fs.writeFileSync(path.join(sub, "s.sh"), body, { mode: 0o755 });
            const run = (cmd: string[], cwd: string) => {
                const r = spawnSync(cmd[0], cmd.slice(1), { cwd, encoding: "utf8", env: baseEnv() });
                assert.equal(r.status, 0, r.stderr);
                return r.stdout.trim();
            };
            assert.equal(run([path.join(sub, "s.sh")], "/"), sub);
            assert.equal(run([path.join(dir, "scripts", "vscode", "..", "common", "s.sh")], "/"), sub);
            assert.equal(run(["./s.sh"], sub), sub);
            assert.equal(run(["bash", "s.sh"], sub), sub);
            assert.equal(run(["common/s.sh"], path.join(dir, "scripts")), sub);
            assert.equal(run([`${path.join(dir, "scripts")}//common/./s.sh`], "/"), sub);
        } finally {
            rmrf(dir);
        }
    });
});
