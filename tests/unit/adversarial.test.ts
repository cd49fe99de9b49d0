/**
 * Hostile inputs, many cases per class: repository URLs, repository names (given and derived), branches,
 * quantities, git credentials, home volumes. Every refused value must give a ConfigError naming its path (never a
 * stack trace, never another exception) and never echo a secret; every accepted value must satisfy what the
 * container relies on. Branch names are cross-checked with git itself.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { ConfigError, parseTeamConfig } from "../../components/config";
import { GIT_BRANCH } from "../../components/patterns";
import { REPO_NAME_MAX_LENGTH, credentialScope, parseRepoUrl, repoDirName, repoNameProblem, repoUrlProblem } from "../../components/repo";
import { rawConfig } from "./harness";

const SECRET = "ghp_S3CRETt0ken";

/** The problems of a config with one developer `fields`, or [] when accepted. Fails on anything but a ConfigError. */
function problemsOf(fields: Record<string, unknown>): Array<{ path: string; message: string }> {
    try {
        parseTeamConfig(rawConfig({ developers: [{ name: "alice", ...fields }] }));
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error)?.stack ?? e}`);
        assert.ok(!e.message.includes(SECRET), `a secret was echoed: ${e.message}`);
        assert.ok(!/\n\s+at /.test(e.message), "a stack trace in the message");
        return e.problems;
    }
}

const ctl = (c: number) => String.fromCharCode(c);
const CONTROLS = [...Array(0x20).keys(), 0x7f].map(ctl);

const hostileUrls: Array<[string, string]> = [
    // Control characters and whitespace, raw, at every position.
    ...CONTROLS.flatMap((c): Array<[string, string]> => [
        [`control ${JSON.stringify(c)} in host`, `https://git.exa${c}mple.com/a/b.git`],
        [`control ${JSON.stringify(c)} in path`, `https://git.example.com/a${c}/b.git`],
        [`control ${JSON.stringify(c)} at the end`, `https://git.example.com/a/b.git${c}`],
        [`control ${JSON.stringify(c)} at the start`, `${c}https://git.example.com/a/b.git`],
    ]),
    ...[...Array(0x20).keys(), 0x7f].map((c): [string, string] => [`encoded control %${c.toString(16).padStart(2, "0")}`, `https://git.example.com/a%${c.toString(16).padStart(2, "0")}b/c.git`]),
    ["encoded CRLF header injection", "https://git.example.com/a%0d%0aX-Injected:%20yes/b.git"],
    ["upper-case encoded newline", "https://git.example.com/a%0Ab.git"],
    ["space", "https://git.example.com/a b.git"],
    ["tab before the path", "https://git.example.com\t/a/b.git"],
    ["newline then a second URL", "https://git.example.com/a/b.git\nfile:///etc/passwd"],
    ["unit separator then a name", "https://git.example.com/a/b.git\x1f.ssh"],
    // Unicode look-alikes and invisible characters.
    ["Cyrillic i in the host", "https://gіthub.com/a/b.git"],
    ["Greek omicron in the host", "https://gitlab.cοm/a/b.git"],
    ["full-width scheme", "ｈttps://git.example.com/a/b.git"],
    ["full-width slash", "https://git.example.com／a/b.git"],
    ["division slash", "https://git.example.com∕evil.com/b.git"],
    ["zero-width space", "https://git.example.com/a/b\u200b.git"],
    ["no-break space", "https://git.example.com/a/b\u00a0.git"],
    ["right-to-left override", "https://git.example.com/a/\u202etig.b"],
    ["byte order mark", "\ufeffhttps://git.example.com/a/b.git"],
    ["combining character", "https://git.example.com/a/b\u0301.git"],
    ["emoji", "https://git.example.com/a/😀.git"],
    ["lone surrogate", "https://git.example.com/a/\ud800.git"],
    // Backslashes.
    ["token\\@host", `https://${SECRET}\\@git.example.com/x.git`],
    ["backslash scheme separator", "https:\\\\git.example.com\\a\\b.git"],
    ["backslash in the path", "https://git.example.com/a\\b.git"],
    ["encoded backslash in the path", "https://git.example.com/a%5cb.git"],
    // User info and '@' in every position and encoding.
    ["token@host", `https://${SECRET}@git.example.com/x.git`],
    ["user:token@host", `https://alice:${SECRET}@git.example.com/x.git`],
    [":token@host", `https://:${SECRET}@git.example.com/x.git`],
    ["empty user info", "https://@git.example.com/x.git"],
    ["host then @", "https://git.example.com@/x.git"],
    ["port then @", "https://git.example.com:443@evil.example/x.git"],
    ["x-oauth-basic", `https://${SECRET}:x-oauth-basic@github.com/a/b.git`],
    ["%40 in the host", `https://${SECRET}%40git.example.com/x.git`],
    ["%3A and %40 in the host", `https://alice%3A${SECRET}%40git.example.com/x.git`],
    ["%2540 in the host", `https://${SECRET}%2540git.example.com/x.git`],
    ["@ in the path", "https://git.example.com/a@b/c.git"],
    ["@ leading a path segment", "https://git.example.com/@scope/c.git"],
    ["%40 in the path", `https://git.example.com/${SECRET}%40x/c.git`],
    ["fragment hiding the host", "https://evil.example#@git.example.com/x.git"],
    ["query hiding the host", "https://evil.example?@git.example.com/x.git"],
    ["token in the query", `https://git.example.com/x.git?private_token=${SECRET}`],
    ["token in the fragment", `https://git.example.com/x.git#${SECRET}`],
    ["empty query", "https://git.example.com/x.git?"],
    // Schemes.
    ["file", "file:///etc/passwd"],
    ["file with host", "file://localhost/srv/x.git"],
    ["ssh", "ssh://git@git.example.com/a/b.git"],
    ["scp-like", "git@git.example.com:a/b.git"],
    ["git", "git://git.example.com/a/b.git"],
    ["ext transport", "ext::sh -c touch% /tmp/pwned"],
    ["ext without space", "ext::sh%20-c%20id"],
    ["fd transport", "fd::17"],
    ["javascript", "javascript:alert(1)"],
    ["data", "data:text/plain,x"],
    ["ftp", "ftp://git.example.com/x.git"],
    ["git+https", "git+https://git.example.com/x.git"],
    ["upper-case HTTPS", "HTTPS://git.example.com/a/b.git"],
    ["mixed-case Https", "Https://git.example.com/a/b.git"],
    ["mixed-case hTTp", "hTTp://git.example.com/a/b.git"],
    ["one slash", "https:/git.example.com/a/b.git"],
    ["no slash", "https:git.example.com/a/b.git"],
    ["three slashes", "https:///git.example.com/a/b.git"],
    ["scheme-relative", "//git.example.com/a/b.git"],
    ["no scheme", "git.example.com/a/b.git"],
    ["absolute path", "/srv/git/b.git"],
    ["relative path", "../b.git"],
    ["option", "--upload-pack=touch /tmp/pwned"],
    ["single dash", "-"],
    ["empty", ""],
    ["scheme only", "https://"],
    // Hosts.
    ["empty host with port", "https://:443/a/b.git"],
    ["upper-case host", "https://GIT.EXAMPLE.COM/a/b.git"],
    ["trailing dot", "https://git.example.com./a/b.git"],
    ["leading dot", "https://.git.example.com/a/b.git"],
    ["empty label", "https://git..example.com/a/b.git"],
    ["label starting with -", "https://-git.example.com/a/b.git"],
    ["label ending with -", "https://git-.example.com/a/b.git"],
    ["underscore", "https://git_lab.example.com/a/b.git"],
    ["64-character label", `https://${"a".repeat(64)}.example.com/a/b.git`],
    ["host over 253 characters", `https://${Array(50).fill("abcd").join(".")}.example.com/a/b.git`],
    ["percent in the host", "https://git%2eexample.com/a/b.git"],
    ["hex IPv4", "https://0x7f.0.0.1/a/b.git"],
    ["hex IPv4 short", "https://0x7f.1/a/b.git"],
    ["decimal IPv4", "https://2130706433/a/b.git"],
    ["short IPv4", "https://127.1/a/b.git"],
    ["octal IPv4", "https://010.0.0.1/a/b.git"],
    ["IPv4 out of range", "https://256.0.0.1/a/b.git"],
    ["IPv6 without brackets", "https://::1/a/b.git"],
    ["IPv6 unclosed", "https://[::1/a/b.git"],
    ["IPv6 with zone", "https://[fe80::1%25eth0]/a/b.git"],
    ["IPv6 invalid", "https://[gggg::1]/a/b.git"],
    ["IPv6 empty", "https://[]/a/b.git"],
    ["IPv6 then junk", "https://[::1]x/a/b.git"],
    // Ports.
    ["port 0", "https://git.example.com:0/a/b.git"],
    ["port 65536", "https://git.example.com:65536/a/b.git"],
    ["port 99999", "https://git.example.com:99999/a/b.git"],
    ["port overflowing 32 bits", "https://git.example.com:4294967377/a/b.git"],
    ["negative port", "https://git.example.com:-1/a/b.git"],
    ["empty port", "https://git.example.com:/a/b.git"],
    ["leading zero port", "https://git.example.com:0443/a/b.git"],
    ["port with letters", "https://git.example.com:80a/a/b.git"],
    ["exponent port", "https://git.example.com:1e3/a/b.git"],
    ["two ports", "https://git.example.com:80:81/a/b.git"],
    // Paths.
    ["dot-dot segment", "https://git.example.com/a/../b.git"],
    ["dot segment", "https://git.example.com/./b.git"],
    ["encoded dot-dot", "https://git.example.com/a/%2e%2e/b.git"],
    ["half-encoded dot-dot", "https://git.example.com/a/.%2E/b.git"],
    ["malformed escape %E0%A4%A", "https://git.example.com/a/%E0%A4%A.git"],
    ["lone percent", "https://git.example.com/a/100%.git"],
    ["non-hex escape", "https://git.example.com/a/%G0.git"],
    ["truncated escape at the end", "https://git.example.com/a/b%4"],
    ["invalid UTF-8 %FF", "https://git.example.com/a/%FF.git"],
    ["overlong UTF-8 slash", "https://git.example.com/a/%C0%AF.git"],
    ["encoded surrogate", "https://git.example.com/a/%ED%A0%80.git"],
    ["double quote", "https://git.example.com/a/\"b.git"],
    ["angle brackets", "https://git.example.com/a/<b>.git"],
    ["backtick", "https://git.example.com/a/`id`.git"],
    ["caret", "https://git.example.com/a/b^.git"],
    ["pipe", "https://git.example.com/a/b|c.git"],
    ["braces", "https://git.example.com/a/{b}.git"],
    // Sizes.
    ["over 2048 characters", `https://git.example.com/${"a".repeat(2030)}.git`],
    ["a megabyte", `https://git.example.com/${"a".repeat(1 << 20)}`],
];

