import { describe, expect, it } from 'vitest';
import { loadRuntimeConfig, RuntimeConfigError } from '../../operator/src/runtime/config.ts';

describe('loadRuntimeConfig', () => {
  it('uses the documented defaults when nothing is given', () => {
    const config = loadRuntimeConfig([], {});
    expect(config).toMatchObject({
      healthPort: 8080,
      workers: 4,
      leaderElect: true,
      leaderElectionId: 'pixtral-operator',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      logLevel: 'info',
    });
  });

  it('takes a flag over its environment variable', () => {
    const config = loadRuntimeConfig(['--workers', '8', '--leader-elect=false'], {
      PXD_WORKERS: '2',
      PXD_HEALTH_PORT: '9090',
    });
    expect(config.workers).toBe(8);
    expect(config.healthPort).toBe(9090);
    expect(config.leaderElect).toBe(false);
  });

  it.each([
    [['--workers', 'lots'], '--workers / PXD_WORKERS'],
    [['--workers', '0'], '--workers / PXD_WORKERS'],
    [['--health-port', '70000'], '--health-port / PXD_HEALTH_PORT'],
    [['--log-level', 'loud'], '--log-level / PXD_LOG_LEVEL'],
    [['--leader-elect', 'maybe'], '--leader-elect / PXD_LEADER_ELECT'],
    [['--renew-deadline-ms', '20000'], 'retry-period-ms < renew-deadline-ms < lease-duration-ms'],
    [['--no-such-flag', 'x'], "Unknown option '--no-such-flag'"],
  ])('refuses %j naming what to fix', (argv, expected) => {
    expect(() => loadRuntimeConfig(argv, {})).toThrow(RuntimeConfigError);
    expect(() => loadRuntimeConfig(argv, {})).toThrow(expected);
  });

  it('quotes the bad value in the message', () => {
    expect(() => loadRuntimeConfig([], { PXD_WORKERS: 'lots' })).toThrow('(got "lots")');
  });
});
