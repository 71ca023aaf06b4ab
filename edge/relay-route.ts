/**
 * Routes for a viewer worker (--workers): every stream comes from the main thread's loopback
 * relay, which holds the node's single origin pull (or, in the all-in-one, the published stream).
 * Route changes never reach a worker: the main thread moves its pull and the relay connection
 * simply carries on, with the hub's continuous timeline.
 */
import type { Route } from '../core/registry/route.ts';
import type { RouteResolver } from './route.ts';

export class RelayResolver implements RouteResolver {
  private readonly base: string;
  constructor(relayUrl: string) {
    this.base = relayUrl.replace(/\/$/, '');
  }
  async resolve(app: string, name: string): Promise<Route> {
    return {
      app,
      name,
      originNodeId: 'relay',
      originUrl: this.base,
      pullUrl: `${this.base}/${encodeURIComponent(app)}/${encodeURIComponent(name)}.flv`,
      generation: 0,
      role: 'primary',
    };
  }
  watch(): () => void {
    return () => {};
  }
}
