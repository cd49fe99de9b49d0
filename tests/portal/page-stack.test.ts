/**
 * The web page's "New team stack" form in headless Chromium: built from `components.schemas.TeamConfig` of the
 * service's own /openapi.json (the same generic code as the developer form), the exact request body it sends,
 * refusals at their fields, hostile values, secrets; and deleting a team stack (homes kept unless purged, the
 * stack's name typed). The real HTTP service over the in-memory engine.
 */
import * as assert from "assert";
import { BrowserContext } from "playwright-core";
import { exampleTeamValues, SECRET_FIELDS, TEAM_SECRET_FIELDS } from "../../portal";
import { assertInert, launchBrowser, openPage, Watched } from "./browser";
import { memoryPortal, serve, Served, TOKEN } from "./helpers";

/** An input (or `tag`) of the new stack form by its path in the team config. */
const S = (path: string, tag = "input") => `#new-stack [data-path="${path}"] > ${tag}`;
const check = (path: string) => `#new-stack [data-path="${path}"] input[type=checkbox]`;
const fieldError = (w: Watched, path: string) => w.page.textContent(`#new-stack [data-path="${path}"] > .field-error`);
const problemLines = (w: Watched) => w.page.$$eval("#new-stack-problems li", (lis) => lis.map((l) => l.textContent ?? ""));
const posts = (w: Watched) => w.requests.filter((r) => r.method === "POST" && /^\/teams\/[^/]+\/envs\/[^/]+$/.test(r.url.pathname));

type Schema = { type?: string; $ref?: string; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; enum?: unknown[];
    const?: unknown; minItems?: number; minimum?: number; maximum?: number; pattern?: string; writeOnly?: boolean; additionalProperties?: unknown };

/**
 * Every field the form should have for `schema` (objects recursed, a list of objects with its first entry when it
 * must have one, unions of objects left out: they are checked by hand), with the schema it comes from.
 */
function leaves(doc: { components: { schemas: Record<string, Schema> } }, schema: Schema, path: string): Array<[string, Schema]> {
    const s = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()!] : schema;
    if (s.anyOf) return s.anyOf.filter((v) => v.type !== "null").length === 1 ? leaves(doc, s.anyOf.find((v) => v.type !== "null")!, path) : [];
    if (s.type === "object" && s.properties) {
        return Object.entries(s.properties).flatMap(([k, v]) => leaves(doc, v, path ? `${path}.${k}` : k));
    }
    if (s.type === "array" && s.items) {
        const item = s.items.$ref ? doc.components.schemas[s.items.$ref.split("/").pop()!] : s.items;
        if (item.type === "object") return (s.minItems ?? 0) >= 1 ? leaves(doc, item, `${path}[0]`) : [];
    }
    return [[path, s]];
}

