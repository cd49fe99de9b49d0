import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, BrowserContext } from "playwright-core";
import { memoryPortal, serve, Served, TOKEN } from "./helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("portal: web page in headless Chromium", function () {
    this.timeout(120000);
    let browser: BrowserContext;
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    let profile: string;

    before(async () => {
        if (!fs.existsSync(CHROMIUM)) {
            throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
        }
        profile = fs.mkdtempSync(path.join(os.tmpdir(), "portal-chromium-"));
        // A fresh profile directory (playwright passes it as --user-data-dir).
        browser = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM,
            headless: true,
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    });
    after(async () => {
        await browser?.close();
        if (profile) fs.rmSync(profile, { recursive: true, force: true });
    });
    beforeEach(async () => {
        mem = await memoryPortal();
        mem.stack.options.delayMs = 300;
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    it("lists the gitspaces with status and IDE link; Stop sends the request and shows the new status", async () => {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
        const requests: string[] = [];
        page.on("request", (r) => { if (r.url().includes("/teams/")) requests.push(`${r.method()} ${new URL(r.url()).pathname} ${r.headers().authorization ?? ""}`); });
        await page.goto(`${served.url}/?team=platform&env=dev#token=${TOKEN}`);
        await page.waitForSelector("tr[data-name=carol]");
        const rows = await page.$$eval("#gitspaces tbody tr", (trs) => trs.map((tr) => ({
            name: (tr as unknown as { dataset: Record<string, string> }).dataset.name,
            status: tr.querySelector(".status")!.textContent,
            link: tr.querySelector("a.ide")?.getAttribute("href") ?? null,
            button: tr.querySelector("button")!.textContent,
        })));
        assert.deepStrictEqual(rows, [
            { name: "alice", status: "running", link: "https://alice--platform--dev.gitspace.localtest.me", button: "Stop" },
            { name: "bob", status: "running", link: null, button: "Stop" },
            { name: "carol", status: "stopped", link: null, button: "Start" },
        ]);
        assert.ok(!page.url().includes(TOKEN), "the token leaves the address bar");

        await page.click("tr[data-name=alice] button.stop");
        await page.waitForSelector("tr[data-name=alice] .status-updating");
        assert.strictEqual(await page.textContent("tr[data-name=alice] .status"), "stopping…");
        await page.waitForSelector("tr[data-name=alice] .status-stopped");
        assert.strictEqual(await page.textContent("tr[data-name=alice] button"), "Start");
        assert.ok(requests.includes(`POST /teams/platform/envs/dev/gitspaces/alice/stop Bearer ${TOKEN}`), requests.join("\n"));
        assert.strictEqual((await mem.portal.get({ team: "platform", env: "dev" }, "alice")).running, false);

        await page.click("tr[data-name=carol] button.start");
        await page.waitForSelector("tr[data-name=carol] .status-running");
        assert.strictEqual(await page.getAttribute("tr[data-name=carol] a.ide", "href"), "https://carol--platform--dev.gitspace.localtest.me");
        assert.deepStrictEqual(violations, [], "the page runs under its CSP without violations");
        await page.close();
    });

    it("shows the service's message for a wrong token", async () => {
        const page = await browser.newPage();
        await page.goto(`${served.url}/?team=platform&env=dev#token=wrong`);
        await page.waitForFunction("document.getElementById('message').textContent !== ''");
        assert.strictEqual(await page.textContent("#message"), "missing or wrong bearer token");
        await page.close();
    });
});