const acceptedUrls: Array<[string, string, string | undefined, string]> = [
    // [raw, derived name, credential scope]
    ["https://git.example.com/acme/api.git", "api", undefined, "https://git.example.com"],
    ["https://git.example.com/acme/api", "api", undefined, "https://git.example.com"],
    ["https://git.example.com/acme/api/", "api", undefined, "https://git.example.com"],
    ["http://127.0.0.1:8080/git/api.git", "api", undefined, "http://127.0.0.1:8080"],
    ["https://git.example.com:443/a/b.git", "b", undefined, "https://git.example.com:443"],
    ["https://[::1]:8443/a/b.git", "b", undefined, "https://[::1]:8443"],
    ["https://[2001:db8::1]/a/b.git", "b", undefined, "https://[2001:db8::1]"],
    ["https://xn--gthub-n4a.com/a/b.git", "b", undefined, "https://xn--gthub-n4a.com"],
    ["https://dev.azure.com/org/My%20Project/_git/My%20Repo", "My Repo", "a space: set name", "https://dev.azure.com"],
    ["https://git.example.com/a/~user/b-c_d.e.git", "b-c_d.e", undefined, "https://git.example.com"],
    ["https://git.example.com/a/b.git.git", "b.git", undefined, "https://git.example.com"],
    ["https://localhost/b.git", "b", undefined, "https://localhost"],
    ["https://git.example.com:65535/b.git", "b", undefined, "https://git.example.com:65535"],
    [`https://git.example.com/${"a".repeat(2048 - 28)}.git`, "a".repeat(2048 - 28), "too long for a name", "https://git.example.com"],
];

