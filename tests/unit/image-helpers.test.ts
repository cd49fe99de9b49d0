/**
 * The image build helpers that delete files, run for real on throw-away trees: images/lib/slim-dpkg.sh (docs, manuals,
 * translations) and images/lib/prune-code-server.sh (npm, headers, other platforms' binaries, build leftovers, source
 * maps). Each must remove exactly what it documents and keep everything else, including odd file names.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const LIB = path.resolve(__dirname, "../../images/lib");

function tree(root: string, files: Record<string, string>) {
    for (const [rel, content] of Object.entries(files)) {
        const file = path.join(root, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
    }
}

function listFiles(root: string): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) walk(p);
            else out.push(path.relative(root, p));
        }
    };
    walk(root);
    return out.sort();
}

function run(script: string, args: string[], env: Record<string, string> = {}) {
    const res = spawnSync("bash", [path.join(LIB, script), ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    return res;
}

describe("images/lib/slim-dpkg.sh", () => {
    let root: string;
    beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-slim-")); });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("writes the dpkg excludes and removes docs, manuals and translations, keeping copyright files and the rest", () => {
        tree(root, {
            "usr/share/doc/git/copyright": "GPL",
            "usr/share/doc/git/changelog.Debian.gz": "x",
            "usr/share/doc/git/RelNotes/1.0.txt": "x",
            "usr/share/doc/with space/copyright": "MIT",
            "usr/share/doc/with space/README\nnewline": "x",
            "usr/share/man/man1/git.1.gz": "x",
            "usr/share/info/dir": "x",
            "usr/share/locale/de/LC_MESSAGES/git.mo": "x",
            "usr/share/locale/locale.alias": "alias",
            "usr/share/lintian/overrides/git": "x",
            "usr/share/git-core/templates/description": "keep",
            "usr/share/perl/5.36/strict.pm": "keep",
            "usr/lib/locale/C.utf8/LC_CTYPE": "keep",
            "var/cache/debconf/templates.dat-old": "x",
            "var/cache/debconf/templates.dat": "keep",
            "var/lib/dpkg/status": "keep",
            "var/lib/dpkg/status-old": "x",
        });
        const res = run("slim-dpkg.sh", [], { GITSPACE_SLIM_ROOT: root });
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(listFiles(root), [
            "etc/dpkg/dpkg.cfg.d/gitspace-slim",
            "usr/lib/locale/C.utf8/LC_CTYPE",
            "usr/share/doc/git/copyright",
            "usr/share/doc/with space/copyright",
            "usr/share/git-core/templates/description",
            "usr/share/locale/locale.alias",
            "usr/share/perl/5.36/strict.pm",
            "var/cache/debconf/templates.dat",
            "var/lib/dpkg/status",
        ]);
        const cfg = fs.readFileSync(path.join(root, "etc/dpkg/dpkg.cfg.d/gitspace-slim"), "utf8");
        const lines = cfg.split("\n").filter((l) => l && !l.startsWith("#"));
        // dpkg applies them in order: the include after its exclude.
        assert.ok(lines.indexOf("path-include=/usr/share/doc/*/copyright") > lines.indexOf("path-exclude=/usr/share/doc/*"));
        for (const l of lines) assert.match(l, /^path-(exclude|include)=\/usr\/(share|lib\/jvm)\//, l);
        assert.ok(lines.includes("path-exclude=/usr/lib/jvm/*/lib/ct.sym"));
    });

    it("is idempotent and works on a root without those directories", () => {
        assert.equal(run("slim-dpkg.sh", [], { GITSPACE_SLIM_ROOT: root }).status, 0);
        const first = listFiles(root);
        const res = run("slim-dpkg.sh", [], { GITSPACE_SLIM_ROOT: root });
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(listFiles(root), first);
    });
});

