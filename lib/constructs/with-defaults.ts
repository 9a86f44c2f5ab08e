/** Props with every defaulted prop present (typed as the prop, minus `undefined`). */
export type WithDefaults<P, D> = Omit<P, keyof D> & {
  readonly [K in keyof D & keyof P]-?: Exclude<P[K], undefined>;
};

/**
 * Merges construct props over their defaults: a prop left out or set to `undefined` takes the
 * default. The one place every construct resolves its defaults; a default for a prop the props
 * type does not have, or of another type, fails to compile.
 */
export function withDefaults<
  P extends object,
  D extends { readonly [K in keyof D]: K extends keyof P ? Exclude<P[K], undefined> : never },
>(defaults: D, props: P): WithDefaults<P, D> {
  const given = Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined));
  return { ...defaults, ...given } as unknown as WithDefaults<P, D>;
}
