// A real browser through latchkey as the reverse proxy (serve --upstream) in front of an
// app whose page opens a WebSocket. Started by tests/it/proxy/websocket.rs with, in the
// environment:
//   BROWSER_TEST_URL        latchkey's base URL (no trailing slash)
//   BROWSER_TEST_START      the app's page first asked for (a deep link)
//   BROWSER_TEST_PREFIX     latchkey's reserved prefix, e.g. /.latchkey
//   BROWSER_TEST_USER, BROWSER_TEST_PASSWORD, BROWSER_TEST_CHROMIUM, BROWSER_TEST_PROFILE
// The app's page shows the Remote-User it was sent (#who), and what its WebSocket echoed
// (#ws); its "Sign out" link is latchkey's logout. One line per step; non-zero exit on
// the first thing a user would see go wrong.
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BROWSER_TEST_URL');
const start = env('BROWSER_TEST_START');
const prefix = env('BROWSER_TEST_PREFIX');
const user = env('BROWSER_TEST_USER');
const password = env('BROWSER_TEST_PASSWORD');

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

const context = await chromium.launchPersistentContext(env('BROWSER_TEST_PROFILE'), {
  executablePath: env('BROWSER_TEST_CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  const here = () => new URL(page.url());

  // A deep link into the app lands on latchkey's login form.
  await page.goto(`${base}${start}`);
  check(here().pathname === `${prefix}/login`, `the deep link sends a stranger to ${prefix}/login (at ${page.url()})`);
  check(here().searchParams.get('next') === start, 'the login URL remembers the deep link');

  // Logging in lands on the app's page, as the user.
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  await page.locator('button[type=submit]').click();
  await page.waitForURL((url) => `${url.pathname}${url.search}` === start);
  check((await page.textContent('#who')) === user, `the app's page was sent Remote-User: ${user}`);

  // The page's WebSocket goes through latchkey to the app and back.
  await page.waitForFunction(() => document.getElementById('ws').textContent === 'echo: ping', null, { timeout: 10000 });
  check(true, 'the page\'s WebSocket works through latchkey');
  const again = await page.goto(`${base}${start}`);
  check(again.headers()['cache-control'] === 'no-store', 'the app\'s page is not to be cached');

  // Signing out from the app, then the back button: the login page, not the app's page.
  await page.locator('#signout').click();
  await page.waitForURL((url) => url.pathname === `${prefix}/login`);
  check(true, 'signing out lands on the login page');
  await page.goBack();
  check(here().pathname === `${prefix}/login`, `the back button shows the login page (at ${page.url()})`);
  check((await page.locator('input[name=password]').count()) === 1, 'the login form is shown, not the app');
  console.log('browser upstream walk: all checks passed');
} finally {
  await context.close();
}