describe("images/lib/prune-code-server.sh", () => {
    let root: string;
    const arch = process.arch; // the node running this test is the one the script asks
    const other = arch === "x64" ? "arm64" : "x64";
    const vs = "code-server/lib/node_modules/code-server/lib/vscode/node_modules";
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-prune-"));
        fs.mkdirSync(path.join(root, "node/bin"), { recursive: true });
        fs.symlinkSync(process.execPath, path.join(root, "node/bin/node"));
        tree(root, {
            "node/include/node/node.h": "x",
            "node/lib/node_modules/npm/package.json": "{}",
            "node/bin/npm": "x",
            "node/share/doc/node/README.md": "x",
            [`${vs}/node-pty/prebuilds/linux-${arch}/pty.node`]: "keep",
            [`${vs}/node-pty/prebuilds/linux-${other}/pty.node`]: "x",
            [`${vs}/node-pty/prebuilds/win32-${arch}/conpty.node`]: "x",
            [`${vs}/node-pty/prebuilds/darwin-${arch}/pty.node`]: "x",
            [`${vs}/node-pty/lib/index.js`]: "keep",
            [`${vs}/node-pty/build/Release/pty.node`]: "keep",
            [`${vs}/@vscode/ripgrep-universal/bin/linux-${arch}/rg`]: "keep",
            [`${vs}/@vscode/ripgrep-universal/bin/win32-${arch}/rg.exe`]: "x",
            [`${vs}/@vscode/ripgrep-universal/bin/linux-s390x/rg`]: "x",
            [`${vs}/@vscode/ripgrep-universal/lib/index.js`]: "keep",
            [`${vs}/@microsoft/mxc-sdk/bin/${arch}/lxc-exec`]: "keep",
            [`${vs}/@microsoft/mxc-sdk/bin/${arch}/wxc-exec.exe`]: "x",
            [`${vs}/@microsoft/mxc-sdk/bin/${other}/lxc-exec`]: "x",
            [`${vs}/@vscode/sqlite3/build/Release/vscode-sqlite3.node`]: "keep",
            [`${vs}/@vscode/sqlite3/build/Release/sqlite3.a`]: "x",
            [`${vs}/@vscode/sqlite3/build/Release/obj/gen/sqlite3.c`]: "x",
            [`${vs}/some/dist/main.js`]: "keep",
            [`${vs}/some/dist/main.js.map`]: "x",
            [`${vs}/some/dist/style.css.map`]: "x",
            [`${vs}/some/data.map`]: "keep", // not a source map
            [`${vs}/some/Helper.DLL`]: "x",
            [`${vs}/linux-${other}/file with space.js`]: "keep", // a directory named like a platform, not under prebuilds
            "code-server/lib/node_modules/code-server/node_modules/argon2/prebuilds/freebsd-x64/argon2.node": "x",
            [`code-server/lib/node_modules/code-server/node_modules/argon2/prebuilds/linux-${arch}/argon2.glibc.node`]: "keep",
            "code-server/lib/node_modules/code-server/out/node/entry.js": "keep",
            "code-server/bin/code-server": "keep",
        });
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("keeps this platform's files and removes npm, headers, other platforms, build leftovers and source maps", () => {
        const res = run("prune-code-server.sh", [path.join(root, "node"), path.join(root, "code-server")]);
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, new RegExp(`pruned code-server and node: .* \\(linux-${arch}\\)`));
        const kept = listFiles(root);
        const want = [
            "node/bin/node",
            ...Object.entries({
                [`${vs}/node-pty/prebuilds/linux-${arch}/pty.node`]: 1, [`${vs}/node-pty/lib/index.js`]: 1,
                [`${vs}/node-pty/build/Release/pty.node`]: 1, [`${vs}/@vscode/ripgrep-universal/bin/linux-${arch}/rg`]: 1,
                [`${vs}/@vscode/ripgrep-universal/lib/index.js`]: 1, [`${vs}/@microsoft/mxc-sdk/bin/${arch}/lxc-exec`]: 1,
                [`${vs}/@vscode/sqlite3/build/Release/vscode-sqlite3.node`]: 1, [`${vs}/some/dist/main.js`]: 1,
                [`${vs}/some/data.map`]: 1, [`${vs}/linux-${other}/file with space.js`]: 1,
                [`code-server/lib/node_modules/code-server/node_modules/argon2/prebuilds/linux-${arch}/argon2.glibc.node`]: 1,
                "code-server/lib/node_modules/code-server/out/node/entry.js": 1, "code-server/bin/code-server": 1,
            }).map(([k]) => k),
        ].sort();
        assert.deepEqual(kept, want);
    });

    it("refuses a prefix without node or without code-server, deleting nothing", () => {
        const before = listFiles(root);
        let res = run("prune-code-server.sh", [path.join(root, "missing-node"), path.join(root, "code-server")]);
        assert.notEqual(res.status, 0);
        res = run("prune-code-server.sh", [path.join(root, "node"), path.join(root, "node")]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /no node .* or no code-server/);
        res = run("prune-code-server.sh", [path.join(root, "node")]);
        assert.equal(res.status, 2);
        assert.deepEqual(listFiles(root), before);
    });
});