describe("portal: web page creates and deletes team stacks (headless Chromium)", function () {
    this.timeout(120000);
    let browser: BrowserContext;
    let chromium: Awaited<ReturnType<typeof launchBrowser>>;
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    const pageUrl = () => `${served.url}/?team=platform&env=dev#token=${TOKEN}`;

    before(async () => {
        chromium = await launchBrowser("portal-chromium-stack-");
        browser = chromium.browser;
    });
    after(async () => { await chromium?.close(); });
    beforeEach(async () => {
        mem = await memoryPortal();
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    async function openForm(): Promise<Watched> {
        const w = await openPage(browser, pageUrl());
        await w.page.waitForSelector("tr[data-name=carol]");
        await w.page.click("#new-stack-open");
        await w.page.waitForSelector("#new-stack:not([hidden]) [data-path=domain]");
        return w;
    }

    it("builds the form from TeamConfig of /openapi.json: a field per property, enums as selects, booleans as checkboxes, numbers with min/max, patterns, secrets as password inputs", async () => {
        const doc = await (await fetch(`${served.url}/openapi.json`)).json() as { components: { schemas: Record<string, Schema> } };
        const team = doc.components.schemas.TeamConfig;
        const w = await openForm();
        try {
            const top = await w.page.$$eval("#new-stack-fields > [data-path]", (els) => els.map((e) => (e as HTMLElement).dataset.path));
            assert.deepStrictEqual(top, Object.keys(team.properties!));
            // The secrets are the fields the document marks writeOnly: exactly the library's secret fields.
            const passwords = await w.page.$$eval("#new-stack input[type=password]", (els) => els.map((e) => (e as HTMLInputElement).name));
            assert.deepStrictEqual(passwords, [...TEAM_SECRET_FIELDS.map((f) => f.join(".")), ...SECRET_FIELDS.map((f) => `developers[0].${f.join(".")}`)]);
            assert.deepStrictEqual(passwords, ["images.password", "developers[0].git.token"]);

            const fields = leaves(doc, team, "");
            assert.ok(fields.length > 60, `${fields.length} fields`);
            for (const [path, s] of fields) {
                const shape = await w.page.$eval(`#new-stack [data-path="${path}"]`, (e) => {
                    const input = e.querySelector("input, select, textarea") as HTMLInputElement;
                    return {
                        tag: input.tagName.toLowerCase(), type: input.type, name: input.name, min: input.getAttribute("min"), max: input.getAttribute("max"),
                        pattern: input.getAttribute("pattern"), options: input.tagName === "SELECT" ? [...(input as unknown as HTMLSelectElement).options].map((o) => o.value) : [],
                        maxlength: input.getAttribute("maxlength"),
                    };
                }).catch(() => undefined);
                assert.ok(shape, `a field for ${path}`);
                assert.strictEqual(shape.name, path);
                assert.strictEqual(shape.maxlength, null, `${path}: no maxlength attribute (it would cut pasted text silently)`);
                const what = `${path} (${JSON.stringify(s).slice(0, 120)})`;
                if (Array.isArray(s.enum)) assert.deepStrictEqual([shape.tag, shape.options], ["select", ["", ...s.enum.map(String)]], what);
                else if (s.type === "boolean") assert.strictEqual(shape.type, "checkbox", what);
                else if (s.type === "integer" || s.type === "number") {
                    assert.deepStrictEqual([shape.type, shape.min, shape.max], ["number", s.minimum === undefined ? null : String(s.minimum), s.maximum === undefined ? null : String(s.maximum)], what);
                } else if (s.type === "array" || (s.type === "object" && s.additionalProperties)) assert.strictEqual(shape.tag, "textarea", what);
                else if (s.type === "string") {
                    assert.strictEqual(shape.type, s.writeOnly ? "password" : "text", what);
                    if (s.pattern) assert.ok(shape.pattern, `${what}: its pattern is an attribute`);
                }
            }
            // A list that must have an entry (developers, minItems 1) starts with one; more are added with a button.
            assert.strictEqual(await w.page.$$eval('#new-stack [data-path="developers"] > div > fieldset', (e) => e.length), 1);
            await w.page.click('#new-stack [data-path="developers"] > button.add-item');
            assert.strictEqual(await w.page.getAttribute(S("developers[1].git.token"), "type"), "password");
            assert.match((await w.page.textContent("#new-stack .note"))!, /add more later with Add developer/);

            // The pattern attributes say what the schema says, and cut nothing: 10,000 characters stay 10,000.
            const validity = async (path: string, value: string) => {
                await w.page.fill(S(path), value);
                return w.page.$eval(S(path), (i) => ({ mismatch: (i as HTMLInputElement).validity.patternMismatch, length: (i as HTMLInputElement).value.length }));
            };
            assert.deepStrictEqual(await validity("domain", "gitspace.example.com"), { mismatch: false, length: 20 });
            assert.deepStrictEqual(await validity("domain", "Not_A.Domain"), { mismatch: true, length: 12 });
            assert.deepStrictEqual(await validity("domain", "a".repeat(10000)), { mismatch: true, length: 10000 });
            assert.deepStrictEqual(await validity("images.tag", "v1.2-rc_3"), { mismatch: false, length: 9 });
            assert.deepStrictEqual(await validity("images.tag", "-v1"), { mismatch: true, length: 3 });
            assert.deepStrictEqual(await validity("images.registry", "registry.example.com:5000/team/runtime"), { mismatch: false, length: 38 });
            assert.deepStrictEqual(await validity("images.registry", "https://registry.example.com"), { mismatch: true, length: 28 });
            // A union of objects (router): the mode picks the variant's fields.
            assert.deepStrictEqual(await w.page.$$eval(`${S("router.mode", "select")} option`, (os) => os.map((o) => (o as HTMLOptionElement).value)),
                ["", "caddy2-k8s", "gateway", "ingress", "none"]);
            await w.page.selectOption(S("router.mode", "select"), "ingress");
            await w.page.selectOption(S("router.tls.mode", "select"), "secret");
            assert.ok(await w.page.$(S("router.tls.secretName")));
            await w.page.fill(S("router.namespace"), "ingress-nginx");
            await w.page.selectOption(S("router.mode", "select"), "gateway");
            assert.strictEqual(await w.page.$(S("router.tls.secretName")), null);
            assert.strictEqual(await w.page.inputValue(S("router.namespace")), "ingress-nginx", "a field both variants have keeps its value");
            assert.ok(await w.page.$(S("router.parentRefs[0].name")), "parentRefs (minItems 1) starts with one entry");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("sends exactly what was filled in: nested values, empties left out, numbers as numbers, booleans as booleans, look-alikes as text; secrets stored as secrets and gone from the page", async () => {
        const REGISTRY_PASSWORD = "pw-<b>reg\u202e";
        const GIT_TOKEN = "tok-secret-123";
        const w = await openForm();
        try {
            const p = w.page;
            await p.fill(S("team"), "data");
            await p.fill(S("environment"), "prod");
            await p.fill(S("domain"), "gitspace.example.com");
            await p.selectOption(S("ideAuth", "select"), "proxy");
            await p.selectOption(S("router.mode", "select"), "gateway");
            await p.fill(S("router.namespace"), "gateways");
            await p.fill(S("router.parentRefs[0].name"), "shared-gw");
            await p.fill(S("router.parentRefs[0].port"), "443");
            await p.fill(S("router.podLabels", "textarea"), "app=gw\n\ntier=dev\n");
            await p.uncheck(check("egress.enabled"));
            await p.fill(S("images.registry"), "registry.example.com/gitspace-runtime");
            await p.fill(S("images.tag"), "true");
            await p.fill(S("images.platforms", "textarea"), " linux/amd64 \n");
            await p.uncheck(check("images.push"));
            // Touched and put back: the default again, not sent.
            await p.uncheck(check("images.build"));
            await p.check(check("images.build"));
            await p.fill(S("images.baseImage"), "1");
            await p.fill(S("images.username"), "robot");
            await p.fill(S("images.password"), REGISTRY_PASSWORD);
            await p.fill(S("defaults.user.name"), "dev");
            await p.fill(S("defaults.user.uid"), "1000");
            await p.fill(S("defaults.user.gid"), "1000");
            await p.check(check("defaults.running"));
            // A set value taken back with "use default" is not sent.
            await p.check(check("defaults.retainHome"));
            await p.click('#new-stack [data-path="defaults.retainHome"] > button.reset');
            await p.fill(S("defaults.ports", "textarea"), "8080\n3000");
            await p.fill(S("defaults.storage"), "20Gi");
            await p.fill(S("storageClass"), "   ");
            await p.fill(S("developers[0].name"), "alice");
            await p.click('#new-stack [data-path="developers"] > button.add-item');
            await p.fill(S("developers[1].name"), "bob");
            await p.fill(S("developers[1].git.username"), "false");
            await p.fill(S("developers[1].git.token"), GIT_TOKEN);
            await p.click('#new-stack [data-path="developers[1].repos"] > button.add-item');
            await p.fill(S("developers[1].repos[0].url"), "https://git.example.com/acme/api.git");
            await p.click("#new-stack-go");
            await p.waitForSelector("tr[data-name=bob]");

            const expected = {
                team: "data", environment: "prod", domain: "gitspace.example.com", ideAuth: "proxy",
                router: { mode: "gateway", namespace: "gateways", podLabels: { app: "gw", tier: "dev" }, parentRefs: [{ name: "shared-gw", port: 443 }] },
                egress: { enabled: false },
                images: { registry: "registry.example.com/gitspace-runtime", tag: "true", platforms: ["linux/amd64"], push: false, baseImage: "1", username: "robot", password: REGISTRY_PASSWORD },
                defaults: { storage: "20Gi", user: { name: "dev", uid: 1000, gid: 1000 }, running: true, ports: [8080, 3000] },
                developers: [{ name: "alice" }, { name: "bob", repos: [{ url: "https://git.example.com/acme/api.git" }], git: { username: "false", token: GIT_TOKEN } }],
            };
            const [post] = posts(w);
            assert.strictEqual(post.url.pathname + post.url.search, "/teams/data/envs/prod");
            assert.deepStrictEqual(JSON.parse(post.body!), expected, "the body holds exactly the fields filled in, typed as the schema says");
            assert.strictEqual(JSON.stringify(JSON.parse(post.body!)), JSON.stringify(expected), "in the schema's order");
            assert.strictEqual(posts(w).length, 1);
            const stack = mem.stacks.get("data-prod")!;
            assert.deepStrictEqual(stack.values, expected, "the stack's config is what was sent");
            assert.deepStrictEqual([...stack.secretPaths].sort(), ["gitspace:developers[1].git.token", "gitspace:images.password"]);

            // The page switched to the new stack and says what is next; the form and everything typed in it is gone.
            assert.strictEqual(new URL(p.url()).search, "?team=data&env=prod");
            await p.waitForSelector("#stack-list option[value=data-prod]", { state: "attached" });
            assert.match((await p.textContent("#message"))!, /^Created the team stack data-prod: nothing is deployed until its first change .* Add more developers with Add developer\.$/);
            assert.ok(await p.isHidden("#new-stack"));
            assert.strictEqual(await p.$$eval("#new-stack-fields *", (e) => e.length), 0);
            const values = await p.$$eval("input, textarea, select", (els) => els.map((e) => (e as HTMLInputElement).value).join("\n"));
            const html = await p.content();
            const stored = await p.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie);
            for (const secret of [REGISTRY_PASSWORD, GIT_TOKEN]) {
                for (const [where, text] of [["an input", values], ["the page", html], ["storage", stored]]) assert.ok(!text.includes(secret), `the secret is not in ${where}`);
                for (const r of w.requests) assert.ok(!r.url.href.includes(secret), `no secret in a URL: ${r.url.href}`);
            }
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("shows refusals at their fields in words: path parameters, config paths inside unions, maps and lists, 409; what the page cannot read is said and not sent", async () => {
        const w = await openForm();
        try {
            const p = w.page;
            // Nothing filled: the stack has no name; nothing is sent.
            await p.click("#new-stack-go");
            await p.waitForSelector('#new-stack [data-path="team"].invalid');
            assert.match((await fieldError(w, "environment"))!, /^needed: the team and the environment name the stack/);
            assert.deepStrictEqual((await problemLines(w)).slice(0, 2), ["Not sent: the page could not read 2 fields", "• Team: needed: the team and the environment name the stack (<team>-<environment>)"]);
            // What the page cannot turn into JSON: a number input holding no number, a map line without `=`.
            await p.fill(S("team"), "data");
            await p.fill(S("environment"), "Prod-1");
            await p.click(S("defaults.user.uid"));
            await p.keyboard.type("1e");
            await p.fill(S("egress.dns.podLabels", "textarea"), "k8s-app=kube-dns\njust-a-key");
            await p.click("#new-stack-go");
            await p.waitForSelector('#new-stack [data-path="defaults.user.uid"].invalid');
            assert.strictEqual(await fieldError(w, "defaults.user.uid"), "not a number");
            assert.strictEqual(await fieldError(w, "egress.dns.podLabels"), "line 2 is not key=value");
            assert.deepStrictEqual(await problemLines(w), ["Not sent: the page could not read 2 fields",
                "• Egress › DNS › Pod labels: line 2 is not key=value", "• Defaults › User › UID: not a number"]);
            assert.strictEqual(posts(w).length, 0, "nothing sent while the page cannot read a field");
            assert.strictEqual(await p.$$eval("#new-stack .invalid", (e) => e.length), 2, "the earlier problems are gone");

            // A bad path parameter: at the environment field.
            await p.fill(S("defaults.user.uid"), "");
            await p.fill(S("egress.dns.podLabels", "textarea"), "");
            await p.click("#new-stack-go");
            await p.waitForSelector('#new-stack [data-path="environment"].invalid');
            assert.match((await fieldError(w, "environment"))!, /^invalid environment "Prod-1"; lowercase letters and digits only/);
            assert.strictEqual(posts(w)[0].url.pathname, "/teams/data/envs/Prod-1");

            // The program's refusals by config path: inside the router union, a map entry, a list entry, a nested secret.
            await p.fill(S("environment"), "prod");
            await p.fill(S("domain"), "gitspace.example.com");
            await p.fill(S("images.registry"), "https://bad/<img>");
            await p.selectOption(S("router.mode", "select"), "gateway");
            await p.fill(S("router.namespace"), "gateways");
            await p.fill(S("router.parentRefs[0].name"), "gw");
            await p.fill(S("router.podLabels", "textarea"), "note=a=b");
            await p.fill(S("defaults.idleTimeout"), "1");
            await p.fill(S("developers[0].name"), "alice");
            await p.fill(S("developers[0].git.username"), "alice");
            await p.click("#new-stack-go");
            await p.waitForSelector('#new-stack [data-path="developers[0].git.token"].invalid');
            assert.deepStrictEqual(JSON.parse(posts(w)[1].body!).router, { mode: "gateway", namespace: "gateways", podLabels: { note: "a=b" }, parentRefs: [{ name: "gw" }] });
            assert.strictEqual(await fieldError(w, "developers[0].git.token"), "required");
            assert.strictEqual(await fieldError(w, "router.podLabels"), 'Note: invalid label value "a=b"');
            assert.match((await fieldError(w, "defaults.idleTimeout"))!, /^invalid duration "1"; expected a duration such as "30m"/);
            assert.match((await fieldError(w, "images.registry"))!, /^invalid registry repository "https:\/\/bad\/<img>"/);
            assert.deepStrictEqual(await p.$$eval("#new-stack .invalid", (els) => els.map((e) => (e as HTMLElement).dataset.path).sort()),
                ["defaults.idleTimeout", "developers[0].git.token", "images.registry", "router.podLabels"], "only the fields the service named");
            const lines = await problemLines(w);
            assert.strictEqual(lines[0], "Refused: 4 problems with the request");
            for (const line of ['• Router › Pod labels › Note: invalid label value "a=b" (gitspace:router.podLabels.note)',
                "• Developers › #1 › Git › Token: required (gitspace:developers[0].git.token)"]) assert.ok(lines.includes(line), `${line}\n${lines.join("\n")}`);
            assert.ok(!mem.stacks.has("data-prod"), "nothing created");
            assert.strictEqual(await p.inputValue(S("images.registry")), "https://bad/<img>", "the form keeps what was typed");

            // A stack that exists: 409 at the team field.
            await p.fill(S("team"), "platform");
            await p.fill(S("environment"), "dev");
            await p.fill(S("images.registry"), "registry.example.com/gitspace-runtime");
            await p.fill(S("router.podLabels", "textarea"), "");
            await p.fill(S("defaults.idleTimeout"), "");
            await p.fill(S("developers[0].git.username"), "");
            await p.click("#new-stack-go");
            await p.waitForFunction(() => /already exists/.test(document.querySelector('#new-stack [data-path="team"] > .field-error')?.textContent ?? ""));
            assert.match((await problemLines(w))[0], /^Conflict: stack "platform-dev" already exists/);
            assert.strictEqual(JSON.stringify(mem.stacks.get("platform-dev")!.values.developers), JSON.stringify((await memoryPortal()).stack.values.developers), "the existing stack is untouched");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("hostile values: markup, bidi and control characters, 10,000-character strings and look-alike booleans are sent as typed, shown as text, never run; a secret is never echoed", async () => {
        const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>\u202egnp.exe\u0007\u001b[31m";
        const SECRET = `<script>alert(3)</script>\u202e\u0001${"p".repeat(10000)}`;
        const long = `${hostile}${"x".repeat(10000)}`;
        const shortHostile = "<img src=x onerror=alert(4)>\u202ecod.exe\u0007";
        const w = await openForm();
        try {
            const p = w.page;
            await p.fill(S("team"), "data");
            await p.fill(S("environment"), "prod");
            await p.fill(S("domain"), long);
            await p.fill(S("images.registry"), "registry.example.com/gitspace-runtime");
            await p.fill(S("images.tag"), "True");
            await p.fill(S("images.baseImage"), "x".repeat(10000));
            await p.fill(S("images.username"), "null");
            await p.fill(S("images.password"), SECRET);
            await p.fill(S("storageClass"), "false");
            await p.fill(S("ssh.host"), "yes");
            await p.fill(S("defaults.storage"), "1");
            await p.fill(S("developers[0].name"), shortHostile);
            await p.click("#new-stack-go");
            await p.waitForSelector('#new-stack [data-path="developers[0].name"].invalid');

            const body = JSON.parse(posts(w)[0].body!);
            assert.strictEqual(body.domain, long, "10,000 characters sent whole: nothing cut");
            assert.strictEqual(body.images.baseImage.length, 10000);
            assert.strictEqual(body.images.password, SECRET);
            assert.deepStrictEqual([body.images.tag, body.images.username, body.storageClass, body.ssh.host, body.defaults.storage], ["True", "null", "false", "yes", "1"],
                "look-alike booleans, null and numbers typed into text fields stay text");
            assert.strictEqual(body.developers[0].name, shortHostile);

            const nameError = (await fieldError(w, "developers[0].name"))!;
            assert.ok(nameError.includes('"<img src=x onerror=alert(4)>\\u202ecod.exe\\u0007"'), nameError);
            const domainError = (await fieldError(w, "domain"))!;
            assert.ok(domainError.length > 0, "the domain is refused at its field");
            const text = (await p.textContent("#new-stack"))! + (await p.textContent("#message"))!;
            assert.ok(!/[\u202e\u0000-\u0008\u001b]/.test(text), "bidi overrides and control characters are shown escaped");
            assert.ok(!text.includes("pppppppppp") && !text.includes("alert(3)"), "the secret is not echoed in any message");
            assert.ok(!(await p.content()).includes("alert(3)"), "the secret is not in the page's markup");
            const width = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
            assert.ok(width[0] <= width[1], `long words wrap instead of widening the page: ${width}`);
            assert.ok(!mem.stacks.has("data-prod"));
            await assertInert(w);

            // Cancel: the form and what was typed in it leave the page.
            await p.click("#new-stack-cancel");
            const values = await p.$$eval("input, textarea", (els) => els.map((e) => (e as HTMLInputElement).value).join("\n"));
            assert.ok(!values.includes("alert(3)"), "no input holds the secret after Cancel");
            assert.strictEqual(await p.$$eval("#new-stack-fields *", (e) => e.length), 0);
        } finally {
            await w.page.close();
        }
    });

    it("deletes a team stack: homes kept by default; a purge deletes them and, like any delete, needs the stack's name typed", async () => {
        await mem.addStack("web-staging2", exampleTeamValues("web", [{ name: "zed" }]));
        await mem.addStack("data-prod", exampleTeamValues("data", [{ name: "yan" }]));
        const w = await openPage(browser, `${served.url}/?team=web&env=staging2#token=${TOKEN}`);
        try {
            const p = w.page;
            await p.waitForSelector("tr[data-name=zed]");
            await p.click("#delete-stack-open");
            assert.match((await p.textContent("#delete-stack"))!, /Homes are kept unless you also delete them/);
            await p.check("#delete-stack-purge");
            await p.fill("#delete-stack-confirm", "web-staging");
            assert.ok(await p.isDisabled("#delete-stack-go"), "not without the name");
            await p.evaluate(() => (document.getElementById("delete-stack") as HTMLFormElement).requestSubmit());
            assert.strictEqual(await p.textContent("#delete-stack-problems"), "Type the stack's name (web-staging2) exactly to delete it.");
            assert.strictEqual(w.requests.filter((r) => r.method === "DELETE").length, 0, "no request for a wrong name");
            await p.fill("#delete-stack-confirm", "web-staging2");
            await p.click("#delete-stack-go");
            await p.waitForSelector("#gitspaces", { state: "hidden" });
            const del = w.requests.find((r) => r.method === "DELETE")!;
            assert.strictEqual(del.url.pathname + del.url.search, "/teams/web/envs/staging2?purge=1");
            assert.match((await p.textContent("#operations .op:first-child .state"))!, /^Deleted: .*homes deleted$/);
            assert.ok(!mem.stacks.has("web-staging2"));
            assert.ok(mem.stacks.has("data-prod") && mem.stacks.has("platform-dev"), "other stacks untouched");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });
});
