/**
 * The `dotfiles` setting: the same URL and branch rules as the repos (one schema piece), a safe `installCommand`,
 * defaults, the container contract (GITSPACE_DOTFILES) and the credential scope.
 */
import { strict as assert } from "assert";
import { clonedRepositories, gitCredentialsData, gitspaceEnv } from "../../components/builders";
import { ConfigError, DeveloperConfig, parseTeamConfig } from "../../components/config";
import { scriptPathProblem } from "../../components/repo";
import { rawConfig } from "./harness";

const SECRET = "ghp_S3CRETt0ken";

function parse(developer: Record<string, unknown>, defaults?: Record<string, unknown>) {
    return parseTeamConfig(rawConfig({ developers: [{ name: "alice", ...developer }], ...(defaults ? { defaults } : {}) }));
}
function problemsOf(developer: Record<string, unknown>, defaults?: Record<string, unknown>): string[] {
    try {
        parse(developer, defaults);
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error)?.stack ?? e}`);
        assert.ok(!e.message.includes(SECRET), `a secret was echoed: ${e.message}`);
        return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
}

describe("dotfiles: config", () => {
    it("is optional; unset means no dotfiles and an empty GITSPACE_DOTFILES", () => {
        const d = parse({}).developers[0];
        assert.equal(d.dotfiles, undefined);
        assert.equal(gitspaceEnv({ team: "p", developer: d, ideAuth: "password", hasGitCredentials: false }).find((e) => e.name === "GITSPACE_DOTFILES")?.value, "");
    });

    it("a developer's own dotfiles win over the defaults' (as a whole, never field by field)", () => {
        const c = parseTeamConfig(rawConfig({
            defaults: { dotfiles: { url: "https://git.example.com/team/dotfiles.git", installCommand: "team-setup.sh" } },
            developers: [{ name: "alice" }, { name: "bob", dotfiles: { url: "https://git.example.com/bob/dots", branch: "main" } }],
        }));
        assert.deepEqual(c.developers[0].dotfiles, { url: "https://git.example.com/team/dotfiles.git", installCommand: "team-setup.sh" });
        assert.deepEqual(c.developers[1].dotfiles, { url: "https://git.example.com/bob/dots", branch: "main" });
    });

    it("hands the container the resolved entry as JSON, fields in a fixed order", () => {
        const d = parse({ dotfiles: { installCommand: "script/bootstrap", branch: "dev", url: "https://git.example.com/a/dots.git" } }).developers[0];
        const env = gitspaceEnv({ team: "p", developer: d, ideAuth: "password", hasGitCredentials: false });
        assert.equal(env.find((e) => e.name === "GITSPACE_DOTFILES")?.value,
            '{"url":"https://git.example.com/a/dots.git","branch":"dev","installCommand":"script/bootstrap"}');
    });

    it("the credential helper's scopes include the dotfiles repository's, literally", () => {
        const d = parse({
            git: { username: "alice", token: SECRET },
            repos: [{ url: "https://git.example.com/a/api.git" }],
            dotfiles: { url: "https://dots.example.org:8443/alice/dotfiles" },
        }).developers[0];
        assert.deepEqual(clonedRepositories(d).map((r) => r.url), ["https://git.example.com/a/api.git", "https://dots.example.org:8443/alice/dotfiles"]);
        assert.equal(gitCredentialsData(d.git!, clonedRepositories(d), (t) => t).hosts, "https://dots.example.org:8443\nhttps://git.example.com\n");
        const noDots: Pick<DeveloperConfig, "repos" | "dotfiles"> = { repos: [] };
        assert.deepEqual(clonedRepositories(noDots), []);
    });

    const hostileUrls = [
        "", "git@github.com:alice/dotfiles.git", "ssh://git@github.com/alice/dotfiles", "file:///etc/passwd", "ext::sh -c id",
        `https://alice:${SECRET}@git.example.com/alice/dotfiles`, `https://git.example.com/alice/dotfiles?token=${SECRET}`,
        "https://git.example.com/a/../../etc", "https://git.example.com/a\n/b", "https://gіthub.com/alice/dotfiles",
        "HTTPS://git.example.com/a", "https://git.example.com/a b", "https://[::1%eth0]/a", "https://0x7f.1/a", "-uhttps://x/a",
        "https://git.example.com/a%00b", "https://git.example.com/" + "a".repeat(3000),
    ];
    for (const url of hostileUrls) {
        it(`refuses the URL ${JSON.stringify(url.length > 50 ? `${url.slice(0, 40)}…` : url).replace(SECRET, "<secret>")} like a repo URL, naming the field`, () => {
            const problems = problemsOf({ dotfiles: { url } });
            assert.equal(problems.length, 1, problems.join("\n"));
            assert.match(problems[0], /^gitspace:developers\[0\]\.dotfiles\.url: /);
        });
    }

    it("refuses the same in defaults, with the defaults' path", () => {
        assert.deepEqual(problemsOf({}, { dotfiles: { url: "file:///etc" } }).map((p) => p.split(":")[0] + ":" + p.split(":")[1]), ["gitspace:defaults.dotfiles.url"]);
    });

    const badShapes: Array<[string, unknown, RegExp]> = [
        ["a string instead of an object", "https://git.example.com/a/dots", /dotfiles: required: an object|dotfiles: .*object/],
        ["no url", { branch: "main" }, /dotfiles\.url: required/],
        ["an unknown field", { url: "https://git.example.com/a/dots", path: "~/x" }, /unknown field "path"/],
        ["a branch with ..", { url: "https://git.example.com/a/dots", branch: "a..b" }, /dotfiles\.branch: invalid branch name/],
        ["a branch starting with -", { url: "https://git.example.com/a/dots", branch: "-f" }, /dotfiles\.branch/],
        ["null", null, /dotfiles/],
        ["an array", [], /dotfiles/],
    ];
    for (const [title, value, pattern] of badShapes) {
        it(`refuses ${title}`, () => {
            const problems = problemsOf({ dotfiles: value });
            assert.ok(problems.some((p) => pattern.test(p)), problems.join("\n"));
        });
    }
});

