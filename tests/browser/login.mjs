// A real browser on latchkey's login page: Debian's chromium, driven by playwright-core.
// Started by tests/it/deployment/browser.rs, which runs latchkey and passes, in the environment:
//   BROWSER_TEST_URL        base URL of latchkey (no trailing slash)
//   BROWSER_TEST_USER, BROWSER_TEST_PASSWORD   an account that exists
//   BROWSER_TEST_CHROMIUM   chromium binary (default /usr/bin/chromium)
//   BROWSER_TEST_PROFILE    a fresh, empty directory for --user-data-dir
//   BROWSER_TEST_SHOTS      where the screenshots go
//   BROWSER_TEST_SPKI       (https only) base64 SHA-256 of the certificate's public key
//                           (SPKI), the one certificate chromium trusts besides its own
//                           roots (--ignore-certificate-errors-spki-list), as a person
//                           who checked the fingerprint once would
//   BROWSER_TEST_UNTRUSTED  1: only check that the login page does not load (a
//                           certificate chromium has no reason to trust), then stop
// It prints one line per step and exits non-zero on the first thing a user would see go wrong.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BROWSER_TEST_URL');
const user = env('BROWSER_TEST_USER');
const password = env('BROWSER_TEST_PASSWORD');
const executablePath = env('BROWSER_TEST_CHROMIUM', '/usr/bin/chromium');
const profile = env('BROWSER_TEST_PROFILE');
const shots = env('BROWSER_TEST_SHOTS');
const spki = process.env.BROWSER_TEST_SPKI;
const untrusted = process.env.BROWSER_TEST_UNTRUSTED === '1';
const https = base.startsWith('https:');
mkdirSync(shots, { recursive: true });

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

// Whether latchkey's stylesheet reached the page through its Content-Security-Policy:
// the body is a centring flex box only when it did.
async function styled(page) {
  return (await page.evaluate(() => getComputedStyle(document.body).display)) === 'flex';
}

async function shoot(page, name, viewport) {
  await page.setViewportSize(viewport);
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

// Submits the form holding `field` by clicking its submit button, as a person would, and
// waits for the page the browser ends up on.
async function submit(page, field) {
  const form = page.locator('form').filter({ has: page.locator(field) });
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await form.locator('button[type=submit], input[type=submit], button:not([type])').first().click();
  const response = await posted;
  await page.waitForLoadState('load');
  if (response.status() >= 400 && response.status() !== 401) {
    // Say what the browser sent and what latchkey answered, for the bug report.
    const sent = await response.request().allHeaders();
    const said = (await page.textContent('main').catch(() => '')) ?? '';
    console.log(`POST ${response.url()} answered ${response.status()}: ${said.replace(/\s+/g, ' ').trim()}`);
    console.log(`  the browser sent Origin: ${sent.origin}, Sec-Fetch-Site: ${sent['sec-fetch-site']}, ` +
      `Referrer-Policy of the form page: ${await page.evaluate(() => document.querySelector('meta[name=referrer]')?.content)}`);
  }
  return response;
}

// launchPersistentContext is how playwright takes a --user-data-dir of our choosing.
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
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
    ...(spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : []),
  ],
  viewport: PHONE,
});

if (untrusted) {
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const refused = await page.goto(`${base}/login`).then(() => null, (err) => String(err));
    check(refused !== null && /ERR_CERT_/.test(refused), `the page does not load (${refused})`);
    console.log('browser walk: untrusted certificate refused');
  } finally {
    await context.close();
  }
  process.exit(0);
}

const pageErrors = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.log(`console ${msg.type()}: ${msg.text()} (${msg.location().url})`);
  });

  // The login form, as a phone, a desktop, and in dark mode.
  const first = await page.goto(`${base}/login`);
  check(first.status() === 200, `GET /login answers 200 (got ${first.status()})`);
  await page.locator('input[name=username]').waitFor();
  check(await page.locator('input[name=password]').getAttribute('type') === 'password', 'password field hides what is typed');
  check(await page.locator('input[name=csrf]').count() === 1, 'form carries a csrf field');
  check(await page.locator('input[name=remember]').count() === 1, 'form has a remember-me checkbox');
  check(await styled(page), 'the login page is styled by latchkey\'s stylesheet');
  await shoot(page, 'login-phone', PHONE);
  await shoot(page, 'login-desktop', DESKTOP);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shoot(page, 'login-dark-phone', PHONE);
  await shoot(page, 'login-dark-desktop', DESKTOP);
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(PHONE);

  // A typo in the password: an error on the same form, nothing more.
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(`${password}-typo`);
  const denied = await submit(page, 'input[name=password]');
  check(denied.status() === 401, `wrong password answers 401 (got ${denied.status()})`);
  check((await page.content()).includes('Invalid username or password'), 'wrong password says so');
  await shoot(page, 'login-error-phone', PHONE);
  await page.setViewportSize(PHONE);

  // The real login: typed, submitted, and on the welcome page.
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  await page.locator('input[name=remember]').check();
  const accepted = await submit(page, 'input[name=password]');
  check(accepted.status() === 303, `login answers 303 (got ${accepted.status()})`);
  await page.waitForURL((url) => !url.pathname.endsWith('/login'));
  check((await page.textContent('body')).includes(`Welcome, ${user}!`), `welcome page greets ${user}`);
  check(await styled(page), 'the welcome page is styled by latchkey\'s stylesheet');
  await shoot(page, 'welcome-phone', PHONE);
  await shoot(page, 'welcome-desktop', DESKTOP);

  // Still logged in after a reload.
  await page.reload();
  check((await page.textContent('body')).includes(`Welcome, ${user}!`), 'a reload keeps the session');

  // Scripts in the page cannot read the session cookie; the browser does hold it.
  const visible = await page.evaluate(() => document.cookie);
  check(!visible.includes('latchkey_session'), `document.cookie does not show the session (sees ${JSON.stringify(visible)})`);
  const session = (await context.cookies()).find((c) => c.name.endsWith('latchkey_session'));
  check(session !== undefined, 'the browser holds a session cookie');
  const name = https ? '__Host-latchkey_session' : 'latchkey_session';
  check(session.name === name && session.secure === https,
    `the session cookie is ${name}, ${https ? '' : 'not '}Secure (got ${session.name}, secure ${session.secure})`);
  check(session.httpOnly, 'the session cookie is HttpOnly');
  check(session.sameSite === 'Lax', `the session cookie is SameSite=Lax (got ${session.sameSite})`);
  check(session.expires > Date.now() / 1000, '"remember me" makes the cookie outlive the browser session');

  // Log out with the page's own button.
  const logoutForm = page.locator('form[action*="logout"]');
  const logoutButton = (await logoutForm.count()) > 0
    ? logoutForm.locator('button, input[type=submit]').first()
    : page.getByRole('button', { name: /log ?out|sign out/i });
  await logoutButton.click();
  await page.waitForURL((url) => url.pathname.endsWith('/login'));
  check(await page.locator('input[name=username]').count() === 1, 'logout lands on the login form');
  const left = (await context.cookies()).find((c) => c.name.endsWith('latchkey_session'));
  check(left === undefined, 'logout removes the session cookie');
  await page.goto(`${base}/`);
  check(await page.locator('input[name=password]').count() === 1, 'after logout the welcome page asks for a login again');

  check(pageErrors.length === 0, `no script errors on the pages (${pageErrors.join('; ')})`);
  console.log('browser walk: all checks passed');
} finally {
  await context.close();
}
