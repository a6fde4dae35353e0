/**
 * python-json writes what Python's `json.dumps(json.loads(text), ensure_ascii=False)` writes,
 * checked against the real Python of the oracle venv on every case.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureOracleVenv, ORACLE_PYTHON } from '../../../../test/sidecar-limits/oracle.ts';
import { pythonFloatRepr, pythonJsonDumps, pythonJsonNormalize } from './python-json.ts';

const TEXTS = [
  '{"a": 1, "b": [1.0, 2.5, -0, -0.0, 1e16, 1e15, 1.5e-7, 0.0001, 0.00001]}',
  '123456789012345678901234567890',
  '[1E400, -1e-400, 5e-324, 1.7976931348623157e308, 0.1, 1234567.125, 100.0, 2.5e-5, 1e22]',
  '{"1": "x", "a": {"z": null, "y": true}, "1": "kept first, last value"}',
  '"\\u00e9\\n\\t\\u0001 \\/ \\ud83d\\ude00 ok"',
  '"raw é ünï 😀 and U+2028 \u2028"',
  '[NaN, Infinity, -Infinity]',
  ' \t\n [ ] \r\n',
  '{}',
  '{"a":1,}',
  '01',
  '1.',
  '[1,2',
  '"a raw\ttab"',
  'not json',
  '',
  'nan',
  '{"k": tru}',
];

let python: (string | null)[];

beforeAll(() => {
  ensureOracleVenv();
  const script = `
import json, sys
for text in json.load(sys.stdin):
    try:
        print(json.dumps(json.dumps(json.loads(text), ensure_ascii=False)))
    except ValueError:
        print("null")
`;
  python = execFileSync(ORACLE_PYTHON, ['-c', script], { input: JSON.stringify(TEXTS) })
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as string | null);
});

describe("Python's json, reproduced", () => {
  it.each(TEXTS.map((text, i) => [text, i] as const))('normalizes %j as Python does', (text, i) => {
    expect(pythonJsonNormalize(text) ?? null).toBe(python[i]);
  });

  it('writes floats as repr does and integers without an exponent', () => {
    expect([1, 0.5, 1e-7, 1e16, 123.456, -0].map(pythonFloatRepr)).toEqual([
      '1.0',
      '0.5',
      '1e-07',
      '1e+16',
      '123.456',
      '-0.0',
    ]);
    expect(pythonJsonDumps({ n: 1e22, x: 0.25, s: 'é', list: [true, null] })).toBe(
      '{"n": 10000000000000000000000, "x": 0.25, "s": "é", "list": [true, null]}',
    );
  });

  it('does not overflow the stack on deeply nested input, and calls it not JSON', () => {
    expect(pythonJsonNormalize('['.repeat(100_000))).toBeUndefined();
  });
});
