// Drives the health view in headless Debian chromium with playwright-core (tests/test_health_browser.py).
// Usage: node health_browser.js <health base URL> <ingest base URL> <screenshot dir>
// Prints one JSON object with what it measured; exits non-zero on any failure.
const { chromium } = require('playwright-core');

const [base, ingest, shots] = process.argv.slice(2);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function send(messageId) {
  const response = await fetch(`${ingest}/v1/track`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + btoa('web-key:') },
    body: JSON.stringify({ userId: 'browser-user', event: 'Browser Checkout', messageId,
      properties: { total: 42 } }),
  });
  if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
}

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${base}/`);
    result.overview = await page.textContent('main');
    await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });

    await page.goto(`${base}/debugger?source=web`);
    await page.waitForSelector('#events .ev');
    result.initialEvents = await page.locator('#events .ev').count();
    const messageId = `browser-${Date.now()}`;
    const sent = Date.now();
    await send(messageId);
    await page.waitForSelector(`#events .ev:has-text("${messageId}")`, { timeout: 5000 });
    result.debuggerMs = Date.now() - sent;
    await page.fill('#q', messageId);
    result.visibleAfterSearch = await page.locator('#events .ev:visible').count();
    await page.check('#raw');
    result.rawText = await page.locator('#events .ev:visible pre.rawv').textContent();
    await page.uncheck('#raw');
    await page.screenshot({ path: `${shots}/debugger.png`, fullPage: true });

    const deadline = Date.now() + 20000;
    do {
      await page.goto(`${base}/lookup?messageId=${encodeURIComponent(messageId)}`);
      result.lookup = await page.textContent('main');
    } while (!result.lookup.includes('delivered to hook') && Date.now() < deadline
             && await new Promise((r) => setTimeout(() => r(true), 300)));
    await page.screenshot({ path: `${shots}/lookup.png`, fullPage: true });
    result.messageId = messageId;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((err) => { console.error(err); process.exit(1); });
