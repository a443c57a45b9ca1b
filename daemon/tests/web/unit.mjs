// The web client's DOM-free modules under Node: sequence tracking and gap
// detection, message composition and URL checks, reconnect back-off.
// Usage: node unit.mjs (run by daemon/tests/web_client.rs).

import assert from 'node:assert/strict';
import test from 'node:test';

import { MEDIA, compose, safeUrl } from '../../web/media.js';
import { backoffDelay } from '../../web/socket.js';
import { SeqTracker } from '../../web/sync.js';

test('in-order seqs are no gap; a skipped one asks for one sync', () => {
  const t = new SeqTracker({ inbox: 0, groups: {} });
  assert.equal(t.observe('inbox', 1), false);
  assert.equal(t.observe('inbox', 2), false);
  assert.equal(t.observe('inbox', 5), true, '3 and 4 are missing');
  const req = t.request(['7']);
  assert.deepEqual(req, { cmd: 30, id: 1, inbox: 5, groups: { 7: 0 } });
  assert.equal(t.observe('inbox', 9), false, 'a sync is already on its way');
  t.done({ cmd: 31, id: 1, inbox: 9, groups: { 7: 3 } });
  assert.equal(t.inFlight, 0);
  assert.equal(t.last('7'), 3);
  assert.equal(t.observe('inbox', 11), true, 'gaps count again after the answer');
});

test('a sync asks from the last seen seqs, and replays below them are not gaps', () => {
  const state = { inbox: 4, groups: { 2: 10 } };
  const t = new SeqTracker(state);
  const req = t.request([2, 3]);
  assert.deepEqual(req.groups, { 2: 10, 3: 0 });
  assert.equal(t.observe('inbox', 3), false);
  assert.equal(t.last('inbox'), 4, 'an old seq never moves the cursor back');
  t.done({ cmd: 31, id: 0, inbox: 2, groups: {} });
  assert.equal(state.inbox, 4, 'a smaller latest does not rewind either');
  assert.equal(t.inFlight, req.id, 'the offline-push marker (id 0) is not our answer');
  t.reset();
  assert.equal(t.inFlight, 0);
});

test('group seqs are tracked per group', () => {
  const t = new SeqTracker({ inbox: 0, groups: {} });
  assert.equal(t.observe('5', 1), false);
  assert.equal(t.observe('6', 1), false);
  assert.equal(t.observe('5', 3), true);
  assert.equal(t.last('6'), 1);
});

test('only absolute http(s) URLs pass', () => {
  assert.equal(safeUrl('https://example.org/a b'), 'https://example.org/a%20b');
  assert.equal(safeUrl(' http://127.0.0.1:9/x.ogg '), 'http://127.0.0.1:9/x.ogg');
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>', '/relative',
    'vbscript:x', '', null, 42, `https://x/${'a'.repeat(3000)}`]) {
    assert.equal(safeUrl(bad), null, String(bad).slice(0, 40));
  }
});

test('compose builds the media types of PROTOCOL.md section 3', () => {
  assert.deepEqual(compose('text', ' hi ', ''), { media: MEDIA.text, content: 'hi' });
  assert.deepEqual(compose('emoji', '👍', ''), { media: 6, content: '👍' });
  assert.deepEqual(compose('image', '', 'https://i.example/p.png'), { media: 4, url: 'https://i.example/p.png' });
  assert.deepEqual(compose('link', 'docs', 'https://d.example/'), { media: 7, url: 'https://d.example/', content: 'docs' });
  assert.deepEqual(compose('voice', '12', 'https://v.example/a.ogg'), { media: 3, url: 'https://v.example/a.ogg', amount: 12 });
  assert.deepEqual(compose('video', '', 'http://v.example/a.mp4'), { media: 8, url: 'http://v.example/a.mp4' });
  assert.deepEqual(compose('card', '42', '', (uid) => (uid === 42 ? 'Dora' : undefined)),
    { media: 9, content: 'Dora', memo: '42' });
  assert.throws(() => compose('text', '  ', ''), /Type a message/);
  assert.throws(() => compose('link', '', 'javascript:alert(1)'), /http/);
  assert.throws(() => compose('voice', 'long', 'https://v.example/a.ogg'), /seconds/);
  assert.throws(() => compose('card', 'x', '', () => undefined), /user id/);
  assert.throws(() => compose('sticker', 'x', ''), /Unknown/);
});

test('back-off grows, stays capped and is jittered', () => {
  assert.equal(backoffDelay(0, () => 0), 250);
  assert.equal(backoffDelay(0, () => 1), 500);
  assert.equal(backoffDelay(3, () => 1), 4000);
  assert.equal(backoffDelay(50, () => 1), 30000, 'capped');
  assert.equal(backoffDelay(50, () => 0), 250, 'full jitter reaches down to the floor');
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6)));
  assert.ok(spread.size > 10, 'random delays differ between clients');
});
