/**
 * Metrics a request updates, at the cost of an addition. prom-client's bound children still
 * validate and hash their labels on every call, and a histogram looks its bucket up by the bound's
 * text (0.6-0.7 µs a call in a loop, several times that in the server; a chat request makes about
 * ten updates). Here a child keeps its own numbers and prom-client's Registry reads them when
 * /metrics is scraped, in the shape its own counters and histograms give it, so the exposition is
 * the same text. Hand-written for that one reason; everything else stays prom-client's.
 */
import type { Registry } from 'prom-client';

/** A metric's labels by name, as prom-client takes them. */
export type LabelValues<T extends string> = Record<T, string>;

/** One exported sample, as prom-client's Registry formats it. */
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  /** The child's labels; Registry puts them after `labels`, as for prom-client's own histograms. */
  sharedLabels?: Record<string, string>;
  metricName?: string;
}

/** What prom-client's Registry reads from a metric. */
interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

interface Options<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registers?: readonly Registry[];
}

/** Fields shared by the metric kinds: name, help, registration, children by label values. */
abstract class FastMetric<T extends string, Child> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly labelNames: readonly T[];
  protected children = new Map<string, { labels: LabelValues<T>; child: Child }>();

  constructor(options: Options<T>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    // Registry only needs `name` and `get()` (and `reset()` for resetMetrics).
    for (const registry of options.registers ?? []) registry.registerMetric(this as never);
  }

  /** The child for these label values, made on first use: bind it once and keep it. */
  labels(labels: LabelValues<T>): Child {
    let key = '';
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== 'string') throw new Error(`${this.name}: label ${name} is missing`);
      key += `${value}\u0000`;
    }
    let entry = this.children.get(key);
    if (entry === undefined) {
      const copy = {} as LabelValues<T>;
      for (const name of this.labelNames) copy[name] = labels[name];
      entry = { labels: copy, child: this.newChild() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** Forgets every child (prom-client's Registry.resetMetrics). */
  reset(): void {
    this.children = new Map();
  }

  protected abstract newChild(): Child;
}

/** A counter child: `inc(n)` adds n (default 1). */
export interface CounterChild {
  inc(n?: number): void;
}

class CounterValue implements CounterChild {
  value = 0;
  /** Exported once incremented, even by 0, as prom-client does. */
  touched = false;
  inc(n = 1): void {
    this.touched = true;
    if (n > 0) this.value += n;
  }
}

/** A counter with labels. */
export class FastCounter<T extends string> extends FastMetric<T, CounterChild> {
  readonly type = 'counter' as const;

  protected newChild(): CounterChild {
    return new CounterValue();
  }

  async get(): Promise<Exported> {
    const values: Sample[] = [];
    for (const { labels, child } of this.children.values()) {
      const counter = child as CounterValue;
      if (counter.touched) values.push({ value: counter.value, labels: { ...labels } });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A histogram child: `observe(value)` counts one observation. */
export interface HistogramChild {
  observe(value: number): void;
}

class HistogramValue implements HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    if (i < bounds.length) this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** A histogram with labels (or none: then `observe` on the metric itself). */
export class FastHistogram<T extends string = never> extends FastMetric<T, HistogramChild> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];
  #unlabelled: HistogramChild | undefined;

  constructor(options: Options<T> & { buckets: readonly number[] }) {
    super(options);
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    if (this.labelNames.length === 0) this.#unlabelled = this.labels({} as LabelValues<T>);
  }

  /** Observes on the histogram without labels. */
  observe(value: number): void {
    if (this.#unlabelled === undefined) throw new Error(`${this.name} has labels: bind a child`);
    this.#unlabelled.observe(value);
  }

  override reset(): void {
    super.reset();
    if (this.labelNames.length === 0) this.#unlabelled = this.labels({} as LabelValues<T>);
  }

  protected newChild(): HistogramChild {
    return new HistogramValue(this.#bounds);
  }

  /** Cumulative buckets, +Inf, sum and count per child, as prom-client's Histogram exports them. */
  async getForPromString(): Promise<Exported> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.children.values()) {
      const { counts, sum, count } = child as HistogramValue;
      // As prom-client: a labelled child appears with its first observation, an unlabelled
      // histogram from the start.
      if (count === 0 && child !== this.#unlabelled) continue;
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += counts[i] as number;
        values.push({ value: cumulative, labels: { le: bound }, sharedLabels: labels, metricName: bucket });
      });
      values.push({ value: count, labels: { le: '+Inf' }, sharedLabels: labels, metricName: bucket });
      values.push({ value: sum, labels: {}, sharedLabels: labels, metricName: `${this.name}_sum` });
      values.push({ value: count, labels: {}, sharedLabels: labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same samples with each child's labels merged in (prom-client's getMetricsAsJSON). */
  async get(): Promise<Exported> {
    const exported = await this.getForPromString();
    exported.values = exported.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return exported;
  }
}
