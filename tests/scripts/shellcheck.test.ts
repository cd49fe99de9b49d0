import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, SCRIPTS, requireTool } from "./helpers";

const SKIP_DIRS = new Set(["node_modules", ".git", ".pulumi-state"]);

/** Every shell script under dir: *.sh and extension-less files with a bash shebang. */
function shellScripts(dir: string): string[] {
    const out: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
            if (!SKIP_DIRS.has(e.name)) out.push(...shellScripts(full));
        }
        else if (e.isFile()) {
            const head = fs.readFileSync(full, "utf8").slice(0, 40);
            if (e.name.endsWith(".sh") || /^#!.*\b(bash|sh)\b/.test(head)) out.push(full);
        }
    }
    return out.sort();
}

describe("scripts: shellcheck and script standards", () => {
    const files = shellScripts(SCRIPTS);

    it("finds the scripts", () => {
        assert.ok(files.length >= 15, `only ${files.length} scripts found`);
    });

    it("every script is shellcheck-clean (all severities)", () => {
        requireTool("shellcheck");
        const r = spawnSync("shellcheck", ["--severity=style", ...files], { encoding: "utf8", cwd: SCRIPTS });
        assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
    });

    it("every other shell script of the repository (tools/, images/, tests/, .ci/) is shellcheck-clean too", () => {
        requireTool("shellcheck");
        const repo = REPO_ROOT;
        const others = ["tools", "images", "tests", ".ci"].flatMap((d) => shellScripts(path.join(repo, d)));
        assert.ok(others.length >= 15, `only ${others.length} scripts found outside scripts/`);
        const r = spawnSync("shellcheck", ["--severity=style", "-x", ...others], { encoding: "utf8", cwd: repo });
        assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
    });

    it("one log helper: no shell script of the repository defines its own log, die or warn function (all source scripts/common/lib.sh)", () => {
        // The one helper, where the tests run the scripts from (SCRIPTS may be a staged copy of scripts/).
        const lib = path.join(SCRIPTS, "common", "lib.sh");
        assert.ok(files.includes(lib), `${lib} is among the scripts checked`);
        const others = [...files, ...["tools", "images", "tests", ".ci"].flatMap((d) => shellScripts(path.join(REPO_ROOT, d)))]
            .filter((f) => f !== lib);
        const own = others.flatMap((f) => [...fs.readFileSync(f, "utf8").matchAll(/^\s*(?:function\s+)?((?:gs_)?(?:log|die|warn|info|error|fatal))\s*\(\)/gm)]
            .map((m) => `${path.relative(REPO_ROOT, f)}: ${m[1]}()`));
        assert.deepEqual(own, []);
        const prefixed = others.filter((f) => /(?:printf|echo)\s+(?:-\w+\s+)?["']\[gitspace\]/.test(fs.readFileSync(f, "utf8")));
        assert.deepEqual(prefixed.map((f) => path.relative(REPO_ROOT, f)), [], "the [gitspace] log prefix is printed by lib.sh alone");
    });

    it("every executable script starts with #!/usr/bin/env bash and set -euo pipefail, and is executable", () => {
        for (const f of files) {
            const text = fs.readFileSync(f, "utf8");
            if (path.basename(f) === "lib.sh") {
                assert.match(text, /^# shellcheck shell=bash/, f);
                continue;
            }
            assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${f}: shebang`);
            assert.match(text, /^set -euo pipefail$/m, `${f}: set -euo pipefail`);
            assert.ok((fs.statSync(f).mode & 0o111) !== 0, `${f}: not executable`);
        }
    });

    it("no script runs chown -R or rm -rf on HOME, and none writes a credential helper into HOME", () => {
        for (const f of files) {
            const text = fs.readFileSync(f, "utf8").split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
            assert.doesNotMatch(text, /chown\s+(-\w*R|--recursive)/, `${f}: chown -R`);
            assert.doesNotMatch(text, /rm\s+-\w*r\w*\s+[^|;&]*\$\{?(HOME|home)\}?"?\s*($|[;&|])/m, `${f}: rm -r of HOME`);
            assert.doesNotMatch(text, /^\s*git config --global/m, `${f}: writes the user's git config`);
        }
    });
});
