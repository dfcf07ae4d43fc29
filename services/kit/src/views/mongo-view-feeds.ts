import type { ViewChangeFeed } from "./mongo-view-change-feed";

/**
 * The change feeds of a view store: one per watched collection, shared by its listeners, closed with the last.
 * Operations of the store wait for `ready()`, so a change committed after a `watch` call, through this store, is
 * always heard, even while that collection's feed is still opening.
 */
export class ViewFeeds {
  private readonly feeds = new Map<string, { feed: ViewChangeFeed; subscribers: number }>();
  private readonly opening = new Set<Promise<void>>();

  constructor(private readonly open: (collection: string) => ViewChangeFeed) {}

  acquire(collection: string): void {
    const existing = this.feeds.get(collection);
    if (existing !== undefined) {
      existing.subscribers += 1;
      return;
    }
    const feed = this.open(collection);
    this.feeds.set(collection, { feed, subscribers: 1 });
    const opened: Promise<void> = feed.ready.finally(() => this.opening.delete(opened));
    this.opening.add(opened);
  }

  release(collection: string): void {
    const entry = this.feeds.get(collection);
    if (entry === undefined) return;
    entry.subscribers -= 1;
    if (entry.subscribers > 0) return;
    this.feeds.delete(collection);
    void entry.feed.close();
  }

  /** Resolves once every feed opened so far has fixed the point it starts from. */
  async ready(): Promise<void> {
    if (this.opening.size > 0) await Promise.all(this.opening);
  }

  async closeAll(): Promise<void> {
    const feeds = [...this.feeds.values()].map((entry) => entry.feed);
    this.feeds.clear();
    await Promise.all(feeds.map((feed) => feed.close()));
  }
}