describe("images/lib/repack-git.sh", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-repack-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** A real .deb built with dpkg-deb from a control text and one file. */
    function deb(name: string, control: string): string {
        const root = path.join(dir, `${name}-root`);
        tree(root, { "DEBIAN/control": control, "usr/bin/git": "#!/bin/sh\necho git\n", "DEBIAN/conffiles": "/etc/git-prompt\n", "etc/git-prompt": "x" });
        fs.chmodSync(path.join(root, "usr/bin/git"), 0o755);
        const out = path.join(dir, `${name}.deb`);
        const res = spawnSync("dpkg-deb", ["--root-owner-group", "--build", "-Znone", root, out], { encoding: "utf8" });
        assert.equal(res.status, 0, res.stderr);
        return out;
    }
    const field = (file: string, name: string) => spawnSync("dpkg-deb", ["--field", file, name], { encoding: "utf8" }).stdout.trim();
    const DEBIAN_GIT = [
        "Package: git",
        "Version: 1:2.39.5-0+deb12u3",
        "Architecture: amd64",
        "Maintainer: Jonathan Nieder <jrnieder@gmail.com>",
        "Installed-Size: 44890",
        // folded over lines, with a qualified perl and an alternative that mentions perl: only the plain ones move
        "Depends: libc6 (>= 2.34), libcurl3-gnutls (>= 7.56.1), perl,",
        " liberror-perl, git-man (>> 1:2.39.5), git-man (<< 1:2.39.5-.), perl-doc | perl-base",
        "Recommends: ca-certificates, patch, less, ssh-client",
        "Breaks: bash-completion (<< 1:1.90-1), openssh-client (<< 1:6.8)",
        "Provides: git-completion, git-core",
        "Description: fast, scalable, distributed revision control system",
        " Git is popular version control system.",
        " .",
        " Depends: this line is description text, not a field.",
        "",
    ].join("\n");

    it("moves perl and liberror-perl to Recommends, lowers the version below the archive's, breaks git's Perl-only packages", () => {
        const out = path.join(dir, "out.deb");
        const res = run("repack-git.sh", [deb("git", DEBIAN_GIT), out]);
        assert.equal(res.status, 0, res.stderr);
        assert.equal(field(out, "Package"), "git");
        assert.equal(field(out, "Version"), "1:2.39.5-0+deb12u3~gitspace1");
        const depends = field(out, "Depends").split(/,\s*/);
        assert.deepEqual(depends, ["libc6 (>= 2.34)", "libcurl3-gnutls (>= 7.56.1)", "git-man (>> 1:2.39.5)", "git-man (<< 1:2.39.5-.)", "perl-doc | perl-base"]);
        assert.equal(field(out, "Recommends"), "ca-certificates, patch, less, ssh-client, perl, liberror-perl");
        assert.equal(field(out, "Breaks"), "bash-completion (<< 1:1.90-1), openssh-client (<< 1:6.8), git-email, git-svn, git-cvs, git-mediawiki, gitweb");
        assert.equal(field(out, "Provides"), "git-completion, git-core");
        assert.match(field(out, "Description"), /^fast, scalable.*\n Git is popular version control system\.\n \.\n Depends: this line is description text/s);
        // the version really sorts below the archive's build, and the files and conffiles are the same
        assert.equal(spawnSync("dpkg", ["--compare-versions", field(out, "Version"), "lt", "1:2.39.5-0+deb12u3"]).status, 0);
        assert.equal(spawnSync("dpkg", ["--compare-versions", field(out, "Version"), "gt", "1:2.39.5"]).status, 0);
        const contents = spawnSync("dpkg-deb", ["--contents", out], { encoding: "utf8" }).stdout;
        assert.match(contents, /\.\/usr\/bin\/git\n/);
        assert.equal(spawnSync("dpkg-deb", ["--info", out, "conffiles"], { encoding: "utf8" }).stdout.trim(), "/etc/git-prompt");
    });

    it("adds Recommends and Breaks when the package has none", () => {
        const control = "Package: git\nVersion: 2.43.0-1ubuntu7\nArchitecture: arm64\nMaintainer: x <x@example.com>\nDepends: libc6, perl:any, liberror-perl (>= 0.17)\nDescription: git\n";
        const out = path.join(dir, "out.deb");
        const res = run("repack-git.sh", [deb("git", control), out]);
        assert.equal(res.status, 0, res.stderr);
        assert.equal(field(out, "Depends"), "libc6");
        assert.equal(field(out, "Recommends"), "perl:any, liberror-perl (>= 0.17)");
        assert.equal(field(out, "Breaks"), "git-email, git-svn, git-cvs, git-mediawiki, gitweb");
        assert.equal(field(out, "Version"), "2.43.0-1ubuntu7~gitspace1");
    });

    it("copies a git without a perl dependency unchanged", () => {
        const control = "Package: git\nVersion: 2.47.0-1\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDepends: libc6, perl-base\nDescription: git\n";
        const input = deb("git", control);
        const out = path.join(dir, "out.deb");
        const res = run("repack-git.sh", [input, out]);
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, /does not depend on perl or liberror-perl: unchanged/);
        assert.deepEqual(fs.readFileSync(out), fs.readFileSync(input));
    });

    it("refuses another package, a file that is no package, and wrong arguments, writing nothing", () => {
        const out = path.join(dir, "out.deb");
        let res = run("repack-git.sh", [deb("perl", "Package: perl\nVersion: 1\nArchitecture: all\nMaintainer: x <x@example.com>\nDescription: p\n"), out]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /package 'perl', not git/);
        fs.writeFileSync(path.join(dir, "junk.deb"), "not a deb");
        res = run("repack-git.sh", [path.join(dir, "junk.deb"), out]);
        assert.notEqual(res.status, 0);
        res = run("repack-git.sh", [path.join(dir, "junk.deb")]);
        assert.equal(res.status, 2);
        assert.ok(!fs.existsSync(out));
    });
});

