import type { HandlerLink } from "../links/handler-link";
import { LruMap } from "@recq-mesh/protocol";

export interface Route {
  link: HandlerLink;
  loadFactor: number;
  /** The projection a query handler reads (for consistency tokens); empty if it named none. */
  projection: string;
}

export interface MethodRouterOptions {
  /** How many routing keys remember their instance. Past it, the least recently used key is re-placed. */
  maxAffinityEntries: number;
}

/**
 * Which handler links serve which method, and which one takes a call.
 * - A routing key sticks to the instance that first took it while that instance lives (and while the key is
 *   among the `maxAffinityEntries` most recently used); a new key is placed by rendezvous hashing, so
 *   placements spread evenly and do not depend on arrival order.
 * - A call without a routing key goes to the instance with the least load per unit of load factor.
 */
export class MethodRouter {
  private readonly routes = new Map<string, Route[]>();
  private readonly affinity: LruMap<string, HandlerLink>;
  private readonly listeners = new Set<(path: string) => void>();
  private roundRobin = 0;

  constructor(options: MethodRouterOptions) {
    this.affinity = new LruMap(options.maxAffinityEntries);
  }

  subscribe(path: string, route: Route): void {
    const routes = (this.routes.get(path) ?? []).filter((r) => r.link !== route.link);
    routes.push(route);
    this.routes.set(path, routes);
    this.notify(path);
  }

  unsubscribe(link: HandlerLink, path: string): void {
    const routes = this.routes.get(path);
    if (routes === undefined) return;
    const kept = routes.filter((r) => r.link !== link);
    if (kept.length === 0) this.routes.delete(path);
    else this.routes.set(path, kept);
    this.notify(path);
  }

  removeLink(link: HandlerLink): void {
    for (const [path, routes] of this.routes) {
      if (routes.some((r) => r.link === link)) this.unsubscribe(link, path);
    }
    this.affinity.deleteWhere((l) => l === link);
  }

  hasRoute(path: string): boolean {
    return this.routes.has(path);
  }

  /** Methods a link is subscribed to. */
  pathsOf(link: HandlerLink): string[] {
    return [...this.routes].filter(([, routes]) => routes.some((r) => r.link === link)).map(([path]) => path);
  }

  /** Called with the method path whenever its set of routes changes (health follows it). */
  onChange(listener: (path: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pick(path: string, routingKey: string | undefined): Route | undefined {
    const routes = this.routes.get(path);
    if (routes === undefined || routes.length === 0) return undefined;
    // A key is remembered even with one instance, so that it stays there when a second one joins.
    if (routingKey) return this.pickByKey(routes, routingKey);
    return routes.length === 1 ? routes[0] : this.pickLeastLoaded(routes);
  }

  private pickByKey(routes: Route[], key: string): Route {
    const remembered = this.affinity.get(key);
    const sticky = remembered && routes.find((r) => r.link === remembered);
    if (sticky) return sticky;
    let best = routes[0]!;
    let bestScore = -1;
    for (const route of routes) {
      const score = fnv1a(key, route.link.id);
      if (score > bestScore) {
        bestScore = score;
        best = route;
      }
    }
    this.affinity.set(key, best.link);
    return best;
  }

  private pickLeastLoaded(routes: Route[]): Route {
    // Start the scan at a rotating offset so that equal loads alternate instead of piling on the first.
    const start = this.roundRobin++ % routes.length;
    let best = routes[start]!;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[(start + i) % routes.length]!;
      const load = (route.link.load + (route.link.permits > 0 ? 0 : 1)) / route.loadFactor;
      if (load < bestLoad) {
        bestLoad = load;
        best = route;
      }
    }
    return best;
  }

  private notify(path: string): void {
    for (const listener of this.listeners) listener(path);
  }
}

/** 32-bit FNV-1a of `key` then `salt`: the rendezvous score of a key on an instance. */
function fnv1a(key: string, salt: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  for (let i = 0; i < salt.length; i++) hash = Math.imul(hash ^ salt.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
