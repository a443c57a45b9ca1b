// The /chat WebSocket: one JSON object per text frame, reconnecting with
// capped exponential back-off and full jitter so that a restarted node is
// not hit by every client in the same instant.

const BASE_MS = 500;
const CAP_MS = 30000;
const HEARTBEAT_MS = 30000;

/** Delay before reconnect attempt `attempt` (0-based): uniform in [BASE/2, min(CAP, BASE*2^attempt)]. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(BASE_MS / 2 + random() * (ceiling - BASE_MS / 2));
}

/**
 * A self-healing connection. `handlers`: onOpen(), onFrame(obj), onDown(failures)
 * (failures counts attempts in a row that never opened), onState(text).
 */
export class Socket {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.failures = 0;
    this.timer = 0;
    this.heartbeat = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.handlers.onState('offline');
  }

  /** True when the frame went to an open socket. */
  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  open() {
    this.handlers.onState('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.failures = 0;
      this.handlers.onState('online');
      // Any frame counts as activity (PROTOCOL.md section 2); cmd 0 keeps
      // idle-timeout proxies between us and the node from cutting the line.
      this.heartbeat = setInterval(() => this.send({ cmd: 0 }), HEARTBEAT_MS);
      this.handlers.onOpen();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let obj;
      try {
        obj = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (obj && typeof obj === 'object') this.handlers.onFrame(obj);
    };
    ws.onclose = () => {
      clearInterval(this.heartbeat);
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (!opened) this.failures += 1;
      const delay = backoffDelay(this.failures);
      this.handlers.onState(`offline, retrying in ${Math.ceil(delay / 1000)} s`);
      this.handlers.onDown(this.failures);
      this.timer = setTimeout(() => {
        if (!this.stopped) this.open();
      }, delay);
    };
  }

  /** Reconnects now (e.g. the browser reports the network back). */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.open();
  }
}
