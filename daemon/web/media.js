// The media types of PROTOCOL.md section 3 as this client sends them, and
// the URL check every link, image, voice and video URL passes before it
// becomes an href or src. Field use (the protocol leaves it to clients):
// text and emoji in `content`; image, link, voice and video in `url` with an
// optional caption in `content` (voice: seconds in `amount`); a contact card
// names the user in `content` and carries the user id in `memo`. Every frame
// also carries the sender's nickname in an extra `nick` field (PROTOCOL.md
// keeps unknown fields), shown next to the authenticated id for senders who
// are not friends.

/** Media numbers of PROTOCOL.md section 3. */
export const MEDIA = {
  text: 1, news: 2, voice: 3, image: 4, redPacket: 5, emoji: 6, link: 7, video: 8, card: 9,
};

const MAX_URL = 2048;

/** `raw` as an absolute http(s) URL string, or null for anything else (javascript:, data:, ...). */
export function safeUrl(raw) {
  if (typeof raw !== 'string' || raw.length > MAX_URL) return null;
  let u;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
}

/**
 * The envelope fields for a message of `kind` from the composer's inputs,
 * or throws an Error saying what is wrong. `lookupName(uid)` names a card.
 */
export function compose(kind, text, url, lookupName) {
  const t = text.trim();
  switch (kind) {
    case 'text':
      if (!t) throw new Error('Type a message first.');
      return { media: MEDIA.text, content: t };
    case 'emoji':
      if (!t) throw new Error('Type or pick an emoji.');
      return { media: MEDIA.emoji, content: t };
    case 'image':
    case 'link':
    case 'video': {
      const href = safeUrl(url);
      if (!href) throw new Error('The URL must start with http:// or https://.');
      const out = { media: MEDIA[kind], url: href };
      if (t) out.content = t;
      return out;
    }
    case 'voice': {
      const href = safeUrl(url);
      if (!href) throw new Error('The URL must start with http:// or https://.');
      const out = { media: MEDIA.voice, url: href };
      if (t) {
        const secs = Number(t);
        if (!Number.isInteger(secs) || secs < 0) throw new Error('Voice length is whole seconds.');
        out.amount = secs;
      }
      return out;
    }
    case 'card': {
      const uid = Number(t);
      if (!Number.isSafeInteger(uid) || uid <= 0) throw new Error('A contact card needs a user id.');
      return { media: MEDIA.card, content: lookupName(uid) || `user ${uid}`, memo: String(uid) };
    }
    default:
      throw new Error(`Unknown message type ${kind}.`);
  }
}

/** What the composer's text and URL inputs mean for `kind`: [text placeholder, url placeholder or null]. */
export function composerHints(kind) {
  return {
    text: ['Message', null],
    emoji: ['Emoji', null],
    image: ['Caption (optional)', 'Image URL, https://…'],
    link: ['Title (optional)', 'Link URL, https://…'],
    voice: ['Length in seconds (optional)', 'Voice URL, https://…'],
    video: ['Caption (optional)', 'Video URL, https://…'],
    card: ['User id to share', null],
  }[kind];
}

/** A one-line summary of a message for list previews and notifications. */
export function summary(m) {
  switch (m.media) {
    case MEDIA.image: return '[image]';
    case MEDIA.voice: return '[voice]';
    case MEDIA.video: return '[video]';
    case MEDIA.link: return `[link] ${m.content || m.url || ''}`;
    case MEDIA.card: return `[contact] ${m.content || ''}`;
    default: return String(m.content ?? '');
  }
}
