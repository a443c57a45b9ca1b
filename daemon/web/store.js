// Local history in localStorage, keyed by user so two accounts in one
// browser never see each other's messages. Conversations are 'u<uid>' (a
// friend) or 'g<gid>' (a group); a message is identified by its log and seq
// once the server numbered it, by its client id (cid) before that.

const MAX_PER_CONVERSATION = 1000;
const SESSION_KEY = 'imedge:session';

/** The saved login {id, token, nickname}, or null. */
export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY));
    if (s && Number.isSafeInteger(s.id) && typeof s.token === 'string') return s;
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function saveSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

function read(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

/** One user's conversations, unread counts and last-seen sequences. */
export class History {
  constructor(uid) {
    this.prefix = `imedge:u${uid}:`;
    const meta = read(`${this.prefix}meta`, {});
    this.seqs = { inbox: meta.seqs?.inbox || 0, groups: meta.seqs?.groups || {} };
    this.unread = meta.unread || {};
    this.names = meta.names || {};
    this.convs = new Map();
    this.byKey = new Map();
    this.byCid = new Map();
    for (const conv of meta.convs || []) this.conversation(conv);
  }

  /** Conversation ids that hold messages. */
  conversationIds() {
    return [...this.convs.keys()];
  }

  /** The messages of `conv`, oldest first (loaded on first use). */
  conversation(conv) {
    let list = this.convs.get(conv);
    if (!list) {
      list = read(`${this.prefix}c:${conv}`, []);
      this.convs.set(conv, list);
      for (const m of list) this.index(m);
    }
    return list;
  }

  index(m) {
    if (m.key) this.byKey.set(m.key, m);
    if (m.mine && m.cid) this.byCid.set(m.cid, m);
  }

  /** The message with this server key ('i:<seq>' or 'g<gid>:<seq>'). */
  byServerKey(key) {
    return this.byKey.get(key);
  }

  /** One of our own messages by its client id. */
  byClientId(cid) {
    return this.byCid.get(cid);
  }

  /** Adds a message to its conversation, kept in time order; false when already there. */
  add(m) {
    if (m.key && this.byKey.has(m.key)) return false;
    const list = this.conversation(m.conv);
    let i = list.length;
    while (i > 0 && list[i - 1].ts > m.ts) i -= 1;
    list.splice(i, 0, m);
    if (list.length > MAX_PER_CONVERSATION) {
      for (const old of list.splice(0, list.length - MAX_PER_CONVERSATION)) {
        this.byKey.delete(old.key);
        this.byCid.delete(old.cid);
      }
    }
    this.index(m);
    this.save(m.conv);
    return true;
  }

  /** Records that `m` (already stored) changed, e.g. its ack state. */
  update(m) {
    this.index(m);
    this.save(m.conv);
  }

  /** Saves a conversation and the metadata. */
  save(conv) {
    if (conv) {
      localStorage.setItem(`${this.prefix}c:${conv}`, JSON.stringify(this.conversation(conv)));
    }
    this.saveMeta();
  }

  saveMeta() {
    localStorage.setItem(
      `${this.prefix}meta`,
      JSON.stringify({
        seqs: this.seqs,
        unread: this.unread,
        names: this.names,
        convs: this.conversationIds(),
      }),
    );
  }

  /** Own messages still waiting for an ack (e.g. when the page was closed). */
  pending() {
    const out = [];
    for (const list of this.convs.values()) {
      for (const m of list) if (m.mine && m.state === 'sending') out.push(m);
    }
    return out;
  }
}
