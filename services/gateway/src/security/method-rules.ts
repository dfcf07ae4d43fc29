/**
 * Rules keyed by method pattern: `pkg.Service/Method` (one method), `pkg.Service/*` (every method of a service) or
 * `*` (every method). The most specific pattern that matches a method decides: the method's own, else its
 * service's, else `*`.
 */
export class MethodRules<T> {
  private readonly exact = new Map<string, T>();
  private readonly services = new Map<string, T>();
  private any: T | undefined;

  constructor(rules: Iterable<readonly [string, T]>, what: string) {
    for (const [pattern, value] of rules) {
      checkPattern(pattern, what);
      if (pattern === "*") this.any = value;
      else if (pattern.endsWith("/*")) this.services.set(pattern.slice(0, -2), value);
      else this.exact.set(pattern, value);
    }
  }

  /** The rule for `method` (`pkg.Service/Method`, no leading slash), or undefined when none matches. */
  find(method: string): T | undefined {
    const exact = this.exact.get(method);
    if (exact !== undefined) return exact;
    const service = this.services.get(method.slice(0, method.indexOf("/")));
    return service !== undefined ? service : this.any;
  }
}

/** A set of method patterns: does one of them match? */
export class MethodPatterns {
  private readonly rules: MethodRules<true>;
  constructor(patterns: readonly string[], what: string) {
    this.rules = new MethodRules(patterns.map((pattern) => [pattern, true] as const), what);
  }
  matches(method: string): boolean {
    return this.rules.find(method) === true;
  }
}

/** Consumer names: exact, or a prefix followed by `*` (`todo-lists@*` for per-instance projections). */
export class NamePatterns {
  constructor(private readonly patterns: readonly string[]) {}
  matches(name: string): boolean {
    return this.patterns.some((pattern) => (pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern));
  }
}

function checkPattern(pattern: string, what: string): void {
  if (pattern === "*") return;
  if (!/^[A-Za-z_][A-Za-z0-9_.]*\/(\*|[A-Za-z_][A-Za-z0-9_]*)$/.test(pattern)) {
    throw new Error(`${what}: "${pattern}" is not a method pattern (package.Service/Method, package.Service/* or *)`);
  }
}
