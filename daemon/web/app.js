// Wiring: the login form, contacts, the conversation view and the /chat
// connection. Protocol decisions live in sync.js and media.js, storage in
// store.js, DOM building in render.js.

import { Api, ApiError, login, register } from './api.js';
import { compose, composerHints, summary } from './media.js';
import { el, listItem, messageNode } from './render.js';
import { Socket } from './socket.js';
import { History, clearSession, loadSession, saveSession } from './store.js';
import { SeqTracker } from './sync.js';

const CONTACTS_REFRESH_MS = 15000;
const $ = (id) => document.getElementById(id);

let session = null;
let api = null;
let history = null;
let tracker = null;
let socket = null;
let current = null;
let friends = new Map();
let groups = new Map();
let refreshTimer = 0;
let lastCid = 0;

// ---- login -------------------------------------------------------------

function showLogin(message) {
  $('chat-view').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  $('login-mobile').focus();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const action = ev.submitter?.value || 'login';
  const mobile = $('login-mobile').value.trim();
  const password = $('login-password').value;
  const nickname = $('login-nickname').value.trim();
  $('login-error').textContent = '';
  if (!mobile || !password) {
    $('login-error').textContent = 'Enter a mobile number and a password.';
    return;
  }
  try {
    const s = action === 'register'
      ? await register(mobile, password, nickname)
      : await login(mobile, password);
    $('login-password').value = '';
    saveSession(s);
    start(s);
  } catch (e) {
    $('login-error').textContent = e.message;
  }
});

$('logout-button').addEventListener('click', () => {
  stop();
  clearSession();
  showLogin();
});

// ---- session -------------------------------------------------------------