describe("dotfiles: installCommand (a script path in the repository, run without a shell)", () => {
    const accepted = ["install.sh", "script/bootstrap", "setup", "bin/install-dotfiles.sh", "_setup", "a/b/c/d.sh", "x".repeat(255)];
    for (const path of accepted) {
        it(`accepts ${JSON.stringify(path.length > 40 ? `${path.slice(0, 10)}…` : path)}`, () => assert.equal(scriptPathProblem(path), undefined));
    }
    const refused = [
        "", "/bin/sh", "../outside.sh", "a/../../b", "./install.sh", ".hidden/install.sh", "-rf", "install.sh --force",
        "install.sh;id", "install.sh && id", "$(id)", "`id`", "install.sh\n", "inst\x00all.sh", "a//b", "a/", "~/x.sh",
        "inst all.sh", "instаll.sh", "install.sh|sh", "x".repeat(256), "a\\b", "*.sh", "install.sh#", "%2e%2e/x",
    ];
    for (const path of refused) {
        it(`refuses ${JSON.stringify(path.length > 40 ? `${path.slice(0, 10)}…(${path.length})` : path)} with a config error`, () => {
            assert.notEqual(scriptPathProblem(path), undefined);
            const problems = problemsOf({ dotfiles: { url: "https://git.example.com/a/dots", installCommand: path } });
            assert.equal(problems.length, 1, problems.join("\n"));
            assert.match(problems[0], /^gitspace:developers\[0\]\.dotfiles\.installCommand: /);
        });
    }
    it("refuses a non-string", () => {
        assert.match(problemsOf({ dotfiles: { url: "https://git.example.com/a/dots", installCommand: ["sh", "-c", "id"] } })[0], /installCommand: must be a string/);
    });
});
