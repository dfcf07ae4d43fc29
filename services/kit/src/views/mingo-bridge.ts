import { find, Query, update } from "mingo";
import type { ViewDocument, ViewFilter, ViewSort } from "./view-store";

/**
 * The one place that talks to mingo, and so the one place with casts to its types: mingo types filters and
 * modifiers by the dotted paths of a document type, while view documents are open records.
 */

type MingoCriteria = ConstructorParameters<typeof Query>[0];
type MingoOptions = NonNullable<ConstructorParameters<typeof Query>[1]>;
type MingoModifier = Parameters<typeof update>[1];

/**
 * Filters are data that may come from a query's request: `$where` and `$function` would run code from them,
 * so scripts are off (MongoDB 8 deprecates both too).
 */
const queryOptions: Partial<MingoOptions> = { scriptEnabled: false };

/** Compiles a MongoDB filter once; throws on an unknown or malformed operator. */
export function compileFilter(filter: ViewFilter): (document: ViewDocument) => boolean {
  const query = new Query(filter as MingoCriteria, queryOptions);
  return (document) => query.test(document);
}

export interface MatchRange {
  sort: ViewSort;
  skip: number;
  /** How many documents to take at most. */
  take: number;
}

/** The documents that match `filter`, sorted, from `skip`, at most `take` of them: references, not copies. */
export function findDocuments(documents: Iterable<ViewDocument>, filter: ViewFilter, range: MatchRange): ViewDocument[] {
  const cursor = find(documents, filter as MingoCriteria, undefined, queryOptions);
  return cursor.sort(range.sort).skip(range.skip).limit(range.take).all() as ViewDocument[];
}

/**
 * Applies MongoDB update operators to `document` in place. Values are deep-copied as they are set, so the
 * document never shares an object with the modifier.
 */
export function applyUpdateOperators(document: ViewDocument, modifier: Record<string, unknown>): void {
  update(document, modifier as MingoModifier, undefined, undefined, { cloneMode: "deep", queryOptions });
}
