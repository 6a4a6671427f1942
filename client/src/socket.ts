// One WebSocket that keeps itself connected: it (re)opens with exponential
// backoff and jitter, asks for a fresh URL before every attempt (so a resume
// position and a renewed token go into it), and reports frames and closes to
// its owner. The provider has two: the write link to ingest and the read link
// to the broadcaster. Works with any WHATWG-style WebSocket constructor.

import { type TimerHandle, type Timers } from './timers.js';

/** The part of the WHATWG WebSocket interface the client uses (browsers, `ws`). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

const OPEN = 1;

export interface BackoffOptions {
  /** Delay before the first retry (ms). Default 250. */
  initialDelayMs?: number;
  /** Upper bound of the delay (ms). Default 10000. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): initial * factor^attempt,
 * capped, then scaled by a random factor in [0.5, 1) so that many clients
 * dropped at once do not come back at the same instant.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
): number {
  const initial = options.initialDelayMs ?? 250;
  const max = options.maxDelayMs ?? 10_000;
  const factor = options.factor ?? 2;
  const base = Math.min(max, initial * Math.pow(factor, Math.min(attempt, 64)));
  return Math.round(base * (0.5 + random() / 2));
}

export type LinkState = 'connecting' | 'open' | 'closed';

export interface LinkTarget {
  url: string;
  protocols?: string[];
}

export interface LinkHandlers {
  onOpen(): void;
  /** A binary frame (a new view the handler may keep), or a text frame as a string. */
  onMessage(data: Uint8Array | string): void;
  onClose(code: number, reason: string): void;
  /** An attempt failed before it opened (`status`: the HTTP status, when the WebSocket tells it). */
  onConnectError(error: Error, status: number | undefined): void;
}

export class ReconnectingSocket {
  private socket: WebSocketLike | null = null;
  private running = false;
  private attempt = 0;
  private retryTimer: TimerHandle | null = null;
  private current: LinkState = 'closed';

  constructor(
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly target: () => Promise<LinkTarget>,
    private readonly handlers: LinkHandlers,
    private readonly timers: Timers,
    private readonly random: () => number,
    private readonly backoff: BackoffOptions,
  ) {}

  get state(): LinkState {
    return this.current;
  }

  /** Starts connecting (now) unless already running. */
  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.attempt = 0;
    void this.open();
  }

  /** Closes for good (until start()). */
  stop(): void {
    this.running = false;
    this.cancelRetry();
    this.drop(1000, 'client stopped');
    this.current = 'closed';
  }

  /**
   * Closes the current socket and connects again after the backoff delay:
   * for a gap, a bad frame or a server that is draining.
   */
  restart(reason: string): void {
    if (!this.running) {
      return;
    }
    const wasOpen = this.socket !== null && this.current === 'open';
    this.drop(4000, reason);
    if (wasOpen) {
      this.handlers.onClose(4000, reason);
    }
    this.scheduleRetry();
  }

  /** A connection that did its job: the next failure starts from the initial delay again. */
  resetBackoff(): void {
    this.attempt = 0;
  }

  /** Sends a frame when open; false when it could not be sent. */
  send(frame: Uint8Array): boolean {
    if (this.socket === null || this.current !== 'open' || this.socket.readyState !== OPEN) {
      return false;
    }
    this.socket.send(frame);
    return true;
  }

  private async open(): Promise<void> {
    this.retryTimer = null;
    if (!this.running) {
      return;
    }
    this.current = 'connecting';
    let target: LinkTarget;
    try {
      target = await this.target();
    } catch (err) {
      this.handlers.onConnectError(err as Error, undefined);
      this.scheduleRetry();
      return;
    }
    if (!this.running || this.socket !== null) {
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(target.url, target.protocols);
    } catch (err) {
      this.handlers.onConnectError(err as Error, undefined);
      this.scheduleRetry();
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) {
        return;
      }
      opened = true;
      this.current = 'open';
      this.handlers.onOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) {
        return;
      }
      const data = event.data;
      if (typeof data === 'string') {
        this.handlers.onMessage(data);
      } else if (data instanceof ArrayBuffer) {
        this.handlers.onMessage(new Uint8Array(data));
      } else if (ArrayBuffer.isView(data)) {
        this.handlers.onMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } else {
        this.handlers.onMessage(''); // a Blob or other: not a binary frame we can read
      }
    };
    socket.onerror = (event) => {
      if (this.socket !== socket || opened) {
        return;
      }
      const error = errorOf(event);
      this.handlers.onConnectError(error, httpStatusOf(error));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) {
        return;
      }
      this.socket = null;
      this.current = 'closed';
      if (opened) {
        this.handlers.onClose(event.code, event.reason);
      }
      this.scheduleRetry();
    };
  }

  private drop(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.current = 'closed';
    if (socket !== null) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      // Keep an error listener: `ws` raises an uncaught error when a socket
      // closed while connecting has none.
      socket.onerror = () => {};
      try {
        socket.close(code, reason);
      } catch {
        // closing a socket that never opened may throw in some implementations
      }
    }
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer !== null) {
      return;
    }
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.retryTimer = this.timers.setTimeout(() => void this.open(), delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }
}

function errorOf(event: unknown): Error {
  if (event instanceof Error) {
    return event;
  }
  const e = event as { error?: unknown; message?: unknown } | null;
  if (e?.error instanceof Error) {
    return e.error;
  }
  return new Error(typeof e?.message === 'string' ? e.message : 'WebSocket connection failed');
}

/** `ws` reports a refused upgrade as "Unexpected server response: 401"; browsers say nothing. */
function httpStatusOf(error: Error): number | undefined {
  const match = /Unexpected server response: (\d{3})/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}