function start(s) {
  session = s;
  api = new Api(s.token);
  history = new History(s.id);
  tracker = new SeqTracker(history.seqs);
  friends = new Map();
  groups = new Map();
  current = null;
  for (const m of history.pending()) {
    m.state = 'unconfirmed';
    history.update(m);
  }
  $('me-name').textContent = s.nickname;
  $('me-id').textContent = String(s.id);
  $('login-view').hidden = true;
  $('chat-view').hidden = false;
  openConversation(null);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/chat?id=${s.id}&token=${encodeURIComponent(s.token)}`;
  socket = new Socket(url, { onOpen, onFrame, onDown, onState });
  socket.start();
  refreshContacts();
  refreshTimer = setInterval(refreshContacts, CONTACTS_REFRESH_MS);
}

function stop() {
  clearInterval(refreshTimer);
  if (socket) socket.stop();
  socket = null;
  session = null;
}

function onState(text) {
  $('conn-state').textContent = text;
  $('conn-state').dataset.state = text.startsWith('online') ? 'online' : 'offline';
}

function onOpen() {
  tracker.reset();
  // Everything after the last seqs this browser has seen: covers a page
  // reload, a dropped connection and a second device alike.
  socket.send(tracker.request([...groups.keys()]));
  refreshContacts();
}

async function onDown(failures) {
  tracker.reset();
  let changed = false;
  for (const m of history.pending()) {
    m.state = 'unconfirmed';
    history.update(m);
    changed = true;
  }
  if (changed) render();
  // The handshake's 401 is invisible to a WebSocket; ask the API instead.
  if (failures >= 3 && api) {
    try {
      await api.friends();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        stop();
        clearSession();
        showLogin('Your session has expired; please log in again.');
      }
    }
  }
}

function requestSync() {
  socket.send(tracker.request([...groups.keys()]));
}

// ---- frames from the server -------------------------------------------

function onFrame(f) {
  switch (f.cmd) {
    case 10: return onSingle(f);
    case 11: return onRoom(f);
    case 20: return onAck(f);
    case 21: return onError(f);
    case 31:
      tracker.done(f);
      history.saveMeta();
      if (f.truncated) showSidebarError('Some older messages are no longer kept by the server.');
      return undefined;
    default: return undefined;
  }
}

function envelope(f) {
  const m = {};
  for (const k of ['media', 'content', 'url', 'pic', 'memo', 'amount']) {
    if (f[k] !== undefined && f[k] !== null) m[k] = f[k];
  }
  return m;
}

/** The sender's nickname the frame carries (an extra field the server passes through). */
function nickOf(f) {
  return typeof f.nick === 'string' && f.nick.trim() ? f.nick.trim().slice(0, 64) : undefined;
}

function validSeq(f) {
  return Number.isSafeInteger(f.seq) && f.seq > 0 && Number.isSafeInteger(f.userid);
}

function onSingle(f) {
  if (!validSeq(f)) return;
  const gap = tracker.observe('inbox', f.seq);
  const from = f.userid;
  const conv = `u${from === session.id ? f.dstid : from}`;
  incoming({
    ...envelope(f), conv, key: `i:${f.seq}`, seq: f.seq, from, ts: f.ts || Date.now(), nick: nickOf(f),
    mine: from === session.id, state: from === session.id ? 'sent' : 'received',
  });
  if (!friends.has(from) && from !== session.id) refreshContacts();
  if (gap) requestSync();
}

function onRoom(f) {
  if (!validSeq(f) || !Number.isSafeInteger(f.dstid)) return;
  const gid = f.dstid;
  const gap = tracker.observe(String(gid), f.seq);
  const key = `g${gid}:${f.seq}`;
  const mine = f.userid === session.id;
  const own = mine && f.id ? history.byClientId(f.id) : null;
  if (own && !own.key) {
    // Our own message replayed by a sync: it was accepted after all.
    Object.assign(own, { key, seq: f.seq, state: 'sent', error: null });
    history.update(own);
    render();
  } else {
    incoming({
      ...envelope(f), conv: `g${gid}`, key, seq: f.seq, from: f.userid, ts: f.ts || Date.now(), nick: nickOf(f),
      mine, state: mine ? 'sent' : 'received', cid: mine ? f.id : undefined,
    });
  }
  if (gap) requestSync();
}

function incoming(m) {
  if (!history.add(m)) return;
  if (!m.mine && m.nick && !friends.has(m.from)) {
    // Self-chosen, so shown beside the authenticated id, never alone.
    history.names[m.from] = `${m.nick} (id ${m.from})`;
  }
  if (!m.mine && m.conv !== current) {
    history.unread[m.conv] = (history.unread[m.conv] || 0) + 1;
    history.saveMeta();
  }
  render();
}

function onAck(f) {
  const m = history.byClientId(f.id);
  if (!m) return;
  m.state = 'sent';
  m.error = null;
  if (Number.isSafeInteger(f.ts)) m.ts = f.ts;
  if (m.conv.startsWith('g') && Number.isSafeInteger(f.seq)) {
    const gid = m.conv.slice(1);
    m.key = `g${gid}:${f.seq}`;
    m.seq = f.seq;
    if (tracker.observe(gid, f.seq)) requestSync();
  } else {
    // For a single message the seq is the recipient's inbox seq, not ours.
    m.peerSeq = f.seq;
  }
  history.update(m);
  render();
}

function onError(f) {
  const text = `Not sent: ${f.msg || 'refused'} (${f.code})`;
  const m = f.id ? history.byClientId(f.id) : null;
  if (!m) {
    $('composer-error').textContent = text;
    return;
  }
  m.state = 'failed';
  m.error = text;
  m.retryable = f.code === 429 || f.code === 503;
  history.update(m);
  render();
}

// ---- sending -----------------------------------------------------------

function nextCid() {
  // Unique per browser and increasing: milliseconds times 1000 stays a
  // safe integer for centuries.
  lastCid = Math.max(lastCid + 1, Date.now() * 1000);
  return lastCid;
}

function frameFor(m) {
  const group = m.conv.startsWith('g');
  return {
    id: m.cid, cmd: group ? 11 : 10, dstid: Number(m.conv.slice(1)), ...envelope(m), nick: session.nickname,
  };
}

function sendEnvelope(env) {
  if (!current) return;
  const m = {
    ...env, conv: current, cid: nextCid(), mine: true, from: session.id, ts: Date.now(), state: 'sending',
  };
  history.add(m);
  transmit(m);
}

function transmit(m) {
  if (!socket.send(frameFor(m))) {
    m.state = 'failed';
    m.error = 'Not sent: offline. It goes out when you press Send again.';
    m.retryable = true;
  }
  history.update(m);
  render();
}

function retry(m) {
  m.state = 'sending';
  m.error = null;
  transmit(m);
}

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('composer-error').textContent = '';
  const kind = $('msg-kind').value;
  let env;
  try {
    env = compose(kind, $('msg-text').value, $('msg-url').value, (uid) => friends.get(uid));
  } catch (e) {
    $('composer-error').textContent = e.message;
    return;
  }
  sendEnvelope(env);
  $('msg-text').value = '';
  $('msg-url').value = '';
  ($('msg-url').hidden ? $('msg-text') : $('msg-url')).focus();
});

for (const b of document.querySelectorAll('button.emoji')) {
  b.addEventListener('click', () => sendEnvelope({ media: 6, content: b.dataset.emoji }));
}

function applyKind() {
  const [textHint, urlHint] = composerHints($('msg-kind').value);
  $('msg-text').placeholder = textHint;
  $('msg-text').setAttribute('aria-label', textHint);
  $('msg-url').hidden = !urlHint;
  if (urlHint) {
    $('msg-url').placeholder = urlHint;
    $('msg-url').setAttribute('aria-label', urlHint);
  }
}
$('msg-kind').addEventListener('change', applyKind);
applyKind();

// ---- contacts ------------------------------------------------------------

function showSidebarError(text) {
  $('sidebar-error').textContent = text;
}

let refreshing = null;
function refreshContacts() {
  if (!api || refreshing) return refreshing;
  const mine = api;
  refreshing = Promise.all([mine.friends(), mine.groups()])
    .then(([fs, gs]) => {
      if (mine !== api) return;
      const newGroups = gs.filter((g) => !groups.has(g.id));
      friends = new Map(fs.map((f) => [f.id, f.nickname]));
      groups = new Map(gs.map((g) => [g.id, g]));
      for (const [id, name] of friends) history.names[id] = name;
      history.saveMeta();
      // A group we were added to elsewhere: fetch what it holds for us.
      if (newGroups.length && socket?.isOpen && !tracker.inFlight) requestSync();
      render();
    })
    .catch((e) => showSidebarError(e.message))
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function contactAction(form, action) {
  showSidebarError('');
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await action();
    // Inputs only: the 'by mobile / by id' choice stays as the user set it.
    for (const input of form.querySelectorAll('input')) input.value = '';
    await refreshContacts();
  } catch (e) {
    showSidebarError(e.message);
  } finally {
    button.disabled = false;
  }
}

function positiveId(text, what) {
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${what} must be a positive number.`);
  return n;
}