/**
 * The cross-build setting of the vscode build stage, GITSPACE_TARGET_ARCH (BuildKit's TARGETARCH): a value that is
 * no Debian architecture is refused by each helper before it installs, downloads or creates anything.
 */
describe("images/lib cross-build settings (GITSPACE_TARGET_ARCH)", () => {
    const HOSTILE = ["arm64 ", " arm64", "ARM64", "arm64;id", "$(id)", "`id`", "../arm64", "arm64\n", "arm\tx", "arm-64",
        "arm64:amd64", "armé64", "\u200barm64", "arm64\r", "-a", "*", "arm64 amd64"];
    const foreignArchs = () => spawnSync("dpkg", ["--print-foreign-architectures"], { encoding: "utf8" }).stdout;
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-cross-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("install-build-tools.sh: refuses a hostile architecture or an argument, leaving dpkg's architectures alone", () => {
        const before = foreignArchs();
        for (const arch of HOSTILE) {
            const res = run("install-build-tools.sh", [], { GITSPACE_TARGET_ARCH: arch });
            assert.equal(res.status, 2, `${JSON.stringify(arch)}: ${res.stderr}`);
            assert.match(res.stderr, /GITSPACE_TARGET_ARCH: not a Debian architecture/);
            assert.doesNotMatch(res.stdout, /build tools|apt/);
        }
        const res = run("install-build-tools.sh", ["arm64"]);
        assert.equal(res.status, 2);
        assert.match(res.stderr, /GITSPACE_TARGET_ARCH/);
        assert.equal(foreignArchs(), before);
    });

    it("install-code-server.sh: refuses a hostile architecture before npm, creating nothing", () => {
        for (const arch of HOSTILE.filter((a) => a.trim() !== "")) {
            const res = run("install-code-server.sh", [path.join(dir, "node"), path.join(dir, "cs"), "4.139.1"], { GITSPACE_TARGET_ARCH: arch });
            assert.equal(res.status, 2, `${JSON.stringify(arch)}: ${res.stderr}`);
            assert.match(res.stderr, /GITSPACE_TARGET_ARCH: not a Debian architecture/);
            assert.deepEqual(fs.readdirSync(dir), []);
        }
    });

    it("install-code-server.sh: a foreign architecture without its cross compiler fails naming it, creating nothing", function () {
        if (spawnSync("sh", ["-c", "command -v riscv64-linux-gnu-g++"]).status === 0) this.skip();
        const res = run("install-code-server.sh", [path.join(dir, "node"), path.join(dir, "cs"), "4.139.1"], { GITSPACE_TARGET_ARCH: "riscv64" });
        assert.equal(res.status, 1, res.stderr);
        assert.match(res.stderr, /no riscv64-linux-gnu-g\+\+: run install-build-tools\.sh first/);
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("install-node.sh: an architecture without a pinned Node is refused before any download", () => {
        const env = { NODE_VERSION: "24.0.0", NPM_VERSION: "11.0.0", NPM_INTEGRITY: "sha512-x", NODE_INTEGRITY_AMD64: "sha512-x",
            NODE_INTEGRITY_ARM64: "sha512-x", NPM_REGISTRY: "http://127.0.0.1:9/unreachable" };
        for (const arch of ["riscv64", "armhf", ...HOSTILE.filter((a) => a.trim() !== "")]) {
            const res = run("install-node.sh", [path.join(dir, "node")], { ...env, GITSPACE_TARGET_ARCH: arch });
            assert.equal(res.status, 1, `${JSON.stringify(arch)}: ${res.stderr}`);
            assert.match(res.stderr, /unsupported architecture/);
            assert.doesNotMatch(res.stdout + res.stderr, /fetching/);
            assert.deepEqual(fs.readdirSync(dir), []);
        }
    });
});
