/**
 * Resource quantities written the way the API server stores them (docs/conventions.md#pure-builders), so re-applying an
 * unchanged object changes nothing: "1000m" is stored as "1", "1024Mi" as "1Gi", "0.5Gi" as
 * "512Mi". Hand-written because client-node only converts quantities to numbers (and loses
 * precision); this follows apimachinery's `Quantity.String()` canonical form.
 */
import type { ResourceRequirements } from './types.ts';

const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const PATTERN = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const NANO = 10n ** 9n;

/**
 * The canonical string of a quantity (a number, or a string such as "500m", "8Gi", "1e3").
 * Values are rounded up to nano units as the server does. Throws on a string that is not a
 * quantity (the CRD schema refuses those before they reach a builder).
 */
export function normalizeQuantity(input: string | number): string {
  const text = String(input).trim();
  const match = PATTERN.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) throw new Error(`"${text}" is not a quantity`);
  const [, sign, whole, fraction = '', suffix = ''] = match;
  let format: 'binary' | 'decimal' | 'exponent' = 'decimal';
  let exp10 = 0;
  let exp2 = 0;
  if (suffix in BINARY_SUFFIX) {
    format = 'binary';
    exp2 = BINARY_SUFFIX[suffix]!;
  } else if (/^[eE]/.test(suffix)) {
    format = 'exponent';
    exp10 = Number(suffix.slice(1));
  } else {
    exp10 = DECIMAL_SUFFIX[suffix]!;
  }
  // value * 10^9 as an exact rational: digits * 2^exp2 * 10^(exp10 + 9 - fraction.length).
  const digits = BigInt(`${whole}${fraction}` || '0') * 2n ** BigInt(exp2);
  const scale = exp10 + 9 - fraction.length;
  let nanos = scale >= 0 ? digits * 10n ** BigInt(scale) : ceilDiv(digits, 10n ** BigInt(-scale));
  if (sign === '-') nanos = -nanos;
  return formatNanos(nanos, format);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function formatNanos(nanos: bigint, format: 'binary' | 'decimal' | 'exponent'): string {
  if (nanos === 0n) return '0';
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const sign = negative ? '-' : '';
  // The server keeps binary suffixes only for whole values of at least 1024; else decimal.
  if (format === 'binary' && abs % NANO === 0n && abs / NANO >= 1024n) {
    let value = abs / NANO;
    let index = 0;
    const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    while (index < suffixes.length - 1 && value % 1024n === 0n && value >= 1024n) {
      value /= 1024n;
      index += 1;
    }
    return `${sign}${value}${suffixes[index]}`;
  }
  // Largest power of 1000 (from nano up) that divides the value exactly.
  let exponent = -9;
  let value = abs;
  while (value % 1000n === 0n && exponent < 18) {
    value /= 1000n;
    exponent += 3;
  }
  if (format === 'exponent') return `${sign}${value}${exponent === 0 ? '' : `e${exponent}`}`;
  const suffix = Object.entries(DECIMAL_SUFFIX).find(([, e]) => e === exponent)![0];
  return `${sign}${value}${suffix}`;
}

/** The value of a quantity as a number (bytes for a memory quantity), rounded up to a whole unit. */
export function quantityValue(input: string | number): number {
  const canonical = normalizeQuantity(input);
  const match = /^(-?\d+)(.*)$/.exec(canonical) as RegExpExecArray;
  const [, digits, suffix = ''] = match;
  const scale =
    suffix in BINARY_SUFFIX
      ? 2 ** (BINARY_SUFFIX[suffix] as number)
      : suffix.startsWith('e')
        ? 10 ** Number(suffix.slice(1))
        : 10 ** (DECIMAL_SUFFIX[suffix] as number);
  return Math.ceil(Number(digits) * scale);
}

/** A resource list with canonical quantities and sorted keys; undefined when empty. */
export function normalizeResourceList(
  list: Readonly<Record<string, string | number>> | undefined,
): Record<string, string> | undefined {
  if (!list) return undefined;
  const entries = Object.entries(list)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, normalizeQuantity(v)] as const);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * Merges resource requirements, later arguments winning entry by entry (so a user who sets only
 * `limits.memory` keeps the default CPU request), then normalizes quantities and sorts keys.
 */
export function mergeResources(...layers: (ResourceRequirements | undefined)[]): {
  limits?: Record<string, string>;
  requests?: Record<string, string>;
} {
  const limits = normalizeResourceList(Object.assign({}, ...layers.map((l) => l?.limits)));
  const requests = normalizeResourceList(Object.assign({}, ...layers.map((l) => l?.requests)));
  return { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) };
}