$('add-friend-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const value = $('add-friend-value').value.trim();
  contactAction(form, () => ($('add-friend-by').value === 'id'
    ? api.addFriendById(positiveId(value, 'A user id'))
    : api.addFriendByMobile(value)));
});

$('create-group-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('create-group-name').value.trim();
  contactAction(ev.currentTarget, async () => {
    if (!name) throw new Error('Give the group a name.');
    const g = await api.createGroup(name);
    groups.set(g.id, g);
    openConversation(`g${g.id}`);
  });
});

$('join-group-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('join-group-id').value;
  contactAction(ev.currentTarget, async () => {
    const gid = positiveId(text, 'A group id');
    await api.joinGroup(gid);
    groups.set(gid, { id: gid, name: `group ${gid}` });
    if (socket.isOpen) requestSync();
    openConversation(`g${gid}`);
  });
});

$('leave-button').addEventListener('click', async () => {
  if (!current?.startsWith('g')) return;
  const gid = Number(current.slice(1));
  try {
    await api.leaveGroup(gid);
    groups.delete(gid);
    openConversation(null);
    await refreshContacts();
  } catch (e) {
    showSidebarError(e.message);
  }
});

function nameOf(uid) {
  if (uid === session?.id) return session.nickname;
  return friends.get(uid) || history.names[uid] || `user ${uid}`;
}

