/**
 * The lifecycle every producer and consumer of the hub follows: publications, viewers, streams,
 * edge pulls, and — as they land — network sources, forwards and WebRTC sessions. One shape, as
 * mediasoup gives its Router/Transport/Producer/Consumer:
 *
 * - `close(reason)` ends the object and releases what it holds (timers, sockets, children). It is
 *   idempotent: a second call does nothing and the first reason stays.
 * - `closed` and `closeReason` say whether and why it ended; metrics and logs read these rather
 *   than flags of their own.
 * - A typed `'close'` event fires exactly once, with the reason, after the object has released
 *   its resources and closed its children.
 * - Parents close their children (`own()`): a stream closes its viewers and taps, a hub its
 *   streams, a node's drain the hub. A child that closes first is simply forgotten by its parent.
 * - A method that needs an open object throws `InvalidStateError` (code RC_INVALID_STATE).
 *
 * A new kind of object either extends `Lifecycle` (and puts its teardown in `onClose`) or, when
 * it already extends something else, implements `Closable` with a `LifecycleState` field.
 */
import { EventEmitter } from 'node:events';
import { MediaError } from './errors.ts';

/** What every hub producer/consumer exposes. */
export interface Closable<R extends string = string> {
  readonly closed: boolean;
  /** Why it closed (undefined while open). */
  readonly closeReason: R | undefined;
  /** Ends the object; idempotent. */
  close(reason: R): void;
}

/** The event every Closable emits once. Merge it into a class's own event map. */
export interface CloseEvents<R extends string> {
  close: [reason: R];
}

/** A call on an object that is already closed (attach to a closed stream, publish on a closed hub). */
export class InvalidStateError extends MediaError {
  /** What was closed, e.g. 'stream live/cam'. */
  readonly object: string;
  readonly closeReason: string | undefined;
  constructor(object: string, closeReason: string | undefined, action = 'create a new one') {
    super('RC_INVALID_STATE', `${object} is closed (${closeReason ?? 'no reason given'}); ${action}`);
    this.object = object;
    this.closeReason = closeReason;
  }
}

/** The closed flag and reason, for classes that cannot extend Lifecycle. */
export class LifecycleState<R extends string> {
  private reason: R | undefined;
  get closed(): boolean {
    return this.reason !== undefined;
  }
  get closeReason(): R | undefined {
    return this.reason;
  }
  /** Marks the object closed; true the first time only (the caller then tears down). */
  begin(reason: R): boolean {
    if (this.reason !== undefined) return false;
    this.reason = reason;
    return true;
  }
  /** Throws InvalidStateError if closed. */
  assertOpen(object: string, action?: string): void {
    if (this.reason !== undefined) throw new InvalidStateError(object, this.reason, action);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the shape of Node's own EventEmitter event maps
type EventMap = Record<string, any[]>;

/**
 * Base class: subclasses put their teardown in `onClose(reason)` and call `assertOpen()` where a
 * closed object must refuse work. `E` is the subclass's own events; 'close' is added.
 */
export abstract class Lifecycle<R extends string, E extends EventMap = Record<never, never>>
  extends EventEmitter<E & CloseEvents<R>>
  implements Closable<R>
{
  private readonly lifecycle = new LifecycleState<R>();
  // biome-ignore lint/suspicious/noExplicitAny: children close with reasons of their own types
  private children: Set<{ child: Closable<any>; reasonFor: (r: R) => string }> | undefined;

  get closed(): boolean {
    return this.lifecycle.closed;
  }

  get closeReason(): R | undefined {
    return this.lifecycle.closeReason;
  }

  close(reason: R): void {
    if (!this.lifecycle.begin(reason)) return;
    try {
      this.onClose(reason);
    } finally {
      const children = this.children;
      this.children = undefined;
      if (children) for (const { child, reasonFor } of children) child.close(reasonFor(reason));
      (this as EventEmitter<CloseEvents<R>>).emit('close', reason);
    }
  }

  /** Releases this object's own resources. Runs once, before the children close and 'close' fires. */
  protected onClose(_reason: R): void {}

  /** Throws InvalidStateError when closed. `object` names it for the message. */
  protected assertOpen(object: string, action?: string): void {
    this.lifecycle.assertOpen(object, action);
  }

  /**
   * Makes `child` close when this closes, with `reasonFor(reason)`. A child that closes first is
   * dropped (so a long-lived parent does not keep short-lived children). Closing a closed parent's
   * new child closes it at once.
   */
  protected own<CR extends string, C extends Closable<CR>>(child: C, reasonFor: (reason: R) => CR): C {
    if (this.closed) {
      child.close(reasonFor(this.closeReason as R));
      return child;
    }
    const entry = { child, reasonFor };
    this.children ??= new Set();
    this.children.add(entry);
    // Every Closable emits 'close' (see the contract above); the cast only forgets its event map.
    (child as unknown as EventEmitter).once('close', () => this.children?.delete(entry));
    return child;
  }
}
