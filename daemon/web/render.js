// DOM building for messages and lists. Message data only ever reaches the
// page through textContent and checked attributes, never as markup, so a
// message cannot inject HTML or script.

import { MEDIA, safeUrl, summary } from './media.js';

/** Element `tag` with `className` and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function mediaNode(m, ctx) {
  const url = safeUrl(m.url) || safeUrl(m.pic);
  const caption = m.content ? el('p', 'caption', m.content) : null;
  const box = el('div', 'body');
  switch (m.media) {
    case MEDIA.emoji:
      box.append(el('p', 'emoji-big', m.content));
      return box;
    case MEDIA.image:
      if (url) {
        const img = el('img');
        img.src = url;
        img.alt = m.content || 'image';
        img.loading = 'lazy';
        img.referrerPolicy = 'no-referrer';
        box.append(img);
      } else box.append(el('p', 'hint', '[image with an unusable URL]'));
      if (caption) box.append(caption);
      return box;
    case MEDIA.link:
      if (url) {
        const a = el('a', null, m.content || url);
        a.href = url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        box.append(a);
      } else box.append(el('p', null, m.content || '[link with an unusable URL]'));
      return box;
    case MEDIA.voice:
    case MEDIA.video: {
      const voice = m.media === MEDIA.voice;
      if (url) {
        const player = el(voice ? 'audio' : 'video');
        player.src = url;
        player.controls = true;
        player.preload = 'none';
        box.append(player);
      } else box.append(el('p', 'hint', '[media with an unusable URL]'));
      if (voice && Number.isInteger(m.amount) && m.amount > 0) {
        box.append(el('span', 'hint', `${m.amount} s`));
      }
      if (caption) box.append(caption);
      return box;
    }
    case MEDIA.card: {
      const card = el('div', 'contact-card');
      card.append(el('strong', null, m.content || 'contact'));
      const uid = Number(m.memo);
      if (Number.isSafeInteger(uid) && uid > 0) {
        card.append(el('span', 'hint', ` id ${uid}`));
        if (ctx.onAddFriend && uid !== ctx.me) {
          const add = el('button', 'secondary small', 'Add friend');
          add.type = 'button';
          add.addEventListener('click', () => ctx.onAddFriend(uid));
          card.append(add);
        }
      }
      box.append(card);
      return box;
    }
    default:
      box.append(el('p', 'text', summary(m)));
      return box;
  }
}

const STATE_TEXT = {
  sending: ['sending…', 'Waiting for the server to accept it.'],
  sent: ['sent ✓', 'Accepted and stored by the server (cmd 20). The protocol has no delivery or read receipts, so this is the last state it can report.'],
  unconfirmed: ['not confirmed', 'The connection dropped before the server answered; it may or may not have been accepted.'],
  failed: ['not sent', 'The server refused it (cmd 21).'],
};

/** One message as a list item; `ctx`: {me, isGroup, nameOf(uid), onRetry(m), onAddFriend(uid)}. */
export function messageNode(m, ctx) {
  const li = el('li', `msg ${m.mine ? 'mine' : 'theirs'}`);
  li.dataset.state = m.state || 'received';
  if (m.key) li.dataset.key = m.key;
  if (m.cid) li.dataset.cid = String(m.cid);
  if (ctx.isGroup && !m.mine) li.append(el('span', 'from', ctx.nameOf(m.from)));
  li.append(mediaNode(m, ctx));
  const foot = el('div', 'meta');
  const time = el('time', null, new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = new Date(m.ts).toISOString();
  foot.append(time);
  if (m.mine) {
    const [text, title] = STATE_TEXT[m.state] || [m.state, ''];
    const state = el('span', 'state', text);
    state.title = title;
    foot.append(state);
  }
  li.append(foot);
  if (m.error) li.append(el('p', 'msg-error', m.error));
  if (m.mine && (m.state === 'unconfirmed' || (m.state === 'failed' && m.retryable))) {
    const again = el('button', 'secondary small retry', 'Send again');
    again.type = 'button';
    again.addEventListener('click', () => ctx.onRetry(m));
    li.append(again);
  }
  return li;
}

/**
 * A friends or groups list entry: a button that opens the conversation,
 * with an unread badge. `item`: {conv, title, sub, unread, active}.
 */
export function listItem(item, onOpen) {
  const li = el('li');
  const b = el('button', `entry${item.active ? ' active' : ''}`);
  b.type = 'button';
  b.dataset.conv = item.conv;
  if (item.active) b.setAttribute('aria-current', 'true');
  b.append(el('span', 'title', item.title));
  if (item.sub) b.append(el('span', 'hint', item.sub));
  if (item.unread > 0) {
    const badge = el('span', 'badge', item.unread > 99 ? '99+' : item.unread);
    badge.setAttribute('aria-label', `${item.unread} unread`);
    b.append(badge);
  }
  b.addEventListener('click', () => onOpen(item.conv));
  li.append(b);
  return li;
}

/** Replaces the children of `parent` with `nodes`. */
export function replaceChildren(parent, nodes) {
  parent.replaceChildren(...nodes);
}
