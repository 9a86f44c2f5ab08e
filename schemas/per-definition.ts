/**
 * `f`, computed once per definition object (contracts and feature groups are built once, at
 * import, and read on hot paths: the derived lists and plans are worth keeping).
 */
export const perDefinition = <K extends object, V>(f: (k: K) => V): ((k: K) => V) => {
  const cache = new WeakMap<K, V>();
  return (k) => {
    if (!cache.has(k)) cache.set(k, f(k));
    return cache.get(k) as V;
  };
};
