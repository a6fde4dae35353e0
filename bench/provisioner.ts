/**
 * Benchmark: `provision-weights` against `curl -o` and `sha256sum`, all in one run on one ~1 GiB file
 * served from 127.0.0.1 (the hub-like test server: a redirect to the file store, Range, ETag).
 *
 *   npm run bench:provisioner            (BENCH_SIZE_MIB=1024 BENCH_ROUNDS=5 by default)
 *   BENCH_COMPARE=<dir>/runtime-image/src/provisioner/main.ts npm run bench:provisioner
 *                                        (adds that copy, e.g. an older checkout, as a row of its own)
 *
 * The provisioner downloads, hashes and fsyncs in one pass; curl only downloads (and never fsyncs: its
 * bytes may still be in the page cache when it exits), sha256sum only hashes.
 * The target: the provisioner's throughput is at least 90% of the slower of the two baselines (the
 * rate a "curl then sha256sum" pipeline cannot beat on its slower stage). Every child has a timeout,
 * and the whole run is bounded by BENCH_DEADLINE_S (default 300 s).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startHub } from '../test/provisioner/hub-server.ts';
import { writeRandomFile } from '../test/provisioner/random-file.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DEADLINE = performance.now() + Number(process.env.BENCH_DEADLINE_S ?? 300) * 1000;
const CHILD_TIMEOUT_MS = 120_000;
const MAIN = resolve(import.meta.dirname, '../runtime-image/src/provisioner/main.ts');
const COMPARE = process.env.BENCH_COMPARE;
const REPO = 'mistralai/Pixtral-12B-2409';
const REVISION = 'bench';

async function timed(fn: () => Promise<unknown>): Promise<number> {
  if (performance.now() > DEADLINE) throw new Error('Benchmark deadline reached');
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-provisioner-'));
  try {
    const source = join(dir, 'consolidated.safetensors');
    const sha256 = await writeRandomFile(source, SIZE);
    const hub = await startHub([{ name: 'consolidated.safetensors', path: source, size: SIZE, sha256 }], {
      repo: REPO,
      revision: REVISION,
    });
    const url = `${hub.hubUrl}/${REPO}/resolve/${REVISION}/consolidated.safetensors`;
    const spec = JSON.stringify({
      model: 'bench',
      source: { kind: 'hub', repo: REPO, revision: REVISION },
      files: [{ name: 'consolidated.safetensors', size: SIZE, sha256 }],
    });
    const curlOut = join(dir, 'curl.bin');
    const target = join(dir, 'weights');
    const provisioner =
      (parallelism: number, main = MAIN) =>
      async () => {
        await rm(target, { recursive: true, force: true });
        await run(
          process.execPath,
          [main, '--target', target, '--hub-url', hub.hubUrl, '--parallelism', String(parallelism)],
          {
            env: { PATH: process.env.PATH ?? '', PROVISION_SPEC: spec },
            timeout: CHILD_TIMEOUT_MS,
            maxBuffer: 16 * MiB,
          },
        );
      };
    const contenders: [string, () => Promise<unknown>][] = [
      [
        'curl -o (download only)',
        () => run('curl', ['-sSfL', '-o', curlOut, url], { timeout: CHILD_TIMEOUT_MS }),
      ],
      ['sha256sum (hash only)', () => run('sha256sum', [source], { timeout: CHILD_TIMEOUT_MS })],
      ['provision-weights --parallelism 4', provisioner(4)],
      ['provision-weights --parallelism 1', provisioner(1)],
      ...(COMPARE === undefined
        ? []
        : [
            ['BENCH_COMPARE --parallelism 4', provisioner(4, resolve(COMPARE))] as [
              string,
              () => Promise<unknown>,
            ],
          ]),
    ];
    const seconds = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
    // Rounds interleave the contenders, in a rotating order, so that background load and the previous
    // contender's leftovers hit them alike. Each output is deleted after its run: a deleted file's
    // dirty pages are dropped, so no contender pays for the writeback of the one before it.
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const [name, fn] = contenders[(round + i) % contenders.length]!;
        seconds.get(name)!.push(await timed(fn));
        await rm(curlOut, { force: true });
        await rm(target, { recursive: true, force: true });
      }
    }
    await hub.close();

    const rate = (name: string) => SIZE / MiB / median(seconds.get(name)!);
    // Each round's contenders ran back to back, so a per-round ratio cancels the slow drifts of a busy
    // machine; the table gives the median of those ratios.
    const ratio = (name: string) =>
      median(
        seconds.get(name)!.map((s, round) => {
          const slowerBaseline = Math.max(
            seconds.get(contenders[0]![0])![round]!,
            seconds.get(contenders[1]![0])![round]!,
          );
          return slowerBaseline / s;
        }),
      );
    const rows = contenders.map(([name]) => ({
      contender: name,
      'median s': median(seconds.get(name)!).toFixed(2),
      'MiB/s': rate(name).toFixed(0),
      'x slower of curl/sha256sum': ratio(name).toFixed(2),
      rounds: seconds
        .get(name)!
        .map((s) => s.toFixed(2))
        .join(' '),
    }));
    console.log(
      `\nprovisioner benchmark: ${SIZE / MiB} MiB file from 127.0.0.1, ${ROUNDS} rounds (median)\n`,
    );
    console.table(rows);
    console.log(
      '\ncurl does not fsync (its file may be only in the page cache when it exits); provision-weights ' +
        'fdatasyncs the file and its folder before the rename, and writes the manifest durably.',
    );
    const score = ratio(contenders[2]![0]);
    console.log(
      `\ntarget: provision-weights (default parallelism) >= 0.90 x the slower of curl and sha256sum: ${score.toFixed(2)} -> ${
        score >= 0.9 ? 'PASS' : 'FAIL'
      }`,
    );
    if (score < 0.9) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
