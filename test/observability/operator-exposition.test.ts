import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { registerDeploymentMetrics } from '../../operator/src/deployment-metrics.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import { aReadyPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { prometheusBinary } from './prometheus-tools.ts';

/** Ready deployments with every condition, one with a model name the text format must escape. */
function deployments(): PixtralDeployment[] {
  const escaped = aReadyPixtralDeployment({ name: 'b', namespace: 'team' });
  escaped.spec.model = 'say "hi"\\n';
  return [aReadyPixtralDeployment({ name: 'a', namespace: 'team' }), escaped];
}

describe("the operator's /metrics text", () => {
  it('passes promtool: the hand-printed gauges follow the registry and the text format', async () => {
    const metrics = new RuntimeMetrics();
    const crs = deployments();
    registerDeploymentMetrics(metrics, {
      pixtralDeployments: { list: () => crs },
      deployments: { get: () => undefined },
    });
    const text = await metrics.exposition();
    // promtool exits non-zero on a parse error or a lint problem, and prints what it found.
    const out = execFileSync(prometheusBinary('promtool'), ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
    });
    expect(out).toBe('');
    expect(text).toContain('pixtral_deployment_status_phase{namespace="team",name="a",phase="Ready"} 1\n');
    expect(text).toContain('model="say \\"hi\\"\\\\n"');
  });
});
