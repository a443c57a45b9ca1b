// Sequence bookkeeping for cmd 30/31 (PROTOCOL.md section 4): the last seq
// seen in the user's inbox and in each group log, gap detection on the live
// stream, and the sync request that fills a gap. No I/O: frames in,
// decisions out.

/** Last-seen sequences; `state` is {inbox, groups: {gid: seq}} and is updated in place. */
export class SeqTracker {
  constructor(state) {
    this.state = state;
    this.inFlight = 0;
    this.nextId = 1;
  }

  last(log) {
    return log === 'inbox' ? this.state.inbox : this.state.groups[log] || 0;
  }

  /**
   * Records `seq` of `log` ('inbox' or a group id); true when it skips past
   * an unseen seq and no sync is already on its way to fill it.
   */
  observe(log, seq) {
    const last = this.last(log);
    const gap = seq > last + 1;
    if (seq > last) this.set(log, seq);
    return gap && !this.inFlight;
  }

  set(log, seq) {
    if (log === 'inbox') this.state.inbox = seq;
    else this.state.groups[log] = seq;
  }

  /** A cmd 30 asking for everything after the last seen seqs of the inbox and `groupIds`. */
  request(groupIds) {
    const groups = {};
    for (const gid of groupIds) groups[gid] = this.last(String(gid));
    this.inFlight = this.nextId++;
    return { cmd: 30, id: this.inFlight, inbox: this.state.inbox, groups };
  }

  /** Takes a cmd 31 (a sync answer or the end of the offline push). */
  done(frame) {
    if (frame.id && frame.id === this.inFlight) this.inFlight = 0;
    if (Number.isSafeInteger(frame.inbox) && frame.inbox > this.state.inbox) {
      this.state.inbox = frame.inbox;
    }
    for (const [gid, seq] of Object.entries(frame.groups || {})) {
      if (Number.isSafeInteger(seq) && seq > this.last(gid)) this.state.groups[gid] = seq;
    }
  }

  /** Forgets an unanswered sync (the connection dropped). */
  reset() {
    this.inFlight = 0;
  }
}