// ---- views -----------------------------------------------------------------

function openConversation(conv) {
  current = conv;
  if (conv && history.unread[conv]) {
    history.unread[conv] = 0;
    history.saveMeta();
  }
  document.body.classList.toggle('show-conv', !!conv);
  $('composer-error').textContent = '';
  render();
  if (conv) $('msg-text').focus();
}

$('back-button').addEventListener('click', () => {
  const was = current;
  openConversation(null);
  document.querySelector(`#sidebar button[data-conv="${was}"]`)?.focus();
});

document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && current && document.body.classList.contains('show-conv')) {
    $('back-button').click();
  }
});

function lastSummary(conv) {
  const list = history.conversation(conv);
  return list.length ? summary(list[list.length - 1]) : '';
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    if (session) {
      renderLists();
      renderConversation();
    }
  });
}

function renderLists() {
  const focused = document.activeElement?.dataset?.conv;
  const friendConvs = new Set([...friends.keys()].map((id) => `u${id}`));
  for (const conv of history.conversationIds()) if (conv.startsWith('u')) friendConvs.add(conv);
  const friendItems = [...friendConvs].map((conv) => {
    const uid = Number(conv.slice(1));
    return listItem({
      conv,
      title: nameOf(uid),
      sub: friends.has(uid) ? `id ${uid}` : `id ${uid} · not a friend`,
      unread: history.unread[conv] || 0,
      active: conv === current,
    }, openConversation);
  });
  $('friend-list').replaceChildren(...friendItems);
  const groupItems = [...groups.values()].map((g) => listItem({
    conv: `g${g.id}`,
    title: g.name,
    sub: `id ${g.id}${Number.isInteger(g.members) ? ` · ${g.members} member${g.members === 1 ? '' : 's'}` : ''}`,
    unread: history.unread[`g${g.id}`] || 0,
    active: `g${g.id}` === current,
  }, openConversation));
  $('group-list').replaceChildren(...groupItems);
  if (focused) document.querySelector(`#sidebar button[data-conv="${focused}"]`)?.focus();
  if (!friendItems.length) $('friend-list').append(el('li', 'hint', 'No friends yet.'));
  if (!groupItems.length) $('group-list').append(el('li', 'hint', 'No groups yet.'));
}

function renderConversation() {
  const list = $('messages');
  $('empty-note').hidden = !!current;
  $('conv-header').hidden = !current;
  $('composer').hidden = !current;
  if (!current) {
    list.replaceChildren();
    return;
  }
  const isGroup = current.startsWith('g');
  const id = Number(current.slice(1));
  const g = groups.get(id);
  $('conv-title').textContent = isGroup ? (g?.name || `group ${id}`) : nameOf(id);
  $('conv-sub').textContent = isGroup
    ? `group ${id}${Number.isInteger(g?.members) ? ` · ${g.members} members` : ''}`
    : `user ${id}`;
  $('leave-button').hidden = !isGroup || !g;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const ctx = {
    me: session.id, isGroup, nameOf, onRetry: retry,
    onAddFriend: (uid) => contactAction($('add-friend-form'), () => api.addFriendById(uid)),
  };
  list.replaceChildren(...history.conversation(current).map((m) => messageNode(m, ctx)));
  if (nearBottom || list.dataset.conv !== current) list.scrollTop = list.scrollHeight;
  list.dataset.conv = current;
  document.title = `${$('conv-title').textContent} · imedge chat`;
  if (history.unread[current]) {
    history.unread[current] = 0;
    history.saveMeta();
  }
}

window.addEventListener('online', () => socket?.retryNow());
window.addEventListener('focus', () => refreshContacts());
window.addEventListener('storage', (ev) => {
  // Logged out in another tab.
  if (ev.key === 'imedge:session' && ev.newValue === null && session) {
    stop();
    showLogin();
  }
});

const saved = loadSession();
if (saved) start(saved);
else showLogin();
