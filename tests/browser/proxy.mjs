// A real browser through a reverse proxy (nginx auth_request or Caddy forward_auth) in
// front of latchkey and an upstream that echoes the request it got. Started by the
// nginx and Caddy tests in tests/it/deployment/ with, in the environment:
//   BROWSER_TEST_URL        the proxy's base URL (no trailing slash)
//   BROWSER_TEST_START      the protected path first asked for, e.g. /admin/settings?tab=wifi
//   BROWSER_TEST_PREFIX     latchkey's prefix behind the proxy, e.g. /latchkey
//   BROWSER_TEST_USER, BROWSER_TEST_PASSWORD, BROWSER_TEST_CHROMIUM, BROWSER_TEST_PROFILE
// It prints one line per step and exits non-zero on the first thing a user would see go wrong.
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

// Whether latchkey's stylesheet, under the prefix, reached the page through the proxy
// and the Content-Security-Policy: the body is a centring flex box only when it did.
async function styled(page) {
  return (await page.evaluate(() => getComputedStyle(document.body).display)) === 'flex';
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

const context = await chromium.launchPersistentContext(env('BROWSER_TEST_PROFILE'), {
  // An https:// base is nginx with a throwaway self-signed certificate.
  ignoreHTTPSErrors: true,
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

  // Asking for the admin page lands on the login form, through the proxy.
  await page.goto(`${base}${start}`);
  check(here().pathname === `${prefix}/login`, `the admin page sends a stranger to ${prefix}/login (at ${page.url()})`);
  check(here().searchParams.get('next') !== null, 'the login URL remembers where to go back to');
  check(await styled(page), 'the login page is styled, through the proxy');

  // Typing the credentials brings the browser back to the page it asked for.
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.locator('button[type=submit]').click();
  const response = await posted;
  if (response.status() !== 303) {
    const sent = await response.request().allHeaders();
    console.log(`login POST answered ${response.status()}; the browser sent Origin: ${sent.origin}, ` +
      `Sec-Fetch-Site: ${sent['sec-fetch-site']}`);
  }
  check(response.status() === 303, `login answers 303 (got ${response.status()})`);
  await page.waitForURL((url) => `${url.pathname}${url.search}` === start);
  const echoed = await page.textContent('body');
  check(echoed.startsWith('ECHO UPSTREAM'), 'the upstream answered');
  check(/^remote-user: (.*)$/im.exec(echoed)?.[1]?.trim() === user, `the upstream got Remote-User: ${user}`);

  // Over HTTPS the session cookie is Secure and host-bound; over plain HTTP it cannot be.
  const https = base.startsWith('https:');
  const name = https ? '__Host-latchkey_session' : 'latchkey_session';
  const session = (await context.cookies()).find((c) => c.name === name);
  check(session !== undefined, `the browser holds ${name}`);
  check(session.httpOnly && session.path === '/' && session.secure === https,
    `${name} is HttpOnly, Path=/, ${https ? 'Secure' : 'not Secure'}`);

  // Signing out on latchkey's page locks the admin page again.
  await page.goto(`${base}${prefix}/`);
  check((await page.textContent('body')).includes(`Welcome, ${user}!`), 'latchkey\'s welcome page, through the proxy');
  check(await styled(page), 'the welcome page is styled, through the proxy');
  await page.locator('form[action*="logout"] button').click();
  await page.waitForURL((url) => url.pathname === `${prefix}/login`);

  // The back button after signing out: first latchkey's welcome page, then the admin
  // page. Both are no-store (the admin page because the proxy says so), so the browser
  // asks again and lands on the login form instead of showing its old copy.
  const loginShown = async () => !(await page.textContent('body')).startsWith('ECHO UPSTREAM')
    && here().pathname === `${prefix}/login`
    && (await page.locator('input[name=password]').count()) === 1;
  await page.goBack({ waitUntil: 'load' });
  check(await loginShown(), `back after signing out: the welcome page is the login form (at ${page.url()})`);
  await page.goBack({ waitUntil: 'load' });
  check(await loginShown(), `back again: the admin page is the login form, not the cached page (at ${page.url()})`);
  check(here().searchParams.get('next')?.endsWith(start), 'and logging in again leads back to the admin page');

  await page.goto(`${base}${start}`);
  check(here().pathname === `${prefix}/login`, 'after signing out the admin page asks for a login again');
  console.log('browser proxy walk: all checks passed');
} finally {
  await context.close();
}
