// End-to-end test of the built-in web client in Debian's Chromium.
// Usage: node e2e.mjs <daemon base URL> [screenshot dir]
// Run by daemon/tests/web_client.rs against a freshly started daemon; exits
// non-zero on the first failed expectation.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { startProxy } from './proxy.mjs';

const base = process.argv[2];
const shots = process.argv[3] || 'web-screenshots';
if (!base || !/^http:\/\/127\.\d+\.\d+\.\d+:\d+$/.test(base)) {
  console.error('usage: node e2e.mjs http://127.0.0.1:<port> [screenshot dir]');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// The whole run must end by itself even if a step hangs.
setTimeout(() => {
  console.error('e2e: gave up after 150 s');
  process.exit(1);
}, 150_000).unref();

const WAIT = 15_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 760 };
const run = Date.now() % 1_000_000;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // launch() gives every run a fresh temporary profile (user-data-dir).
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

const problems = [];

/** A user with their own browser context (own storage), as on separate devices. */
async function user(name, mobile, viewport, origin = base) {
  const context = await browser.newContext({ viewport });
  const u = { name, mobile, context, origin };
  u.page = await openPage(u);
  return u;
}

async function openPage(u) {
  const page = await u.context.newPage();
  page.on('pageerror', (e) => problems.push(`${u.name}: page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`${u.name}: a dialog opened: ${d.message()}`);
    d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|net::ERR_/.test(m.text())) {
      problems.push(`${u.name}: console error: ${m.text()}`);
    }
  });
  await page.goto(u.origin + '/');
  return page;
}

async function shot(u, name) {
  await u.page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function register(u) {
  const p = u.page;
  await p.fill('#login-mobile', u.mobile);
  await p.fill('#login-password', `pw-${u.mobile}`);
  await p.fill('#login-nickname', u.name);
  await p.click('#register-button');
  await p.waitForSelector('#chat-view:not([hidden])', { timeout: WAIT });
  await p.waitForSelector('#conn-state[data-state="online"]', { timeout: WAIT });
  u.id = Number(await p.textContent('#me-id'));
  assert.ok(u.id > 0, `${u.name} has an id`);
}

/** The list entry button of a conversation. */
function entry(u, conv) {
  return u.page.locator(`#sidebar button[data-conv="${conv}"]`);
}

async function open(u, conv) {
  await entry(u, conv).waitFor({ timeout: WAIT });
  await entry(u, conv).click();
  await u.page.waitForSelector('#composer:not([hidden])', { timeout: WAIT });
}

/** Types `text` and presses Enter (keyboard only). */
async function say(u, text) {
  await u.page.selectOption('#msg-kind', 'text');
  await u.page.fill('#msg-text', text);
  await u.page.press('#msg-text', 'Enter');
}

async function sendKind(u, kind, text, url) {
  await u.page.selectOption('#msg-kind', kind);
  if (url !== undefined) await u.page.fill('#msg-url', url);
  await u.page.fill('#msg-text', text);
  await u.page.press('#msg-text', 'Enter');
}

/** Waits until a message whose text contains `text` is shown; returns its locator. */
async function seen(u, text) {
  const m = u.page.locator('#messages li.msg', { hasText: text }).last();
  await m.waitFor({ timeout: WAIT });
  return m;
}

/** Waits until our own message containing `text` reached `state`. */
async function state(u, text, wanted) {
  await u.page.locator(`#messages li.msg.mine[data-state="${wanted}"]`, { hasText: text })
    .last().waitFor({ timeout: WAIT });
}

async function badge(u, conv) {
  const b = entry(u, conv).locator('.badge');
  await b.waitFor({ timeout: WAIT });
  return (await b.textContent()).trim();
}

function step(name) {
  console.log(`e2e: ${name}`);
}

try {
  step('register three users');
  const alice = await user('Alice', `1390${run}1`, DESKTOP);
  const bob = await user('Bob', `1390${run}2`, DESKTOP);
  const carol = await user('Carol', `1390${run}3`, PHONE);
  await shot(alice, 'login');
  for (const u of [alice, bob, carol]) await register(u);

  step('befriend by mobile and by id');
  await alice.page.selectOption('#add-friend-by', 'mobile');
  await alice.page.fill('#add-friend-value', bob.mobile);
  await alice.page.press('#add-friend-value', 'Enter');
  await entry(alice, `u${bob.id}`).waitFor({ timeout: WAIT });
  await alice.page.selectOption('#add-friend-by', 'id');
  await alice.page.fill('#add-friend-value', String(carol.id));
  await alice.page.press('#add-friend-value', 'Enter');
  await entry(alice, `u${carol.id}`).waitFor({ timeout: WAIT });
  await alice.page.fill('#add-friend-value', '999999');
  await alice.page.press('#add-friend-value', 'Enter');
  await alice.page.locator('#sidebar-error', { hasText: 'does not exist' }).waitFor({ timeout: WAIT });

  step('chat both ways');
  await open(alice, `u${bob.id}`);
  await say(alice, 'hello bob');
  await state(alice, 'hello bob', 'sent');
  assert.equal(await badge(bob, `u${alice.id}`), '1', 'bob sees one unread message from alice');
  await open(bob, `u${alice.id}`);
  await seen(bob, 'hello bob');
  assert.equal(await entry(bob, `u${alice.id}`).locator('.badge').count(), 0, 'opening clears unread');
  await say(bob, 'hi alice');
  await seen(alice, 'hi alice');

  step('media types');
  const realImage = await alice.page.evaluate(
    () => document.querySelector('link[rel=icon]').href,
  );
  await sendKind(alice, 'image', 'a picture', realImage);
  await sendKind(alice, 'link', 'the docs', 'https://example.org/docs?a=1&b=2');
  await sendKind(alice, 'voice', '7', 'http://127.0.0.1:9/voice.ogg');
  await sendKind(alice, 'video', 'a clip', 'http://127.0.0.1:9/clip.mp4');
  await sendKind(alice, 'card', String(carol.id));
  await alice.page.click('button.emoji[data-emoji="👍"]');
  const img = (await seen(bob, 'a picture')).locator('img');
  assert.equal(await img.getAttribute('src'), realImage);
  await bob.page.waitForFunction(
    () => [...document.querySelectorAll('#messages img')].some((i) => i.complete && i.naturalWidth > 0),
    null,
    { timeout: WAIT },
  );
  const link = (await seen(bob, 'the docs')).locator('a');
  assert.equal(await link.getAttribute('href'), 'https://example.org/docs?a=1&b=2');
  assert.match(await link.getAttribute('rel'), /noopener/);
  assert.equal(await bob.page.locator('#messages audio[src="http://127.0.0.1:9/voice.ogg"]').count(), 1);
  assert.equal(await bob.page.locator('#messages video[src="http://127.0.0.1:9/clip.mp4"]').count(), 1);
  const card = (await seen(bob, 'Carol')).locator('.contact-card');
  assert.match(await card.textContent(), new RegExp(`Carol.*id ${carol.id}`));
  await bob.page.locator('#messages .emoji-big', { hasText: '👍' }).waitFor({ timeout: WAIT });
  await alice.page.selectOption('#msg-kind', 'link');
  await alice.page.fill('#msg-url', 'javascript:alert(1)');
  await alice.page.press('#msg-url', 'Enter');
  await alice.page.locator('#composer-error', { hasText: 'http://' }).waitFor({ timeout: WAIT });
  await shot(bob, 'conversation-desktop');

  step('markup in a message is shown as text');
  const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  await say(bob, evil);
  const shown = await seen(alice, '<script>');
  assert.equal((await shown.locator('.body').textContent()).trim(), evil);
  assert.equal(await alice.page.locator('#messages script, #messages img[src="x"]').count(), 0);
  assert.equal(await alice.page.evaluate(() => window.__pwned), undefined, 'no injected script ran');

  step('a group of three');
  await alice.page.fill('#create-group-name', 'Trio');
  await alice.page.press('#create-group-name', 'Enter');
  await alice.page.locator('#conv-title', { hasText: 'Trio' }).waitFor({ timeout: WAIT });
  const gid = Number((await alice.page.textContent('#conv-sub')).match(/group (\d+)/)[1]);
  for (const u of [bob, carol]) {
    await u.page.fill('#join-group-id', String(gid));
    await u.page.press('#join-group-id', 'Enter');
    await u.page.locator('#conv-title', { hasText: 'Trio' }).waitFor({ timeout: WAIT });
  }
  await alice.page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await alice.page.locator(`#sidebar button[data-conv="g${gid}"]`, { hasText: '3 members' })
    .waitFor({ timeout: WAIT });
  await say(alice, 'hello trio');
  await state(alice, 'hello trio', 'sent');
  for (const u of [bob, carol]) {
    const m = await seen(u, 'hello trio');
    assert.equal((await m.locator('.from').textContent()).trim(), 'Alice');
  }
  await say(carol, 'carol here');
  await seen(alice, 'carol here');
  const fromCarol = await seen(bob, 'carol here');
  assert.equal((await fromCarol.locator('.from').textContent()).trim(), `Carol (id ${carol.id})`,
    'a non-friend is named by the nickname the frame carries, beside the id');
  await shot(alice, 'group-desktop');
  await shot(carol, 'group-phone');

  step('phone-sized layout');
  assert.ok(await carol.page.isVisible('#composer'), 'the composer shows on a phone');
  assert.ok(!(await carol.page.isVisible('#sidebar')), 'one pane at a time on a phone');
  const width = await carol.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no horizontal scrolling on a phone (${width}px)`);
  await carol.page.click('#back-button');
  assert.ok(await carol.page.isVisible('#sidebar'));
  await shot(carol, 'list-phone');

  step('offline user gets what was sent meanwhile');
  await carol.page.close();
  await open(alice, `g${gid}`);
  await say(alice, 'while carol was away');
  await state(alice, 'while carol was away', 'sent');
  await open(alice, `u${carol.id}`);
  await say(alice, 'private note for carol');
  await state(alice, 'private note for carol', 'sent');
  carol.page = await openPage(carol);
  await carol.page.waitForSelector('#conn-state[data-state="online"]', { timeout: WAIT });
  assert.equal(await badge(carol, `u${alice.id}`), '1');
  assert.equal(await badge(carol, `g${gid}`), '1');
  await open(carol, `g${gid}`);
  await seen(carol, 'while carol was away');
  await seen(carol, 'hello trio');
  await carol.page.click('#back-button');
  await open(carol, `u${alice.id}`);
  await seen(carol, 'private note for carol');
  await shot(carol, 'conversation-phone');

  step('a reload keeps the history');
  await alice.page.reload();
  await alice.page.waitForSelector('#conn-state[data-state="online"]', { timeout: WAIT });
  await open(alice, `u${bob.id}`);
  await seen(alice, 'hello bob');
  await seen(alice, 'hi alice');
  await state(alice, 'hello bob', 'sent');
  assert.equal(await alice.page.locator('#messages li.msg', { hasText: 'hi alice' }).count(), 1,
    'the sync after reload does not duplicate');
  // Messages that arrived while the page was gone come through the sync.
  await open(bob, `u${alice.id}`);
  await alice.page.close();
  await say(bob, 'sent during the reload');
  await state(bob, 'sent during the reload', 'sent');
  alice.page = await openPage(alice);
  await open(alice, `u${bob.id}`);
  await seen(alice, 'sent during the reload');
  await seen(alice, 'hello bob');

  step('a refused message shows its error');
  await open(bob, `g${gid}`);
  await bob.page.evaluate(async (g) => {
    const s = JSON.parse(localStorage.getItem('imedge:session'));
    const res = await fetch('/contact/leavecommunity', {
      method: 'POST',
      headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `dstid=${g}`,
    });
    if (!res.ok) throw new Error(`leave failed: ${res.status}`);
  }, gid);
  await say(bob, 'after leaving');
  await state(bob, 'after leaving', 'failed');
  const refused = await seen(bob, 'after leaving');
  assert.match(await refused.locator('.msg-error').textContent(), /403/);
  await shot(bob, 'refused');

  step('reconnect with back-off after the network drops, and sync what was missed');
  const { hostname, port } = new URL(base);
  const proxy = await startProxy({ host: hostname, port: Number(port) });
  const dave = await user('Dave', `1390${run}4`, DESKTOP, proxy.url);
  await register(dave);
  await open(alice, `u${bob.id}`);
  await alice.page.selectOption('#add-friend-by', 'mobile');
  await alice.page.fill('#add-friend-value', dave.mobile);
  await alice.page.press('#add-friend-value', 'Enter');
  await open(alice, `u${dave.id}`);
  await say(alice, 'before the cut');
  await open(dave, `u${alice.id}`);
  await seen(dave, 'before the cut');
  proxy.cut();
  await dave.page.waitForSelector('#conn-state[data-state="offline"]', { timeout: WAIT });
  for (const n of [1, 2, 3]) {
    await say(alice, `during the cut ${n}`);
    await state(alice, `during the cut ${n}`, 'sent');
  }
  await say(dave, 'dave while offline');
  await state(dave, 'dave while offline', 'failed');
  proxy.restore();
  await dave.page.waitForSelector('#conn-state[data-state="online"]', { timeout: WAIT });
  for (const n of [1, 2, 3]) await seen(dave, `during the cut ${n}`);
  assert.equal(await dave.page.locator('#messages li.msg', { hasText: 'during the cut' }).count(), 3,
    'each missed message exactly once');
  await dave.page.locator('#messages li.msg', { hasText: 'dave while offline' }).locator('button.retry').click();
  await state(dave, 'dave while offline', 'sent');
  await seen(alice, 'dave while offline');
  await shot(dave, 'after-reconnect');
  await proxy.close();

  assert.deepEqual(problems, [], 'no page errors, dialogs or console errors');
  console.log('e2e: all scenarios passed');
} catch (e) {
  console.error(e);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
