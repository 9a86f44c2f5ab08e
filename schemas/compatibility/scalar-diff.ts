/**
 * The changes between two versions of one property's schema (a scalar: type, enum/const, pattern,
 * format, length and numeric bounds, multipleOf), each with the reason it breaks a reader of the
 * other version, if it does. A change that narrows the accepted values breaks BACKWARD (data
 * written with the older version may be rejected by the newer); one that widens them breaks
 * FORWARD (data written with the newer version may be rejected by the older). The rules and their
 * sources are in `./compatibility.ts`.
 */
import { ANNOTATIONS, type Change, type Labels } from './change.js';
import { canonicalJson } from './json-schema.js';

type Node = { readonly [keyword: string]: unknown };

const ASSERTIONS = new Set([
  'type',
  'enum',
  'const',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
]);
const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

const assertionsOf = (s: Node): Node =>
  Object.fromEntries(Object.entries(s).filter(([k]) => !ANNOTATIONS.has(k)));
const sameAssertions = (a: Node, b: Node): boolean =>
  canonicalJson(assertionsOf(a)) === canonicalJson(assertionsOf(b));
const show = (v: unknown): string => JSON.stringify(v);
const list = (vs: readonly unknown[]): string => vs.map(show).join(', ');

const valuesOf = (s: Node): unknown[] | undefined =>
  'const' in s ? [s.const] : Array.isArray(s.enum) ? s.enum : undefined;
const jsonType = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;

/** The JSON types a schema admits: its `type`, else the types of its enum/const values, else all. */
function typesOf(s: Node): string[] {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  const values = valuesOf(s);
  return values ? [...new Set(values.map(jsonType))] : ALL_TYPES;
}
/** `integer` values are `number` values too. */
const covers = (types: readonly string[], t: string): boolean =>
  types.includes(t) || (t === 'integer' && types.includes('number'));

function diffTypes(o: Node, n: Node, L: Labels): { changes: Change[]; disjoint: boolean } {
  const [ot, nt] = [typesOf(o), typesOf(n)];
  const lost = ot.filter((t) => !covers(nt, t));
  const gained = nt.filter((t) => !covers(ot, t));
  const disjoint = !ot.some((t) => covers(nt, t)) && !nt.some((t) => covers(ot, t));
  if (lost.length === 0 && gained.length === 0) return { changes: [], disjoint };
  const summary = `type ${lost.length && gained.length ? 'changed' : lost.length ? 'narrowed' : 'widened'} from ${ot.join('|')} to ${nt.join('|')}`;
  const kind = lost.length && gained.length ? 'type-changed' : lost.length ? 'type-narrowed' : 'type-widened';
  const change: Change = {
    kind,
    summary,
    ...(lost.length
      ? { backward: `${L.older} accepts ${lost.join('|')} values, which ${L.newer} rejects` }
      : {}),
    ...(gained.length
      ? { forward: `${L.newer} accepts ${gained.join('|')} values, which ${L.older} rejects` }
      : {}),
  };
  return { changes: [change], disjoint };
}

function diffEnum(o: Node, n: Node, L: Labels): Change[] {
  const [ov, nv] = [valuesOf(o), valuesOf(n)];
  if (!ov && !nv) return [];
  if (!ov && nv)
    return [
      {
        kind: 'enum-added',
        summary: `restricted to the values ${list(nv)}`,
        backward: `${L.older} accepts other values, which ${L.newer} rejects`,
      },
    ];
  if (ov && !nv)
    return [
      {
        kind: 'enum-removed',
        summary: `no longer restricted to the values ${list(ov)}`,
        forward: `${L.newer} accepts values outside ${list(ov)}, which ${L.older} rejects`,
      },
    ];
  const [oKeys, nKeys] = [new Set((ov ?? []).map(show)), new Set((nv ?? []).map(show))];
  const removed = (ov ?? []).filter((v) => !nKeys.has(show(v)));
  const added = (nv ?? []).filter((v) => !oKeys.has(show(v)));
  const changes: Change[] = [];
  if (removed.length)
    changes.push({
      kind: 'enum-value-removed',
      summary: `enum value${removed.length > 1 ? 's' : ''} ${list(removed)} removed`,
      backward: `${L.older} data may carry ${list(removed)}, which ${L.newer} rejects`,
    });
  if (added.length)
    changes.push({
      kind: 'enum-value-added',
      summary: `enum value${added.length > 1 ? 's' : ''} ${list(added)} added`,
      forward: `${L.newer} data may carry ${list(added)}, which ${L.older} rejects`,
    });
  return changes;
}

/** pattern and format: added narrows, removed widens, changed does both (regex inclusion is undecidable here). */
function diffStringRule(keyword: 'pattern' | 'format', o: Node, n: Node, L: Labels): Change[] {
  const [ov, nv] = [o[keyword], n[keyword]];
  if (ov === nv) return [];
  if (ov === undefined)
    return [
      {
        kind: `${keyword}-added`,
        summary: `${keyword} ${show(nv)} added`,
        backward: `${L.older} values need not match ${keyword} ${show(nv)}, which ${L.newer} requires`,
      },
    ];
  if (nv === undefined)
    return [
      {
        kind: `${keyword}-removed`,
        summary: `${keyword} ${show(ov)} removed`,
        forward: `${L.newer} values need not match ${keyword} ${show(ov)}, which ${L.older} requires`,
      },
    ];
  return [
    {
      kind: `${keyword}-changed`,
      summary: `${keyword} changed from ${show(ov)} to ${show(nv)}`,
      backward: `${L.older} values need not match ${keyword} ${show(nv)}, which ${L.newer} requires`,
      forward: `${L.newer} values need not match ${keyword} ${show(ov)}, which ${L.older} requires`,
    },
  ];
}

interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
  readonly text: string;
}
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
function boundOf(s: Node, inclusive: string, exclusive: string | undefined, side: 'lower' | 'upper') {
  const candidates: Bound[] = [];
  const i = num(s[inclusive]);
  if (i !== undefined) candidates.push({ value: i, exclusive: false, text: `${inclusive} ${i}` });
  const e = exclusive ? num(s[exclusive]) : undefined;
  if (exclusive && e !== undefined) candidates.push({ value: e, exclusive: true, text: `${exclusive} ${e}` });
  return candidates.reduce<Bound | undefined>(
    (best, b) => (best === undefined || tighter(b, best, side) ? b : best),
    undefined,
  );
}
/** Whether bound `a` admits fewer values than `b` on its side. */
const tighter = (a: Bound, b: Bound, side: 'lower' | 'upper'): boolean =>
  (side === 'lower' ? a.value > b.value : a.value < b.value) ||
  (a.value === b.value && a.exclusive && !b.exclusive);

function diffBound(
  side: 'lower' | 'upper',
  ob: Bound | undefined,
  nb: Bound | undefined,
  L: Labels,
): Change[] {
  if (ob === undefined && nb === undefined) return [];
  const narrowed = ob === undefined ? true : nb === undefined ? false : tighter(nb, ob, side);
  const widened = nb === undefined ? true : ob === undefined ? false : tighter(ob, nb, side);
  if (!narrowed && !widened) return [];
  const summary =
    ob === undefined
      ? `${nb?.text} added`
      : nb === undefined
        ? `${ob.text} removed`
        : `${ob.text} changed to ${nb.text}`;
  return narrowed
    ? [
        {
          kind: 'bound-narrowed',
          summary,
          backward: `${L.older} accepts values outside ${nb?.text}, which ${L.newer} rejects`,
        },
      ]
    : [
        {
          kind: 'bound-widened',
          summary,
          forward: `${L.newer} accepts values outside ${ob?.text}, which ${L.older} rejects`,
        },
      ];
}

const BOUNDS: readonly [string, string | undefined, 'lower' | 'upper'][] = [
  ['minLength', undefined, 'lower'],
  ['maxLength', undefined, 'upper'],
  ['minimum', 'exclusiveMinimum', 'lower'],
  ['maximum', 'exclusiveMaximum', 'upper'],
];

const isMultiple = (a: number, b: number): boolean => Math.abs(a / b - Math.round(a / b)) < 1e-9;
function diffMultipleOf(o: Node, n: Node, L: Labels): Change[] {
  const [om, nm] = [num(o.multipleOf), num(n.multipleOf)];
  if (om === nm) return [];
  const narrows = om === undefined || (nm !== undefined && !isMultiple(om, nm));
  const widens = nm === undefined || (om !== undefined && !isMultiple(nm, om));
  return [
    {
      kind: 'multiple-of-changed',
      summary: `multipleOf changed from ${om ?? 'none'} to ${nm ?? 'none'}`,
      ...(narrows
        ? { backward: `${L.older} accepts values that are not multiples of ${nm}, which ${L.newer} rejects` }
        : {}),
      ...(widens
        ? { forward: `${L.newer} accepts values that are not multiples of ${om}, which ${L.older} rejects` }
        : {}),
    },
  ];
}

/** Every change between two versions of one scalar property schema. */
export function diffScalar(o: Node, n: Node, L: Labels): Change[] {
  const keywords = [...Object.keys(o), ...Object.keys(n)].filter((k) => !ANNOTATIONS.has(k));
  const unsupported = keywords.filter((k) => !ASSERTIONS.has(k));
  const draft4Exclusive = [o, n].some((s) =>
    ['exclusiveMinimum', 'exclusiveMaximum'].some((k) => k in s && typeof s[k] !== 'number'),
  );
  if (unsupported.length > 0 || draft4Exclusive) {
    if (sameAssertions(o, n)) return [];
    const what = unsupported.length
      ? [...new Set(unsupported)].join(', ')
      : 'boolean exclusiveMinimum/Maximum';
    const why = `the checker cannot compare schemas using ${what}; treat the change as breaking`;
    return [{ kind: 'unsupported', summary: `schema changed (${what})`, backward: why, forward: why }];
  }
  const types = diffTypes(o, n, L);
  if (types.disjoint) return types.changes;
  return [
    ...types.changes,
    ...diffEnum(o, n, L),
    ...diffStringRule('pattern', o, n, L),
    ...diffStringRule('format', o, n, L),
    ...BOUNDS.flatMap(([inclusive, exclusive, side]) =>
      diffBound(side, boundOf(o, inclusive, exclusive, side), boundOf(n, inclusive, exclusive, side), L),
    ),
    ...diffMultipleOf(o, n, L),
  ];
}
