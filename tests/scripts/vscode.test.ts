import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DEV_UID, REPO_ROOT, baseEnv, chownR, grepTree, rmrf, run, script, tmpDir, podEnv } from "./helpers";

const PASSWORD = 'p@ss "w0rd" \\ with: yaml-ish # chars';

/** A fake code-server: records its argv, environment, cwd and the --config file it was given. */
const FAKE = `#!/usr/bin/env bash
set -euo pipefail
out="$FAKE_RECORD"
{
  printf 'cwd=%s\\n' "$PWD"
  for a in "$@"; do printf 'arg=%s\\n' "$a"; done
} > "$out.args"
env > "$out.env"
cat /proc/$$/cmdline | tr '\\0' '\\n' > "$out.cmdline"
prev=""
for a in "$@"; do
  if [[ "$prev" == --config ]]; then cat -- "$a" > "$out.config"; stat -c '%a %u' -- "$a" > "$out.config-mode"; fi
  if [[ "$prev" == --extensions-dir && "\${FAKE_INSTALL:-}" == 1 ]]; then :; fi
  prev="$a"
done
# install-extensions mode: --install-extension ID -> create ID-1.0.0 in --extensions-dir
ext_dir=""; prev=""
for a in "$@"; do
  if [[ "$prev" == --extensions-dir ]]; then ext_dir="$a"; fi
  if [[ "$prev" == --install-extension ]]; then
    [[ "$a" != bad.* ]] || { echo "no such extension $a" >&2; exit 1; }
    mkdir -p "$ext_dir/$a-1.0.0" && echo "{\\"name\\":\\"$a\\"}" > "$ext_dir/$a-1.0.0/package.json"
  fi
  prev="$a"
done
`;

