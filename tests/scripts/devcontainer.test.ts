import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { baseEnv, podEnv, requireTool, rmrf, run, script, tmpDir } from "./helpers";

describe("scripts: detect-devcontainer-user.sh (devcontainer.json is JSONC)", () => {
    let dir: string;
    let repo: string;
    beforeEach(() => {
        dir = tmpDir();
        repo = path.join(dir, "home", "api");
        fs.mkdirSync(repo, { recursive: true });
        fs.writeFileSync(path.join(dir, "passwd"), "root:x:0:0::/root:/bin/bash\nvscode:x:1000:1000::/home/vscode:/bin/bash\nnode:x:1001:1001::/home/node:/bin/bash\n");
        fs.writeFileSync(path.join(dir, "group"), "root:x:0:\nvscode:x:1000:\nnode:x:1001:\nstaff:x:50:\n");
    });
    afterEach(() => rmrf(dir));

    const detect = (extra: Record<string, string> = {}) =>
        run(script("common/detect-devcontainer-user.sh"), [repo], {
            env: baseEnv({ HOME: path.join(dir, "home"), GITSPACE_USER: "vscode", GITSPACE_UID: "1000", GITSPACE_GID: "1000", GITSPACE_PASSWD_FILE: path.join(dir, "passwd"), GITSPACE_GROUP_FILE: path.join(dir, "group"), ...extra }),
        });
    const writeJsonc = (text: string, file = path.join(repo, ".devcontainer", "devcontainer.json")) => {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
    };

    const cases: Array<[string, Record<string, unknown>]> = [
        ["node", { user: "node", uid: 1001, gid: 1001, group: "node" }],
        ["1001", { user: "node", uid: 1001, gid: 1001 }],
        ["node:staff", { user: "node", uid: 1001, group: "staff", gid: 50 }],
        ["1001:50", { user: "node", uid: 1001, group: "staff", gid: 50 }],
        ["4000:4001", { user: null, uid: 4000, group: null, gid: 4001 }],
    ];
    for (const [spec, want] of cases) {
        it(`resolves remoteUser '${spec}' from JSONC with comments and trailing commas, and warns about the mismatch`, async () => {
            writeJsonc(`// devcontainer\n{\n  /* image */ "image": "mcr.microsoft.com/devcontainers/base",\n  "remoteUser": "${spec}", // the user\n  "features": { "a": {}, },\n}\n`);
            const r = await detect();
            assert.equal(r.code, 0, r.stderr);
            const out = JSON.parse(r.stdout);
            assert.equal(out.source, "remoteUser");
            assert.equal(out.spec, spec);
            assert.equal(out.error, null);
            for (const [k, v] of Object.entries(want)) assert.equal(out[k], v, `${k} of ${spec}: ${r.stdout}`);
            assert.match(r.stderr, new RegExp(`^\\[gitspace\\] WARNING: devcontainer user: .* asks for '${spec}' but this gitspace runs as vscode \\(uid 1000, gid 1000\\)`, "m"));
        });
    }

    it("falls back from remoteUser to containerUser (.devcontainer.json at the root); no warning when it matches", async () => {
        writeJsonc(`{ "containerUser": "vscode", /* no remoteUser */ }`, path.join(repo, ".devcontainer.json"));
        const r = await detect();
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.equal(out.source, "containerUser");
        assert.equal(out.user, "vscode");
        assert.equal(out.uid, 1000);
        assert.doesNotMatch(r.stderr, /WARNING/);
        assert.match(r.stderr, /asks for containerUser 'vscode' \(user vscode, uid 1000, gid 1000\)/);
    });

    it("prefers .devcontainer/devcontainer.json over .devcontainer.json", async () => {
        writeJsonc(`{ "remoteUser": "node" }`);
        writeJsonc(`{ "remoteUser": "vscode" }`, path.join(repo, ".devcontainer.json"));
        const out = JSON.parse((await detect()).stdout);
        assert.equal(out.user, "node");
    });

    it("missing file: the default user, exit 0", async () => {
        const r = await detect();
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.deepEqual([out.file, out.source, out.user, out.uid], [null, "default", "vscode", 1000]);
        assert.match(r.stderr, /has no devcontainer.json; the IDE runs as vscode \(uid 1000\)/);
    });

    it("malformed file: a clear error naming the file and position, the default user, exit 0", async () => {
        writeJsonc(`{\n  "remoteUser": "node"\n  "containerUser": \n}\n`);
        const r = await detect();
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.equal(out.user, "vscode");
        assert.equal(out.source, "default");
        assert.match(r.stderr, /\[gitspace\] ERROR: devcontainer user: cannot use .*devcontainer\.json: invalid character '"' after object value \(expecting ',' or '}'\) at line 3, column 3; using the default user vscode/);
    });

    it("an invalid user value is an error, not a guess", async () => {
        writeJsonc(`{ "remoteUser": "root; rm -rf /" }`);
        const r = await detect();
        assert.equal(r.code, 0);
        assert.match(r.stderr, /is not one of name, uid, name:group, uid:gid; using the default user vscode/);
    });

    it("without arguments inspects $HOME/<name> of each GITSPACE_REPOS entry (the names the program resolved)", async () => {
        writeJsonc(`{ "remoteUser": "node" }`);
        // The program derives "api" from the URL; the script only reads the name it is given.
        const env = podEnv({ repos: [{ url: "https://h.example/org/api.git" }, { url: "https://h.example/org/web.git", name: "web" }] },
            { HOME: path.join(dir, "home"), GITSPACE_PASSWD_FILE: path.join(dir, "passwd"), GITSPACE_GROUP_FILE: path.join(dir, "group") });
        assert.deepEqual(JSON.parse(env.GITSPACE_REPOS).map((r: { name: string }) => r.name), ["api", "web"]);
        const r = await run(script("common/detect-devcontainer-user.sh"), [], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout.trim().split("\n")[0]).user, "node");
        assert.match(r.stderr, /web is not there \(clone failed\?\), skipped/);
    });

    it("reads a devcontainer.json with a UTF-8 byte order mark as the devcontainers CLI does", async () => {
        for (const file of [path.join(repo, ".devcontainer", "devcontainer.json"), path.join(repo, ".devcontainer.json")]) {
            fs.rmSync(path.join(repo, ".devcontainer"), { recursive: true, force: true });
            fs.rmSync(path.join(repo, ".devcontainer.json"), { force: true });
            writeJsonc("\uFEFF// with BOM\n{ \"remoteUser\": \"node\", }\n", file);
            assert.deepEqual([...fs.readFileSync(file).subarray(0, 3)], [0xef, 0xbb, 0xbf]);
            const r = await detect();
            const out = JSON.parse(r.stdout);
            assert.equal(out.error, null, r.stderr);
            assert.equal(out.user, "node");
        }
    });

    it("caps what it reads at 1 MiB: a huge file (400 MB, sparse) or one just over the cap is reported, fast and in bounded memory", async () => {
        requireTool("/usr/bin/time");
        const file = path.join(repo, ".devcontainer", "devcontainer.json");
        const cases: Array<[string, () => void, boolean]> = [
            ["exactly 1 MiB of JSON and whitespace", () => writeJsonc(`{ "remoteUser": "node" }`.padEnd(1024 * 1024, " ")), true],
            ["1 MiB + 1 byte of whitespace", () => writeJsonc(`{ "remoteUser": "node" }`.padEnd(1024 * 1024 + 1, " ")), false],
            ["400 MB (sparse)", () => {
                writeJsonc(`{ "remoteUser": "node" }\n`);
                fs.truncateSync(file, 400 * 1024 * 1024);
            }, false],
        ];
        for (const [title, make, accepted] of cases) {
            make();
            const started = Date.now();
            const r = await run("/usr/bin/time", ["-f", "maxrss_kb=%M", script("common/detect-devcontainer-user.sh"), repo], {
                env: baseEnv({ HOME: path.join(dir, "home"), GITSPACE_PASSWD_FILE: path.join(dir, "passwd"), GITSPACE_GROUP_FILE: path.join(dir, "group") }),
            });
            const ms = Date.now() - started;
            assert.equal(r.code, 0, `${title}: ${r.stderr}`);
            const out = JSON.parse(r.stdout);
            const rss = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]);
            if (accepted) assert.equal(out.user, "node", `${title}: ${out.error}`);
            else {
                assert.match(out.error, /larger than 1048576 bytes; not read/, title);
                assert.equal(out.source, "default");
            }
            assert.ok(ms < 10000, `${title}: took ${ms} ms`);
            assert.ok(rss > 0 && rss < 200 * 1024, `${title}: peak RSS ${rss} kB`);
        }
    });

    it("a devcontainer.json nested 1,000,000 levels deep (within the size cap) is reported, not a crash", async () => {
        for (const text of ["[".repeat(1000000), `{"a":`.repeat(150000)]) {
            writeJsonc(text);
            const r = await detect();
            assert.equal(r.code, 0, r.stderr);
            const out = JSON.parse(r.stdout);
            assert.match(out.error, /nested too deeply \(more than 64 levels\) at line 1, column \d+/);
            assert.equal(out.user, "vscode");
        }
    });

    it("hostile encodings and values: each reported with its position or ignored as it should be, never guessed", async () => {
        const cases: Array<[string, string | Buffer, RegExp | null, string]> = [
            // [title, file content, error (null: accepted), the user it must resolve to]
            ["invalid UTF-8 in a value", Buffer.from('{\n  "remoteUser": "no\xffde"\n}', "latin1"), /invalid UTF-8 at line 2, column 20/, "vscode"],
            ["invalid UTF-8 in a comment", Buffer.concat([Buffer.from('{ "remoteUser": "node" } // '), Buffer.from([0xc3, 0x28])]), /invalid UTF-8 at line 1, column 29/, "vscode"],
            ["a UTF-16 surrogate encoded as UTF-8", Buffer.concat([Buffer.from('{"remoteUser": "'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), /invalid UTF-8/, "vscode"],
            ["duplicate keys: the last one wins", '{ "remoteUser": "vscode", "remoteUser": "node" }', null, "node"],
            ["__proto__ is an ordinary key (no prototype games)", '{ "__proto__": { "remoteUser": "root" } }', null, "vscode"],
            ["a JSON-escaped NUL in a key makes another key", '{ "remoteUser\\u0000": "root", "containerUser": "node" }', null, "node"],
            ["a raw NUL byte in a key", '{ "remoteUser\u0000": "root" }', /invalid string "remoteUser\\u0000" \(control characters must be escaped, escapes must be valid\) at line 1, column 3/, "vscode"],
            ["a JSON-escaped NUL in the value", '{ "remoteUser": "ro\\u0000ot" }', /remoteUser 'ro\\u0000ot' is not one of/, "vscode"],
            ["a raw control character in a string", '{ "remoteUser": "no\u0001de" }', /invalid string "no\\u0001de" .* at line 1, column 17/, "vscode"],
            ["1e999 as a uid", '{ "remoteUser": 1e999 }', /remoteUser 1e999 is not a uid/, "vscode"],
            ["1001 as a number is a uid", '{ "remoteUser": 1001 }', null, "node"],
            ["a uid past 32 bits", '{ "remoteUser": "4294967296" }', /id 4294967296 is out of range/, "vscode"],
            ["nested exactly 64 levels: accepted", `{"remoteUser": "node", "x": ${"[".repeat(63)}${"]".repeat(63)}}`, null, "node"],
            ["nested 65 levels", `{"remoteUser": "node", "x": ${"[".repeat(64)}${"]".repeat(64)}}`, /nested too deeply \(more than 64 levels\) at line 1, column 92/, "vscode"],
            ["brackets in strings and comments do not count", `{"remoteUser": "node", /* ${"[".repeat(100)} */ "s": "${"{".repeat(100)}"}`, null, "node"],
            ["a root-level string", '"node"', /the top level is not an object/, "vscode"],
            ["single quotes (not JSON)", "{ 'remoteUser': 'node' }", /invalid character '\\'' at start of value at line 1, column 3/, "vscode"],
        ];
        for (const [title, text, error, user] of cases) {
            writeJsonc(text as string);
            const r = await detect();
            assert.equal(r.code, 0, `${title}: ${r.stderr}`);
            const out = JSON.parse(r.stdout);
            if (error) {
                assert.match(out.error ?? "", error, `${title}: ${r.stdout}`);
                assert.equal(out.source, "default", title);
                assert.match(r.stderr, /ERROR: devcontainer user: cannot use /, title);
            } else assert.equal(out.error, null, `${title}: ${out.error}`);
            assert.equal(out.user, user, `${title}: ${r.stdout}`);
        }
    });

    it("without the helper binary (GITSPACE_DEVCONTAINER pointing nowhere): a clear error, the default user, exit 0", async () => {
        writeJsonc(`{ "remoteUser": "node", }`);
        const r = await detect({ GITSPACE_DEVCONTAINER: path.join(dir, "nothing", "gitspace-devcontainer") });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /ERROR: devcontainer user: .*\/nothing\/gitspace-devcontainer not found: devcontainer.json not inspected; the IDE runs as vscode \(uid 1000\)/);
    });
});