describe("adversarial: repository URLs (the raw string, as it reaches git)", () => {
    it(`refuses ${hostileUrls.length} hostile URLs with a config error naming the field, never a stack trace or an echoed secret`, () => {
        const accepted: string[] = [];
        for (const [title, url] of hostileUrls) {
            const problem = repoUrlProblem(url);
            if (problem === undefined) {
                accepted.push(title);
                continue;
            }
            assert.ok(!problem.includes(SECRET), `${title}: echoed the secret: ${problem}`);
            assert.equal(repoDirName(url), undefined, `${title}: a name derived from a refused URL`);
            const found = problemsOf({ repos: [{ url, name: "x" }] });
            assert.deepEqual(found.map((p) => p.path), ["gitspace:developers[0].repos[0].url"], title);
            assert.ok(found[0].message.length < 300, `${title}: message of ${found[0].message.length} characters`);
        }
        assert.deepEqual(accepted, [], "hostile URLs accepted");
    });

    it("names the malformed percent-escape as a config problem (the case that used to crash)", () => {
        assert.deepEqual(problemsOf({ repos: [{ url: "https://git.example.com/a/%E0%A4%A.git" }] }), [
            { path: "gitspace:developers[0].repos[0].url", message: "has a malformed percent-escape at position 9 of its path" },
        ]);
        assert.deepEqual(problemsOf({ repos: [{ url: "https://git.example.com/a/%FF.git" }] }).map((p) => p.message),
            ["has percent-escapes in its path that do not decode to UTF-8"]);
    });

    it("accepts ordinary clone URLs; the container gets them byte for byte, and their credential scope literally", () => {
        for (const [url, name, nameProblem, scope] of acceptedUrls) {
            assert.equal(repoUrlProblem(url), undefined, url.slice(0, 80));
            assert.equal(repoDirName(url), name);
            assert.equal(credentialScope(url), scope);
            assert.equal(nameProblem !== undefined, repoNameProblem(name) !== undefined, `name problem of ${name.slice(0, 40)}`);
            if (nameProblem === undefined && repoNameProblem(name) === undefined) {
                const c = parseTeamConfig(rawConfig({ developers: [{ name: "alice", repos: [{ url }] }] }));
                assert.equal(c.developers[0].repos[0].url, url, "the URL reaches the container unchanged");
                assert.equal(c.developers[0].repos[0].name, name);
            }
        }
    });

    it("a seeded fuzz of 20,000 strings: never throws, and whatever it accepts has the shape the container relies on", () => {
        let seed = 42;
        const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
        const pick = <T>(a: T[]) => a[rand(a.length)];
        const schemes = ["https://", "http://", "HTTPS://", "file://", "https:/", "ssh://", ""];
        const hosts = ["git.example.com", "127.0.0.1", "[::1]", "localhost", "GIT.example.com", "0x7f.1", "", "a..b", "xn--gthub-n4a.com"];
        const ports = ["443", "8080", "0", "65536", "", "08", "1e3"];
        const segments = ["a", "b.git", "%20", "%40", "%0a", "%E0%A4%A", "%2e%2e", ".", "..", "~u", "x-y_z", "%FF", ""];
        const hostile = ["@", "%", "\\", " ", "\t", "\n", "\x00", "#", "?", "і", "\u202e", "\u00a0", ":", "/", "%40"];
        const shape = /^https?:\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[1-9][0-9]*)?(\/([A-Za-z0-9\-._~!$&'()*+,;=:/]|%[0-9A-Fa-f]{2})*)?$/;
        let accepted = 0;
        for (let i = 0; i < 20000; i++) {
            let url = pick(schemes) + pick(hosts) + (rand(3) === 0 ? `:${pick(ports)}` : "") +
                Array.from({ length: rand(4) }, () => `/${pick(segments)}`).join("");
            if (rand(3) === 0) {
                const at = rand(url.length + 1);
                url = url.slice(0, at) + pick(hostile) + url.slice(at);
            }
            const parsed = parseRepoUrl(url);
            if (parsed.ok) {
                accepted++;
                assert.match(url, shape, JSON.stringify(url));
                assert.ok(!/[@\\\s]/.test(url) && !/%(40|0a|00|ff)/i.test(url) && !/(^|\/)(\.|\.\.|%2e%2e)(\/|$)/i.test(url.slice(8)), JSON.stringify(url));
                credentialScope(url);
                repoDirName(url);
            }
        }
        assert.ok(accepted > 100, `the fuzz also reached accepted URLs (${accepted})`);
    });
});

describe("adversarial: repository directory names (under HOME)", () => {
    const hostileNames: string[] = [
        ".ssh", ".config", ".gitspace", ".bashrc", ".profile", ".local", ".vscode-server", ".gitconfig", ".", "..", "...", "",
        "-rf", "--upload-pack=x", "-", "a/b", "../x", "a\\b", "/", "~", "$HOME", "*", "a b", "a\tb", "a\nb", "a\x1fb", "a\x00b",
        "аpi", "api\u200b", "workspaces", "migrated-conflicts-20260101T000000Z", "migrated-conflicts-x",
        "a".repeat(REPO_NAME_MAX_LENGTH + 1), "a".repeat(231), "a".repeat(255), "a:b", "a\"b", "a'b",
    ];
    for (const name of hostileNames) {
        it(`refuses the given name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…(${name.length})` : name)}`, () => {
            assert.notEqual(repoNameProblem(name), undefined);
            const found = problemsOf({ repos: [{ url: "https://git.example.com/a/b.git", name }] });
            assert.deepEqual(found.map((p) => p.path), ["gitspace:developers[0].repos[0].name"]);
        });
    }

    const hostileDerived: Array<[string, string]> = [
        ["https://git.example.com/x/.ssh", ".ssh"],
        ["https://git.example.com/x/.config.git", ".config"],
        ["https://git.example.com/x/%2Essh", ".ssh"],
        ["https://git.example.com/x/workspaces.git", "workspaces"],
        ["https://git.example.com/x/-rf.git", "-rf"],
        ["https://git.example.com/x/a%2Fb.git", "a/b"],
        ["https://git.example.com/x/a%20b.git", "a b"],
        ["https://git.example.com/x/%D0%B0pi.git", "аpi"],
        [`https://git.example.com/x/${"a".repeat(231)}.git`, "a".repeat(231)],
        ["https://git.example.com/x/.git", ""],
        ["https://git.example.com/", ""],
        ["https://git.example.com", ""],
    ];
    for (const [url, derived] of hostileDerived) {
        it(`refuses the name derived from ${url.length > 60 ? `${url.slice(0, 50)}…` : url} and asks for an explicit name`, () => {
            assert.equal(repoDirName(url) ?? "", derived);
            const found = problemsOf({ repos: [{ url }] });
            assert.equal(found.length, 1, JSON.stringify(found));
            assert.equal(found[0].path, "gitspace:developers[0].repos[0].name");
            assert.match(found[0].message, /; set name$/);
            assert.deepEqual(problemsOf({ repos: [{ url, name: "fine" }] }), [], "an explicit name fixes it");
        });
    }

    it(`accepts names up to ${REPO_NAME_MAX_LENGTH} bytes, so the clone's temp dir (.gitspace-clone-<name>.XXXXXX) fits NAME_MAX`, () => {
        const name = "a".repeat(REPO_NAME_MAX_LENGTH);
        assert.deepEqual(problemsOf({ repos: [{ url: "https://git.example.com/a/b.git", name }] }), []);
        assert.ok(`.gitspace-clone-${name}.XXXXXX`.length < 255);
    });

    it("refuses two repositories of one developer in one directory, derived or given", () => {
        const found = problemsOf({ repos: [{ url: "https://a.example/x/api.git" }, { url: "https://b.example/y/api" }, { url: "https://c.example/z/w.git", name: "api" }] });
        assert.deepEqual(found.map((p) => p.path), ["gitspace:developers[0].repos[1].name", "gitspace:developers[0].repos[2].name"]);
    });
});

describe("adversarial: branch names", () => {
    const hostile = ["-", "-rf", "--upload-pack=touch /tmp/pwned", "--orphan", "..", "a..b", "a/../b", ".hidden", "a/.b", "a.lock", "a.lock/b",
        "a//b", "/a", "a/", "a.", "HEAD", "@", "@{-1}", "a@{b", "a b", "a\tb", "a\nb", "a\x00b", "a\x7fb", "a~1", "a^", "a:b", "a?b", "a*b",
        "a[b", "a\\b", "ﬁx", "mаin", "", "a".repeat(256)];
    for (const branch of hostile) {
        it(`refuses ${JSON.stringify(branch.length > 40 ? `${branch.slice(0, 10)}…(${branch.length})` : branch)}`, () => {
            const found = problemsOf({ repos: [{ url: "https://git.example.com/a/b.git", branch }] });
            assert.deepEqual(found.map((p) => p.path), ["gitspace:developers[0].repos[0].branch"]);
        });
    }

    it("whatever the pattern accepts, git accepts too (git check-ref-format --branch)", () => {
        const accepted = ["main", "release/1.2", "feature/x-y_z", "v1.0.0", "a.b", "_x", "1", "a/b/c/d", "HEADS", "lock", "a.locks", "x-"];
        for (const branch of [...accepted, ...hostile]) {
            if (!GIT_BRANCH.test(branch) || branch.length > 255) continue;
            const git = spawnSync("git", ["check-ref-format", "--branch", branch], { encoding: "utf8" });
            assert.equal(git.status, 0, `git refuses ${JSON.stringify(branch)} that config accepts`);
        }
        for (const branch of accepted) assert.deepEqual(problemsOf({ repos: [{ url: "https://git.example.com/a/b.git", branch }] }), [], branch);
    });
});

describe("adversarial: quantities", () => {
    const res = (cpu: unknown, memory: unknown) => ({ resources: { requests: { cpu, memory }, limits: { cpu: "64", memory: "1Ei" } } });
    const badMemory = ["512m", "1m", "0.5m", "1Gi ", " 1Gi", "1 Gi", "1Gi\n", "1gi", "1GB", "1.Gi", ".5Gi", "0x10", "１Gi", "Infinity", "NaN",
        "-1Gi", "+1Gi", "1e3", "1Gi;rm -rf /", "", "9".repeat(100), "1Mi\x00", "x".repeat(1 << 20)];
    for (const q of badMemory) {
        it(`memory and storage refuse ${JSON.stringify(q.length > 20 ? `${q.slice(0, 10)}…(${q.length})` : q)}`, () => {
            const found = problemsOf(res("1", q));
            assert.deepEqual(found.map((p) => p.path), ["gitspace:developers[0].resources.requests.memory"]);
            assert.ok(found[0].message.length < 200, "the value is not echoed whole");
            assert.deepEqual(problemsOf({ storage: q }).map((p) => p.path), ["gitspace:developers[0].storage"]);
        });
    }
    it("memory and storage refuse numbers (a unit must be explicit)", () => {
        assert.equal(problemsOf(res("1", 1024)).length, 1);
        assert.equal(problemsOf({ storage: 10 }).length, 1);
    });
    const badCpu = ["500M", "1Ki", "1Gi", "-1", "1e3", "0x2", "1 ", "", "1m1", "m", "Infinity", "9".repeat(100), -1, Number.NaN];
    for (const q of badCpu) {
        it(`CPU refuses ${JSON.stringify(String(q).length > 20 ? `${String(q).slice(0, 10)}…` : q)}`, () => {
            assert.deepEqual(problemsOf(res(q, "1Gi")).map((p) => p.path), ["gitspace:developers[0].resources.requests.cpu"]);
        });
    }
    it("CPU keeps the milli suffix; memory and storage keep the binary and decimal suffixes", () => {
        for (const [cpu, memory] of [["500m", "512Mi"], ["0.5", "1G"], [2, "1500M"], ["250m", "1k"], ["1", "1Ki"]]) {
            assert.deepEqual(problemsOf(res(cpu, memory)), [], `${cpu} ${memory}`);
        }
        assert.deepEqual(problemsOf({ storage: "100Gi" }), []);
    });
});

describe("adversarial: git credentials and home volumes", () => {
    for (const [title, git] of [
        ["token with a newline (would end the credential line)", { username: "alice", token: `${SECRET}\nhost=evil.example` }],
        ["token with a space", { username: "alice", token: `${SECRET} x` }],
        ["token with a NUL", { username: "alice", token: `${SECRET}\x00` }],
        ["username with a newline", { username: "alice\npassword=x", token: SECRET }],
        ["username with a tab", { username: "al\tice", token: SECRET }],
        ["a 5000-character token", { username: "alice", token: SECRET + "x".repeat(5000) }],
    ] as Array<[string, Record<string, string>]>) {
        it(`refuses a ${title}, without echoing it`, () => {
            const found = problemsOf({ git, repos: [{ url: "https://git.example.com/a/b.git" }] });
            assert.equal(found.length, 1);
            assert.match(found[0].path, /^gitspace:developers\[0\]\.git\.(username|token)$/);
        });
    }

    it("refuses one PersistentVolume as the home of two developers, naming both", () => {
        try {
            parseTeamConfig(rawConfig({ developers: [{ name: "alice", homeVolumeName: "pv-1" }, { name: "bob", homeVolumeName: "pv-2" }, { name: "carol", homeVolumeName: "pv-1" }] }));
            assert.fail("accepted");
        } catch (e) {
            assert.ok(e instanceof ConfigError);
            assert.deepEqual(e.problems, [{
                path: "gitspace:developers[2].homeVolumeName",
                message: `PersistentVolume "pv-1" would be the home of both "alice" and "carol"; each developer needs their own volume`,
            }]);
        }
    });
});