describe("scripts: run-vscode-web.sh and install-extensions.sh (fake code-server binary)", () => {
    let dir: string;
    let home: string;
    let fake: string;
    let record: string;
    let secretDir: string;
    let baked: string;
    let rt: string;
    beforeEach(() => {
        dir = tmpDir();
        home = path.join(dir, "home");
        fs.mkdirSync(home);
        fake = path.join(dir, "code-server");
        fs.writeFileSync(fake, FAKE, { mode: 0o755 });
        record = path.join(dir, "rec", "r");
        fs.mkdirSync(path.dirname(record));
        fs.chmodSync(path.dirname(record), 0o777);
        secretDir = path.join(dir, "ide");
        fs.mkdirSync(secretDir);
        fs.writeFileSync(path.join(secretDir, "password"), PASSWORD + "\n");
        fs.chownSync(path.join(secretDir, "password"), 0, DEV_UID);
        fs.chmodSync(path.join(secretDir, "password"), 0o440);
        baked = path.join(dir, "baked");
        fs.mkdirSync(path.join(baked, "golang.go-0.41.0"), { recursive: true });
        fs.writeFileSync(path.join(baked, "golang.go-0.41.0", "package.json"), '{"name":"go"}');
        fs.mkdirSync(path.join(dir, "tmp"));
        fs.chmodSync(path.join(dir, "tmp"), 0o1777);
        rt = path.join(dir, "tmp", "gitspace-code-server");
        chownR(home, DEV_UID);
    });
    afterEach(() => rmrf(dir));

    const env = (extra: Record<string, string> = {}) =>
        // The pod env of a vs_code_web developer (gitspaceEnv: GITSPACE_IDE_PORT 8089, GITSPACE_IDE_AUTH password).
        podEnv({ ide: "vs_code_web" }, { HOME: home, GITSPACE_CODE_SERVER: fake, FAKE_RECORD: record, GITSPACE_IDE_SECRET_DIR: secretDir, GITSPACE_VSCODE_EXTENSIONS_DIR: baked, GITSPACE_VSCODE_RUNTIME_DIR: rt, ...extra });
    const start = (extra: Record<string, string> = {}) => run(script("vscode/run-vscode-web.sh"), [], { env: env(extra), asUid: DEV_UID, groups: [DEV_UID] });
    const args = () => fs.readFileSync(`${record}.args`, "utf8").split("\n").filter(Boolean);

    it("password auth: the password reaches code-server only through a 0600 config file outside HOME", async () => {
        const r = await start({ PASSWORD: "must-be-dropped" });
        assert.equal(r.code, 0, r.stderr);
        const a = args();
        const config = path.join(rt, "config.yaml");
        assert.deepEqual(a, [
            `cwd=${home}`,
            "arg=--config", `arg=${config}`,
            "arg=--user-data-dir", `arg=${home}/.local/share/code-server`,
            "arg=--extensions-dir", `arg=${home}/.local/share/code-server/extensions`,
            "arg=--disable-telemetry", "arg=--disable-update-check", "arg=--disable-workspace-trust",
            `arg=${home}`,
        ]);
        const cfg = fs.readFileSync(`${record}.config`, "utf8");
        assert.match(cfg, /^bind-addr: 0\.0\.0\.0:8089$/m);
        assert.match(cfg, /^auth: password$/m);
        assert.equal(fs.readFileSync(`${record}.config-mode`, "utf8").trim(), `600 ${DEV_UID}`);
        assert.equal(fs.statSync(rt).mode & 0o777, 0o700);
        assert.ok(!rt.startsWith(home));
        // The YAML value is the exact password (JSON string = YAML double-quoted scalar).
        const m = cfg.match(/^password: (.*)$/m);
        assert.ok(m);
        assert.equal(JSON.parse(m![1]), PASSWORD);
        for (const f of ["args", "env", "cmdline"]) assert.ok(!fs.readFileSync(`${record}.${f}`, "utf8").includes("ss \"w0rd"), `password in ${f}`);
        assert.doesNotMatch(fs.readFileSync(`${record}.env`, "utf8"), /^(PASSWORD|HASHED_PASSWORD)=/m);
        assert.deepEqual(grepTree(home, "w0rd"), [], "password in a file under HOME");
        assert.ok(!r.stderr.includes("w0rd"));
    });

    it("baked extensions (outside HOME) are copied into the user's extensions dir on first start with an empty HOME, once", async () => {
        let r = await start();
        assert.equal(r.code, 0, r.stderr);
        const ext = path.join(home, ".local", "share", "code-server", "extensions", "golang.go-0.41.0", "package.json");
        assert.equal(fs.readFileSync(ext, "utf8"), '{"name":"go"}');
        assert.equal(fs.statSync(ext).uid, DEV_UID);
        assert.match(r.stderr, /baked extension golang\.go made available/);
        // The user uninstalls it: it does not come back.
        rmrf(path.dirname(ext));
        r = await start();
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!fs.existsSync(ext));
    });

    it("--auth none when GITSPACE_IDE_AUTH=none (proxy in front), with a warning", async () => {
        const r = await start({ GITSPACE_IDE_AUTH: "none", GITSPACE_IDE_SECRET_DIR: path.join(dir, "absent") });
        assert.equal(r.code, 0, r.stderr);
        const cfg = fs.readFileSync(`${record}.config`, "utf8");
        assert.match(cfg, /^auth: none$/m);
        assert.doesNotMatch(cfg, /password/);
        assert.match(r.stderr, /WARNING: code-server: --auth none/);
    });

    it("refuses to start without a password when password auth is on (never exposed without authentication)", async () => {
        let r = await start({ GITSPACE_IDE_SECRET_DIR: path.join(dir, "absent") });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /ERROR: code-server: GITSPACE_IDE_AUTH=password but .*password is missing or unreadable; refusing to start/);
        assert.ok(!fs.existsSync(`${record}.args`), "code-server never started");
        fs.writeFileSync(path.join(dir, "empty-pw"), "");
        fs.mkdirSync(path.join(dir, "emptyide"));
        fs.writeFileSync(path.join(dir, "emptyide", "password"), "\n");
        r = await start({ GITSPACE_IDE_SECRET_DIR: path.join(dir, "emptyide") });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /password is empty; refusing/);
        r = await start({ GITSPACE_IDE_AUTH: "maybe" });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /GITSPACE_IDE_AUTH must be 'password' or 'none'/);
    });

    it("install-extensions.sh: no-op for an empty list; installs a space/comma list into the baked dir; fails on a bad one", async () => {
        const target = path.join(dir, "bake2");
        const inst = (list: string) => run(script("vscode/install-extensions.sh"), [], { env: baseEnv({ VSCODE_EXTENSIONS: list, GITSPACE_VSCODE_EXTENSIONS_DIR: target, GITSPACE_CODE_SERVER: fake, FAKE_RECORD: record, HOME: home }) });
        let r = await inst("  ");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /extensions: none to install/);
        assert.ok(!fs.existsSync(target));
        r = await inst("ms-python.python, golang.go  redhat.vscode-yaml");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(fs.readdirSync(target).sort(), ["golang.go-1.0.0", "ms-python.python-1.0.0", "redhat.vscode-yaml-1.0.0"]);
        assert.ok(!args().some((a) => a.includes(home)), "user data of the install is not in HOME");
        // The vscode Dockerfile stages only a few files before it runs this script: exactly those, where it puts them.
        const staged = path.join(dir, "image");
        const copies = [...fs.readFileSync(path.join(REPO_ROOT, "images", "vscode", "Dockerfile"), "utf8")
            .matchAll(/^COPY (scripts\/\S+) \/usr\/local\/gitspace\/image\/(\S+)$/gm)];
        assert.deepEqual(copies.map((c) => c[1]).sort(), ["scripts/common/lib.sh", "scripts/vscode/install-extensions.sh"]);
        for (const [, from, to] of copies) {
            fs.mkdirSync(path.dirname(path.join(staged, to)), { recursive: true });
            fs.copyFileSync(path.join(REPO_ROOT, from), path.join(staged, to));
        }
        const a = await run("bash", [path.join(staged, "scripts", "vscode", "install-extensions.sh")], { env: baseEnv({ VSCODE_EXTENSIONS: "a.b", GITSPACE_VSCODE_EXTENSIONS_DIR: path.join(dir, "bake3"), GITSPACE_CODE_SERVER: fake, FAKE_RECORD: record }) });
        assert.equal(a.code, 0, a.stderr);
        assert.deepEqual(fs.readdirSync(path.join(dir, "bake3")), ["a.b-1.0.0"]);
        r = await inst("golang.go bad.extension");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /ERROR: extensions: could not install bad\.extension/);
    });
});
