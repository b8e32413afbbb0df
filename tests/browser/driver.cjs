// Drives the test page in headless Chromium (Debian's) through playwright-core until the test
// closes this process's stdin (it has seen what it waits for from the browser) and the page has
// received `want` audio packets, then prints the page's state as one JSON line.
// Usage: node driver.cjs <page url> <want> ; env PLAYWRIGHT_CORE, CHROMIUM.
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

(async () => {
  const [url, want] = [process.argv[2], Number(process.argv[3] || 50)];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
           // getUserMedia needs a secure context: the page's origin off loopback (a test network) is treated as one.
           `--unsafely-treat-insecure-origin-as-secure=${new URL(url).origin}`],
  });
  let state = null;
  let released = false;
  process.stdin.on("end", () => { released = true; }).resume();
  try {
    const page = await browser.newPage();
    page.on("console", (message) => process.stderr.write(`page: ${message.text()}\n`));
    await page.goto(url);
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      state = await page.evaluate(() => window.mit);
      if (state.error || (released && state.inboundAudioPackets >= want)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(state) + "\n");
})().catch((error) => { process.stderr.write(String(error.stack || error) + "\n"); process.exit(1); });
